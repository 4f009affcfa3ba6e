/**
 * database.read_only held by several incidents (issue 11 §2), on a real PostgreSQL: the issue's
 * scenario, every order of takes and releases of two and three incidents (with retried
 * releases, with and without read-only in force before), a worker dying inside a take or a
 * release, and records written before holds existed.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validate } from '../../activities/database/catalog.js';
import { currentHolders, listReadOnlyHolds, releaseHold, takeHold } from '../../activities/database/holds.js';
import { createDatabaseActivities } from '../../activities/database/index.js';
import type { ReadOnlyRecord } from '../../activities/database/record.js';
import { removeBookkeepingIfUnused } from '../../activities/database/undo-schema.js';
import { TargetClients } from '../../activities/deps.js';
import type { PgTarget } from '../../activities/support/pg.js';
import { loadConfig, type Config } from '../../lib/config.js';
import { createLogger } from '../../lib/logger.js';
import type { ActionInput, ActionResult } from '../../workflows/definitions.js';
import { createAppDatabase, type AppDatabase } from '../helpers/app-db.js';

let app: AppDatabase;
let dir: string;
let config: Readonly<Config>;
let clients: TargetClients;
let acts: ReturnType<typeof createDatabaseActivities>;
/** A role that is read-only before any incident: no write grants, read-only default on. */
let preRole: string;
const hex = randomBytes(3).toString('hex');
const q = (name: string): string => pg.escapeIdentifier(name);

beforeAll(async () => {
  app = await createAppDatabase('holds');
  preRole = await app.createRole(`fbt_pre_${hex}`);
  await app.admin.query(
    `GRANT USAGE ON SCHEMA "Billing" TO ${q(preRole)}; GRANT SELECT ON ALL TABLES IN SCHEMA "Billing" TO ${q(preRole)};
     ALTER ROLE ${q(preRole)} IN DATABASE ${q(app.name)} SET default_transaction_read_only = on`,
  );
  dir = mkdtempSync(join(tmpdir(), 'fbt-holds-'));
  const file = join(dir, 'firebreak.yaml');
  const target = (role: string, schemas: string) => `{ redis: { keyPrefix: "fbt-holds-${hex}" }, postgres: { database: ${app.name}, appRole: "${role}", schemas: [${schemas}] } }`;
  writeFileSync(
    file,
    ['targets:', `  local: ${target(app.role, 'public, Billing')}`, `  billing: ${target(app.role, 'Billing')}`, `  pre: ${target(preRole, 'Billing')}`].join('\n'),
  );
  config = loadConfig({ file, env: {} });
  clients = new TargetClients(config);
  acts = createDatabaseActivities({ config, logger: createLogger({ level: 'silent', pretty: false }), clients });
});

afterAll(async () => {
  await clients?.close();
  await app?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const incident = (label: string) => `INC-H-${hex}-${label}`;
const take = (incidentId: string, target = 'local'): ActionInput => ({
  incidentId,
  stepId: 'read-only',
  action: 'database.read_only',
  target,
  mode: 'live',
  args: {},
  requestedAt: new Date().toISOString(),
});
const release = (res: ActionResult, incidentId: string, target = 'local'): ActionInput => ({ ...take(incidentId, target), stepId: 'read-only.undo', action: 'database.read_write', args: res.undo?.args ?? {} });

/** The role's grants and settings as the catalog has them. */
const state = async (role = app.role) => ({ grants: await app.grants(role), settings: await app.settings(role) });
/** What a lift gives back: the original grants without a grant option (records hold plain privileges). */
const plain = (s: { grants: string[]; settings: string[] }) => ({ grants: s.grants.map((l) => l.replace(' WITH GRANT OPTION', '')).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)), settings: s.settings });
const schemaExists = async () => (await app.admin.query("SELECT 1 FROM pg_namespace WHERE nspname = 'firebreak'")).rowCount === 1;
const writeGrants = (s: { grants: string[] }) => s.grants.filter((l) => / (INSERT|UPDATE|DELETE|TRUNCATE)( |$)/.test(l));

