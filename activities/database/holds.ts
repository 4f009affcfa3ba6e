/**
 * Read-only held by several incidents at once. Each incident's hold on (database, role) is a
 * row of `firebreak.read_only_holds` in the app database, written in the same transaction as
 * the REVOKE; what was there before the FIRST holder took it is one row of
 * `firebreak.read_only_prior`. The grants stay revoked while any row holds them; the last
 * release gives the prior back in the same transaction that drops its hold. A retried take
 * finds its hold and adds none; a retried release finds its hold gone and releases nothing
 * (never another incident's, never a second restore). Everything runs under the database's
 * advisory lock (LOCK_KEY), so takes and releases of one database are serialised.
 */
import type pg from 'pg';
import { otherHolders, type Holder, type HoldView } from '../../lib/holds.js';
import type { ActionInput } from '../../workflows/definitions.js';
import type { TargetClients } from '../deps.js';
import { badInput, refused } from '../support/failures.js';
import type { PgTarget } from '../support/pg.js';
import { assertAdminCan, readGrants, readSettings, type RoleRow } from './catalog.js';
import { grantCount, isOn, parseRecord, withoutGrantOption, type ReadOnlyRecord } from './record.js';
import { restorePlan, type RestorePlan } from './restore.js';
import { compare, ident, inTransaction, LOCK_KEY } from './sql.js';
import { assertOutOfReach, ensureBookkeeping, recordStanding, storeRecord } from './undo-schema.js';

type Step = Pick<ActionInput, 'incidentId' | 'stepId'>;

/**
 * The holds tables (created once, like firebreak_undo), and the records stored before they
 * existed taken over: an unlifted record of an incident is its hold (a worker of the previous
 * version wrote it), and the earliest record of a held role is what was there before the first
 * of them — a later record of the old version saw the grants already revoked.
 */
export async function ensureHolds(c: pg.ClientBase, role: RoleRow): Promise<void> {
  const found = await c.query<{ holds: boolean; prior: boolean }>(
    "SELECT to_regclass('firebreak.read_only_holds') IS NOT NULL AS holds, to_regclass('firebreak.read_only_prior') IS NOT NULL AS prior",
  );
  if (!found.rows[0]?.holds) {
    await c.query(
      `CREATE TABLE IF NOT EXISTS firebreak.read_only_holds (
         role text NOT NULL,
         incident_id text NOT NULL,
         step_id text NOT NULL,
         since timestamptz NOT NULL DEFAULT clock_timestamp(),
         PRIMARY KEY (role, incident_id, step_id)
       )`,
    );
  }
  if (!found.rows[0]?.prior) {
    await c.query(
      `CREATE TABLE IF NOT EXISTS firebreak.read_only_prior (
         role text PRIMARY KEY,
         record jsonb NOT NULL,
         incident_id text NOT NULL,
         step_id text NOT NULL,
         taken_at timestamptz NOT NULL DEFAULT clock_timestamp()
       )`,
    );
  }
  await assertOutOfReach(c, role, ['firebreak.read_only_holds', 'firebreak.read_only_prior']);
  // One statement (its parts do not see each other's rows, so each reads firebreak_undo itself).
  await c.query(
    `WITH held AS (
       INSERT INTO firebreak.read_only_holds (role, incident_id, step_id, since)
       SELECT u.record->>'role', u.incident_id, u.step_id, COALESCE(u.applied_at, u.created_at)
       FROM firebreak.firebreak_undo u
       WHERE u.lifted_at IS NULL AND jsonb_typeof(u.record->'role') = 'string'
       ON CONFLICT DO NOTHING
       RETURNING 1
     )
     INSERT INTO firebreak.read_only_prior (role, record, incident_id, step_id, taken_at)
     SELECT DISTINCT ON (u.record->>'role') u.record->>'role', u.record, u.incident_id, u.step_id, u.created_at
     FROM firebreak.firebreak_undo u
     WHERE (EXISTS (SELECT 1 FROM firebreak.read_only_holds h WHERE h.role = u.record->>'role')
            OR EXISTS (SELECT 1 FROM firebreak.firebreak_undo o WHERE o.lifted_at IS NULL AND o.record->>'role' = u.record->>'role'))
       AND NOT EXISTS (SELECT 1 FROM firebreak.read_only_prior p WHERE p.role = u.record->>'role')
     ORDER BY u.record->>'role', u.created_at, u.incident_id COLLATE "C", u.step_id COLLATE "C"
     ON CONFLICT DO NOTHING`,
  );
}

