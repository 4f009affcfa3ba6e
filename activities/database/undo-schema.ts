/**
 * The firebreak undo schema: Firebreak's record table in the app database
 * (`firebreak.firebreak_undo`, one record per read_only step) and, beside it, the holds
 * (holds.ts); kept only while some incident holds read-only there.
 */
import type pg from 'pg';
import type { ActionInput } from '../../workflows/definitions.js';
import { refused, sqlState } from '../support/failures.js';
import { SQLSTATE } from '../support/sqlstate.js';
import type { RoleRow } from './catalog.js';
import { inTransaction, LOCK_KEY } from './sql.js';

/** Firebreak's own record table in the app database; the app role must not be able to touch it. */
export async function ensureBookkeeping(c: pg.ClientBase, role: RoleRow): Promise<void> {
  const found = await c.query<{ cols: number | null }>(
    `SELECT CASE WHEN t.oid IS NOT NULL THEN (SELECT count(*)::int FROM pg_attribute WHERE attrelid = t.oid AND attname IN ('applied_at', 'lifted_at') AND NOT attisdropped) END AS cols
     FROM (SELECT to_regclass('firebreak.firebreak_undo')::oid AS oid) t`,
  );
  const cols = found.rows[0]?.cols ?? null;
  if (cols === null) {
    await c.query('CREATE SCHEMA IF NOT EXISTS firebreak');
    await c.query(
      `CREATE TABLE IF NOT EXISTS firebreak.firebreak_undo (
         incident_id text NOT NULL,
         step_id text NOT NULL,
         record jsonb NOT NULL,
         created_at timestamptz NOT NULL DEFAULT now(),
         applied_at timestamptz,
         lifted_at timestamptz,
         PRIMARY KEY (incident_id, step_id)
       )`,
    );
  } else if (cols !== 2) {
    await c.query('ALTER TABLE firebreak.firebreak_undo ADD COLUMN IF NOT EXISTS applied_at timestamptz, ADD COLUMN IF NOT EXISTS lifted_at timestamptz');
  }
  await assertOutOfReach(c, role, ['firebreak.firebreak_undo']);
}

/** Firebreak's tables in the app database must be out of the app role's reach (not its, nor their schema's, nor writable by it). */
export async function assertOutOfReach(c: pg.ClientBase, role: RoleRow, tables: string[]): Promise<void> {
  const { rows } = await c.query<{ name: string; exposed: boolean }>(
    `SELECT t.name, pg_has_role($1::oid, n.nspowner, 'MEMBER') OR has_schema_privilege($1::oid, n.oid, 'CREATE')
            OR pg_has_role($1::oid, c.relowner, 'MEMBER') OR has_table_privilege($1::oid, c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE') AS exposed
     FROM unnest($2::text[]) t(name) JOIN pg_class c ON c.oid = t.name::regclass JOIN pg_namespace n ON n.oid = c.relnamespace`,
    [role.oid, tables],
  );
  const exposed = tables.filter((t) => rows.find((r) => r.name === t)?.exposed !== false);
  if (exposed.length) {
    throw refused(`Firebreak's record table ${exposed.join(', ')} is writable by "${role.rolname}" (it or its schema is owned by or granted to it): fix its ownership before relying on it`);
  }
}

/**
 * Firebreak's records in the app database are needed only while some incident holds
 * read-only there (a retried read_only must find its own record, a lift its lifted_at).
 * Once every record is lifted and no hold is left, the tables and then the schema go, under the same lock as
 * read_only, so a concurrent read_only never writes into a table being dropped. The schema
 * is dropped without CASCADE: anything else someone put in it stays, and so does the schema.
 */