/** A write as the app role with the read-only default turned off: 'ok' or the SQLSTATE. */
async function appWrite(): Promise<string> {
  const c = await app.connectAs();
  try {
    await c.query('SET default_transaction_read_only = off');
    await c.query('BEGIN');
    try {
      await c.query(`INSERT INTO "Billing".events (at) VALUES ('2026-06-01')`);
      return 'ok';
    } catch (err) {
      return (err as { code?: string }).code ?? 'error';
    } finally {
      await c.query('ROLLBACK');
    }
  } finally {
    await c.end();
  }
}

describe('read-only held by several incidents (activities)', () => {
  it("the issue's scenario: A takes, B takes, A's release leaves it in force (held by B), B's release restores what was there before A", async () => {
    const before = await state();
    const [A, B] = [incident('a'), incident('b')];
    const a = await acts.databaseReadOnly(take(A));
    expect(a.changed).toBe(true);
    expect(a.summary).not.toMatch(/also held by/);
    const b = await acts.databaseReadOnly(take(B));
    // B found it already read-only: its record is still what was there before A, not the revoked state.
    expect(b.changed).toBe(false);
    expect(b.summary).toMatch(new RegExp(`^"${app.name}" was already read-only for .* \\(also held by ${A}\\)$`));
    expect(b.output).toMatchObject({ alsoHeldBy: [A] });
    expect(b.undo?.args).toEqual(a.undo?.args);
    expect(await listReadOnlyHolds(clients, 'local')).toEqual([
      { kind: 'read-only', subject: `${app.name}/${app.role}`, holders: [expect.objectContaining({ incidentId: A, stepId: 'read-only' }), expect.objectContaining({ incidentId: B, stepId: 'read-only' })] },
    ]);

    const ra = await acts.databaseReadWrite(release(a, A));
    expect(ra).toMatchObject({ changed: false, output: { lifted: false, stillHeldBy: [B] } });
    expect(ra.summary).toMatch(new RegExp(`^released ${A}'s hold on read-only of "${app.name}" for ".*": still held by ${B}, so its grants stay revoked; schema firebreak kept`));
    expect(writeGrants(await state())).toEqual([]);
    expect(await appWrite()).toBe('42501');

    const rb = await acts.databaseReadWrite(release(b, B));
    expect(rb).toMatchObject({ changed: true, output: { lifted: true, stillHeldBy: [] }, proof: { matchesRecord: true, bookkeeping: 'removed' } });
    expect(rb.summary).toMatch(/^restored 13 recorded write privilege\(s\) .* removed schema firebreak$/);
    expect(await state()).toEqual(plain(before));
    expect(await schemaExists()).toBe(false);
    expect(await appWrite()).toBe('ok');
    expect(await listReadOnlyHolds(clients, 'local')).toEqual([]);
  });

  it('a holder through a target with fewer schemas: a later, wider holder adds its schemas to the prior state, and the last release restores all', async () => {
    // Through the hold transactions: the activity refuses a target that leaves the role writes elsewhere (write-paths.ts).
    const before = await state();
    const c = await clients.pg('local').connect();
    try {
      const narrow = config.targets.billing?.postgres as PgTarget;
      const wide = config.targets.local?.postgres as PgTarget;
      const role = await validate(c, wide, ['Billing', 'public']);
      const [A, B] = [incident('narrow'), incident('wide')];
      const a = await takeHold(c, role, narrow, ['Billing'], { incidentId: A, stepId: 'read-only' });
      expect(writeGrants(await state()).some((l) => l.startsWith('public.'))).toBe(true);
      const b = await takeHold(c, role, wide, ['Billing', 'public'], { incidentId: B, stepId: 'read-only' });
      expect(b.revoked).toBeGreaterThan(0); // public was still writable
      expect(b.record.schemas).toEqual(['Billing', 'public']);
      expect(b.record.tables.some((t) => t.schema === 'public' && t.privileges.length > 0)).toBe(true);
      expect(a.record.schemas).toEqual(['Billing']);
      expect(writeGrants(await state())).toEqual([]);
      expect(await releaseHold(c, role, wide, b.record, { incidentId: B, stepId: 'read-only.undo' })).toMatchObject({ lifted: false, stillHeldBy: [A] });
      expect(writeGrants(await state())).toEqual([]);
      expect(await releaseHold(c, role, narrow, a.record, { incidentId: A, stepId: 'read-only.undo' })).toMatchObject({ lifted: true, stillHeldBy: [] });
      await removeBookkeepingIfUnused(c);
    } finally {
      c.release();
    }
    expect(await state()).toEqual(plain(before));
  });

  it('a dry-run release while another incident holds it plans nothing and changes nothing', async () => {
    const [A, B] = [incident('dry-a'), incident('dry-b')];
    const a = await acts.databaseReadOnly(take(A));
    const b = await acts.databaseReadOnly(take(B));
    const during = await state();
    expect((await acts.databaseReadOnly({ ...take(incident('dry-c')), mode: 'dry-run' })).summary).toMatch(/is already read-only for .* \(also held by INC-H-\w+-dry-a, INC-H-\w+-dry-b\)$/);
    const dry = await acts.databaseReadWrite({ ...release(a, A), mode: 'dry-run' });
    expect(dry).toMatchObject({ changed: false, plan: ['nothing to change'], output: { lifted: false, stillHeldBy: [B] } });
    expect(dry.summary).toMatch(/^would release .*: still held by INC-H-\w+-dry-b, so its grants stay revoked$/);
    expect(await state()).toEqual(during);
    expect((await currentHolders(app.admin, app.role)).map((h) => h.incidentId)).toEqual([A, B]);
    await acts.databaseReadWrite(release(b, B));
    await acts.databaseReadWrite(release(a, A));
    expect(await schemaExists()).toBe(false);
  });
});

