/**
 * Who holds a user disabled: `firebreak.firebreak_user_holds` in the app database, one row
 * per (user table, user id, incident), written in the same transaction as the UPDATE of
 * `is_active`, so a crash never separates a disable from its record. A user is re-enabled
 * only when its last holder releases it, and only if it was active before the first holder
 * took it. The table lives in Firebreak's `firebreak` schema (beside the read-only
 * bookkeeping, created the same careful way) and is dropped once no hold is left.
 */
import pg from 'pg';
import type { HoldView } from '../../lib/holds.js';
import { LOCK_KEY } from '../database/sql.js';
import { refused, sqlState } from '../support/failures.js';
import { SQLSTATE } from '../support/sqlstate.js';

export const USER_HOLDS_TABLE = 'firebreak.firebreak_user_holds';

/** Serialises every user hold change of one database (advisory locks are per database). */
const HOLDS_LOCK = [0x46697265, 0x55480001] as const;

/** One incident's hold on one user. */
export interface UserHoldRow {
  user_id: string;
  incident_id: string;
  step_id: string;
  since: Date;
  /** is_active before the first holder took the user: what the last release restores. */
  was_active: boolean;
  /** is_active when this incident took it: true when this hold is what switched the user off. */
  found_active: boolean;
}

/** Open a transaction holding the database's user-holds lock (first, before any row lock); one round trip. */
export async function beginHoldsTransaction(c: pg.ClientBase): Promise<void> {
  await c.query(`BEGIN; SELECT pg_advisory_xact_lock(${HOLDS_LOCK[0]}, ${HOLDS_LOCK[1]})`);
}

/** The user table as PostgreSQL names it (undefined: no such table) and whether the holds table exists, in one query. */
export async function lookUp(c: pg.ClientBase, quoted: string): Promise<{ canonical: string | undefined; holds: boolean }> {
  const { rows } = await c.query<{ t: string | null; holds: boolean }>(
    `SELECT (SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass($1)) AS t,
            to_regclass($2) IS NOT NULL AS holds`,
    [quoted, USER_HOLDS_TABLE],
  );
  return { canonical: rows[0]?.t ?? undefined, holds: rows[0]?.holds === true };
}

export async function userHoldsExist(c: pg.ClientBase | pg.Pool): Promise<boolean> {
  const { rows } = await c.query<{ t: string | null }>('SELECT to_regclass($1)::text AS t', [USER_HOLDS_TABLE]);
  return Boolean(rows[0]?.t);
}

/** `accounts.users` as SQL: each part quoted. */
export function quoteTable(name: string): string {
  return name
    .split('.')
    .map((part) => pg.escapeIdentifier(part))
    .join('.');
}

/** The user table as PostgreSQL names it (`public.auth_user`), so two spellings of one table share holds; undefined when it does not exist. */
export async function canonicalTable(c: pg.ClientBase | pg.Pool, quoted: string): Promise<string | undefined> {
  const { rows } = await c.query<{ t: string }>(
    "SELECT format('%I.%I', n.nspname, c.relname) AS t FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass($1)",
    [quoted],
  );
  return rows[0]?.t;
}

/**
 * Create the holds table when missing (under the read-only bookkeeping's lock, so the schema is
 * never dropped under it), then refuse if the app role could write it: whoever can write the
 * holds could keep a user disabled or have Firebreak re-enable one.
 */
export async function ensureUserHolds(c: pg.ClientBase, appRole: string, exists: boolean): Promise<void> {
  if (!exists) {
    try {
      await c.query(
        `SELECT pg_advisory_xact_lock(${LOCK_KEY[0]}, ${LOCK_KEY[1]});
         CREATE SCHEMA IF NOT EXISTS firebreak;
         CREATE TABLE IF NOT EXISTS ${USER_HOLDS_TABLE} (
           user_table text NOT NULL,
           user_id text NOT NULL,
           incident_id text NOT NULL,
           step_id text NOT NULL,
           since timestamptz NOT NULL DEFAULT clock_timestamp(),
           was_active boolean NOT NULL,
           found_active boolean NOT NULL,
           PRIMARY KEY (user_table, user_id, incident_id)
         )`,
      );
    } catch (err) {
      if (sqlState(err) === SQLSTATE.insufficientPrivilege) {
        throw refused(`cannot create Firebreak's hold table ${USER_HOLDS_TABLE} in the app database (${(err as Error).message}): the admin needs CREATE on the database, or create the schema firebreak for it`);
      }
      throw err;
    }
  }
  const { rows } = await c.query<{ exposed: boolean; rolname: string }>(
    `SELECT r.rolname, pg_has_role(r.oid, n.nspowner, 'MEMBER') OR has_schema_privilege(r.oid, n.oid, 'CREATE')
            OR pg_has_role(r.oid, c.relowner, 'MEMBER') OR has_table_privilege(r.oid, c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE') AS exposed
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace CROSS JOIN pg_roles r
     WHERE c.oid = to_regclass($1) AND r.rolname = $2`,
    [USER_HOLDS_TABLE, appRole],
  );
  // No such role: nobody logs in as the app with that name, nothing to protect against.
  if (rows[0]?.exposed) {
    throw refused(`Firebreak's hold table ${USER_HOLDS_TABLE} is writable by "${appRole}" (it or its schema is owned by or granted to it): fix its ownership before relying on it`);
  }
}

