/**
 * revoke-bulk: throughput (ids/s) of the `tokens.revoke` activity for 1,000,000
 * jtis from a file, called as the activity (in MockActivityEnvironment, so it
 * heartbeats as under a worker; no workflow, no Temporal round trips), on the
 * bench target under its own key prefix. The timed window is the whole
 * activity: read and validate the file, the SETs, the read-back. The bench
 * target has no postgres, so the simplejwt part is skipped.
 * Floor, measured in the same run against the same Redis:
 * `redis-benchmark -P 64 -t set -n 1000000 -q` (its requests per second; one key
 * overwritten), and after each run the like-for-like one, entry `revoke-bulk.matched`:
 * `redis-benchmark -P 64 -r 1e9 SET <prefix>:floor:__rand_int__ 1 EX 604800` (a
 * million fresh keys with a TTL, as the activity writes).
 * Every run starts from no keys; deleting them is outside the timed window.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { Redis } from 'ioredis';
import { TargetClients } from '../activities/deps.js';
import { createTokenActivities } from '../activities/tokens/index.js';
import type { Config } from '../lib/config.js';
import { createLogger } from '../lib/logger.js';
import { contractKeys, djangoKey, ownKey, type KeySpace } from '../lib/redis-keys.js';
import type { ActionInput, ActionResult } from '../workflows/definitions.js';
import { percentile } from './stats.js';
import type { BenchContext, Benchmark, BenchResult } from './types.js';

const COUNT = 1_000_000;
const run = promisify(execFile);

/** What redis-benchmark -t set writes when no -r is given (one key, overwritten). */
const FLOOR_KEY = 'key:__rand_int__';

async function redisBenchmark(host: string, port: number, args: string[]): Promise<number> {
  let stdout: string;
  try {
    ({ stdout } = await run('redis-benchmark', ['-h', host, '-p', String(port), ...args], { maxBuffer: 16 << 20 }));
  } catch (err) {
    throw new Error(`redis-benchmark failed (is it installed? it comes with redis-server): ${(err as Error).message.split('\n')[0]}`, { cause: err });
  }
  const all = [...stdout.matchAll(/([\d.]+) requests per second/g)];
  const rps = Number(all[all.length - 1]?.[1]);
  if (!Number.isFinite(rps) || rps <= 0) throw new Error(`cannot read requests per second from redis-benchmark: ${stdout.slice(-200)}`);
  return rps;
}

async function unlinkAll(redis: Redis, keys: string[]): Promise<void> {
  const pending: Array<Promise<unknown>> = [];
  for (let i = 0; i < keys.length; i += 10_000) pending.push(redis.unlink(...keys.slice(i, i + 10_000)));
  await Promise.all(pending);
}

async function unlinkMatching(redis: Redis, pattern: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 10_000);
    cursor = next;
    if (keys.length) await redis.unlink(...keys);
  } while (cursor !== '0');
}

const MATCHED_FLOOR_ARGS = (prefix: string): string[] => ['-P', '64', '-n', String(COUNT), '-r', '1000000000', '-q', 'SET', `${prefix}:floor:__rand_int__`, '1', 'EX', '604800'];

