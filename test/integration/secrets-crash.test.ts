/**
 * secrets.rotate_db_password through real incidents, with the worker (a child
 * process) SIGKILLed at three points inside the rotation, on a private SCRAM
 * PostgreSQL. The step is held at each point by a lock the activity needs —
 * the dotenv lock file, pg_authid (ALTER ROLE waits), firebreak.pending_secrets
 * (the completion waits) — never by a hook in product code. After a new worker
 * finishes the step, the database password is the one the sink holds, the
 * step's one pending record is completed, and the history shows the retry.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import proto from '@temporalio/proto';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createDotenvSink } from '../../activities/sinks/dotenv.js';
import { declareIncident, handleFor, TERMINAL, waitFor } from '../../lib/incidents/index.js';
import { DECLARER, startStack, type Stack } from '../helpers/firebreak.js';
import { spawnWorker, type WorkerProcess } from '../helpers/processes.js';
import { scramMatches, startScramPostgres, tryLogin, verifierOf, type ScramPostgres } from '../helpers/scram-postgres.js';
import { POSTGRES_ADMIN_URL } from '../helpers/services.js';

const hex = randomBytes(4).toString('hex');
const ROLE = `fbt_crash_app_${hex}`;
const OWN_DB = `fbt_secrets_crash_${hex}`;
const OWN_URL = `postgres://postgres@127.0.0.1:5432/${OWN_DB}`;
const NAME = 'DATABASE_PASSWORD';

let scram: ScramPostgres;
let stack: Stack;
let dir: string;
let envPath: string;
let current: WorkerProcess | undefined;
const workers: WorkerProcess[] = [];
/** Every password the role has had, to look for in the worker's output afterwards. */
const passwords: string[] = [`initial-${randomBytes(12).toString('base64url')}`];

const fp = (v: string) => createHash('sha256').update(v).digest('hex').slice(0, 12);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const conn = () => ({ host: '127.0.0.1', port: scram.port, database: 'appdb' });
const sinkPassword = async () => createDotenvSink(envPath).get?.(NAME);
const verifier = async () => (await verifierOf(scram.admin, ROLE)) as string;

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** A session on Firebreak's own database (created by the first rotation). */
async function own(): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: OWN_URL });
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

async function records(incidentId: string): Promise<Array<{ value_enc: Buffer | null; fingerprint: string; completed_at: Date | null }>> {
  let c: pg.Client;
  try {
    c = await own();
  } catch {
    return []; // not created yet
  }
  try {
    const { rows } = await c.query<{ value_enc: Buffer | null; fingerprint: string; completed_at: Date | null }>(
      'SELECT value_enc, fingerprint, completed_at FROM firebreak.pending_secrets WHERE incident_id = $1',
      [incidentId],
    );
    return rows;
  } catch {
    return [];
  } finally {
    await c.end();
  }
}