/** Which of Firebreak's tables exist here: `ensured` after ensureHolds (all of them), else looked up. */
async function tablesHere(c: pg.ClientBase, known?: 'ensured'): Promise<{ undo: boolean; holds: boolean; prior: boolean }> {
  if (known) return { undo: true, holds: true, prior: true };
  const { rows } = await c.query<{ undo: boolean; holds: boolean; prior: boolean }>(
    `SELECT to_regclass('firebreak.firebreak_undo') IS NOT NULL AS undo, to_regclass('firebreak.read_only_holds') IS NOT NULL AS holds,
            to_regclass('firebreak.read_only_prior') IS NOT NULL AS prior`,
  );
  return rows[0] ?? { undo: false, holds: false, prior: false };
}

/** Who holds read-only for `role` here (oldest first); reads only, and counts records of the previous version too. */
export async function currentHolders(c: pg.ClientBase, role: string, known?: 'ensured'): Promise<Holder[]> {
  const { undo, holds } = await tablesHere(c, known);
  const parts: string[] = [];
  if (holds) parts.push('SELECT incident_id, step_id, since FROM firebreak.read_only_holds WHERE role = $1');
  if (undo) {
    parts.push(
      `SELECT u.incident_id, u.step_id, COALESCE(u.applied_at, u.created_at) AS since FROM firebreak.firebreak_undo u
       WHERE u.lifted_at IS NULL AND u.record->>'role' = $1
       ${holds ? "AND NOT EXISTS (SELECT 1 FROM firebreak.read_only_holds h WHERE h.role = $1 AND h.incident_id = u.incident_id AND h.step_id = u.step_id)" : ''}`,
    );
  }
  if (!parts.length) return [];
  const { rows } = await c.query<{ incident_id: string; step_id: string; since: Date }>(
    `SELECT * FROM (${parts.join(' UNION ALL ')}) x ORDER BY since, incident_id COLLATE "C", step_id COLLATE "C"`,
    [role],
  );
  return rows.map((r) => ({ incidentId: r.incident_id, stepId: r.step_id, since: r.since.toISOString() }));
}

/** What was there before the first holder of `role` took it (reads only); undefined when nothing is recorded. */
export async function priorOf(c: pg.ClientBase, role: string, known?: 'ensured'): Promise<ReadOnlyRecord | undefined> {
  const tables = await tablesHere(c, known);
  let raw: unknown;
  if (tables.prior) {
    raw = (await c.query<{ record: unknown }>('SELECT record FROM firebreak.read_only_prior WHERE role = $1', [role])).rows[0]?.record;
  }
  if (raw === undefined && tables.undo) {
    // Before the holds tables: the earliest record (ensureHolds takes it over the same way).
    const { rows } = await c.query<{ record: unknown }>(
      `SELECT record FROM firebreak.firebreak_undo WHERE record->>'role' = $1 ORDER BY created_at, incident_id COLLATE "C", step_id COLLATE "C" LIMIT 1`,
      [role],
    );
    raw = rows[0]?.record;
  }
  return raw === undefined ? undefined : parseRecord(raw, `Firebreak's record of "${role}" before read-only`);
}

/** When read-only was first in force for `role` among its current holders. */
export async function heldSince(c: pg.ClientBase, role: string): Promise<Date | undefined> {
  const { rows } = await c.query<{ at: Date | null }>(
    `SELECT min(u.applied_at) AS at FROM firebreak.read_only_holds h JOIN firebreak.firebreak_undo u USING (incident_id, step_id) WHERE h.role = $1`,
    [role],
  );
  return rows[0]?.at ?? undefined;
}

