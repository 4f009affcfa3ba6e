/**
 * incident-storm: N concurrent live token-leak-shaped incidents (no gates) on ONE worker
 * (its own task queue, in this process), each on its own target and so its own Redis key
 * prefix: revoke 10 jtis, revoke one user's tokens, ban one address (Redis registry, no
 * nginx), flip the kill-switch. Per N: time to containment (declareIncident() called →
 * the last containment step's result recorded by the workflow, workflow clock) p50/p99,
 * failures, and cost per incident — CPU of this process (worker + client) over the wall
 * time until all N are contained, divided by N; workflow tasks and activities per incident
 * counted from the histories; whole-machine CPU busy over the same window (saturation).
 * Floor of N=1: the same Redis writes and read-back issued directly; of N>1: N=1's numbers.
 * Writes bench/storm/incident-storm.md (table) and .svg (plot). Each round is aborted after.
 */
import { cpus } from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, type Config } from '../lib/config.js';
import { abortIncident, declareIncident, getStatus, handleFor } from '../lib/incidents/index.js';
import { createLogger } from '../lib/logger.js';
import { contractKeys, djangoKey, LOCKDOWN_KEY } from '../lib/redis-keys.js';
import { INCIDENT_WORKFLOW } from '../workflows/definitions.js';
import { createWorker } from '../worker/create.js';
import { STORM_DIR, stormSvg, stormTable, type SizeRow } from './storm-report.js';
import { percentile } from './stats.js';
import type { BenchContext, Benchmark, BenchResult, ExtraResult } from './types.js';

const RUNBOOK = 'bench-storm';
const TASK_QUEUE = 'firebreak-bench-storm';
const SIZES = [1, 10, 50, 200] as const;
const RUNBOOK_YAML = `# Written by bench/storm.ts into a temp runbooks dir; never part of the product.
name: ${RUNBOOK}
title: Bench storm (gate-free token-leak shape, no nginx)
severity: high
params:
  jtis: { type: "string[]", default: [] }
  user_ids: { type: "string[]", default: [] }
  ban_ips: { type: "string[]", default: [] }
phases:
  containment:
    - id: revoke-jtis
      action: tokens.revoke
      with: { scope: jti, jtis: "{{ params.jtis }}" }
    - id: revoke-users
      action: tokens.revoke
      with: { scope: user, user_ids: "{{ params.user_ids }}" }
    - id: ban
      action: network.ban_ips
      with: { addresses: "{{ params.ban_ips }}" }
    - id: lockdown
      action: lockdown.enable
`;

const targetName = (i: number): string => `storm-${i}`;
const prefixOf = (ctx: BenchContext, i: number): string => `${ctx.keyPrefix}-s${i}`;

/** Busy and total CPU time of the whole machine (all cores), ms. */
function machineCpu(): { busy: number; total: number } {
  let busy = 0;
  let total = 0;
  for (const c of cpus()) {
    const t = c.times.user + c.times.nice + c.times.sys + c.times.irq + c.times.idle;
    total += t;
    busy += t - c.times.idle;
  }
  return { busy, total };
}

async function until(what: string, timeoutMs: number, fn: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

interface Round {
  /** ms per incident, declare → last containment step recorded; failed ones excluded. */
  ttc: number[];
  failures: string[];
  cpuMs: number;
  wallMs: number;
  machineBusy: number;
  workflowTasks: number;
  activities: number;
}

/** One round: N incidents declared at once, all contained, counted, then aborted (untimed). */
async function storm(ctx: BenchContext, config: Readonly<Config>, n: number, round: number): Promise<Round> {
  const declarer = ctx.actor(ctx.users.declarer);
  // Same machine, same clock: this round's workflows start after this instant, the previous round's before it.
  const startedAfter = new Date().toISOString();
  const scope = `WorkflowType = '${INCIDENT_WORKFLOW}' AND TaskQueue = '${TASK_QUEUE}' AND StartTime > '${startedAfter}'`;
  const count = async (q: string): Promise<number> => Number((await ctx.client.workflow.count(`${scope} AND ${q}`)).count);
  const m0 = machineCpu();
  const cpu0 = process.cpuUsage();
  const w0 = performance.now();
  const declared = await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const at = Date.now();
      const { id } = await declareIncident(ctx.client, config, {
        runbook: RUNBOOK,
        target: targetName(i),
        params: { jtis: Array.from({ length: 10 }, (__, k) => `storm-${round}-${i}-${k}`), user_ids: [String(1000 + i)], ban_ips: [`203.0.113.${(round % 250) + 1}`] },
        actor: declarer,
      });
      return { id, at };
    }),
  );
  // Visibility, not queries: a status query is a workflow task on the measured worker.
  await until(`${n} incidents to be contained or stuck`, 60_000 + n * 1000, async () => (await count(`FirebreakState IN ('awaiting-resolve', 'blocked', 'failed', 'aborted', 'completed')`)) >= n);
  const wallMs = performance.now() - w0;
  const cpu = process.cpuUsage(cpu0);
  const m1 = machineCpu();
  const out: Round = { ttc: [], failures: [], cpuMs: (cpu.user + cpu.system) / 1000, wallMs, machineBusy: (m1.busy - m0.busy) / Math.max(1, m1.total - m0.total), workflowTasks: 0, activities: 0 };
  for (const { id, at } of declared) {
    const s = await getStatus(ctx.client, id);
    const steps = s.steps.filter((x) => x.phase === 'containment');
    const bad = steps.filter((x) => x.state !== 'succeeded' || !x.endedAt);
    if (s.state !== 'awaiting-resolve' || bad.length) {
      out.failures.push(`${id} ${s.state}: ${bad.map((x) => `${x.id}=${x.state} ${x.error ?? ''}`).join(', ')}`);
      continue;
    }
    out.ttc.push(Math.max(...steps.map((x) => Date.parse(x.endedAt as string))) - at);
    const history = await handleFor(ctx.client, id).fetchHistory();
    for (const e of history.events ?? []) {
      if (e.workflowTaskCompletedEventAttributes) out.workflowTasks += 1;
      if (e.activityTaskCompletedEventAttributes) out.activities += 1;
    }
  }
  // The effects themselves, read back: every incident's kill-switch is on under its own prefix.
  const flags = await ctx.redis.mget(...declared.map((_, i) => djangoKey({ keyPrefix: prefixOf(ctx, i), keyVersion: 1 }, LOCKDOWN_KEY)));
  flags.forEach((v, i) => {
    if (v !== '1') out.failures.push(`${declared[i]?.id}: kill-switch not set under ${prefixOf(ctx, i)}`);
  });
  await Promise.all(declared.map(({ id }) => abortIncident(ctx.client, id, 'bench cleanup', declarer)));
  await until(`${n} incidents to end after abort`, 60_000 + n * 1000, async () => (await count(`ExecutionStatus != 'Running'`)) >= n);
  return out;
}

