/**
 * `tokens.disable_users` / `tokens.enable_users`: Django's `is_active` in the
 * app's user table (`postgres.userTable`, default `auth_user`). Each disable is a
 * hold of its incident on each user (./user-holds.ts), recorded in the same
 * transaction as the UPDATE; the undo releases the incident's holds and re-enables
 * only the users nobody else holds that were active before the first hold.
 */
import { ApplicationFailure } from '@temporalio/common';
import type pg from 'pg';
import type { ArgsOf } from '../../lib/args/schemas.js';
import { alsoHeldBy, otherHolders, stillHeldLine, type ReleaseOutcome } from '../../lib/holds.js';
import type { ActionInput, ActionResult } from '../../workflows/definitions.js';
import type { ActivityDeps } from '../deps.js';
import { badInput, onTarget, sqlState, targetUnavailable, verificationFailed } from '../support/failures.js';
import { postgresOf } from '../support/pg.js';
import { SQLSTATE } from '../support/sqlstate.js';
import { plural, targetFor } from './common.js';
import { parseUserIds } from './inputs.js';
import {
  beginHoldsTransaction,
  canonicalTable,
  deleteHolds,
  dropUserHolds,
  ensureUserHolds,
  holdsOn,
  holdsOrNone,
  lookUp,
  planRelease,
  planTake,
  quoteTable,
  USER_HOLDS_TABLE,
  userHoldsExist,
  type UserHoldRow,
} from './user-holds.js';

/** The step's user ids, deduplicated; disable and enable take the same (schema-checked) `user_ids`. */
function userIdsOf(input: ActionInput): string[] {
  return parseUserIds((input.args as ArgsOf<'tokens.disable_users'>).user_ids);
}

