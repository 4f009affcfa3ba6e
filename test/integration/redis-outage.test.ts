/**
 * A Redis outage in the middle of containment (issue 11 §5): within an attempt a step waits
 * for the connection to come back (a real redis-server, killed and restarted on its port), and
 * when it does not, the failure says where Redis is and since when it has been unreachable.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createActivities, TargetClients } from '../../activities/index.js';
import { loadConfig } from '../../lib/config.js';
import { freePort } from '../../lib/dev-server.js';
import { createLogger } from '../../lib/logger.js';
import { djangoKey, LOCKDOWN_KEY } from '../../lib/redis-keys.js';
import type { ActionInput, ActionResult } from '../../workflows/definitions.js';

let port: number;
let server: ChildProcess | undefined;
let clients: TargetClients;
let acts: ReturnType<typeof createActivities>;
const dir = mkdtempSync(join(tmpdir(), 'fbt-outage-'));

async function startServer(): Promise<void> {
  server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
  const probe = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 100, retryStrategy: () => 50 });
  probe.on('error', () => undefined);
  await probe.ping();
  probe.disconnect();
}

async function killServer(): Promise<void> {
  const child = server;
  server = undefined;
  if (!child || child.exitCode !== null) return;
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
}

beforeAll(async () => {
  port = await freePort();
  await startServer();
  const file = join(dir, 'firebreak.yaml');
  writeFileSync(file, ['targets:', `  local: { development: true, redis: { url: "redis://127.0.0.1:${port}/0", keyPrefix: "fbt-outage" } }`].join('\n'));
  const config = loadConfig({ file, env: {} });
  clients = new TargetClients(config);
  acts = createActivities({ config, logger: createLogger({ level: 'silent', pretty: false }), clients });
}, 30_000);
afterAll(async () => {
  await clients.close();
  await killServer();
});

let n = 0;
const input = (): ActionInput => ({ incidentId: `INC-OUT-${++n}`, stepId: 'lock', action: 'lockdown.enable', target: 'local', mode: 'live', args: {}, requestedAt: new Date().toISOString() });
/** One activity attempt as a worker runs it: scheduled now, with this start-to-close timeout. */
const attempt = (timeoutMs: number) => new MockActivityEnvironment({ startToCloseTimeoutMs: timeoutMs, currentAttemptScheduledTimestampMs: Date.now() });
type Fn = (i: ActionInput) => Promise<ActionResult>;
const inAttempt = (env: MockActivityEnvironment, name: 'lockdownEnable' | 'lockdownStatus'): Promise<ActionResult> =>
  env.run<[ActionInput], ActionResult, Fn>((i) => acts[name](i), input());

it('a step rides out an outage of a few seconds within one attempt, heartbeating while it waits', async () => {
  const first = await inAttempt(attempt(15_000), 'lockdownEnable');
  expect(first.changed).toBe(true);
  await killServer();
  const env = attempt(15_000);
  const beats: unknown[] = [];
  env.on('heartbeat', (d: unknown) => beats.push(d));
  const started = Date.now();
  const pending = inAttempt(env, 'lockdownStatus');
  setTimeout(() => void startServer(), 3_000);
  const res = await pending;
  // A fresh server: the flag is gone, and the step read that (rather than failing).
  expect(res.output).toMatchObject({ locked: false });
  expect(Date.now() - started).toBeGreaterThanOrEqual(2_500);
  expect(beats.length).toBeGreaterThan(0);
  expect(beats[0]).toEqual({ waitingFor: `redis at 127.0.0.1:${port}` });
}, 30_000);

it('an outage longer than the attempt fails it, saying where Redis is and since when', async () => {
  await inAttempt(attempt(15_000), 'lockdownStatus');
  const downAt = Date.now();
  await killServer();
  const started = Date.now();
  const failure = await inAttempt(attempt(6_000), 'lockdownEnable').then(
    () => undefined,
    (err: unknown) => err as { message: string; type: string; nonRetryable: boolean },
  );
  const took = Date.now() - started;
  expect(failure?.type).toBe('FirebreakTargetUnavailable');
  expect(failure?.nonRetryable).toBe(false);
  expect(failure?.message).toMatch(new RegExp(`^redis at 127\\.0\\.0\\.1:${port} unreachable since \\d\\d:\\d\\d:\\d\\dZ \\((\\d+) s\\): (the connection is down|ECONNREFUSED) \\(will retry\\)$`));
  const seconds = Number(/\((\d+) s\)/.exec(failure?.message ?? '')?.[1]);
  expect(seconds).toBeGreaterThanOrEqual(Math.floor((started - downAt) / 1000));
  // It used the attempt (6 s, less the 3 s kept for the work), and no more.
  expect(took).toBeGreaterThanOrEqual(2_500);
  expect(took).toBeLessThan(6_000);
  await startServer();
  const flag = djangoKey({ keyPrefix: 'fbt-outage', keyVersion: 1 }, LOCKDOWN_KEY);
  expect((await inAttempt(attempt(15_000), 'lockdownEnable')).proof).toMatchObject({ key: flag, readBack: '1' });
}, 30_000);