export async function removeBookkeepingIfUnused(c: pg.ClientBase): Promise<'removed' | 'kept' | 'absent'> {
  return inTransaction(c, async () => {
    await c.query('SELECT pg_advisory_xact_lock($1, $2)', [...LOCK_KEY]);
    const book = await c.query<{ t: string | null }>("SELECT to_regclass('firebreak.firebreak_undo')::text AS t");
    if (!book.rows[0]?.t) return 'absent';
    const held = await c.query<{ n: number }>('SELECT count(*)::int AS n FROM firebreak.firebreak_undo WHERE lifted_at IS NULL');
    if ((held.rows[0]?.n ?? 0) > 0) return 'kept';
    const holds = await c.query<{ t: string | null }>("SELECT to_regclass('firebreak.read_only_holds')::text AS t");
    if (holds.rows[0]?.t) {
      const n = await c.query<{ n: number }>('SELECT count(*)::int AS n FROM firebreak.read_only_holds');
      if ((n.rows[0]?.n ?? 0) > 0) return 'kept';
    }
    await c.query('DROP TABLE IF EXISTS firebreak.read_only_holds, firebreak.read_only_prior');
    await c.query('DROP TABLE firebreak.firebreak_undo');
    // RESTRICT fails when the schema holds anything else; that is not our business, so keep it.
    await c.query('SAVEPOINT fb_schema');
    try {
      await c.query('DROP SCHEMA IF EXISTS firebreak RESTRICT');
    } catch (err) {
      if (sqlState(err) !== SQLSTATE.dependentObjectsStillExist) throw err;
      await c.query('ROLLBACK TO SAVEPOINT fb_schema');
    }
    return 'removed';
  });
}

export async function loadRecord(c: pg.ClientBase, input: Pick<ActionInput, 'incidentId' | 'stepId'>): Promise<unknown> {
  const { rows } = await c.query<{ record: unknown }>('SELECT record FROM firebreak.firebreak_undo WHERE incident_id = $1 AND step_id = $2', [
    input.incidentId,
    input.stepId,
  ]);
  return rows[0]?.record;
}

/** Record the prior state once; a retry keeps the first attempt's record. */
export async function storeRecord(c: pg.ClientBase, input: Pick<ActionInput, 'incidentId' | 'stepId'>, record: unknown): Promise<void> {
  await c.query('INSERT INTO firebreak.firebreak_undo (incident_id, step_id, record) VALUES ($1, $2, $3::jsonb) ON CONFLICT (incident_id, step_id) DO NOTHING', [
    input.incidentId,
    input.stepId,
    JSON.stringify(record),
  ]);
}

/** When the containment of this step was first in force (kept across retries). */
export async function markApplied(c: pg.ClientBase, input: Pick<ActionInput, 'incidentId' | 'stepId'>): Promise<Date | undefined> {
  const { rows } = await c.query<{ applied_at: Date }>(
    'UPDATE firebreak.firebreak_undo SET applied_at = COALESCE(applied_at, clock_timestamp()) WHERE incident_id = $1 AND step_id = $2 RETURNING applied_at',
    [input.incidentId, input.stepId],
  );
  return rows[0]?.applied_at;
}

/**
 * Whether `record` is one database.read_only stored for this incident: `held` (not lifted yet),
 * `lifted`, `unknown` (never stored: forged, or another incident's), or `absent` (no record
 * table: every containment here was lifted, so a completed earlier attempt of this lift).
 */
export async function recordStanding(c: pg.ClientBase, incidentId: string, record: unknown): Promise<'held' | 'lifted' | 'unknown' | 'absent'> {
  const book = await c.query<{ t: string | null }>("SELECT to_regclass('firebreak.firebreak_undo')::text AS t");
  if (!book.rows[0]?.t) return 'absent';
  const { rows } = await c.query<{ lifted: boolean }>(
    'SELECT bool_and(lifted_at IS NOT NULL) AS lifted FROM firebreak.firebreak_undo WHERE incident_id = $1 AND record = $2::jsonb HAVING count(*) > 0',
    [incidentId, JSON.stringify(record)],
  );
  const row = rows[0];
  return row === undefined ? 'unknown' : row.lifted ? 'lifted' : 'held';
}