/** The least work one incident's containment needs, issued directly. Returns ms. */
async function floorOnce(ctx: BenchContext, round: number): Promise<number> {
  const space = { keyPrefix: `${ctx.keyPrefix}-floor`, keyVersion: 1 };
  const ip = `198.51.100.${(round % 250) + 1}/32`;
  const epoch = Math.floor(Date.now() / 1000);
  const t0 = performance.now();
  const p = ctx.redis.pipeline();
  for (let k = 0; k < 10; k += 1) p.set(djangoKey(space, contractKeys.revokedJti(`floor-${round}-${k}`)), 1, 'EX', 604800);
  p.set(djangoKey(space, contractKeys.revokedBeforeUser('42')), epoch, 'EX', 604800);
  p.set(djangoKey(space, contractKeys.ban(ip)), epoch + 259200, 'EX', 259200);
  p.set(djangoKey(space, LOCKDOWN_KEY), 1);
  await p.exec();
  const back = await ctx.redis.mget(djangoKey(space, LOCKDOWN_KEY), djangoKey(space, contractKeys.ban(ip)));
  if (back[0] !== '1' || back[1] === null) throw new Error('floor: read-back failed');
  return performance.now() - t0;
}

async function deleteStormKeys(ctx: BenchContext): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await ctx.redis.scan(cursor, 'MATCH', `${ctx.keyPrefix}-*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await ctx.redis.unlink(...keys);
  } while (cursor !== '0');
}

function writeConfig(ctx: BenchContext, dir: string, targets: number): Readonly<Config> {
  const file = join(dir, 'firebreak.yaml');
  writeFileSync(
    file,
    [
      `user: ${ctx.users.declarer}`,
      `runbooksDir: ${JSON.stringify(join(dir, 'runbooks'))}`,
      `dataDir: ${JSON.stringify(join(dir, 'data'))}`,
      `temporal: { address: "${ctx.config.temporal.address}", taskQueue: ${TASK_QUEUE}, worker: ${JSON.stringify(ctx.config.temporal.worker ?? {})} }`,
      ...ctx.identityYaml,
      `defaultTarget: ${targetName(0)}`,
      'targets:',
      ...Array.from({ length: targets }, (_, i) => `  ${targetName(i)}: { redis: { url: "redis://127.0.0.1:6379/0", keyPrefix: ${prefixOf(ctx, i)} } }`),
    ].join('\n'),
  );
  return loadConfig({ file, env: {} });
}

async function run(ctx: BenchContext): Promise<BenchResult> {
  const sizes = [...new Set([1, ...(ctx.sizes ?? SIZES)])].sort((a, b) => a - b);
  const dir = join(ctx.config.dataDir, 'storm');
  mkdirSync(join(dir, 'runbooks'), { recursive: true });
  writeFileSync(join(dir, 'runbooks', `${RUNBOOK}.yaml`), RUNBOOK_YAML);
  const config = writeConfig(ctx, dir, Math.max(...sizes));
  const worker = await createWorker({ config, logger: createLogger({ level: 'error' }) });
  const running = worker.run();
  const rows: SizeRow[] = [];
  const bySize = new Map<number, Round[]>();
  const floorSamples: number[] = [];
  let idleCpuMsPerS = 0;
  try {
    // Warm-up at the largest size too: every target's Redis connection is opened once, untimed.
    for (let w = 0; w < ctx.warmup; w += 1) await storm(ctx, config, w === 0 ? Math.max(...sizes) : 1, 10_000 + w);
    // What the worker (pollers, timers) and this process burn with nothing to do: the fixed part of every round.
    const idle0 = process.cpuUsage();
    await new Promise((r) => setTimeout(r, 2000));
    const idle = process.cpuUsage(idle0);
    idleCpuMsPerS = (idle.user + idle.system) / 1000 / 2;
    for (const n of sizes) {
      const rounds: Round[] = [];
      for (let r = 0; r < ctx.runs; r += 1) {
        if (n === 1) floorSamples.push(await floorOnce(ctx, r));
        rounds.push(await storm(ctx, config, n, n * 100 + r));
        if (n === 1) ctx.progress(rounds.length);
      }
      bySize.set(n, rounds);
      const ttc = rounds.flatMap((x) => x.ttc);
      const incidents = n * rounds.length;
      const sum = (f: (x: Round) => number): number => rounds.reduce((a, x) => a + f(x), 0);
      rows.push({
        n,
        incidents,
        failures: sum((x) => x.failures.length),
        p50: ttc.length ? percentile(ttc, 50) : Number.NaN,
        p99: ttc.length ? percentile(ttc, 99) : Number.NaN,
        wallMs: sum((x) => x.wallMs) / rounds.length,
        cpuMsPerIncident: sum((x) => x.cpuMs) / incidents,
        processCores: sum((x) => x.cpuMs) / sum((x) => x.wallMs),
        machineBusy: sum((x) => x.machineBusy * x.wallMs) / sum((x) => x.wallMs),
        idleCpuMs: (idleCpuMsPerS * sum((x) => x.wallMs)) / 1000 / incidents,
        workflowTasks: sum((x) => x.workflowTasks) / Math.max(1, ttc.length),
        activities: sum((x) => x.activities) / Math.max(1, ttc.length),
      });
      ctx.note(`N=${n}: ${rounds.length} round(s), p50 ${rows.at(-1)?.p50} ms, CPU ${rows.at(-1)?.cpuMsPerIncident.toFixed(1)} ms/incident`);
      for (const f of rounds.flatMap((x) => x.failures).slice(0, 5)) ctx.note(`failure: ${f}`);
    }
  } finally {
    await worker.close();
    await running.catch(() => undefined);
    await deleteStormKeys(ctx);
  }
  mkdirSync(STORM_DIR, { recursive: true });
  const table = stormTable(rows, ctx.runs, { idleCpuMsPerS, tuning: config.temporal.worker ?? {} });
  writeFileSync(join(STORM_DIR, 'incident-storm.md'), `${table}\n`);
  writeFileSync(join(STORM_DIR, 'incident-storm.svg'), stormSvg(rows));
  process.stderr.write(`\n${table}\n\n`);
  const failures = rows.reduce((a, r) => a + r.failures, 0);
  if (failures) throw new Error(`${failures} incident(s) were not contained (see the failures above); table in ${STORM_DIR}`);
  const one = bySize.get(1) ?? [];
  const cpuOf = (rs: Round[], n: number): number[] => rs.map((x) => x.cpuMs / n);
  const extra: ExtraResult[] = sizes
    .filter((n) => n > 1)
    .flatMap((n) => {
      const rs = bySize.get(n) ?? [];
      return [
        { name: `n${n}`, samples: rs.flatMap((x) => x.ttc), floorSamples: one.flatMap((x) => x.ttc) },
        { name: `cpu-n${n}`, unit: 'cpu-ms', samples: cpuOf(rs, n), floorSamples: cpuOf(one, 1) },
      ];
    });
  return {
    samples: one.flatMap((x) => x.ttc),
    floorSamples,
    extra: [{ name: 'cpu-n1', unit: 'cpu-ms', samples: cpuOf(one, 1), floorSamples: cpuOf(one, 1) }, ...extra],
    notes: rows.map((r) => `N=${r.n}: ${r.workflowTasks.toFixed(1)} workflow tasks and ${r.activities.toFixed(1)} activities per incident; this process used ${r.processCores.toFixed(2)} cores, the machine was ${(r.machineBusy * 100).toFixed(0)}% busy`),
  };
}

export const incidentStorm: Benchmark = {
  name: 'incident-storm',
  unit: 'ms',
  description:
    'N = 1, 10, 50, 200 concurrent gate-free token-leak incidents (revoke jtis + user, ban without nginx, kill-switch) on one worker, each on its own target/key prefix: ms declare → containment recorded (incident-storm = N=1, .nN; floor: the Redis writes directly, for N>1 the N=1 run), CPU ms per incident (.cpu-nN); table + plot in bench/storm/',
  defaultRuns: 3,
  sizes: SIZES,
  run,
};
