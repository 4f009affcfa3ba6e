/**
 * User disables held by several incidents (issue 11 §2), against real PostgreSQL through
 * createActivities: the issue's scenario, every order of disable / release / retried release
 * for two and three incidents, one transaction for the hold and the update, and undos
 * recorded before holds.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities, TargetClients } from '../../activities/index.js';
import { listUserHolds } from '../../activities/tokens/user-holds.js';
import { loadConfig } from '../../lib/config.js';
import { createLogger } from '../../lib/logger.js';
import type { ActionInput, ActionResult } from '../../workflows/definitions.js';
import { createAppDatabase, type AppDatabase } from '../helpers/app-db.js';
import { interleavings, retriedOrders, type Event } from '../helpers/hold-orders.js';
import { createTestDatabase, redisClient, type TestDatabase, type TestRedis } from '../helpers/services.js';

const LANES = 4;

let app: AppDatabase;
let laneDbs: TestDatabase[] = [];
const laneSql: pg.Client[] = [];
let r: TestRedis;
let dir: string;
let clients: TargetClients;
let acts: ReturnType<typeof createActivities>;

beforeAll(async () => {
  app = await createAppDatabase('user-holds');
  r = redisClient('user-holds');
  dir = mkdtempSync(join(tmpdir(), 'fbt-user-holds-'));
  const file = join(dir, 'firebreak.yaml');
  const target = (extra = '') =>
    `{ development: true, redis: { url: "redis://127.0.0.1:6379/0", keyPrefix: "${r.prefix}" }, postgres: { adminUrl: "postgres://postgres@127.0.0.1:5432/postgres", database: ${app.name}, appRole: "${app.role}"${extra} } }`;
  // The exhaustive orders run side by side, one database per lane (the holds lock is per database).
  laneDbs = await Promise.all(Array.from({ length: LANES }, (_, i) => createTestDatabase(`user-holds-lane${i}`)));
  for (const db of laneDbs) {
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    await c.query('CREATE TABLE public.auth_user (id serial PRIMARY KEY, username text NOT NULL UNIQUE, is_active boolean NOT NULL DEFAULT true)');
    laneSql.push(c);
  }
  const lanes = laneDbs.map((db, i) => `  lane${i}: ${target().replace(`database: ${app.name}`, `database: ${db.name}`)}`);
  writeFileSync(file, ['defaultTarget: local', 'targets:', `  local: ${target()}`, `  spelled: ${target(', userTable: public.auth_user')}`, ...lanes].join('\n'));
  const config = loadConfig({ file, env: {} });
  clients = new TargetClients(config);
  acts = createActivities({ config, logger: createLogger({ level: 'silent', pretty: false }), clients });
});
afterAll(async () => {
  await clients?.close();
  for (const c of laneSql) await c.end();
  for (const db of laneDbs) await db.drop();
  await app?.cleanup();
  await r?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

let n = 0;
async function users(...active: boolean[]): Promise<string[]> {
  const out: string[] = [];
  for (const a of active) {
    const { rows } = await app.admin.query<{ id: number }>('INSERT INTO public.auth_user (username, is_active) VALUES ($1, $2) RETURNING id', [`holds-${++n}`, a]);
    out.push(String(rows[0]?.id));
  }
  return out;
}
async function activeOf(ids: string[]): Promise<boolean[]> {
  const { rows } = await app.admin.query<{ id: number; is_active: boolean }>('SELECT id, is_active FROM public.auth_user WHERE id = ANY($1::int[])', [ids]);
  return ids.map((id) => rows.find((x) => String(x.id) === id)?.is_active as boolean);
}
async function holdsTable(): Promise<boolean> {
  return (await app.admin.query<{ t: string | null }>("SELECT to_regclass('firebreak.firebreak_user_holds')::text AS t")).rows[0]?.t != null;
}
/** Holders per user, as `user: inc,inc`. */
async function holders(ids: string[]): Promise<string[]> {
  try {
    const { rows } = await app.admin.query<{ user_id: string; who: string }>(
      "SELECT user_id, string_agg(incident_id, ',' ORDER BY incident_id) AS who FROM firebreak.firebreak_user_holds WHERE user_id = ANY($1::text[]) GROUP BY user_id ORDER BY user_id",
      [ids],
    );
    return rows.map((x) => `${x.user_id}: ${x.who}`);
  } catch (err) {
    // Gone: the last release of another lane dropped it (nobody holds anything).
    if ((err as { code?: string }).code === '42P01') return [];
    throw err;
  }
}

