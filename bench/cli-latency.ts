/**
 * cli-latency: wall time of one `firebreak` command as a user runs it (a new `node
 * bin/firebreak.js` process), from spawn to exit. Samples: `status <id> --json` of an open
 * incident. Floor, in the same run: a new `node` process that imports @temporalio/client,
 * connects and sends the same `status` query — the least a status command can cost.
 * Measured beside it, each run in turn so all share the machine's load: `--help`,
 * `runbook list`, `runbook validate` (no Temporal connection) and the official
 * `temporal workflow query` for the same workflow.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { abortIncident, declareIncident, getStatus, waitFor } from '../lib/incidents/index.js';
import { findTemporalCli } from '../lib/temporal-bin.js';
import { statusQuery } from '../workflows/definitions.js';
import { FLOOR_SOURCE, timed } from './spawn.js';
import { percentile } from './stats.js';
import type { BenchContext, Benchmark, BenchResult } from './types.js';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const BIN = join(ROOT, 'bin', 'firebreak.js');
const RUNBOOK = 'bench-cli';
const RUNBOOK_YAML = `# Written by bench/cli-latency.ts into a temp runbooks dir; never part of the product.
name: ${RUNBOOK}
title: Bench CLI latency (a drill waiting at a two-person gate, so it stays open)
severity: low
phases:
  containment:
    - id: hold
      action: lockdown.enable
      with: { reason: bench }
      approval: { count: 2, group: responders }
`;


async function run(ctx: BenchContext): Promise<BenchResult> {
  const { client, config } = ctx;
  const dir = mkdtempSync(join(tmpdir(), 'firebreak-bench-cli-'));
  const cfg = join(dir, 'firebreak.yaml');
  writeFileSync(
    cfg,
    [
      '# Throwaway CLI config written by bench/cli-latency.ts.',
      `user: ${ctx.users.declarer}`,
      `runbooksDir: ${JSON.stringify(config.runbooksDir)}`,
      `dataDir: ${JSON.stringify(join(dir, 'data'))}`,
      `temporal: { address: ${JSON.stringify(config.temporal.address)}, namespace: ${config.temporal.namespace}, taskQueue: ${config.temporal.taskQueue} }`,
      'log: { level: warn }',
      '',
    ].join('\n'),
  );
  // FIREBREAK_* of the shell must not point the commands elsewhere.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('FIREBREAK_')));
  const temporal = findTemporalCli();
  const declarer = ctx.actor(ctx.users.declarer);
  const declared = await declareIncident(client, config, { runbook: RUNBOOK, mode: 'drill', target: ctx.target, summary: 'bench cli-latency', actor: declarer });
  await waitFor(client, declared.id, (s) => s.state === 'awaiting-approval', { timeoutMs: 30_000 });

  const names = ['help', 'runbook list', 'runbook validate', 'temporal workflow query'] as const;
  const others: Record<(typeof names)[number], number[]> = { help: [], 'runbook list': [], 'runbook validate': [], 'temporal workflow query': [] };
  const samples: number[] = [];
  const floorSamples: number[] = [];
  try {
    for (let i = 0; i < ctx.warmup + ctx.runs; i += 1) {
      const floor = await timed(process.execPath, ['--input-type=module', '-e', FLOOR_SOURCE, config.temporal.address, config.temporal.namespace, declared.workflowId, statusQuery.name], env, ROOT);
      const status = await timed(process.execPath, [BIN, '-c', cfg, '--json', 'status', declared.id], env, dir);
      const doc = JSON.parse(status.stdout) as { id?: string; state?: string };
      if (doc.id !== declared.id || doc.state !== 'awaiting-approval') throw new Error(`run ${i + 1}: status printed ${status.stdout.slice(0, 200)}`);
      const help = await timed(process.execPath, [BIN, '--help'], env, dir);
      if (!help.stdout.includes('Usage: firebreak')) throw new Error(`run ${i + 1}: --help printed ${help.stdout.slice(0, 200)}`);
      const list = await timed(process.execPath, [BIN, '-c', cfg, '--json', 'runbook', 'list'], env, dir);
      if (!(JSON.parse(list.stdout) as { runbooks: { name: string }[] }).runbooks.some((r) => r.name === RUNBOOK)) throw new Error(`run ${i + 1}: runbook list misses ${RUNBOOK}`);
      const validate = await timed(process.execPath, [BIN, '-c', cfg, '--json', 'runbook', 'validate', RUNBOOK], env, dir);
      if (!(JSON.parse(validate.stdout) as { valid: boolean }).valid) throw new Error(`run ${i + 1}: runbook validate says invalid: ${validate.stdout.slice(0, 200)}`);
      const official = await timed(
        temporal,
        ['workflow', 'query', '--address', config.temporal.address, '--namespace', config.temporal.namespace, '-w', declared.workflowId, '--name', statusQuery.name, '-o', 'json'],
        env,
        dir,
      );
      if (!official.stdout.includes(declared.id)) throw new Error(`run ${i + 1}: temporal workflow query printed ${official.stdout.slice(0, 200)}`);
      if (i < ctx.warmup) continue;
      floorSamples.push(floor.ms);
      samples.push(status.ms);
      others.help.push(help.ms);
      others['runbook list'].push(list.ms);
      others['runbook validate'].push(validate.ms);
      others['temporal workflow query'].push(official.ms);
      ctx.progress(samples.length);
    }
  } finally {
    await abortIncident(client, declared.id, 'bench done', declarer).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
  const floorP50 = percentile(floorSamples, 50);
  const line = (name: string, xs: number[]) => `${name}: p50 ${percentile(xs, 50).toFixed(0)} ms, p95 ${percentile(xs, 95).toFixed(0)} ms, ${(percentile(xs, 50) / floorP50).toFixed(2)}× the floor`;
  const ended = await getStatus(client, declared.id).catch(() => undefined);
  return {
    samples,
    floorSamples,
    notes: [
      `floor (node + @temporalio/client + one query): p50 ${floorP50.toFixed(0)} ms`,
      line('status --json', samples),
      ...names.map((n) => line(n, others[n])),
      `incident ${declared.id} ${ended?.state ?? 'unknown'} after the runs`,
    ],
  };
}

export const cliLatency: Benchmark = {
  name: 'cli-latency',
  unit: 'ms',
  description: '`firebreak status` in a new process vs node + @temporalio/client + one query; also --help, runbook list/validate, temporal workflow query',
  defaultRuns: 15,
  runbooks: { [`${RUNBOOK}.yaml`]: RUNBOOK_YAML },
  run,
};