describe('crash safety: a take and a release are each one transaction', () => {
  it('a retried take after success is a no-op: the hold is not counted twice, so one release of each holder lifts it', async () => {
    const before = await state();
    const [A, B] = [incident('retry-a'), incident('retry-b')];
    const a1 = await acts.databaseReadOnly(take(A));
    const a2 = await acts.databaseReadOnly(take(A)); // the result of a1 was lost: Temporal runs it again
    expect(a2).toMatchObject({ changed: false, undo: a1.undo });
    expect(a2.summary).not.toMatch(/also held by/);
    const b = await acts.databaseReadOnly(take(B));
    expect((await currentHolders(app.admin, app.role)).map((h) => h.incidentId)).toEqual([A, B]);
    expect((await acts.databaseReadWrite(release(b, B))).output).toEqual({ lifted: false, stillHeldBy: [A] });
    expect((await acts.databaseReadWrite(release(a2, A))).output).toEqual({ lifted: true, stillHeldBy: [] });
    expect(await state()).toEqual(plain(before));
  });

  it("a retried release releases nothing more: not another incident's hold, and it never restores twice", async () => {
    const before = await state();
    const [A, B] = [incident('rel-a'), incident('rel-b')];
    const a = await acts.databaseReadOnly(take(A));
    const b = await acts.databaseReadOnly(take(B));
    expect((await acts.databaseReadWrite(release(a, A))).output).toEqual({ lifted: false, stillHeldBy: [B] });
    const again = await acts.databaseReadWrite(release(a, A));
    expect(again).toMatchObject({ changed: false, output: { lifted: false, stillHeldBy: [B] } });
    expect(again.summary).toMatch(/was already released by an earlier attempt: still held by/);
    expect(writeGrants(await state())).toEqual([]);
    expect(await appWrite()).toBe('42501');
    // B's release is the last one; its retry afterwards finds nothing to restore.
    expect((await acts.databaseReadWrite(release(b, B))).output).toEqual({ lifted: true, stillHeldBy: [] });
    const retried = await acts.databaseReadWrite(release(b, B));
    expect(retried).toMatchObject({ changed: false, output: { lifted: true, stillHeldBy: [] }, proof: { bookkeeping: 'absent', sessionsEnded: 0 } });
    expect(await state()).toEqual(plain(before));
  });

  /**
   * The worker dies inside the transaction: its session is terminated while a statement near
   * the end of the unit waits (on a row another session has locked), as a SIGKILL drops the
   * connection. PostgreSQL rolls the whole unit back: no hold without its REVOKE, no release
   * without its restore.
   */
  async function dieWhileBlocked(run: () => Promise<unknown>): Promise<unknown> {
    const blocker = await app.connectAs('postgres');
    await blocker.query('BEGIN');
    // The unit's last statement is the role's read-only default: hold that row.
    await blocker.query(`ALTER ROLE ${q(app.role)} IN DATABASE ${q(app.name)} SET default_transaction_read_only = on`);
    const pending = run().then(
      () => 'finished',
      (e: unknown) => e,
    );
    let pid: number | undefined;
    for (let i = 0; i < 200 && pid === undefined; i++) {
      const { rows } = await blocker.query<{ pid: number }>(
        "SELECT pid FROM pg_stat_activity WHERE application_name = 'firebreak-worker' AND datname = current_database() AND wait_event_type = 'Lock'",
      );
      pid = rows[0]?.pid;
      if (pid === undefined) await new Promise((r) => setTimeout(r, 25));
    }
    expect(pid).toBeDefined();
    await blocker.query('SELECT pg_terminate_backend($1)', [pid]);
    const outcome = await pending;
    await blocker.query('ROLLBACK');
    await blocker.end();
    return outcome;
  }

  it('a take killed before its commit leaves neither a hold nor a REVOKE; its retry takes it once', async () => {
    const before = await state();
    const A = incident('kill-take');
    const died = await dieWhileBlocked(() => acts.databaseReadOnly(take(A)));
    expect(died).toMatchObject({ type: 'FirebreakTargetUnavailable' });
    expect(await state()).toEqual(before);
    expect(await currentHolders(app.admin, app.role)).toEqual([]);
    const a = await acts.databaseReadOnly(take(A));
    expect(a.changed).toBe(true);
    expect((await currentHolders(app.admin, app.role)).map((h) => h.incidentId)).toEqual([A]);
    expect((await acts.databaseReadWrite(release(a, A))).output).toEqual({ lifted: true, stillHeldBy: [] });
    expect(await state()).toEqual(plain(before));
  });

  it('the last release killed before its commit keeps the hold and the REVOKE; its retry restores once', async () => {
    const before = await state();
    const A = incident('kill-release');
    const a = await acts.databaseReadOnly(take(A));
    const during = await state();
    const died = await dieWhileBlocked(() => acts.databaseReadWrite(release(a, A)));
    expect(died).toMatchObject({ type: 'FirebreakTargetUnavailable' });
    expect(await state()).toEqual(during);
    expect((await currentHolders(app.admin, app.role)).map((h) => h.incidentId)).toEqual([A]);
    const lifted = await acts.databaseReadWrite(release(a, A));
    expect(lifted).toMatchObject({ changed: true, output: { lifted: true, stillHeldBy: [] } });
    expect(await state()).toEqual(plain(before));
  });
});