/** Sessions of the activity (application_name firebreak-secrets) waiting for a lock on `relation`, seen from `c`. */
async function waiters(c: pg.ClientBase, relation: string): Promise<number> {
  const { rows } = await c.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
     WHERE NOT l.granted AND l.relation = $1::regclass AND a.application_name = 'firebreak-secrets'
       AND l.database IN (0, (SELECT oid FROM pg_database WHERE datname = current_database()))`,
    [relation],
  );
  return rows[0]?.n ?? 0;
}

/** Sessions of the activity still alive in `c`'s database (a killed worker's must end, not finish their statement later). */
async function activitySessions(c: pg.ClientBase): Promise<number> {
  const { rows } = await c.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name LIKE 'firebreak-secrets%' AND datname = current_database()",
  );
  return rows[0]?.n ?? 0;
}

async function declare(): Promise<string> {
  const { id } = await declareIncident(stack.client, stack.config, { runbook: 'crash-rotate', actor: stack.actor(DECLARER) });
  return id;
}

async function killWorker(): Promise<void> {
  await current?.kill('SIGKILL');
  expect(current?.child.signalCode).toBe('SIGKILL');
  current = undefined;
}

async function startWorker(): Promise<void> {
  current = await spawnWorker(stack.configFile);
  workers.push(current);
}

/** The step succeeded on a retry; database, sink and record agree; the password before is refused. */
async function assertConverged(id: string, previous: string): Promise<string> {
  const s = await waitFor(stack.client, id, (x) => TERMINAL.includes(x.state) || x.state === 'blocked', { timeoutMs: 45_000, intervalMs: 200 });
  const step = s.steps.find((x) => x.id === 'rotate');
  expect(s.state, step?.error).toBe('completed');
  expect(step?.state).toBe('succeeded');
  const password = (await sinkPassword()) as string;
  passwords.push(password);
  expect(password).not.toBe(previous);
  expect(scramMatches(await verifier(), password)).toBe(true);
  expect(await tryLogin(conn(), ROLE, password)).toBe('ok');
  expect(await tryLogin(conn(), ROLE, previous)).toBe('28P01');
  const rows = await records(id);
  expect(rows).toHaveLength(1);
  expect(rows[0]?.completed_at).toBeInstanceOf(Date);
  expect(rows[0]?.value_enc).toBeNull();
  expect(rows[0]?.fingerprint).toBe(fp(password));
  const history = await handleFor(stack.client, id).fetchHistory();
  const attempts = (history.events ?? []).filter((e) => e.activityTaskStartedEventAttributes).map((e) => e.activityTaskStartedEventAttributes?.attempt ?? 0);
  expect(Math.max(...attempts)).toBeGreaterThanOrEqual(2);
  // Quiet about secrets: neither the raw history nor any worker's log holds the value.
  const raw = Buffer.from(proto.temporal.api.history.v1.History.encode(history).finish());
  expect(raw.includes(Buffer.from(password))).toBe(false);
  expect(raw.includes(Buffer.from(id))).toBe(true);
  for (const w of workers) expect(w.output()).not.toContain(password);
  return password;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fbt-secrets-crash-'));
  envPath = join(dir, 'app.env');
  const keyFile = join(dir, 'payload.key');
  writeFileSync(keyFile, randomBytes(32).toString('base64'));
  writeFileSync(envPath, `# app settings\n${NAME}=${passwords[0]}\nDEBUG=0\n`);
  scram = await startScramPostgres();
  await scram.admin.query(`CREATE ROLE ${ROLE} LOGIN PASSWORD ${pg.escapeLiteral(passwords[0] as string)}`);
  await scram.admin.query('CREATE DATABASE appdb');
  stack = await startStack('secrets-crash', {
    worker: false,
    targetExtra: [
      `    postgres: { adminUrl: "${scram.adminUrl}", password: { file: "${scram.passwordFile}" }, database: appdb, appRole: ${ROLE} }`,
      `    secrets: { sinks: [{ type: dotenv, path: "${envPath}" }] }`,
    ].join('\n'),
    extraConfig: [`database: { url: "${OWN_URL}" }`, 'encryption:', '  current: k1', '  keys:', `    - { id: k1, secret: { file: "${keyFile}" } }`].join('\n'),
  });
  stack.writeRunbook(
    'crash-rotate',
    [
      'name: crash-rotate',
      'title: Rotate the app database password',
      'severity: high',
      'phases:',
      '  recovery:',
      '    - id: rotate',
      '      action: secrets.rotate_db_password',
      `      with: { secret_name: ${NAME} }`,
      // A killed worker's attempt is retried once this runs out (no heartbeat timeout for this action).
      '      timeout: 5s',
      '      retry: { initial_interval: 200ms }',
    ].join('\n'),
  );
  await startWorker();
});