/** Every hold on these users of `table` (any incident), oldest first. */
export async function holdsOn(c: pg.ClientBase | pg.Pool, table: string, ids: readonly string[]): Promise<UserHoldRow[]> {
  const { rows } = await c.query<UserHoldRow>(
    `SELECT user_id, incident_id, step_id, since, was_active, found_active FROM ${USER_HOLDS_TABLE}
     WHERE user_table = $1 AND user_id = ANY($2::text[]) ORDER BY user_id, since, incident_id`,
    [table, ids],
  );
  return rows;
}

/**
 * Holds read outside a holds transaction: the table may be dropped by a concurrent last
 * release at any moment (it only is under the holds lock), and gone means nobody holds anything.
 */
export async function holdsOrNone<T>(fn: () => Promise<T[]>): Promise<T[]> {
  try {
    return await fn();
  } catch (err) {
    if (sqlState(err) === SQLSTATE.undefinedTable) return [];
    throw err;
  }
}

/** Delete this incident's holds on these users; true when no hold at all is left in the table. */
export async function deleteHolds(c: pg.ClientBase, table: string, incidentId: string, ids: readonly string[]): Promise<boolean> {
  const { rows } = await c.query<{ empty: boolean }>(
    `WITH gone AS (DELETE FROM ${USER_HOLDS_TABLE} WHERE user_table = $1 AND incident_id = $2 AND user_id = ANY($3::text[]) RETURNING 1)
     SELECT NOT EXISTS (SELECT 1 FROM ${USER_HOLDS_TABLE} h WHERE NOT (h.user_table = $1 AND h.incident_id = $2 AND h.user_id = ANY($3::text[]))) AS empty`,
    [table, incidentId, ids],
  );
  return rows[0]?.empty === true;
}

/** Drop the (empty) holds table, and the schema if nothing else is in it (as the read-only bookkeeping does). */
export async function dropUserHolds(c: pg.ClientBase): Promise<void> {
  await c.query(`SELECT pg_advisory_xact_lock(${LOCK_KEY[0]}, ${LOCK_KEY[1]}); DROP TABLE ${USER_HOLDS_TABLE}; SAVEPOINT fb_user_holds; DROP SCHEMA IF EXISTS firebreak RESTRICT`).catch(async (err: unknown) => {
    // RESTRICT fails when the schema holds anything else (the read-only records): keep it.
    if (sqlState(err) !== SQLSTATE.dependentObjectsStillExist) throw err;
    await c.query('ROLLBACK TO SAVEPOINT fb_user_holds');
  });
}

/**
 * Who holds users of this user table disabled (read-only; for `firebreak target check`).
 * `c` is the admin connection to the app database; `userTable` the target's `postgres.userTable`.
 */
export async function listUserHolds(c: pg.ClientBase | pg.Pool, userTable: string): Promise<HoldView[]> {
  if (!(await userHoldsExist(c))) return [];
  const table = (await canonicalTable(c, quoteTable(userTable))) ?? userTable;
  const rows = await holdsOrNone(
    async () =>
      (
        await c.query<UserHoldRow>(`SELECT user_id, incident_id, step_id, since FROM ${USER_HOLDS_TABLE} WHERE user_table = $1 ORDER BY user_id, since, incident_id`, [
          table,
        ])
      ).rows,
  );
  const views = new Map<string, HoldView>();
  for (const r of rows) {
    let view = views.get(r.user_id);
    if (!view) views.set(r.user_id, (view = { kind: 'user-disable', subject: r.user_id, holders: [] }));
    view.holders.push({ incidentId: r.incident_id, stepId: r.step_id, since: r.since.toISOString() });
  }
  return [...views.values()];
}

/** What a take adds: a hold for each user this incident does not hold yet, carrying the state before the first holder. */
export function planTake(users: readonly { id: string; is_active: boolean }[], holds: readonly UserHoldRow[], incidentId: string) {
  return users
    .filter((u) => !holds.some((h) => h.user_id === u.id && h.incident_id === incidentId))
    .map((u) => {
      const others = holds.filter((h) => h.user_id === u.id);
      return { user_id: u.id, was_active: others.length ? others.some((h) => h.was_active) : u.is_active, found_active: u.is_active };
    });
}

/**
 * What a release does. `hold` (the undo of a disable): drop this incident's holds and
 * re-enable the users nobody else holds that were active before the first hold. Without
 * `hold` (an explicit step, or the undo of a disable from before holds, whose `user_ids` are
 * the users it found active): drop this incident's holds if any, enable every user nobody
 * else holds, and note on the remaining holds that these users were active before.
 */
export function planRelease(ids: readonly string[], holds: readonly UserHoldRow[], incidentId: string, hold: boolean) {
  const dropped = holds.filter((h) => h.incident_id === incidentId);
  const remaining = holds.filter((h) => h.incident_id !== incidentId);
  const held = new Set(remaining.map((h) => h.user_id));
  const enable = hold ? dropped.filter((h) => h.was_active && !held.has(h.user_id)).map((h) => h.user_id) : ids.filter((id) => !held.has(id));
  const keptInactive = hold ? dropped.filter((h) => !h.was_active && !held.has(h.user_id)).map((h) => h.user_id) : [];
  const markActive = hold ? [] : ids.filter((id) => held.has(id));
  const stillHeldBy = [...new Set(remaining.map((h) => h.incident_id))].sort();
  return { dropped, enable, keptInactive, stillHeld: [...held].sort(), markActive, stillHeldBy };
}