export const revokeBulk: Benchmark = {
  name: 'revoke-bulk',
  unit: 'ids/s',
  defaultRuns: 5,
  description: 'tokens.revoke activity: 1,000,000 jtis from a file (validate, SET … EX per id, read-back), vs redis-benchmark -P 64 -t set',
  async run(ctx: BenchContext): Promise<BenchResult> {
    const base = ctx.config.targets[ctx.target];
    if (!base) throw new Error(`no target ${ctx.target} in the bench config`);
    const space: KeySpace = { keyPrefix: `${ctx.keyPrefix}:revoke-bulk`, keyVersion: base.redis.keyVersion };

    const url = new URL(base.redis.url);
    const host = url.hostname || '127.0.0.1';
    const port = Number(url.port || 6379);
    const redis = ctx.redis;
    const dir = mkdtempSync(join(tmpdir(), 'firebreak-bench-revoke-'));
    // The bench's folder is the inputs folder: file arguments are read only from there.
    const config: Readonly<Config> = { ...ctx.config, inputsDir: dir, targets: { ...ctx.config.targets, [ctx.target]: { ...base, redis: { ...base.redis, ...space } } } };
    const clients = new TargetClients(config);
    const acts = createTokenActivities({ config, logger: createLogger({ level: 'warn' }), clients });
    const revoke = (input: ActionInput): Promise<ActionResult> => acts.tokensRevoke(input);

    // simplejwt-style jtis (uuid4 hex: 32 hex digits), distinct, in a file on "the worker".
    const tail = randomBytes(12).toString('hex');
    const ids = Array.from({ length: COUNT }, (_, i) => `${i.toString(16).padStart(8, '0')}${tail}`);
    const file = join(dir, 'jtis.txt');
    writeFileSync(file, `${ids.join('\n')}\n`);
    const keys = ids.map((id) => djangoKey(space, contractKeys.revokedJti(id)));
    const floorKeyExisted = (await redis.exists(FLOOR_KEY)) === 1;

    const input = (incidentId: string, mode: ActionInput['mode'] = 'live'): ActionInput => ({
      incidentId,
      stepId: 'revoke',
      action: 'tokens.revoke',
      target: ctx.target,
      mode,
      args: { scope: 'jti', jtis_file: file, reason: 'benchmark' },
      requestedAt: new Date().toISOString(),
    });

    const samples: number[] = [];
    const floorSamples: number[] = [];
    const matchedSamples: number[] = [];
    const parseMs: number[] = [];
    try {
      for (let i = 0; i < ctx.warmup + ctx.runs; i += 1) {
        const recorded = i >= ctx.warmup;
        const incidentId = `BENCH-REVOKE-${tail.slice(0, 6)}-${i}`;
        if ((await redis.exists(keys[0] as string, keys[COUNT - 1] as string)) !== 0) throw new Error(`run ${i + 1}: deny-list keys left behind by an earlier run`);

        // ---- the activity -----------------------------------------------------------
        const env = new MockActivityEnvironment({ attempt: 1, heartbeatTimeoutMs: 20_000 });
        const t0 = performance.now();
        const res = await env.run<[ActionInput], ActionResult, typeof revoke>(revoke, input(incidentId));
        const seconds = (performance.now() - t0) / 1000;

        // ---- checks (outside the timed window) ----------------------------------------
        const out = res.output as { revoked?: number; resumedFrom?: number } | undefined;
        if (out?.revoked !== COUNT || out.resumedFrom !== 0) throw new Error(`run ${i + 1}: unexpected output ${JSON.stringify(out)}`);
        const probe = Array.from({ length: 1_000 }, () => keys[Math.floor(Math.random() * COUNT)] as string);
        const found = await redis.exists(...probe);
        if (found !== probe.length) throw new Error(`run ${i + 1}: ${probe.length - found} of ${probe.length} probed keys missing`);

        // ---- reset, then the floor ----------------------------------------------------
        await unlinkAll(redis, [...keys, ownKey(space, 'progress', incidentId, 'revoke')]);
        const floor = await redisBenchmark(host, port, ['-P', '64', '-t', 'set', '-n', String(COUNT), '-q']);
        // Same Redis, the same command shape as the activity (a fresh key per SET, with EX), right after the run.
        const matched = await redisBenchmark(host, port, MATCHED_FLOOR_ARGS(ctx.keyPrefix));
        await unlinkMatching(redis, `${ctx.keyPrefix}:floor:*`);

        if (recorded) {
          samples.push(COUNT / seconds);
          floorSamples.push(floor);
          matchedSamples.push(matched);
          // Read and validate only, for the breakdown.
          const d0 = performance.now();
          await revoke(input(`${incidentId}-dry`, 'dry-run'));
          parseMs.push(performance.now() - d0);
          ctx.progress(samples.length);
        }
      }

      const p50 = percentile(samples, 50);
      const matched = percentile(matchedSamples, 50);
      const ratios = samples.map((v, k) => (v / (matchedSamples[k] as number)).toFixed(2));
      return {
        samples,
        floorSamples,
        notes: [
          `activity called directly (MockActivityEnvironment), no workflow; ${COUNT.toLocaleString('en-US')} ids of 32 hex digits; simplejwt skipped (no postgres on the bench target)`,
          `p50 of reading + validating the file (dry-run): ${percentile(parseMs, 50).toFixed(0)} ms`,
          `like-for-like floor (revoke-bulk.matched): redis-benchmark -P 64 -r 1e9 SET <prefix>:floor:__rand_int__ 1 EX 604800 (fresh keys with a TTL, like the activity) after each run: p50 ${matched.toFixed(0)} SET/s; p50 / that = ${(p50 / matched).toFixed(2)}; per run: ${ratios.join(', ')}`,
        ],
        extra: [{ name: 'matched', samples, floorSamples: matchedSamples }],
      };
    } finally {
      await unlinkAll(redis, keys).catch(() => undefined);
      if (!floorKeyExisted) await redis.del(FLOOR_KEY).catch(() => undefined);
      await clients.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
