/**
 * edge-fanout: wall time from `declareIncident(...)` to a one-address ban verified on three
 * nginx edges (each its own `firebreak edge` worker and task queue, in this process, with a
 * real nginx: deny file written, `nginx -t`, reload, checksum read back, the worker's probe
 * answered 403). Also reported: the same incident on a target with no edges, and the fan-out
 * share of the ban step (its duration minus the ban activity's own time).
 * Floor: for each of the three nginx, concurrently, what an edge must do at least — write the
 * deny file, `nginx -t`, reload, and one request as the banned client answered 403.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { loadConfig, type Config } from '../lib/config.js';
import { abortIncident, declareIncident, TERMINAL, waitFor } from '../lib/incidents/index.js';
import { createLogger } from '../lib/logger.js';
import { startNginx, waitForStatus, type Nginx } from '../test/helpers/nginx.js';
import { createWorker } from '../worker/create.js';
import { createEdgeWorker } from '../worker/edge.js';
import type { BenchContext, Benchmark, BenchResult } from './types.js';

const run$ = promisify(execFile);
const RUNBOOK = 'bench-edge-ban';
const RUNBOOK_YAML = `# Written by bench/edge-fanout.ts into a temp runbooks dir; never part of the product.
name: ${RUNBOOK}
title: Bench edge fan-out (one ban)
severity: high
params:
  ban_ips: { type: "string[]", default: [] }
phases:
  containment:
    - id: ban
      action: network.ban_ips
      with: { addresses: "{{ params.ban_ips }}" }
`;
const EDGES = ['bench-a', 'bench-b', 'bench-c'];
const REALIP = ['set_real_ip_from 127.0.0.1;', 'real_ip_header X-Real-IP;'];

async function floorOnce(nginxes: Nginx[], i: number): Promise<number> {
  const ip = `198.51.100.${(i % 250) + 1}`;
  const t0 = performance.now();
  await Promise.all(
    nginxes.map(async (n) => {
      const tmp = `${n.denyFile}.floor.tmp`;
      writeFileSync(tmp, `deny ${ip}/32;\n`);
      renameSync(tmp, n.denyFile);
      await run$(n.testCommand[0] as string, n.testCommand.slice(1));
      await run$(n.reloadCommand[0] as string, n.reloadCommand.slice(1));
      await waitForStatus(n.port, 403, { headers: { 'X-Real-IP': ip } }, 10_000);
    }),
  );
  const ms = performance.now() - t0;
  for (const n of nginxes) writeFileSync(n.denyFile, '');
  await Promise.all(nginxes.map((n) => run$(n.reloadCommand[0] as string, n.reloadCommand.slice(1))));
  return ms;
}

async function run(ctx: BenchContext): Promise<BenchResult> {
  const nginxes = await Promise.all(EDGES.map(() => startNginx({ serverExtra: REALIP })));
  const dir = join(ctx.config.dataDir, 'edge-fanout');
  mkdirSync(join(dir, 'runbooks'), { recursive: true });
  writeFileSync(join(dir, 'runbooks', `${RUNBOOK}.yaml`), RUNBOOK_YAML);
  const keyPrefix = `${ctx.keyPrefix}-e`;
  const configFile = join(dir, 'firebreak.yaml');
  writeFileSync(
    configFile,
    [
      `user: ${ctx.users.declarer}`,
      `runbooksDir: ${JSON.stringify(join(dir, 'runbooks'))}`,
      `dataDir: ${JSON.stringify(join(dir, 'data'))}`,
      `temporal: { address: "${ctx.config.temporal.address}", taskQueue: firebreak-bench-edges }`,
      ...ctx.identityYaml,
      'defaultTarget: fleet',
      'targets:',
      `  fleet: { redis: { url: "redis://127.0.0.1:6379/0", keyPrefix: ${keyPrefix} } }`,
      `  bare: { redis: { url: "redis://127.0.0.1:6379/0", keyPrefix: ${keyPrefix}-bare } }`,
      'edges:',
      ...EDGES.map((name, i) => {
        const n = nginxes[i] as Nginx;
        return `  - { name: ${name}, denyFile: ${JSON.stringify(n.denyFile)}, testCommand: ${JSON.stringify(n.testCommand)}, reloadCommand: ${JSON.stringify(n.reloadCommand)}, probe: { url: "${n.url}" } }`;
      }),
    ].join('\n'),
  );
  const config: Readonly<Config> = loadConfig({ file: configFile, env: {} });
  const logger = createLogger({ level: 'error' });
  const worker = await createWorker({ config, logger });
  const edges = await Promise.all(EDGES.map((name) => createEdgeWorker({ config, logger, name })));
  const running = [worker.run(), ...edges.map((e) => e.run())];
  const declarer = ctx.actor(ctx.users.declarer);
  const samples: number[] = [];
  const floorSamples: number[] = [];
  const bare: number[] = [];
  const fanout: number[] = [];
  const once = async (target: string, i: number) => {
    const t0 = performance.now();
    const { id } = await declareIncident(ctx.client, config, { runbook: RUNBOOK, target, params: { ban_ips: [`203.0.113.${(i % 250) + 1}`] }, actor: declarer });
    const s = await waitFor(ctx.client, id, (x) => x.state === 'awaiting-resolve' || x.state === 'blocked' || TERMINAL.includes(x.state), { intervalMs: 1, timeoutMs: 60_000 });
    const ms = performance.now() - t0;
    const ban = s.steps.find((x) => x.id === 'ban');
    if (!['awaiting-resolve', 'completed'].includes(s.state) || ban?.state !== 'succeeded') throw new Error(`run ${i + 1}: ${id} is ${s.state}, ban ${ban?.state} ${ban?.error ?? ''}`);
    if (target === 'fleet' && !/3\/3 nginx edges in sync .*probed/.test(ban.summary ?? '')) throw new Error(`run ${i + 1}: ${id}: ${ban.summary}`);
    // A ban is not lifted by the all-clear: the incident completes with it in force, and the set grows by one per run.
    if (s.state === 'awaiting-resolve') await abortIncident(ctx.client, id, 'bench cleanup', declarer);
    const timings = (ban.proof?.timingsMs ?? {}) as Record<string, number>;
    const activityMs = Object.values(timings).reduce((a, b) => a + b, 0);
    return { ms, stepMs: Date.parse(ban.endedAt as string) - Date.parse(ban.startedAt as string), activityMs };
  };
  try {
    for (let i = 0; i < ctx.warmup + ctx.runs; i += 1) {
      const floorMs = await floorOnce(nginxes, i);
      const withEdges = await once('fleet', i);
      const without = await once('bare', i);
      if (i >= ctx.warmup) {
        samples.push(withEdges.ms);
        floorSamples.push(floorMs);
        bare.push(without.ms);
        fanout.push(withEdges.stepMs - withEdges.activityMs);
        ctx.progress(samples.length);
      }
    }
  } finally {
    await worker.close();
    for (const e of edges) await e.close();
    await Promise.allSettled(running);
    for (const n of nginxes) await n.stop();
    for (const p of [keyPrefix, `${keyPrefix}-bare`]) {
      let cursor = '0';
      do {
        const [next, keys] = await ctx.redis.scan(cursor, 'MATCH', `${p}:*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length) await ctx.redis.unlink(...keys);
      } while (cursor !== '0');
    }
  }
  const p50 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)] ?? 0;
  return {
    samples,
    floorSamples,
    notes: [
      `p50 the same one-ban incident on a target with no edges: ${Math.round(p50(bare))} ms`,
      `p50 fan-out share of the ban step (step duration on the workflow clock minus the ban activity's own time): ${Math.round(p50(fanout))} ms`,
    ],
  };
}

export const edgeFanout: Benchmark = {
  name: 'edge-fanout',
  unit: 'ms',
  description: 'ms from declareIncident() to one ban verified on three nginx edges (deny file, nginx -t, reload, checksum, probe 403); floor: the same file writes, tests, reloads and 403s directly',
  defaultRuns: 15,
  run,
};
