/**
 * ban-bulk: wall time of `network.ban_ips` for 100,000 addresses from a file,
 * called as the activity (no workflow), on the bench target with a real nginx
 * (test/helpers/nginx.ts): validation, the Redis scripts, rendering the deny
 * file from the registry, `nginx -t`, the reload, and the read-back proof.
 * Floor: the same Redis writes issued directly by the bench (per chunk of
 * 1,000, one script doing SET … EXAT per key and one ZADD GT: the fastest way
 * to write them, about twice as fast here as 200,000 pipelined commands, but
 * without the never-shorten check, the hold records and the undo record), writing the same deny
 * lines, `nginx -t` and the reload.
 * Every run starts from no bans; resets are outside the timed windows.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Redis } from 'ioredis';
import { TargetClients } from '../activities/deps.js';
import { banHoldsKey } from '../activities/network/holds.js';
import { createNetworkActivities } from '../activities/network/index.js';
import type { Config } from '../lib/config.js';
import { createLogger } from '../lib/logger.js';
import { BAN_REGISTRY, contractKeys, djangoKey, ownKey, type KeySpace } from '../lib/redis-keys.js';
import { startNginx } from '../test/helpers/nginx.js';
import { percentile } from './stats.js';
import type { BenchContext, Benchmark, BenchResult } from './types.js';

const COUNT = 100_000;
const TTL = 72 * 3600;
const CHUNK = 1_000;
const run = promisify(execFile);
const FLOOR_SCRIPT = `
local zargs = {}
for i = 2, #KEYS do
  redis.call('SET', KEYS[i], ARGV[1], 'EXAT', ARGV[1])
  zargs[#zargs + 1] = ARGV[1]
  zargs[#zargs + 1] = ARGV[i]
end
return redis.call('ZADD', KEYS[1], 'GT', unpack(zargs))
`;

/** 100,000 distinct addresses in 100.64.0.0/10 (shared address space, never a real client here). */
function addresses(): string[] {
  const out: string[] = [];
  for (let i = 0; i < COUNT; i += 1) out.push(`100.${64 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`);
  return out;
}

async function unlinkAll(redis: Redis, keys: string[]): Promise<void> {
  const pending: Array<Promise<unknown>> = [];
  for (let i = 0; i < keys.length; i += CHUNK) pending.push(redis.unlink(...keys.slice(i, i + CHUNK)));
  await Promise.all(pending);
}

async function command(cmd: string[]): Promise<void> {
  await run(cmd[0] as string, cmd.slice(1));
}