afterAll(async () => {
  for (const w of workers) await w.kill('SIGKILL');
  await stack?.stop();
  await scram?.stop();
  const root = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
  await root.connect();
  await root.query(`DROP DATABASE IF EXISTS ${OWN_DB} WITH (FORCE)`).catch(() => undefined);
  await root.end();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

it('killed after the pending record, before publishing: the retry publishes the recorded value and sets it', async () => {
  const previous = passwords.at(-1) as string;
  const before = await verifier();
  const envBefore = readFileSync(envPath, 'utf8');
  writeFileSync(`${envPath}.lock`, 'held by the test\n'); // a live writer: the sink waits

  const id = await declare();
  const record = await until('the pending record', async () => (await records(id))[0]);
  expect(record.completed_at).toBeNull();
  expect(record.value_enc).not.toBeNull();
  await sleep(200);
  expect(readFileSync(envPath, 'utf8')).toBe(envBefore); // nothing published
  expect(await verifier()).toBe(before); // nothing altered

  await killWorker();
  rmSync(`${envPath}.lock`);
  await startWorker();
  const password = await assertConverged(id, previous);
  expect(fp(password)).toBe(record.fingerprint); // the value recorded by the killed attempt
  expect(readFileSync(envPath, 'utf8')).toBe(envBefore.replace(previous, password));
}, 60_000);

it('killed after publishing, before ALTER ROLE: the database keeps the old password until the retry sets the published one', async () => {
  const previous = passwords.at(-1) as string;
  const before = await verifier();
  const hold = await scram.connect();
  await hold.query('BEGIN');
  await hold.query('LOCK TABLE pg_catalog.pg_authid IN SHARE MODE'); // logins still work; ALTER ROLE waits

  const id = await declare();
  const published = await until('the new password in the sink', async () => {
    const v = await sinkPassword();
    return v !== previous && v;
  });
  await until('ALTER ROLE waiting on pg_authid', async () => (await waiters(scram.admin, 'pg_catalog.pg_authid')) > 0);
  expect(await verifier()).toBe(before);

  await killWorker();
  // The killed worker's ALTER must die with it, not commit when the lock goes.
  const appdb = await scram.connect('appdb');
  await until('the killed worker’s sessions to end', async () => (await activitySessions(appdb)) === 0, 10_000);
  await hold.query('ROLLBACK');
  await hold.end();
  expect(await verifier()).toBe(before);
  expect(await tryLogin(conn(), ROLE, previous)).toBe('ok'); // the app still gets in meanwhile

  await startWorker();
  const password = await assertConverged(id, previous);
  expect(password).toBe(published);
}, 60_000);

it('killed after ALTER ROLE, before the record is completed: the retry verifies without altering again and completes', async () => {
  const previous = passwords.at(-1) as string;
  const hold = await scram.connect();
  await hold.query('BEGIN');
  await hold.query('LOCK TABLE pg_catalog.pg_authid IN SHARE MODE');

  const id = await declare();
  await until('ALTER ROLE waiting on pg_authid', async () => (await waiters(scram.admin, 'pg_catalog.pg_authid')) > 0);
  const ownHold = await own();
  await ownHold.query('BEGIN');
  await ownHold.query('LOCK TABLE firebreak.pending_secrets IN ACCESS EXCLUSIVE MODE'); // the completion waits
  await hold.query('ROLLBACK'); // ALTER ROLE goes through
  await hold.end();
  const watcher = await own();
  await until('the completion waiting on firebreak.pending_secrets', async () => (await waiters(watcher, 'firebreak.pending_secrets')) > 0);
  const published = (await sinkPassword()) as string;
  expect(published).not.toBe(previous);
  const altered = await verifier();
  expect(scramMatches(altered, published)).toBe(true);

  await killWorker();
  await until('the killed worker’s sessions to end', async () => (await activitySessions(watcher)) === 0, 10_000);
  const { rows } = await ownHold.query<{ completed_at: Date | null }>('SELECT completed_at FROM firebreak.pending_secrets WHERE incident_id = $1', [id]);
  expect(rows).toEqual([{ completed_at: null }]);
  await ownHold.query('ROLLBACK');
  await ownHold.end();
  await watcher.end();

  await startWorker();
  const password = await assertConverged(id, previous);
  expect(password).toBe(published);
  expect(await verifier()).toBe(altered); // verified, not altered a second time
  const s = await waitFor(stack.client, id, (x) => TERMINAL.includes(x.state));
  expect(s.steps.find((x) => x.id === 'rotate')?.summary).toMatch(/the database already had it from an earlier attempt/);
}, 60_000);

it('no password ever appeared in the workers’ output', () => {
  expect(passwords).toHaveLength(4);
  const out = workers.map((w) => w.output()).join('\n');
  expect(out).toContain('database password rotated');
  for (const p of passwords) expect(out.includes(p)).toBe(false);
});
