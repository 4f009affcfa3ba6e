/**
 * SIGKILL of the worker while an audit append is inside PostgreSQL (its INSERT waits on a
 * lock the test holds): the next worker retries the append, and the chain has no duplicate
 * and no gap, and verifies.
 */
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { declareIncident, handleFor, resolveIncident, TERMINAL, waitFor } from '../../lib/incidents/index.js';
import { runCli } from '../helpers/cli.js';
import { DECLARER, startStack, type Stack } from '../helpers/firebreak.js';
import { spawnWorker, type WorkerProcess } from '../helpers/processes.js';
import { createTestDatabase, type TestDatabase } from '../helpers/services.js';

let stack: Stack;
let db: TestDatabase;
let admin: pg.Client;
const workers: WorkerProcess[] = [];

beforeAll(async () => {
  db = await createTestDatabase('audit-crash');
  stack = await startStack('audit-crash', { worker: false, audit: { databaseUrl: db.url } });
  stack.writeRunbook(
    'audit-crash',
    ['name: audit-crash', 'title: A lockdown, audited', 'severity: high', 'phases:', '  containment:', '    - id: lockdown', '      action: lockdown.enable'].join('\n'),
  );
  admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
});

afterAll(async () => {
  for (const w of workers) await w.kill('SIGKILL');
  await admin?.end();
  await stack?.stop();
  await db?.drop();
});

it('a worker killed inside an append: no duplicate, no gap, the chain verifies', async () => {
  workers.push(await spawnWorker(stack.configFile));
  // Warm up the worker's audit sessions (its schema check would wait on the lock too) with an
  // incident that is over — closed and archived — so the one INSERT waiting below is the next one's.
  const first = await declareIncident(stack.client, stack.config, { runbook: 'audit-crash', actor: stack.actor(DECLARER) });
  await waitFor(stack.client, first.id, (s) => s.state === 'awaiting-resolve', { timeoutMs: 60_000 });
  await resolveIncident(stack.client, first.id, stack.actor('alice'));
  await handleFor(stack.client, first.id).result();
  for (let i = 0; i < 200; i++) {
    if ((await admin.query("SELECT 1 FROM firebreak.audit_records WHERE incident_id = $1 AND kind = 'archived'", [first.id])).rowCount) break;
    await new Promise((r) => setTimeout(r, 100));
  }

  const lock = new pg.Client({ connectionString: db.url });
  lock.on('error', () => undefined);
  await lock.connect();
  await lock.query('BEGIN');
  await lock.query('LOCK TABLE firebreak.audit_records IN EXCLUSIVE MODE');
  const { id } = await declareIncident(stack.client, stack.config, { runbook: 'audit-crash', actor: stack.actor(DECLARER) });
  const waiting = async () =>
    (await admin.query("SELECT 1 FROM pg_stat_activity WHERE application_name = 'firebreak-audit' AND wait_event_type = 'Lock' AND query LIKE 'INSERT INTO firebreak.audit_records%'")).rowCount ?? 0;
  for (let i = 0; i < 300 && !(await waiting()); i++) await new Promise((r) => setTimeout(r, 50));
  expect(await waiting()).toBeGreaterThan(0);
  await workers[0]?.kill('SIGKILL');
  expect(workers[0]?.child.signalCode).toBe('SIGKILL');
  // The dead session's statement ends (client_connection_check_interval) before the lock goes.
  for (let i = 0; i < 100 && (await waiting()); i++) await new Promise((r) => setTimeout(r, 100));
  await lock.query('COMMIT');
  await lock.end();
  workers.push(await spawnWorker(stack.configFile));

  await waitFor(stack.client, id, (s) => s.state === 'awaiting-resolve', { timeoutMs: 60_000 });
  await resolveIncident(stack.client, id, stack.actor('alice'));
  expect((await waitFor(stack.client, id, (s) => TERMINAL.includes(s.state), { timeoutMs: 60_000 })).state).toBe('completed');

  // The close waits for the log: once the workflow has returned, every append is in its history.
  await handleFor(stack.client, id).result();
  const rows = await admin.query<{ n: number; top: number }>('SELECT count(*)::int AS n, max(seq) AS top FROM firebreak.audit_records WHERE incident_id = $1', [id]);
  expect(rows.rows[0]?.n).toBe((rows.rows[0]?.top ?? -1) + 1);
  const history = await handleFor(stack.client, id).fetchHistory();
  // The append the worker died in was run again: its started event says attempt 2 or more.
  const events = history.events ?? [];
  const appends = new Set(events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'auditAppend').map((e) => String(e.eventId)));
  const retried = events.filter((e) => appends.has(String(e.activityTaskStartedEventAttributes?.scheduledEventId)) && (e.activityTaskStartedEventAttributes?.attempt ?? 0) >= 2);
  expect(retried.length).toBeGreaterThanOrEqual(1);
  const r = await runCli(['--json', 'audit', 'verify', id], { cwd: stack.dir, env: stack.cliEnv(DECLARER) });
  expect(r.code, r.stdout + r.stderr).toBe(0);
}, 180_000);