const base = (incidentId: string, target = 'local'): Omit<ActionInput, 'stepId' | 'action' | 'args'> => ({ incidentId, target, mode: 'live', requestedAt: new Date().toISOString() });
const disable = (incidentId: string, ids: string[], target = 'local'): Promise<ActionResult> =>
  acts.tokensDisableUsers({ ...base(incidentId, target), stepId: 'disable', action: 'tokens.disable_users', args: { user_ids: ids } });
/** The undo the workflow runs for a disable: its recorded arguments, stepId `<step>.undo`. */
const release = (incidentId: string, taken: ActionResult, target = 'local'): Promise<ActionResult> => {
  expect(taken.undo?.action).toBe('tokens.enable_users');
  return acts.tokensEnableUsers({ ...base(incidentId, target), stepId: 'disable.undo', action: 'tokens.enable_users', args: taken.undo?.args ?? {} });
};

describe('the issue’s scenario: two incidents disable the same users', () => {
  it('A disables, B disables, A releases (still disabled, held by B), B releases (exactly as before)', async () => {
    const [u, v] = (await users(true, false)) as [string, string];
    const a = await disable('INC-A', [u, v]);
    expect(a).toMatchObject({ changed: true, output: { wasActive: [u], alsoHeldBy: [] } });
    const b = await disable('INC-B', [u, v]);
    expect(b.changed).toBe(false);
    expect(b.summary).toBe('disabled 2 users in auth_user (1 were active, 1 already inactive and left so by the undo) (also held by INC-A)');
    expect(b.output).toMatchObject({ wasActive: [u], alsoHeldBy: ['INC-A'] });
    expect(await listUserHolds(clients.pg('local'), 'auth_user')).toEqual(
      [u, v].sort().map((id) => ({ kind: 'user-disable', subject: id, holders: ['INC-A', 'INC-B'].map((incidentId) => ({ incidentId, stepId: 'disable', since: expect.any(String) })) })),
    );

    const offA = await release('INC-A', a);
    expect(offA).toMatchObject({ changed: false, output: { enabled: 0, lifted: false, stillHeldBy: ['INC-B'] } });
    expect(offA.summary).toBe('released 2 users in auth_user: 0 enabled (0 were inactive); 2 stay disabled, still held by INC-B');
    expect(await activeOf([u, v])).toEqual([false, false]);

    const offB = await release('INC-B', b);
    expect(offB).toMatchObject({ changed: true, output: { enabled: 1, lifted: true, stillHeldBy: [] } });
    expect(await activeOf([u, v])).toEqual([true, false]);
    expect(await holdsTable()).toBe(false);
    expect((await app.admin.query("SELECT 1 FROM pg_namespace WHERE nspname = 'firebreak'")).rowCount).toBe(0);
  });

  it('the last release keeps the firebreak schema when something else lives there (the read-only records)', async () => {
    const [u] = (await users(true)) as [string];
    const a = await disable('INC-A', [u]);
    await app.admin.query('CREATE TABLE firebreak.someone_elses (id int)');
    try {
      expect(await release('INC-A', a)).toMatchObject({ output: { lifted: true } });
      expect(await holdsTable()).toBe(false);
      expect((await app.admin.query("SELECT to_regclass('firebreak.someone_elses') IS NOT NULL AS ok")).rows[0]).toEqual({ ok: true });
    } finally {
      await app.admin.query('DROP TABLE firebreak.someone_elses; DROP SCHEMA firebreak');
    }
  });

  it('two spellings of one user table share the holds', async () => {
    const [u] = (await users(true)) as [string];
    const a = await disable('INC-A', [u]);
    const b = await disable('INC-B', [u], 'spelled');
    expect(b.output).toMatchObject({ alsoHeldBy: ['INC-A'] });
    await release('INC-A', a);
    expect(await activeOf([u])).toEqual([false]);
    await release('INC-B', b, 'spelled');
    expect(await activeOf([u])).toEqual([true]);
  });

  it('dry-run of a release says who still holds them and changes nothing', async () => {
    const [u] = (await users(true)) as [string];
    const a = await disable('INC-A', [u]);
    const b = await disable('INC-B', [u]);
    const plan = await acts.tokensEnableUsers({ ...base('INC-A'), mode: 'dry-run', stepId: 'disable.undo', action: 'tokens.enable_users', args: a.undo?.args ?? {} });
    expect(plan).toMatchObject({ changed: false, output: { lifted: false, stillHeldBy: ['INC-B'] } });
    expect(plan.summary).toBe('would set is_active = true for 0 users of 1 in auth_user (0 would change); 1 stay disabled, still held by INC-B');
    expect(await holders([u])).toEqual([`${u}: INC-A,INC-B`]);
    await release('INC-A', a);
    await release('INC-B', b);
    expect(await activeOf([u])).toEqual([true]);
  });
});

