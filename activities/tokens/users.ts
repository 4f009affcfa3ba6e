/**
 * `tokens.disable_users` / `tokens.enable_users`: Django's `is_active` in the
 * app's user table (`postgres.userTable`, default `auth_user`); the undo
 * re-enables exactly the users that were active.
 */
import { ApplicationFailure } from '@temporalio/common';
import pg from 'pg';
import type { ArgsOf } from '../../lib/args/schemas.js';
import { ownKey } from '../../lib/redis-keys.js';
import type { ActionInput, ActionResult } from '../../workflows/definitions.js';
import type { ActivityDeps } from '../deps.js';
import { badInput, onTarget, sqlState, targetUnavailable, verificationFailed } from '../support/failures.js';
import { postgresOf, type PgTarget } from '../support/pg.js';
import { RECORD_TTL_SECONDS } from '../support/records.js';
import { SQLSTATE } from '../support/sqlstate.js';
import { checkPipeline, plural, targetFor } from './common.js';
import { parseUserIds } from './inputs.js';

/** The step's user ids, deduplicated; disable and enable take the same (schema-checked) `user_ids`. */
function userIdsOf(input: ActionInput): string[] {
  return parseUserIds((input.args as ArgsOf<'tokens.disable_users'>).user_ids);
}

interface UserRow {
  id: string;
  is_active: boolean;
}

/** What tokens.disable_users found, recorded once per (incident, step) before the UPDATE. */
interface DisableRecord {
  wasActive: string[];
  wasInactive: string[];
  at: string;
}

function userTable(pgc: PgTarget): { sql: string; name: string } {
  const name = pgc.userTable;
  return { name, sql: name.split('.').map((part) => pg.escapeIdentifier(part)).join('.') };
}

/** Like onTarget('postgres'), but a missing table or column is a config problem, not worth retrying. */
async function onUserTable<T>(table: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ApplicationFailure) throw err;
    const code = sqlState(err);
    if (code === SQLSTATE.undefinedTable) throw badInput(`user table ${table} does not exist in the app database (config postgres.userTable)`);
    if (code === SQLSTATE.undefinedColumn) throw badInput(`user table ${table} has no id or is_active column (Django's auth_user shape expected)`);
    throw targetUnavailable('postgres', err);
  }
}

function unknownUsers(ids: string[], rows: UserRow[]): string[] {
  const found = new Set(rows.map((r) => r.id));
  return ids.filter((id) => !found.has(id));
}

function unknownMessage(table: string, unknown: string[]): string {
  const shown = unknown.slice(0, 20).join(', ');
  return `${unknown.length} unknown user id${unknown.length === 1 ? '' : 's'} in ${table}: ${shown}${unknown.length > 20 ? ', …' : ''}; nothing was changed`;
}