interface UserRow {
  id: string;
  is_active: boolean;
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

interface Locked {
  c: pg.ClientBase;
  /** The configured name, for messages. */
  name: string;
  /** The table as SQL. */
  sql: string;
  /** The table as PostgreSQL names it: the holds' key. */
  canonical: string;
  rows: UserRow[];
  /** Whether the holds table exists (it cannot appear or go while the transaction holds the lock). */
  holds: boolean;
}

export function createUserActivities(deps: ActivityDeps) {
  const { clients } = deps;

  function tableOf(input: ActionInput): { name: string; sql: string } {
    const name = postgresOf(clients, input).userTable;
    return { name, sql: quoteTable(name) };
  }

  /**
   * One transaction: the holds lock, then the users' rows FOR UPDATE (unknown ids refused before
   * anything is written), then `fn`; any failure rolls everything back, holds included.
   */
  async function inUsers<T>(input: ActionInput, ids: string[], fn: (l: Locked) => Promise<T>): Promise<T> {
    targetFor(clients, input);
    const { name, sql } = tableOf(input);
    const pool = clients.pg(input.target);
    const client = await onTarget('postgres', () => pool.connect());
    let broken: Error | undefined;
    try {
      return await onUserTable(name, async () => {
        await beginHoldsTransaction(client);
        try {
          const { canonical, holds } = await lookUp(client, sql);
          if (!canonical) throw badInput(`user table ${name} does not exist in the app database (config postgres.userTable)`);
          const { rows } = await client.query<UserRow>(`SELECT id::text AS id, is_active FROM ${sql} WHERE id::text = ANY($1::text[]) ORDER BY id FOR UPDATE`, [ids]);
          const unknown = unknownUsers(ids, rows);
          if (unknown.length) throw badInput(unknownMessage(name, unknown));
          const out = await fn({ c: client, name, sql, canonical, rows, holds });
          await client.query('COMMIT');
          return out;
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

  async function readActive(input: ActionInput, ids: string[]): Promise<UserRow[]> {
    const { name, sql } = tableOf(input);
    const { rows } = await onUserTable(name, () => clients.pg(input.target).query<UserRow>(`SELECT id::text AS id, is_active FROM ${sql} WHERE id::text = ANY($1::text[]) ORDER BY id`, [ids]));
    return rows;
  }

  /** Holds on these users, outside a transaction (dry-run, proofs). */
  async function readHolds(input: ActionInput, ids: string[]): Promise<UserHoldRow[]> {
    const { name, sql } = tableOf(input);
    const pool = clients.pg(input.target);
    return onUserTable(name, async () => {
      if (!(await userHoldsExist(pool))) return [];
      const canonical = (await canonicalTable(pool, sql)) ?? name;
      return holdsOrNone(() => holdsOn(pool, canonical, ids));
    });
  }

  async function planUsers(input: ActionInput, active: boolean): Promise<ActionResult> {
    targetFor(clients, input);
    const ids = userIdsOf(input);
    const { name } = tableOf(input);
    const rows = await readActive(input, ids);
    const unknown = unknownUsers(ids, rows);
    if (unknown.length) throw badInput(unknownMessage(name, unknown));
    const holds = await readHolds(input, ids);
    if (!active) {
      const change = rows.filter((r) => r.is_active).length;
      const others = otherHolders(holds.map((h) => ({ incidentId: h.incident_id })), input.incidentId);
      return {
        summary: `would set is_active = false for ${plural(ids.length, 'user')} in ${name} (${change} would change)${alsoHeldBy(others)}`,
        changed: false,
        plan: [`UPDATE ${name} SET is_active = false WHERE id IN (${plural(ids.length, 'id')}) — ${change} would change, ${ids.length - change} already inactive`],
        output: { alsoHeldBy: others },
      };
    }
    const p = planRelease(ids, holds, input.incidentId, (input.args as ArgsOf<'tokens.enable_users'>).hold === true);
    const change = rows.filter((r) => p.enable.includes(r.id) && !r.is_active).length;
    const held = stillHeldLine({ lifted: false, stillHeldBy: p.stillHeldBy });
    return {
      summary: `would set is_active = true for ${plural(p.enable.length, 'user')} of ${ids.length} in ${name} (${change} would change)${held ? `; ${p.stillHeld.length} stay disabled, ${held}` : ''}`,
      changed: false,
      plan: [
        ...(p.dropped.length ? [`DELETE ${plural(p.dropped.length, 'hold')} of ${input.incidentId} from ${USER_HOLDS_TABLE}`] : []),
        `UPDATE ${name} SET is_active = true WHERE id IN (${plural(p.enable.length, 'id')}) — ${change} would change`,
      ],
      output: { lifted: p.stillHeldBy.length === 0, stillHeldBy: p.stillHeldBy },
    };
  }

  /** Read back, after the COMMIT: every user inactive and held by this incident (its holds keep the table in place). */
  async function verifyDisabled(input: ActionInput, table: string, canonical: string, ids: string[]): Promise<void> {
    const { sql } = tableOf(input);
    const { rows } = await onUserTable(table, () =>
      clients
        .pg(input.target)
        .query<UserRow & { held: boolean }>(
          `SELECT u.id::text AS id, u.is_active, EXISTS (SELECT 1 FROM ${USER_HOLDS_TABLE} h WHERE h.user_table = $2 AND h.user_id = u.id::text AND h.incident_id = $3) AS held
           FROM ${sql} u WHERE u.id::text = ANY($1::text[])`,
          [ids, canonical, input.incidentId],
        ),
    );
    const wrong = rows.filter((r) => r.is_active).length + (ids.length - rows.length);
    if (wrong > 0) throw verificationFailed(`read back ${wrong} of ${ids.length} users in ${table} not is_active = false`);
    const unheld = rows.filter((r) => !r.held).length;
    if (unheld > 0) throw verificationFailed(`read back ${unheld} of ${ids.length} users in ${table} without a hold of ${input.incidentId} in ${USER_HOLDS_TABLE}`);
  }

  /** The users this release enabled are active, unless another incident has taken them since (then they are held, not wrong). */
  async function verifyEnabled(input: ActionInput, table: string, ids: string[]): Promise<void> {
    if (!ids.length) return;
    const rows = await readActive(input, ids);
    if (rows.length === ids.length && rows.every((r) => r.is_active)) return;
    const heldNow = new Set((await readHolds(input, ids)).map((h) => h.user_id));
    const wrong = rows.filter((r) => !r.is_active && !heldNow.has(r.id)).length + (ids.length - rows.length);
    if (wrong > 0) throw verificationFailed(`read back ${wrong} of ${ids.length} users in ${table} not is_active = true`);
  }

  return {
    /** is_active = false, held by this incident; the undo releases the holds (tokens.enable_users with `hold`). */
    async tokensDisableUsers(input: ActionInput): Promise<ActionResult> {
      if (input.mode === 'dry-run') return planUsers(input, false);
      const ids = userIdsOf(input);
      const appRole = postgresOf(clients, input).appRole;
      const { name, canonical, holds } = await inUsers(input, ids, async ({ c, sql, canonical, rows, holds: exists }) => {
        await ensureUserHolds(c, appRole, exists);
        const before = exists ? await holdsOn(c, canonical, ids) : [];
        const fresh = planTake(rows, before, input.incidentId);
        // A retry after the COMMIT finds this incident's holds and adds none: the first attempt's record stands.
        if (fresh.length) {
          await c.query(
            `INSERT INTO ${USER_HOLDS_TABLE} (user_table, user_id, incident_id, step_id, was_active, found_active)
             SELECT $1, u.id, $2, $3, u.was, u.found FROM unnest($4::text[], $5::boolean[], $6::boolean[]) AS u(id, was, found)
             ON CONFLICT (user_table, user_id, incident_id) DO NOTHING`,
            [canonical, input.incidentId, input.stepId, fresh.map((f) => f.user_id), fresh.map((f) => f.was_active), fresh.map((f) => f.found_active)],
          );
        }
        await c.query(`UPDATE ${sql} SET is_active = false WHERE id::text = ANY($1::text[]) AND is_active IS DISTINCT FROM false`, [ids]);
        const added = fresh.map((f) => ({ ...f, incident_id: input.incidentId }));
        return { name: tableOf(input).name, canonical, holds: [...before, ...added] };
      });
      await verifyDisabled(input, name, canonical, ids);
      const mine = holds.filter((h) => h.incident_id === input.incidentId);
      const wasActive = mine.filter((h) => h.was_active).map((h) => h.user_id);
      const switchedOff = mine.filter((h) => h.found_active).length;
      const others = otherHolders(holds.map((h) => ({ incidentId: h.incident_id })), input.incidentId);
      const stay = ids.length - wasActive.length;
      deps.logger.info({ incidentId: input.incidentId, step: input.stepId, users: ids.length, wasActive: wasActive.length, holders: others.length + 1 }, 'users disabled');
      return {
        summary: `disabled ${plural(ids.length, 'user')} in ${name} (${wasActive.length} were active${stay ? `, ${stay} already inactive and left so by the undo` : ''})${alsoHeldBy(others)}`,
        changed: switchedOff > 0,
        proof: { table: name, inactive: ids.length, held: mine.length },
        output: { table: name, users: ids.length, wasActive, alsoHeldBy: others },
        undo: { action: 'tokens.enable_users', args: { user_ids: ids, hold: true } },
      };
    },

    /**
     * Release: with `hold` (the undo of tokens.disable_users) this incident's holds go and only users
     * nobody else holds that were active before the first hold are re-enabled. Without it (an explicit
     * step, or an undo from before holds): every listed user nobody else holds is enabled.
     */
    async tokensEnableUsers(input: ActionInput): Promise<ActionResult> {
      if (input.mode === 'dry-run') return planUsers(input, true);
      const ids = userIdsOf(input);
      const hold = (input.args as ArgsOf<'tokens.enable_users'>).hold === true;
      const { p, enabled } = await inUsers(input, ids, async ({ c, sql, canonical, holds: exists }) => {
        const p = planRelease(ids, exists ? await holdsOn(c, canonical, ids) : [], input.incidentId, hold);
        const empty = p.dropped.length ? await deleteHolds(c, canonical, input.incidentId, ids) : false;
        // They were active before (an old record says so, or a person decided): the last holder's release enables them.
        if (p.markActive.length) {
          await c.query(`UPDATE ${USER_HOLDS_TABLE} SET was_active = true WHERE user_table = $1 AND user_id = ANY($2::text[])`, [canonical, p.markActive]);
        }
        const res = p.enable.length ? await c.query(`UPDATE ${sql} SET is_active = true WHERE id::text = ANY($1::text[]) AND is_active IS DISTINCT FROM true`, [p.enable]) : { rowCount: 0 };
        if (empty) await dropUserHolds(c);
        return { p, enabled: res.rowCount ?? 0 };
      });
      const { name } = tableOf(input);
      await verifyEnabled(input, name, p.enable);
      const outcome: ReleaseOutcome = { lifted: p.stillHeldBy.length === 0 && (p.dropped.length > 0 || !hold), stillHeldBy: p.stillHeldBy };
      const held = stillHeldLine({ lifted: false, stillHeldBy: p.stillHeldBy });
      const heldPart = held ? `${p.stillHeld.length} stay disabled, ${held}` : '';
      let summary: string;
      if (hold && !p.dropped.length) {
        summary = `already released: ${input.incidentId} holds none of these ${plural(ids.length, 'user')} in ${name}${heldPart ? `; ${heldPart}` : ''}`;
      } else {
        const parts = [`${p.enable.length} enabled (${enabled} were inactive)`];
        if (p.keptInactive.length) parts.push(`${p.keptInactive.length} left inactive as before the first hold`);
        if (heldPart) parts.push(heldPart);
        summary = `released ${plural(ids.length, 'user')} in ${name}: ${parts.join('; ')}`;
      }
      deps.logger.info({ incidentId: input.incidentId, step: input.stepId, users: ids.length, enabled, stillHeldBy: p.stillHeldBy.length }, 'users released');
      return {
        summary,
        changed: enabled > 0,
        proof: { table: name, active: p.enable.length, held: p.stillHeld.length },
        output: { table: name, users: ids.length, enabled, ...outcome },
      };
    },
  };
}
