/**
 * SIGKILL the worker while the lockdown step is inside Redis, start a new
 * worker, and check the effect was applied once: the undo record still holds
 * the value from before the incident, so the all-clear restores it exactly.
 * The step's timeout is 10 minutes: the new worker takes it over within the
 * heartbeat timeout (worker/keep-alive.ts), not after those 10 minutes.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { declareIncident, getStatus, resolveIncident, TERMINAL, waitFor, handleFor } from '../../lib/incidents/index.js';
import { ownKey } from '../../lib/redis-keys.js';
import { noReadersWarning } from '../../activities/inspect/readers.js';
import { DECLARER, startStack, type Stack } from '../helpers/firebreak.js';
import { spawnWorker, startRedisServer, type RedisServer, type WorkerProcess } from '../helpers/processes.js';

let stack: Stack;
let redisServer: RedisServer;
const workers: WorkerProcess[] = [];

beforeAll(async () => {
  redisServer = await startRedisServer();
  stack = await startStack('crash', { worker: false, redisUrl: redisServer.url });
  stack.writeRunbook(
    'crash-lockdown',
    [
      'name: crash-lockdown',
      'title: Lockdown with a long activity timeout',
      'severity: high',
      'phases:',
      '  containment:',
      '    - id: lockdown',
      '      action: lockdown.enable',
      '      timeout: 10m',
      '      retry: { initial_interval: 200ms }',
    ].join('\n'),
  );
});

afterAll(async () => {
  for (const w of workers) await w.kill('SIGKILL');
  await stack?.stop();
  await redisServer?.stop();
});

it('a worker killed mid-step is replaced and the lockdown is applied exactly once', async () => {
  const flagKey = stack.flagKey;
  const redis = redisServer.client;
  // A value the app had before the incident: the all-clear must put back exactly this.
  await redis.set(flagKey, '0');
  workers.push(await spawnWorker(stack.configFile));

  // Freeze writes so the step is caught inside Redis when the worker dies.
  await redis.call('CLIENT', 'PAUSE', '30000', 'WRITE');
  const { id } = await declareIncident(stack.client, stack.config, { runbook: 'crash-lockdown', actor: stack.actor(DECLARER) });
  await waitFor(stack.client, id, (s) => s.steps.find((x) => x.id === 'lockdown')?.state === 'running', { timeoutMs: 30_000, intervalMs: 50 });
  const blocked = async () => ((await redis.call('CLIENT', 'LIST')) as string).split('\n').some((l) => l.includes('name=firebreak-worker') && /cmd=eval/.test(l));
  for (let i = 0; i < 100 && !(await blocked()); i++) await new Promise((r) => setTimeout(r, 50));
  expect(await blocked()).toBe(true);

  await workers[0]?.kill('SIGKILL');
  const killedAt = Date.now();
  expect(workers[0]?.child.signalCode).toBe('SIGKILL');
  await redis.call('CLIENT', 'UNPAUSE');
  workers.push(await spawnWorker(stack.configFile));

  const s = await waitFor(stack.client, id, (x) => x.state === 'awaiting-resolve' || TERMINAL.includes(x.state), { timeoutMs: 60_000, intervalMs: 100 });
  expect(s.state).toBe('awaiting-resolve');
  expect(await redis.get(flagKey)).toBe('1');
  // The lost attempt was noticed by its missing heartbeats (15 s), far inside the 10-minute timeout.
  const recoveredMs = Date.now() - killedAt;
  console.log(`crash: lockdown recovered ${recoveredMs} ms after the kill`);
  expect(recoveredMs).toBeLessThan(45_000);

  // The history proves the step really ran twice: the first attempt died with its worker.
  const history = await handleFor(stack.client, id).fetchHistory();
  const attempts = (history.events ?? [])
    .filter((e) => e.activityTaskStartedEventAttributes)
    .map((e) => e.activityTaskStartedEventAttributes?.attempt ?? 0);
  expect(Math.max(...attempts)).toBeGreaterThanOrEqual(2);

  // One hold, and one prior record holding the pre-incident value, never our own '1'.
  const space = { keyPrefix: stack.redis.prefix, keyVersion: 1 };
  expect(await redis.hkeys(ownKey(space, 'hold', 'lockdown'))).toEqual([id]);
  const record = JSON.parse((await redis.get(ownKey(space, 'hold', 'lockdown', 'prior'))) ?? 'null') as { prior: string | null };
  expect(record.prior).toBe('0');
  const step = (await getStatus(stack.client, id)).steps.find((x) => x.id === 'lockdown');
  // No app reads the private Redis: the summary warns about it.
  expect(step?.summary).toBe(`lockdown ON (${flagKey} = 1, was 0); WARNING: ${noReadersWarning(flagKey.slice(0, flagKey.lastIndexOf(':')))}`);

  await resolveIncident(stack.client, id, stack.actor('alice'));
  const done = await waitFor(stack.client, id, (x) => TERMINAL.includes(x.state), { timeoutMs: 30_000, intervalMs: 100 });
  expect(done.state).toBe('completed');
  expect(await redis.get(flagKey)).toBe('0');
  expect(await redis.exists(ownKey(space, 'hold', 'lockdown'), ownKey(space, 'hold', 'lockdown', 'prior'))).toBe(0);
}, 180_000);