/** `record` narrowed to `schemas` (a holder's own view of the prior). */
function narrowed(record: ReadOnlyRecord, schemas: readonly string[]): ReadOnlyRecord {
  return { ...record, schemas: record.schemas.filter((s) => schemas.includes(s)), tables: record.tables.filter((t) => schemas.includes(t.schema)) };
}

const byName = (a: { schema: string; table: string }, b: { schema: string; table: string }) => compare(a.schema, b.schema) || compare(a.table, b.table);

export interface Take {
  /** This step's record: the first holder's prior state (in this step's schemas), the undo's `restore`. */
  record: ReadOnlyRecord;
  /** This take started the hold (nobody held it). */
  first: boolean;
  revoked: number;
  settingChanged: boolean;
  tables: number;
  /** Other incidents holding read-only for the role here. */
  others: string[];
  /** Grant options the record does not keep. */
  grantOptionsDropped: string[];
}

/**
 * One transaction: record this step's hold (and, for the first holder, the prior state), revoke
 * the app role's writes in `schemas` and set its read-only default. A retry of a step that holds
 * it already changes no record and adds no hold.
 */
export async function takeHold(c: pg.ClientBase, role: RoleRow, pgc: PgTarget, schemas: string[], step: Step): Promise<Take> {
  return inTransaction(c, async () => {
    await c.query('SELECT pg_advisory_xact_lock($1, $2)', [...LOCK_KEY]);
    await ensureBookkeeping(c, role);
    await ensureHolds(c, role);
    const mine = (
      await c.query<{ record: unknown; lifted: boolean }>('SELECT record, lifted_at IS NOT NULL AS lifted FROM firebreak.firebreak_undo WHERE incident_id = $1 AND step_id = $2', [
        step.incidentId,
        step.stepId,
      ])
    ).rows[0];
    let record: ReadOnlyRecord;
    let first = false;
    let grantOptionsDropped: string[] = [];
    if (mine && !mine.lifted) {
      record = parseRecord(mine.record, `the stored record for ${step.incidentId}/${step.stepId}`);
      if (record.role !== pgc.appRole || record.database !== pgc.database) {
        throw badInput(`step ${step.stepId} of ${step.incidentId} already holds read-only for "${record.role}" on "${record.database}", not "${pgc.appRole}" on "${pgc.database}"`);
      }
      await c.query('INSERT INTO firebreak.read_only_holds (role, incident_id, step_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [pgc.appRole, step.incidentId, step.stepId]);
    } else {
      // Released earlier and asked again: a new hold with a fresh record.
      if (mine) await c.query('DELETE FROM firebreak.firebreak_undo WHERE incident_id = $1 AND step_id = $2', [step.incidentId, step.stepId]);
      const held = (await c.query('SELECT 1 FROM firebreak.read_only_holds WHERE role = $1 LIMIT 1', [pgc.appRole])).rowCount ?? 0;
      let prior = held ? await priorOf(c, pgc.appRole, 'ensured') : undefined;
      if (!prior) {
        first = true;
        const now = await c.query<{ now: Date }>('SELECT now() AS now');
        const plain = withoutGrantOption(await readGrants(c, role.oid, schemas));
        grantOptionsDropped = plain.dropped;
        prior = {
          version: 1,
          role: pgc.appRole,
          database: pgc.database,
          schemas,
          recordedAt: (now.rows[0]?.now ?? new Date()).toISOString(),
          settings: await readSettings(c, role.oid),
          tables: plain.tables,
        };
        // The previous holding's prior (kept for its retried release) gives way to this one.
        await c.query(
          `INSERT INTO firebreak.read_only_prior (role, record, incident_id, step_id) VALUES ($1, $2::jsonb, $3, $4)
           ON CONFLICT (role) DO UPDATE SET record = EXCLUDED.record, incident_id = EXCLUDED.incident_id, step_id = EXCLUDED.step_id, taken_at = clock_timestamp()`,
          [
          pgc.appRole,
          JSON.stringify(prior),
          step.incidentId,
          step.stepId,
        ]);
      } else {
        // A holder through another target may cover fewer schemas: the new ones' grants are still in place, so they are the prior too.
        const added = schemas.filter((s) => !prior?.schemas.includes(s));
        if (added.length) {
          const plain = withoutGrantOption(await readGrants(c, role.oid, added));
          grantOptionsDropped = plain.dropped;
          prior = { ...prior, schemas: [...prior.schemas, ...added].sort(compare), tables: [...prior.tables, ...plain.tables].sort(byName) };
          await c.query('UPDATE firebreak.read_only_prior SET record = $2::jsonb WHERE role = $1', [pgc.appRole, JSON.stringify(prior)]);
        }
      }
      record = narrowed(prior, schemas);
      await storeRecord(c, step, record);
      await c.query('INSERT INTO firebreak.read_only_holds (role, incident_id, step_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [pgc.appRole, step.incidentId, step.stepId]);
    }
    const before = grantCount(await readGrants(c, role.oid, schemas));
    for (const s of schemas) {
      await c.query(`REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA ${ident(s)} FROM ${ident(pgc.appRole)}`);
    }
    const left = await readGrants(c, role.oid, schemas);
    const settingChanged = !isOn((await readSettings(c, role.oid)).roleInDatabase);
    if (settingChanged) {
      await c.query(`ALTER ROLE ${ident(pgc.appRole)} IN DATABASE ${ident(pgc.database)} SET default_transaction_read_only = on`);
    }
    const others = otherHolders(await currentHolders(c, pgc.appRole, 'ensured'), step.incidentId);
    return { record, first, revoked: before - grantCount(left), settingChanged, tables: left.length, others, grantOptionsDropped };
  });
}

export interface Release {
  /** This call dropped the incident's hold (false: a retry found it released already). */
  released: boolean;
  /** Nobody holds read-only for the role any more. */
  lifted: boolean;
  /** Incidents still holding it (sorted). */
  stillHeldBy: string[];
  /** The state the last release gives back (the first holder's record); kept after the lift for a retry's read-back. */
  restored?: ReadOnlyRecord;
  /** What was (or, planning, would be) run to restore it: nothing unless this release lifts it. */
  plan: RestorePlan;
  /** When this incident's hold was released (the session cut-off). */
  releasedAt?: Date;
  /** No Firebreak records are left here: an earlier attempt of this lift completed and removed them. */
  absent: boolean;
}

const NOTHING: RestorePlan = { statements: [], missing: [], notRecorded: [] };

/**
 * One transaction: drop this incident's hold (the one whose record is `record`); when no hold
 * is left, restore the first holder's record. `record` must be one database.read_only stored for
 * this incident — a forged or foreign one is refused before anything runs. Planning (`dryRun`)
 * reads only.
 */
export async function releaseHold(c: pg.ClientBase, role: RoleRow, pgc: PgTarget, record: ReadOnlyRecord, step: Step, opts: { dryRun?: boolean } = {}): Promise<Release> {
  const who = `"${pgc.appRole}"`;
  const run = async (): Promise<Release> => {
    if (!opts.dryRun) await c.query('SELECT pg_advisory_xact_lock($1, $2)', [...LOCK_KEY]);
    const standing = await recordStanding(c, step.incidentId, record);
    if (standing === 'unknown') {
      throw refused(`${who}: the restore record is not one database.read_only stored for incident ${step.incidentId} on "${pgc.database}"; nothing was changed`);
    }
    if (standing === 'absent') return { released: false, lifted: true, stillHeldBy: [], plan: NOTHING, absent: true };
    if (!opts.dryRun) await ensureHolds(c, role);
    // The step that took it: `<step>.undo` undoes `<step>`; another step of this incident with the same record only if that one is gone.
    const takenBy = step.stepId.replace(/\.undo$/, '');
    const mine = (
      await c.query<{ step_id: string }>(
        `SELECT step_id FROM firebreak.firebreak_undo WHERE incident_id = $1 AND record = $2::jsonb AND lifted_at IS NULL
         ORDER BY (step_id = $3) DESC, step_id COLLATE "C" LIMIT 1`,
        [step.incidentId, JSON.stringify(record), takenBy],
      )
    ).rows[0]?.step_id;
    const known = opts.dryRun ? undefined : 'ensured';
    const remaining = (await currentHolders(c, pgc.appRole, known)).filter((h) => !(h.incidentId === step.incidentId && h.stepId === mine));
    const stillHeldBy = [...new Set(remaining.map((h) => h.incidentId))].sort(compare);
    const prior = await priorOf(c, pgc.appRole, known);
    let releasedAt: Date | undefined;
    if (mine && !opts.dryRun) {
      await c.query('DELETE FROM firebreak.read_only_holds WHERE role = $1 AND incident_id = $2 AND step_id = $3', [pgc.appRole, step.incidentId, mine]);
      releasedAt = (
        await c.query<{ at: Date }>('UPDATE firebreak.firebreak_undo SET lifted_at = clock_timestamp() WHERE incident_id = $1 AND step_id = $2 RETURNING lifted_at AS at', [step.incidentId, mine])
      ).rows[0]?.at;
    }
    if (!mine) {
      const { rows } = await c.query<{ at: Date | null }>('SELECT max(lifted_at) AS at FROM firebreak.firebreak_undo WHERE incident_id = $1 AND record = $2::jsonb', [
        step.incidentId,
        JSON.stringify(record),
      ]);
      releasedAt = rows[0]?.at ?? undefined;
    }
    if (remaining.length) return { released: Boolean(mine), lifted: false, stillHeldBy, plan: NOTHING, releasedAt, absent: false };
    // A retry after this incident's release, nobody holding it now: nothing is restored twice.
    if (!mine) return { released: false, lifted: true, stillHeldBy: [], restored: prior, plan: NOTHING, releasedAt, absent: false };
    const restored = prior ?? record;
    await assertAdminCan(c, restored.schemas);
    const plan = await restorePlan(c, role, pgc, restored);
    if (!opts.dryRun) for (const sql of plan.statements) await c.query(sql);
    return { released: true, lifted: true, stillHeldBy: [], restored, plan, releasedAt, absent: false };
  };
  return opts.dryRun ? run() : inTransaction(c, run);
}

/**
 * Every read-only hold in a target's app database, for `firebreak target check`: one view per
 * role held (`<database>/<role>`), its holders oldest first. Reads only; no Firebreak records
 * there (nothing held) is an empty list.
 */
export async function listReadOnlyHolds(clients: TargetClients, targetName: string): Promise<HoldView[]> {
  const pgc = clients.target(targetName).postgres;
  if (!pgc) return [];
  const c = await clients.pg(targetName).connect();
  try {
    const roles = new Set<string>();
    const tables = await tablesHere(c);
    if (tables.holds) {
      for (const r of (await c.query<{ role: string }>('SELECT DISTINCT role FROM firebreak.read_only_holds')).rows) roles.add(r.role);
    }
    if (tables.undo) {
      const { rows } = await c.query<{ role: string }>("SELECT DISTINCT record->>'role' AS role FROM firebreak.firebreak_undo WHERE lifted_at IS NULL AND jsonb_typeof(record->'role') = 'string'");
      for (const r of rows) roles.add(r.role);
    }
    const views: HoldView[] = [];
    for (const role of [...roles].sort(compare)) {
      const holders = await currentHolders(c, role);
      if (holders.length) views.push({ kind: 'read-only', subject: `${pgc.database}/${role}`, holders });
    }
    return views;
  } finally {
    c.release();
  }
}
