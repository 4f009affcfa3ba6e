/**
 * approve: the `approve` round trip as a responder runs it — a new `firebreak approve <id>
 * <gate>` process signs the decision with the responder's key file, the workflow verifies
 * the signature against the worker's registry and counts the vote — from spawn to exit
 * (the command returns once the gate says approved). Floor, in the same run: a new `node`
 * process that imports @temporalio/client, connects and sends one status query. Also noted:
 * the in-process round trip (approveGate(), signing included), without process start-up.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { approveGate, declareIncident, handleFor, waitFor } from '../lib/incidents/index.js';
import { djangoKey, LOCKDOWN_KEY } from '../lib/redis-keys.js';
import { statusQuery } from '../workflows/definitions.js';
import { FLOOR_SOURCE, timed } from './spawn.js';
import { percentile } from './stats.js';
import type { BenchContext, Benchmark, BenchResult } from './types.js';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const BIN = join(ROOT, 'bin', 'firebreak.js');
const RUNBOOK = 'bench-approve';
const RUNBOOK_YAML = `# Written by bench/approve.ts into a temp runbooks dir; never part of the product.
name: ${RUNBOOK}
title: Bench approve (one gate of one approval)
severity: low
phases:
  containment:
    - id: gate
      action: lockdown.status
      approval: { count: 1, group: responders }
`;

async function run(ctx: BenchContext): Promise<BenchResult> {
  const { client, config } = ctx;
  const [cliResponder, libResponder] = ctx.users.responders;
  if (!cliResponder || !libResponder) throw new Error('approve needs two responders in the bench config');
  const dir = mkdtempSync(join(tmpdir(), 'firebreak-bench-approve-'));
  const cfg = join(dir, 'firebreak.yaml');
  writeFileSync(cfg, [`temporal: { address: ${JSON.stringify(config.temporal.address)}, namespace: ${config.temporal.namespace}, taskQueue: ${config.temporal.taskQueue} }`, 'log: { level: warn }', ''].join('\n'));
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('FIREBREAK_')));
  const env = { ...base, FIREBREAK_USER: cliResponder, XDG_CONFIG_HOME: ctx.keyHome(cliResponder) };
  const declarer = ctx.actor(ctx.users.declarer);
  const samples: number[] = [];
  const floorSamples: number[] = [];
  const inProcess: number[] = [];
  const target = config.targets[ctx.target];
  if (!target) throw new Error(`bench target "${ctx.target}" is not configured`);
  try {
    for (let i = 0; i < ctx.warmup + ctx.runs; i += 1) {
      const open = async () => {
        const { id, workflowId } = await declareIncident(client, config, { runbook: RUNBOOK, target: ctx.target, summary: 'bench approve', actor: declarer });
        await waitFor(client, id, (s) => s.gates.some((g) => g.id === 'gate' && g.state === 'open'), { timeoutMs: 30_000, intervalMs: 20 });
        return { id, workflowId };
      };
      const a = await open();
      const floor = await timed(process.execPath, ['--input-type=module', '-e', FLOOR_SOURCE, config.temporal.address, config.temporal.namespace, a.workflowId, statusQuery.name], base, ROOT);
      const cli = await timed(process.execPath, [BIN, '-c', cfg, '--json', 'approve', a.id, 'gate'], env, dir);
      const { gate } = JSON.parse(cli.stdout) as { gate: { state?: string; approvals?: Array<{ by: string; via?: string }> } };
      if (gate.state !== 'approved' || gate.approvals?.[0]?.by !== cliResponder || gate.approvals[0].via !== 'personal') throw new Error(`run ${i + 1}: approve printed ${cli.stdout.slice(0, 300)}`);
      const b = await open();
      const t0 = performance.now();
      const g = await approveGate(client, b.id, 'gate', ctx.actor(libResponder));
      const lib = performance.now() - t0;
      if (g.state !== 'approved') throw new Error(`run ${i + 1}: approveGate left the gate ${g.state}`);
      for (const x of [a, b]) await handleFor(client, x.id).terminate('bench done').catch(() => undefined);
      if (i < ctx.warmup) continue;
      samples.push(cli.ms);
      floorSamples.push(floor.ms);
      inProcess.push(lib);
      ctx.progress(samples.length);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await ctx.redis.del(djangoKey(target.redis, LOCKDOWN_KEY));
  }
  return {
    samples,
    floorSamples,
    notes: [
      `firebreak approve (new process, signed): p50 ${percentile(samples, 50).toFixed(0)} ms, p95 ${percentile(samples, 95).toFixed(0)} ms; floor p50 ${percentile(floorSamples, 50).toFixed(0)} ms`,
      `approveGate() in process (sign + update + verify + vote): p50 ${percentile(inProcess, 50).toFixed(1)} ms, p95 ${percentile(inProcess, 95).toFixed(1)} ms`,
    ],
  };
}

export const approve: Benchmark = {
  name: 'approve',
  unit: 'ms',
  description: '`firebreak approve` in a new process (signed with the key file, verified by the workflow) until the gate is approved, vs node + @temporalio/client + one query',
  defaultRuns: 15,
  runbooks: { [`${RUNBOOK}.yaml`]: RUNBOOK_YAML },
  run,
};