interface Lane {
  target: string;
  sql: pg.Client;
}

async function laneUsers(l: Lane, ...active: boolean[]): Promise<string[]> {
  const out: string[] = [];
  for (const a of active) {
    const { rows } = await l.sql.query<{ id: number }>('INSERT INTO public.auth_user (username, is_active) VALUES ($1, $2) RETURNING id', [`lane-${++n}`, a]);
    out.push(String(rows[0]?.id));
  }
  return out;
}

/** is_active of x and y, and their holders, in one query. */
async function laneState(l: Lane, x: string, y: string): Promise<{ active: boolean[]; holders: string[] }> {
  const { rows } = await l.sql.query<{ id: number; is_active: boolean; who: string | null }>(
    `SELECT u.id, u.is_active, (SELECT string_agg(incident_id, ',' ORDER BY incident_id) FROM firebreak.firebreak_user_holds h WHERE h.user_id = u.id::text) AS who
     FROM public.auth_user u WHERE u.id = ANY($1::int[]) ORDER BY u.id::text`,
    [[x, y]],
  );
  return { active: [x, y].map((id) => rows.find((r) => String(r.id) === id)?.is_active as boolean), holders: rows.filter((r) => r.who).map((r) => `${r.id}: ${r.who}`) };
}

/**
 * One order on a lane's two users, X active and Y already inactive before the first disable
 * (the effect absent and pre-existing, in one run): after each event X is inactive exactly
 * while somebody holds it, Y always is, both are held by exactly the incidents that disabled
 * and have not released, and each result says who else holds them.
 */
async function runOrder(events: Event[], l: Lane, x: string, y: string, label: string): Promise<void> {
  const holding = new Set<string>();
  const taken = new Map<string, ActionResult>();
  const sorted = () => [...holding].sort();
  for (const ev of events) {
    const id = `INC-${ev.incident}-${x}`;
    const where = () => `${label} [${events.map((e) => `${e.kind}${e.incident}`).join(' ')}] at ${ev.kind}${ev.incident}`;
    if (ev.kind === 't') {
      const res = await disable(id, [x, y], l.target);
      expect(res.output?.alsoHeldBy, where()).toEqual(sorted());
      expect(res.changed, where()).toBe(holding.size === 0);
      holding.add(id);
      taken.set(id, res);
    } else {
      holding.delete(id);
      const res = await release(id, taken.get(id) as ActionResult, l.target);
      const first = ev.kind === 'r';
      expect(res.output, where()).toMatchObject({ enabled: first && holding.size === 0 ? 1 : 0, lifted: first && holding.size === 0, stillHeldBy: sorted() });
      expect(res.changed, where()).toBe(first && holding.size === 0);
    }
    const who = sorted().join(',');
    expect(await laneState(l, x, y), where()).toEqual({ active: [holding.size === 0, false], holders: holding.size ? [x, y].sort().map((u) => `${u}: ${who}`) : [] });
  }
}

/**
 * Every order, LANES at a time. Each lane's database keeps one unrelated hold while the orders
 * run (the table's creation and removal are tested above), released at the end: then no hold
 * and no holds table is left anywhere.
 */