describe('records written before holds existed (incidents open across the upgrade)', () => {
  /**
   * The previous version's state: A's record holds the grants, B's the revoked state it found
   * (its step ran while A held read-only), both unlifted; no holds tables.
   */
  async function legacy(A: string, B: string): Promise<{ a: ActionResult; bRecord: ReadOnlyRecord }> {
    const a = await acts.databaseReadOnly(take(A));
    const aRecord = a.undo?.args.restore as ReadOnlyRecord;
    const bRecord: ReadOnlyRecord = {
      ...aRecord,
      recordedAt: new Date(Date.parse(aRecord.recordedAt) + 1_000).toISOString(),
      settings: { ...aRecord.settings, roleInDatabase: 'on' },
      tables: aRecord.tables.map((t) => ({ ...t, privileges: [], columns: [] })),
    };
    await app.admin.query(
      "INSERT INTO firebreak.firebreak_undo (incident_id, step_id, record, created_at, applied_at) VALUES ($1, 'read-only', $2::jsonb, now() + interval '1 second', now() + interval '1 second')",
      [B, JSON.stringify(bRecord)],
    );
    await app.admin.query('DROP TABLE firebreak.read_only_holds, firebreak.read_only_prior');
    return { a, bRecord };
  }

  it('both are holders: the first release leaves it in force, the last restores the EARLIEST record (not the revoked state B saw)', async () => {
    const before = await state();
    const [A, B] = [incident('old-a'), incident('old-b')];
    const { a, bRecord } = await legacy(A, B);
    expect((await listReadOnlyHolds(clients, 'local')).flatMap((v) => v.holders.map((h) => h.incidentId))).toEqual([A, B]);
    expect((await acts.databaseReadWrite(release(a, A))).output).toEqual({ lifted: false, stillHeldBy: [B] });
    expect(writeGrants(await state())).toEqual([]);
    const last = await acts.databaseReadWrite({ ...release(a, B), args: { restore: bRecord } });
    expect(last).toMatchObject({ changed: true, output: { lifted: true, stillHeldBy: [] } });
    expect(await state()).toEqual(plain(before));
    expect(await schemaExists()).toBe(false);
  });

  it('lifted in the wrong order before the upgrade (the bug): the remaining holder still restores the earliest record', async () => {
    const before = await state();
    const [A, B] = [incident('bug-a'), incident('bug-b')];
    const { a, bRecord } = await legacy(A, B);
    // The previous version's lift of A: grants back while B still held read-only, A's record marked lifted.
    for (const sql of [
      `GRANT SELECT, INSERT, UPDATE, DELETE ON public.auth_user TO ${q(app.role)}`,
      `ALTER ROLE ${q(app.role)} IN DATABASE ${q(app.name)} RESET default_transaction_read_only`,
    ]) {
      await app.admin.query(sql);
    }
    await app.admin.query("UPDATE firebreak.firebreak_undo SET lifted_at = now() WHERE incident_id = $1", [A]);
    const c = await acts.databaseReadOnly(take(incident('bug-c')));
    // A new incident joins B's holding: it finds the earliest record as the prior state, not B's.
    expect(c.undo?.args).toEqual(a.undo?.args);
    expect(c.summary).toMatch(/\(also held by INC-H-\w+-bug-b\)$/);
    expect((await acts.databaseReadWrite({ ...release(a, B), args: { restore: bRecord } })).output).toEqual({ lifted: false, stillHeldBy: [incident('bug-c')] });
    expect((await acts.databaseReadWrite(release(c, incident('bug-c')))).output).toEqual({ lifted: true, stillHeldBy: [] });
    expect(await state()).toEqual(plain(before));
  });
});

