/**
 * The chaos campaign: start the private stack once, run a fault-free baseline pair of
 * incidents (its snapshots are the reference), then each scenario's runs, each from reset
 * target systems; a run passes when both incidents completed and both snapshots (contained,
 * completed) equal the baseline's. Returns one row per scenario for the markdown table.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeWorkflowBundle } from '../../worker/bundle.js';
import { diff, type Snapshot } from './effects.js';
import { declarePair, drivePair, type RunResult } from './drive.js';
import { SCENARIOS, type Scenario, type ScenarioContext } from './scenarios.js';
import { startChaosStack, workerLogTail } from './stack.js';

export interface ChaosOptions {
  quick: boolean;
  seed: number;
  /** Only these scenarios (names); default all. */
  only?: string[];
  /** A pre-built workflow bundle (the test run has one); default: build one. */
  bundlePath?: string;
  /** Keep the temp folder (logs, data) for a look afterwards. */
  keep?: boolean;
  /** Print the baseline's snapshots. */
  verbose?: boolean;
  log?: (line: string) => void;
}

export interface ScenarioRow {
  name: string;
  fault: string;
  runs: number;
  passed: number;
  outcome: string;
  effects: string;
  seconds: number;
  failures: string[];
}

function effectsLine(s: Snapshot | undefined): string {
  if (!s) return '';
  const c = s.counts;
  return `${s.lines.length} lines: ${c.redisKeys} Redis keys, ${c.denyLines} deny lines, nginx answers, ${c.grants} grants/settings, ${c.records} record tables, .env, password, ${c.issues} GitHub issues, GitHub secrets`;
}

export async function runChaos(opts: ChaosOptions): Promise<{ rows: ScenarioRow[]; ok: boolean; dir: string }> {
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const dir = mkdtempSync(join(tmpdir(), 'firebreak-chaos-'));
  const bundlePath = opts.bundlePath ?? (await writeWorkflowBundle(join(dir, 'workflow-bundle.js')));
  const stack = await startChaosStack(dir, bundlePath);
  const rows: ScenarioRow[] = [];
  // PostgreSQL runs detached (pg_ctl): Ctrl-C must stop it too.
  const interrupted = () => {
    void stack.stop().finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    log(`chaos: private Redis :${stack.redis.port}, PostgreSQL :${stack.postgres.port}, Temporal ${stack.temporal.address}, nginx :${stack.nginx.port}; seed ${opts.seed}; ${dir}`);
    await stack.startWorker();
    const t0 = performance.now();
    const base = await drivePair(stack, await declarePair(stack), {}, 90_000);
    if (!base.contained || base.states.some((s) => s !== 'completed')) throw new Error(`the baseline run did not complete: ${base.states.join(', ')} ${base.blockedErrors.join('; ')}`);
    rows.push({
      name: 'baseline',
      fault: 'none (the reference snapshots)',
      runs: 1,
      passed: 1,
      outcome: 'completed',
      effects: effectsLine(base.final),
      seconds: (performance.now() - t0) / 1000,
      failures: [],
    });
    log(`chaos: baseline in ${(base.ms / 1000).toFixed(1)} s; contained: ${effectsLine(base.contained)}`);
    if (opts.verbose) log(`contained:\n  ${base.contained.lines.join('\n  ')}\ncompleted:\n  ${base.final?.lines.join('\n  ')}`);
    const chosen = SCENARIOS.filter((s) => !opts.only || opts.only.includes(s.name));
    for (const scenario of chosen) rows.push(await runScenario(scenario, { stack, quick: opts.quick, seed: opts.seed, log }, base));
  } finally {
    const failed = rows.some((r) => r.failures.length);
    if (failed) log(workerLogTail(dir));
    process.removeListener('SIGINT', interrupted);
    process.removeListener('SIGTERM', interrupted);
    await stack.stop();
    if (!opts.keep && !failed) rmSync(dir, { recursive: true, force: true });
  }
  return { rows, ok: rows.every((r) => r.failures.length === 0), dir };
}

async function runScenario(scenario: Scenario, ctx: ScenarioContext, base: RunResult): Promise<ScenarioRow> {
  const t0 = performance.now();
  const failures: string[] = [];
  const outcomes: string[] = [];
  let runs = 0;
  let passed = 0;
  let last: RunResult | undefined;
  ctx.log(`chaos: ${scenario.name}: ${scenario.fault(ctx.quick)}`);
  try {
    for await (const result of scenario.run(ctx)) {
      runs += 1;
      last = result;
      const problems: string[] = [];
      if (result.states.some((s) => s !== 'completed')) problems.push(`ended ${result.states.join(', ')}`);
      for (const [what, want, got] of [
        ['contained', base.contained, result.contained],
        ['completed', base.final, result.final],
      ] as const) {
        if (!want || !got) {
          problems.push(`no ${what} snapshot`);
          continue;
        }
        const d = diff(want, got);
        if (d.length) problems.push(`${what} differs from the baseline:\n      ${d.join('\n      ')}`);
      }
      problems.push(...(result.checks ?? []));
      outcomes.push(result.outcome);
      if (problems.length) failures.push(`run ${runs}: ${problems.join('; ')}`);
      else passed += 1;
      ctx.log(`chaos: ${scenario.name} run ${runs}: ${result.outcome} in ${(result.ms / 1000).toFixed(1)} s${problems.length ? ` — FAILED: ${problems.join('; ')}` : ''}`);
      for (const e of result.blockedErrors) ctx.log(`  blocked on ${e.slice(0, 400)}`);
    }
  } catch (err) {
    failures.push(`run ${runs + 1}: ${(err as Error).message}`);
    ctx.log(`chaos: ${scenario.name} FAILED: ${(err as Error).message}`);
    // The next scenario starts from live workers whatever this one left.
    await ctx.stack.killWorkers();
    await ctx.stack.startWorker().catch(() => undefined);
  }
  const distinct = [...new Set(outcomes)];
  return {
    name: scenario.name,
    fault: scenario.fault(ctx.quick),
    runs: Math.max(runs, failures.length ? runs + (runs === 0 ? 1 : 0) : runs),
    passed,
    outcome: failures.length ? `FAILED (${failures.length})` : distinct.join('; '),
    effects: effectsLine(last?.final),
    seconds: (performance.now() - t0) / 1000,
    failures,
  };
}

export function markdownTable(rows: ScenarioRow[]): string {
  const head = ['scenario', 'fault', 'runs', 'outcome', 'effects checked (each run = the baseline, contained and completed)', 'time'];
  const lines = [`| ${head.join(' | ')} |`, `| ${head.map((_, i) => (i === 2 || i === 5 ? '--:' : '---')).join(' | ')} |`];
  for (const r of rows) {
    lines.push(`| ${r.name} | ${r.fault} | ${r.passed}/${r.runs} | ${r.outcome.replace(/\|/g, '\\|')} | ${r.effects} | ${r.seconds.toFixed(1)} s |`);
  }
  return lines.join('\n');
}