async function runAll(orders: Event[][]): Promise<number> {
  let next = 0;
  let calls = 0;
  await Promise.all(
    laneSql.map(async (sql, i) => {
      const l: Lane = { target: `lane${i}`, sql };
      const [keeper] = (await laneUsers(l, true)) as [string];
      const kept = await disable('INC-KEEPER', [keeper], l.target);
      for (let order = orders[next++]; order; order = orders[next++]) {
        // A new pair per order: each starts from X active, Y inactive, nobody holding either.
        const [x, y] = (await laneUsers(l, true, false)) as [string, string];
        await runOrder(order, l, x, y, `lane ${i}`);
        calls += order.length;
      }
      expect(await release('INC-KEEPER', kept, l.target)).toMatchObject({ output: { lifted: true } });
      expect((await sql.query("SELECT to_regclass('firebreak.firebreak_user_holds') IS NULL AND NOT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'firebreak') AS clean")).rows[0]).toEqual({ clean: true });
    }),
  );
  return calls;
}

describe('every order of disable, release and retried release', () => {
  it('2 incidents: all 6 orders and all 20 with a retry after each release', async () => {
    const started = performance.now();
    const orders = [...interleavings(2, false), ...interleavings(2, true)];
    const calls = await runAll(orders);
    console.log(`user holds, 2 incidents: ${orders.length} orders, ${calls} activity calls in ${Math.round(performance.now() - started)} ms`);
  }, 30_000);

  it('3 incidents: all 90 orders, and the 90 again with each release retried 0…5 events later', async () => {
    const started = performance.now();
    const plain = interleavings(3, false);
    const orders = [...plain, ...retriedOrders(plain)];
    expect(orders).toHaveLength(180);
    const calls = await runAll(orders);
    console.log(`user holds, 3 incidents: ${orders.length} orders, ${calls} activity calls in ${Math.round(performance.now() - started)} ms`);
  }, 120_000);
});

describe('the hold and the update are one transaction', () => {
  it('a retried disable after the commit adds no hold and keeps the first record; a retried release never releases another incident’s hold', async () => {
    const [u] = (await users(true)) as [string];
    const a1 = await disable('INC-A', [u]);
    const b = await disable('INC-B', [u]);
    const a2 = await disable('INC-A', [u]); // the worker died after the first attempt committed
    expect(a2).toMatchObject({ changed: true, undo: a1.undo, output: { wasActive: [u], alsoHeldBy: ['INC-B'] } });
    expect(await holders([u])).toEqual([`${u}: INC-A,INC-B`]);
    await release('INC-A', a2);
    const again = await release('INC-A', a2);
    expect(again).toMatchObject({ changed: false, output: { enabled: 0, lifted: false, stillHeldBy: ['INC-B'] } });
    expect(again.summary).toBe('already released: INC-A holds none of these 1 user in auth_user; 1 stay disabled, still held by INC-B');
    expect(await activeOf([u])).toEqual([false]);
    expect(await release('INC-B', b)).toMatchObject({ output: { lifted: true } });
    expect(await activeOf([u])).toEqual([true]);
    // After the last release, a late retry changes nothing, even if the app has since disabled the user itself.
    await app.admin.query('UPDATE public.auth_user SET is_active = false WHERE id = $1', [u]);
    expect(await release('INC-B', b)).toMatchObject({ changed: false, output: { enabled: 0, lifted: false } });
    expect(await activeOf([u])).toEqual([false]);
  });

  it('an update that fails leaves no hold behind (disable), and keeps the hold (release)', async () => {
    const [u] = (await users(true)) as [string];
    await app.admin.query(`CREATE FUNCTION public.fbt_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused by the app'; END $$`);
    await app.admin.query('CREATE TRIGGER fbt_refuse BEFORE UPDATE ON public.auth_user FOR EACH ROW EXECUTE FUNCTION public.fbt_refuse()');
    try {
      await expect(disable('INC-A', [u])).rejects.toMatchObject({ type: 'FirebreakTargetUnavailable', nonRetryable: false });
      expect(await holdsTable()).toBe(false);
      await app.admin.query('ALTER TABLE public.auth_user DISABLE TRIGGER fbt_refuse');
      const a = await disable('INC-A', [u]);
      await app.admin.query('ALTER TABLE public.auth_user ENABLE TRIGGER fbt_refuse');
      await expect(release('INC-A', a)).rejects.toMatchObject({ type: 'FirebreakTargetUnavailable' });
      expect(await holders([u])).toEqual([`${u}: INC-A`]);
      await app.admin.query('ALTER TABLE public.auth_user DISABLE TRIGGER fbt_refuse');
      expect(await release('INC-A', a)).toMatchObject({ output: { lifted: true } });
      expect(await activeOf([u])).toEqual([true]);
    } finally {
      await app.admin.query('DROP TRIGGER IF EXISTS fbt_refuse ON public.auth_user');
      await app.admin.query('DROP FUNCTION IF EXISTS public.fbt_refuse()');
    }
  });

  it('an unknown id changes nothing and writes no hold; a holds table the app role can write is refused', async () => {
    const [u] = (await users(true)) as [string];
    await expect(disable('INC-A', [u, '999999'])).rejects.toMatchObject({ type: 'FirebreakBadInput', message: expect.stringMatching(/unknown user id.*nothing was changed/) });
    expect(await holdsTable()).toBe(false);
    const keep = await users(true);
    const held = await disable('INC-K', keep); // keeps the table in place
    await app.admin.query(`GRANT INSERT ON firebreak.firebreak_user_holds TO "${app.role.replace(/"/g, '""')}"`);
    try {
      await expect(disable('INC-A', [u])).rejects.toMatchObject({ type: 'FirebreakRefused', message: expect.stringMatching(/firebreak\.firebreak_user_holds is writable by/) });
      expect(await activeOf([u])).toEqual([true]);
      expect(await holders([u])).toEqual([]);
    } finally {
      await app.admin.query(`REVOKE INSERT ON firebreak.firebreak_user_holds FROM "${app.role.replace(/"/g, '""')}"`);
    }
    await release('INC-K', held);
    expect(await holdsTable()).toBe(false);
  });
});