// ---- every order ------------------------------------------------------------------------------

type Event = { kind: 'take' | 'release'; who: number; retry?: boolean };

/** Every sequence of take_i and release_i (i < n) with take_i before release_i. */
function interleavings(n: number): Event[][] {
  const out: Event[][] = [];
  const walk = (seq: Event[], taken: Set<number>, released: Set<number>) => {
    if (released.size === n) return void out.push(seq);
    for (let i = 0; i < n; i++) {
      if (!taken.has(i)) walk([...seq, { kind: 'take', who: i }], new Set([...taken, i]), released);
      else if (!released.has(i)) walk([...seq, { kind: 'release', who: i }], taken, new Set([...released, i]));
    }
  };
  walk([], new Set(), new Set());
  return out;
}

/** Each release duplicated (a retry) at a position after it, varied with the order's index. */
function withRetries(seq: Event[], index: number): Event[] {
  const out = [...seq];
  for (const who of [...new Set(seq.map((e) => e.who))]) {
    const at = out.findIndex((e) => e.kind === 'release' && e.who === who && !e.retry);
    const slots = out.length - at; // after it: at+1 … out.length
    out.splice(at + 1 + ((index + who) % slots), 0, { kind: 'release', who, retry: true });
  }
  return out;
}

/** An app database of its own for a share of the orders: orders of one database run one after the other (each ends where it began). */
interface Bench {
  app: AppDatabase;
  clients: TargetClients;
  config: Readonly<Config>;
}

