/**
 * 1,000,000 jtis through a real incident on a private redis-server: SIGKILL the
 * worker while the deny-list is being written, start another, and check that
 * every id ends up revoked and that the retry resumed where the first attempt
 * stopped instead of starting again from zero.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { REVOKE_CHUNK } from '../../activities/tokens/index.js';
import { declareIncident, handleFor, TERMINAL, waitFor } from '../../lib/incidents/index.js';
import { contractKeys, djangoKey, ownKey } from '../../lib/redis-keys.js';
import { DECLARER, startStack, type Stack } from '../helpers/firebreak.js';
import { spawnWorker, startRedisServer, type RedisServer, type WorkerProcess } from '../helpers/processes.js';

const TOTAL = 1_000_000;
const KILL_AFTER = 100_000;

let stack: Stack;
let redisServer: RedisServer;
let file: string;
const workers: WorkerProcess[] = [];

const jtiOf = (i: number) => `crash-${i.toString(16).padStart(8, '0')}-5f0c2e8b9a7d4c61`;

beforeAll(async () => {
  redisServer = await startRedisServer();
  stack = await startStack('tokens-crash', { worker: false, redisUrl: redisServer.url });
  mkdirSync(stack.config.inputsDir, { recursive: true });
  file = join(stack.config.inputsDir, 'jtis.txt');
  writeFileSync(file, `${Array.from({ length: TOTAL }, (_, i) => jtiOf(i)).join('\n')}\n`);
  stack.writeRunbook(
    'crash-revoke',
    [
      'name: crash-revoke',
      'title: Revoke a million leaked token ids',
      'severity: high',
      'phases:',
      '  containment:',
      '    - id: revoke',
      '      action: tokens.revoke',
      `      with: { scope: jti, jtis_file: ${JSON.stringify(file)}, reason: crash test }`,
      '      retry: { initial_interval: 200ms }',
    ].join('\n'),
  );
});

afterAll(async () => {
  for (const w of workers) await w.kill('SIGKILL');
  await stack?.stop();
  await redisServer?.stop();
});

const setCalls = async (redis: RedisServer['client']): Promise<number> => {
  const stats = (await redis.info('commandstats')).match(/^cmdstat_set:calls=(\d+)/m);
  return Number(stats?.[1] ?? 0);
};

it('a worker killed mid-revocation is replaced and the retry resumes: every id revoked, none rewritten twice over', async () => {
  const redis = redisServer.client;
  workers.push(await spawnWorker(stack.configFile));
  const setsBefore = await setCalls(redis);

  const { id } = await declareIncident(stack.client, stack.config, { runbook: 'crash-revoke', actor: stack.actor(DECLARER) });
  let written = 0;
  const deadline = Date.now() + 60_000;
  while (written < KILL_AFTER && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 10));
    written = await redis.dbsize();
  }
  await workers[0]?.kill('SIGKILL');
  expect(workers[0]?.child.signalCode).toBe('SIGKILL');
  const atKill = await redis.dbsize();
  expect(written).toBeGreaterThanOrEqual(KILL_AFTER);
  expect(atKill).toBeLessThan(TOTAL);

  workers.push(await spawnWorker(stack.configFile));
  const s = await waitFor(stack.client, id, (x) => TERMINAL.includes(x.state) || x.state === 'blocked', { timeoutMs: 90_000, intervalMs: 200 });
  const step = s.steps.find((x) => x.id === 'revoke');
  expect(s.state, step?.error).toBe('completed');
  expect(step?.state).toBe('succeeded');

  // Every id is on the deny-list; the only other key is Firebreak's progress record.
  const space = { keyPrefix: stack.redis.prefix, keyVersion: 1 };
  const progressKey = ownKey(space, 'progress', id, 'revoke');
  expect((await redis.dbsize()) - (await redis.exists(progressKey))).toBe(TOTAL);
  const probe = [0, 1, KILL_AFTER, TOTAL / 2, TOTAL - 1].map((i) => djangoKey(space, contractKeys.revokedJti(jtiOf(i))));
  expect(await redis.exists(...probe)).toBe(probe.length);
  expect(await redis.ttl(probe[4] as string)).toBeGreaterThan(7 * 24 * 3600 - 120);

  // Resumed, not restarted: the second attempt started near where the first stopped,
  // so Redis executed about a million SETs in all (plus the chunks in flight at the kill
  // and one progress record per chunk), not a million plus what the first attempt wrote.
  const resumedAt = Number(/resumed at (\d+)/.exec(step?.summary ?? '')?.[1] ?? 0);
  expect(resumedAt).toBeGreaterThanOrEqual(atKill - 2 * REVOKE_CHUNK);
  const sets = (await setCalls(redis)) - setsBefore;
  expect(sets).toBeGreaterThanOrEqual(TOTAL);
  expect(sets).toBeLessThan(TOTAL + 2 * REVOKE_CHUNK + 2 * (TOTAL / REVOKE_CHUNK) + 10);

  const history = await handleFor(stack.client, id).fetchHistory();
  const attempts = (history.events ?? []).filter((e) => e.activityTaskStartedEventAttributes).map((e) => e.activityTaskStartedEventAttributes?.attempt ?? 0);
  expect(Math.max(...attempts)).toBeGreaterThanOrEqual(2);
}, 180_000);