describe('undos recorded before holds (incidents open across the upgrade)', () => {
  /** The old undo: tokens.enable_users with the users the old disable found active, no `hold`. */
  const legacyUndo = (incidentId: string, ids: string[]) => acts.tokensEnableUsers({ ...base(incidentId), stepId: 'disable.undo', action: 'tokens.enable_users', args: { user_ids: ids } });

  it('alone, the old undo enables its users as before', async () => {
    const [u, v] = (await users(false, false)) as [string, string]; // disabled by an old incident
    expect(await legacyUndo('INC-OLD', [u])).toMatchObject({ changed: true, output: { enabled: 1, lifted: true } });
    expect(await activeOf([u, v])).toEqual([true, false]);
  });

  it('an old incident and a new one: the old undo leaves the user to the new holder, whose release then enables it', async () => {
    const [u] = (await users(false)) as [string]; // the old incident disabled it; its record says it was active
    const b = await disable('INC-NEW', [u]);
    expect(b.output).toMatchObject({ wasActive: [] }); // all it can see
    expect(await legacyUndo('INC-OLD', [u])).toMatchObject({ changed: false, output: { enabled: 0, lifted: false, stillHeldBy: ['INC-NEW'] } });
    expect(await activeOf([u])).toEqual([false]);
    expect(await release('INC-NEW', b)).toMatchObject({ changed: true, output: { enabled: 1, lifted: true } });
    expect(await activeOf([u])).toEqual([true]);
  });

  it('an explicit enable step releases its own incident’s hold and leaves another’s', async () => {
    const [u] = (await users(true)) as [string];
    await disable('INC-A', [u]);
    const b = await disable('INC-B', [u]);
    const step = await acts.tokensEnableUsers({ ...base('INC-A'), stepId: 'reenable', action: 'tokens.enable_users', args: { user_ids: [u] } });
    expect(step.output).toMatchObject({ lifted: false, stillHeldBy: ['INC-B'] });
    expect(await holders([u])).toEqual([`${u}: INC-B`]);
    await release('INC-B', b);
    expect(await activeOf([u])).toEqual([true]);
    expect(await holdsTable()).toBe(false);
  });
});