export function createUserActivities(deps: ActivityDeps) {
  const { clients } = deps;

  /** Set is_active for the ids in one transaction, refusing unknown ids; `onLocked` runs before the UPDATE. */
  async function setActive(
    input: ActionInput,
    active: boolean,
    onLocked?: (rows: UserRow[]) => Promise<void>,
  ): Promise<{ table: string; before: UserRow[] }> {
    targetFor(clients, input);
    const ids = userIdsOf(input);
    const { sql: table, name } = userTable(postgresOf(clients, input));
    const pool = clients.pg(input.target);
    const client = await onTarget('postgres', () => pool.connect());
    let broken: Error | undefined;
    try {
      return await onUserTable(name, async () => {
        await client.query('BEGIN');
        try {
          const { rows } = await client.query<UserRow>(`SELECT id::text AS id, is_active FROM ${table} WHERE id::text = ANY($1::text[]) ORDER BY id FOR UPDATE`, [ids]);
          const unknown = unknownUsers(ids, rows);
          if (unknown.length) throw badInput(unknownMessage(name, unknown));
          await onLocked?.(rows);
          await client.query(`UPDATE ${table} SET is_active = $2 WHERE id::text = ANY($1::text[]) AND is_active IS DISTINCT FROM $2`, [ids, active]);
          await client.query('COMMIT');
          return { table: name, before: rows };
        } catch (err) {
          await client.query('ROLLBACK').catch((e: Error) => {
            broken = e;
          });
          throw err;
        }
      });
    } finally {
      client.release(broken);
    }
  }

  async function readActive(input: ActionInput, table: string, ids: string[]): Promise<UserRow[]> {
    const { sql } = userTable(postgresOf(clients, input));
    const { rows } = await onUserTable(table, () => clients.pg(input.target).query<UserRow>(`SELECT id::text AS id, is_active FROM ${sql} WHERE id::text = ANY($1::text[]) ORDER BY id`, [ids]));
    return rows;
  }

  async function planUsers(input: ActionInput, active: boolean): Promise<ActionResult> {
    targetFor(clients, input);
    const ids = userIdsOf(input);
    const { name } = userTable(postgresOf(clients, input));
    const rows = await readActive(input, name, ids);
    const unknown = unknownUsers(ids, rows);
    if (unknown.length) throw badInput(unknownMessage(name, unknown));
    const change = rows.filter((r) => r.is_active !== active).length;
    return {
      summary: `would set is_active = ${active} for ${plural(ids.length, 'user')} in ${name} (${change} would change)`,
      changed: false,
      plan: [`UPDATE ${name} SET is_active = ${active} WHERE id IN (${plural(ids.length, 'id')}) — ${change} would change, ${ids.length - change} already ${active ? 'active' : 'inactive'}`],
    };
  }

  async function verifyActive(input: ActionInput, table: string, ids: string[], active: boolean): Promise<void> {
    const rows = await readActive(input, table, ids);
    const wrong = rows.filter((r) => r.is_active !== active).length + (ids.length - rows.length);
    if (wrong > 0) throw verificationFailed(`read back ${wrong} of ${ids.length} users in ${table} not is_active = ${active}`);
  }

  return {
    /** is_active = false; the undo re-enables exactly the users that were active before. */
    async tokensDisableUsers(input: ActionInput): Promise<ActionResult> {
      if (input.mode === 'dry-run') return planUsers(input, false);
      const target = targetFor(clients, input);
      const ids = userIdsOf(input);
      const redis = clients.redis(input.target);
      const recordKey = ownKey(target.redis, 'undo', input.incidentId, input.stepId);
      let record: DisableRecord | undefined;
      const { table, before } = await setActive(input, false, async (rows) => {
        // Recorded before the UPDATE, once per (incident, step): a retry after a crash
        // between COMMIT and completion finds them inactive but keeps the first undo.
        const fresh: DisableRecord = {
          wasActive: rows.filter((r) => r.is_active).map((r) => r.id),
          wasInactive: rows.filter((r) => !r.is_active).map((r) => r.id),
          at: new Date().toISOString(),
        };
        const res = await onTarget('redis', async () =>
          checkPipeline(await redis.multi().set(recordKey, JSON.stringify(fresh), 'EX', RECORD_TTL_SECONDS, 'NX').get(recordKey).exec()),
        );
        record = JSON.parse(String(res[1])) as DisableRecord;
      });
      await verifyActive(input, table, ids, false);
      const saved: DisableRecord | undefined = record;
      const inIds = new Set(ids);
      const wasActive = (saved?.wasActive ?? before.filter((r) => r.is_active).map((r) => r.id)).filter((id) => inIds.has(id));
      const stay = ids.length - wasActive.length;
      deps.logger.info({ incidentId: input.incidentId, step: input.stepId, users: ids.length, wasActive: wasActive.length }, 'users disabled');
      return {
        summary: `disabled ${plural(ids.length, 'user')} in ${table} (${wasActive.length} were active${stay ? `, ${stay} already inactive and left so by the undo` : ''})`,
        changed: wasActive.length > 0,
        proof: { table, inactive: ids.length },
        output: { table, users: ids.length, wasActive },
        ...(wasActive.length ? { undo: { action: 'tokens.enable_users', args: { user_ids: wasActive } } } : {}),
      };
    },

    /** is_active = true (the undo of tokens.disable_users). */
    async tokensEnableUsers(input: ActionInput): Promise<ActionResult> {
      if (input.mode === 'dry-run') return planUsers(input, true);
      const ids = userIdsOf(input);
      const { table, before } = await setActive(input, true);
      await verifyActive(input, table, ids, true);
      const changed = before.filter((r) => !r.is_active).length;
      deps.logger.info({ incidentId: input.incidentId, step: input.stepId, users: ids.length, changed }, 'users enabled');
      return {
        summary: `enabled ${plural(ids.length, 'user')} in ${table} (${changed} were inactive)`,
        changed: changed > 0,
        proof: { table, active: ids.length },
        output: { table, users: ids.length, enabled: changed },
      };
    },
  };
}