async function bench(label: string): Promise<Bench> {
  const db = await createAppDatabase(label);
  const pre = await db.createRole(`fbt_pre_${randomBytes(3).toString('hex')}`);
  await db.admin.query(
    `GRANT USAGE ON SCHEMA "Billing" TO ${q(pre)}; GRANT SELECT ON ALL TABLES IN SCHEMA "Billing" TO ${q(pre)};
     ALTER ROLE ${q(pre)} IN DATABASE ${q(db.name)} SET default_transaction_read_only = on`,
  );
  const file = join(dir, `${label}.yaml`);
  const target = (role: string) => `{ redis: { keyPrefix: "fbt-holds-${hex}" }, postgres: { database: ${db.name}, appRole: "${role}", schemas: [Billing] } }`;
  writeFileSync(file, ['defaultTarget: billing', 'targets:', `  billing: ${target(db.role)}`, `  pre: ${target(pre)}`].join('\n'));
  const cfg = loadConfig({ file, env: {} });
  return { app: db, clients: new TargetClients(cfg), config: cfg };
}

interface Work {
  n: number;
  target: 'billing' | 'pre';
  k: number;
  order: Event[];
}

/** One order on one bench, the invariant checked after every step; returns the number of steps. */
async function runOrder(b: Bench, w: Work): Promise<number> {
  const pgc = b.config.targets[w.target]?.postgres as PgTarget;
  const schemas = [...pgc.schemas];
  const pre = w.target === 'pre';
  const c = await b.clients.pg(w.target).connect();
  try {
    const role = await validate(c, pgc, schemas);
    /** One catalog read per step: is read-only in force (no write privilege in the schemas, the default on), and is Firebreak's schema there. */
    const effect = async () => {
      const { rows } = await c.query<{ writes: number; ro: string | null; schema: boolean }>(
        `SELECT (SELECT count(*)::int FROM pg_class r JOIN pg_namespace n ON n.oid = r.relnamespace CROSS JOIN LATERAL aclexplode(r.relacl) a
                 WHERE n.nspname = ANY($2::text[]) AND a.grantee = $1::oid AND a.privilege_type IN ('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE'))
              + (SELECT count(*)::int FROM pg_class r JOIN pg_namespace n ON n.oid = r.relnamespace JOIN pg_attribute at ON at.attrelid = r.oid
                 CROSS JOIN LATERAL aclexplode(at.attacl) a WHERE n.nspname = ANY($2::text[]) AND a.grantee = $1::oid) AS writes,
                (SELECT cfg FROM pg_db_role_setting s CROSS JOIN LATERAL unnest(s.setconfig) cfg
                 WHERE s.setrole = $1::oid AND s.setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())
                   AND cfg LIKE 'default_transaction_read_only=%') AS ro,
                EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'firebreak') AS schema`,
        [role.oid, schemas],
      );
      const r = rows[0] as { writes: number; ro: string | null; schema: boolean };
      return { on: r.writes === 0 && r.ro === 'default_transaction_read_only=on', schema: r.schema };
    };
    const initial = plain({ grants: await b.app.grants(pgc.appRole), settings: await b.app.settings(pgc.appRole) });
    expect((await effect()).on).toBe(pre);
    const ids = Array.from({ length: w.n }, (_, i) => `INC-X-${hex}-${w.n}-${w.k}-${i}`);
    const records = new Map<number, ReadOnlyRecord>();
    const episodeOf = new Map<number, number>();
    const holding = new Set<number>();
    const held = () => [...holding].map((i) => ids[i] as string).sort();
    let episode = 0;
    let steps = 0;
    for (const e of w.order) {
      const id = ids[e.who] as string;
      const ctx = `${w.target}, order ${w.k} ${w.order.map((x) => `${x.kind[0]}${x.who}${x.retry ? '*' : ''}`).join(' ')}, at ${e.kind} ${e.who}${e.retry ? ' (retry)' : ''}`;
      if (e.kind === 'take') {
        if (!holding.size) episode += 1;
        const t = await takeHold(c, role, pgc, schemas, { incidentId: id, stepId: 'read-only' });
        expect(t.others, ctx).toEqual(held());
        holding.add(e.who);
        records.set(e.who, t.record);
        episodeOf.set(e.who, episode);
      } else {
        const record = records.get(e.who) as ReadOnlyRecord;
        const attempt = () => releaseHold(c, role, pgc, record, { incidentId: id, stepId: 'read-only.undo' });
        if (e.retry && holding.size > 0 && episodeOf.get(e.who) !== episode) {
          // Its records went with the holding it was part of; a newer holding's table does not know it: refused, nothing changed.
          await expect(attempt(), ctx).rejects.toMatchObject({ type: 'FirebreakRefused' });
        } else {
          const r = await attempt();
          expect(holding.delete(e.who), ctx).toBe(!e.retry);
          expect({ released: r.released, lifted: r.lifted, stillHeldBy: r.stillHeldBy }, ctx).toEqual({ released: !e.retry, lifted: holding.size === 0, stillHeldBy: held() });
          await removeBookkeepingIfUnused(c);
        }
      }
      steps += 1;
      const now = await effect();
      expect(now.on, ctx).toBe(holding.size > 0 || pre);
      if (holding.size) {
        expect((await currentHolders(c, pgc.appRole)).map((h) => h.incidentId).sort(), ctx).toEqual(held());
      } else {
        // Nobody holds it: no Firebreak record left (the schema is gone), and after a lift exactly what was there before.
        expect(now.schema, ctx).toBe(false);
        if (e.kind === 'release' && !e.retry) expect(plain({ grants: await b.app.grants(pgc.appRole), settings: await b.app.settings(pgc.appRole) }), ctx).toEqual(initial);
      }
    }
    expect(plain({ grants: await b.app.grants(pgc.appRole), settings: await b.app.settings(pgc.appRole) })).toEqual(initial);
    return steps;
  } finally {
    c.release();
  }
}