export const banBulk: Benchmark = {
  name: 'ban-bulk',
  unit: 'ms',
  defaultRuns: 10,
  description: 'network.ban_ips activity: 100,000 addresses from a file, Redis + deny file + nginx -t + reload of a real nginx',
  async run(ctx: BenchContext): Promise<BenchResult> {
    const dir = mkdtempSync(join(tmpdir(), 'firebreak-bench-ban-'));
    const nginx = await startNginx();
    const base = ctx.config.targets[ctx.target];
    if (!base) throw new Error(`no target ${ctx.target} in the bench config`);
    const nginxConf = { denyFile: nginx.denyFile, testCommand: nginx.testCommand, reloadCommand: nginx.reloadCommand };
    // The bench's folder is the inputs folder: file arguments are read only from there.
    const config: Readonly<Config> = { ...ctx.config, inputsDir: dir, targets: { ...ctx.config.targets, [ctx.target]: { ...base, nginx: nginxConf } } };
    const clients = new TargetClients(config);
    const acts = createNetworkActivities({ config, logger: createLogger({ level: 'warn' }), clients });
    const redis = ctx.redis;
    const space: KeySpace = base.redis;
    const floorSpace: KeySpace = { keyPrefix: `${ctx.keyPrefix}:floor`, keyVersion: 1 };
    const list = addresses();
    const nets = list.map((a) => `${a}/32`);
    const banKeys = nets.map((n) => djangoKey(space, contractKeys.ban(n)));
    const floorKeys = nets.map((n) => djangoKey(floorSpace, contractKeys.ban(n)));
    const registry = ownKey(space, BAN_REGISTRY);
    const floorRegistry = ownKey(floorSpace, BAN_REGISTRY);
    const file = join(dir, 'addresses.txt');
    writeFileSync(file, `# bench: ${COUNT} addresses\n${list.join('\n')}\n`);
    const emptyDeny = '# no bans\n';

    const reset = async (incidentId?: string): Promise<void> => {
      await unlinkAll(redis, banKeys);
      await unlinkAll(redis, floorKeys);
      await redis.unlink(registry, floorRegistry, banHoldsKey(space));
      if (incidentId) await redis.del(ownKey(space, 'undo', incidentId, 'ban'), `${ownKey(space, 'undo', incidentId, 'ban')}:meta`);
      writeFileSync(nginx.denyFile, emptyDeny);
      await command(nginx.reloadCommand);
    };

    const samples: number[] = [];
    const floorSamples: number[] = [];
    const parts: Array<Record<string, number>> = [];
    try {
      await reset();
      for (let i = 0; i < ctx.warmup + ctx.runs; i += 1) {
        const recorded = i >= ctx.warmup;

        // ---- floor: the same writes, issued directly ----------------------------
        const end = Math.floor(Date.now() / 1000) + TTL;
        const f0 = performance.now();
        const pending: Array<Promise<unknown>> = [];
        for (let c = 0; c < COUNT; c += CHUNK) {
          const keys = floorKeys.slice(c, c + CHUNK);
          pending.push(redis.eval(FLOOR_SCRIPT, 1 + keys.length, floorRegistry, ...keys, String(end), ...nets.slice(c, c + CHUNK)));
        }
        await Promise.all(pending);
        await writeFile(nginx.denyFile, `# bench floor\n${nets.map((n) => `deny ${n};`).join('\n')}\n`);
        await command(nginx.testCommand);
        await command(nginx.reloadCommand);
        const floorMs = performance.now() - f0;
        await reset();

        // ---- the activity ------------------------------------------------------------
        const incidentId = `INC-BENCH-BAN-${i}`;
        const t0 = performance.now();
        const res = await acts.networkBanIps({
          incidentId,
          stepId: 'ban',
          action: 'network.ban_ips',
          target: ctx.target,
          mode: 'live',
          args: { addresses_file: file, ttl_seconds: TTL, reason: 'bench' },
          requestedAt: new Date().toISOString(),
        });
        const ms = performance.now() - t0;

        // ---- checks (outside the timed window) --------------------------------------------
        const problems: string[] = [];
        if (res.output?.banned !== COUNT) problems.push(`banned ${String(res.output?.banned)}, expected ${COUNT}`);
        const inRegistry = await redis.zcard(registry);
        if (inRegistry !== COUNT) problems.push(`registry holds ${inRegistry}`);
        const denyProof = (res.proof?.denyFile ?? {}) as { lines?: number; reloaded?: boolean };
        if (denyProof.lines !== COUNT || !denyProof.reloaded) problems.push(`deny file: ${JSON.stringify(denyProof)}`);
        if (problems.length) throw new Error(`run ${i + 1}: ${problems.join('; ')}`);
        await reset(incidentId);

        if (recorded) {
          samples.push(ms);
          floorSamples.push(floorMs);
          parts.push((res.proof?.timingsMs ?? {}) as Record<string, number>);
          ctx.progress(samples.length);
        }
      }
    } finally {
      await reset().catch(() => undefined);
      await clients.close();
      await nginx.stop();
      rmSync(dir, { recursive: true, force: true });
    }
    const p50 = (key: string) => percentile(parts.map((p) => p[key] ?? 0), 50).toFixed(0);
    return {
      samples,
      floorSamples,
      notes: [`p50 per phase of the activity (ms): validate ${p50('validate')}, redis ${p50('redis')}, nginx (render, write, test, reload) ${p50('nginx')}, verify ${p50('verify')}`],
    };
  },
};