describe('every order of takes and releases (the hold transactions on the real database)', () => {
  const BENCHES = 4;
  let benches: Bench[] = [];
  beforeAll(async () => {
    benches = await Promise.all(Array.from({ length: BENCHES }, (_, i) => bench(`holds-orders-${i}`)));
  });
  afterAll(async () => {
    await Promise.allSettled(benches.map(async (b) => {
      await b.clients.close();
      await b.app.cleanup();
    }));
  });

  it.each([2, 3])('%i incidents, with and without read-only before: effect ⇔ a holder (or it was there before); each order ends in the initial state, no records left', async (n) => {
    const started = Date.now();
    const work: Work[] = (['billing', 'pre'] as const).flatMap((target) => interleavings(n).map((order, k) => ({ n, target, k, order: withRetries(order, k) })));
    expect(work.length).toBe(2 * (n === 2 ? 6 : 90));
    const perBench = benches.map((_, i) => work.filter((_, j) => j % benches.length === i));
    const steps = await Promise.all(
      perBench.map(async (items, i) => {
        let total = 0;
        for (const w of items) total += await runOrder(benches[i] as Bench, w);
        return total;
      }),
    );
    const total = steps.reduce((a, b) => a + b, 0);
    expect(total).toBe(work.length * n * 3);
    for (const b of benches) expect(await b.app.admin.query("SELECT 1 FROM pg_namespace WHERE nspname = 'firebreak'")).toMatchObject({ rowCount: 0 });
    console.log(`holds: ${n} incidents: ${work.length} orders, ${total} steps on ${benches.length} databases in ${Date.now() - started} ms`);
  });
});
