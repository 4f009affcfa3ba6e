/**
 * The chaos campaign: start a private stack (or several, each with a share of the scenarios,
 * so their waits overlap), run a fault-free baseline pair of incidents on it (its snapshots
 * are the reference), then each scenario's runs, each from reset target systems; a run passes when both incidents completed and both snapshots (contained,
 * completed) equal the baseline's. Returns one row per scenario for the markdown table.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeWorkflowBundle } from '../../worker/bundle.js';
import { diff, type Snapshot } from './effects.js';
import { declarePair, drivePair, type RunResult } from './drive.js';
import { SCENARIOS, type Scenario, type ScenarioContext } from './scenarios.js';
import { startChaosStack, workerLogTail, type ChaosStack } from './stack.js';

/** The baseline's weight next to the scenarios' (scenario-kit.ts: about a tenth of a quick run's seconds). */
const BASELINE_WEIGHT = 1.5;

/** Edge hosts per stack (nginx + `firebreak edge` process each): every ban fans out to all of them. */
export const edgeCount = (quick: boolean): number => (quick ? 2 : 3);
/**
 * The workers' sticky queue schedule-to-start timeout. A SIGKILLed worker's cached workflows
 * wait this long (SDK default 10 s) before another worker gets their tasks; a live worker
 * polls its sticky queue all the time, so a short one costs at most a replay.
 */
export const STICKY_TIMEOUT = '1s';

export interface ChaosOptions {
  quick: boolean;
  seed: number;
  /** Only these scenarios (names); default all. */
  only?: string[];
  /** A pre-built workflow bundle (the test run has one); default: build one. */
  bundlePath?: string;
  /** Keep the temp folder (logs, data) for a look afterwards. */
  keep?: boolean;
  /** Run the scenarios on this many private stacks at once (default 3 with quick, else 1): their waits overlap. */
  stacks?: number;
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
  return `${s.lines.length} lines: ${c.redisKeys} Redis keys, ${c.denyLines} deny lines, nginx answers, ${c.edges ?? 0} edges' deny files (${c.edgeLines ?? 0} lines), checksums and nginx answers, ${c.grants} grants/settings, ${c.records} record tables, .env, password, ${c.issues} GitHub issues, GitHub secrets`;
}

/** Split scenarios into `k` groups of about equal weight (longest first, each to the lightest group); the first group starts with `firstWeight` (the baseline). */
export function partition(scenarios: readonly Scenario[], k: number, firstWeight = 0): Scenario[][] {
  const groups: Array<{ weight: number; items: Scenario[] }> = Array.from({ length: Math.max(1, k) }, (_, i) => ({ weight: i === 0 ? firstWeight : 0, items: [] }));
  for (const s of [...scenarios].sort((a, b) => (b.weight ?? 1) - (a.weight ?? 1))) {
    const lightest = groups.reduce((a, b) => (b.weight < a.weight ? b : a));
    lightest.items.push(s);
    lightest.weight += s.weight ?? 1;
  }
  return groups.filter((g, i) => i === 0 || g.items.length).map((g) => g.items.sort((a, b) => scenarios.indexOf(a) - scenarios.indexOf(b)));
}

export async function runChaos(opts: ChaosOptions): Promise<{ rows: ScenarioRow[]; ok: boolean; dir: string }> {
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const dir = mkdtempSync(join(tmpdir(), 'firebreak-chaos-'));
  chmodSync(dir, 0o711); // PostgreSQL runs as its own user (when we are root): it passes through, never lists
  const bundlePath = opts.bundlePath ?? (await writeWorkflowBundle(join(dir, 'workflow-bundle.js')));
  const chosen = SCENARIOS.filter((s) => !opts.only || opts.only.includes(s.name));
  const groups = partition(chosen, opts.stacks ?? (opts.quick ? 3 : 1), BASELINE_WEIGHT);
  const stacks: ChaosStack[] = [];
  // PostgreSQL runs detached (pg_ctl): Ctrl-C must stop it too.
  const interrupted = () => {
    void Promise.allSettled(stacks.map((st) => st.stop())).finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  let settle: (r: RunResult | Error) => void = () => undefined;
  const promise = new Promise<RunResult>((resolve, reject) => {
    settle = (r) => (r instanceof Error ? reject(r) : resolve(r));
  });
  promise.catch(() => undefined); // each scenario awaits it and reports a failed baseline itself
  let settled: Array<PromiseSettledResult<ScenarioRow[]>>;
  try {
    settled = await Promise.allSettled(
      (groups.length ? groups : [[]]).map(async (group, i) => {
        const label = groups.length > 1 ? `chaos[${i + 1}]` : 'chaos';
        const sub = join(dir, `stack-${i + 1}`);
        mkdirSync(sub);
        const t0 = performance.now();
        const stack = await startChaosStack(sub, bundlePath, { edges: edgeCount(opts.quick), stickyTimeout: STICKY_TIMEOUT });
        stacks.push(stack);
        log(`${label}: stack up in ${((performance.now() - t0) / 1000).toFixed(1)} s (its servers, a worker, ${stack.edges.length} edge processes)`);
        return runStack(stack, group, { ...opts, log: (l) => log(l.replace(/^chaos/, label)) }, { promise, ...(i === 0 && { settle }) });
      }),
    );
  } finally {
    process.removeListener('SIGINT', interrupted);
    process.removeListener('SIGTERM', interrupted);
    await Promise.allSettled(stacks.map((st) => st.stop()));
  }
  const failedStart = settled.find((r) => r.status === 'rejected');
  if (failedStart) throw failedStart.reason;
  const all = settled.flatMap((r) => (r.status === 'fulfilled' ? r.value : []));
  const rows = [...all.filter((r) => r.name === 'baseline'), ...chosen.flatMap((s) => all.filter((r) => r.name === s.name))];
  const ok = rows.every((r) => r.failures.length === 0);
  if (!opts.keep && ok) rmSync(dir, { recursive: true, force: true });
  return { rows, ok, dir };
}

/** The fault-free run every scenario's runs are compared with (all stacks are set up alike: one baseline serves them all). */
async function runBaseline(stack: ChaosStack, opts: ChaosOptions & { log: (line: string) => void }): Promise<{ base: RunResult; row: ScenarioRow }> {
  const t0 = performance.now();
  const base = await drivePair(stack, await declarePair(stack), {}, 90_000);
  if (!base.contained || base.states.some((s) => s !== 'completed')) throw new Error(`the baseline run did not complete: ${base.states.join(', ')} ${base.blockedErrors.join('; ')}`);
  opts.log(`chaos: baseline in ${(base.ms / 1000).toFixed(1)} s; contained: ${effectsLine(base.contained)}`);
  if (opts.verbose) opts.log(`contained:\n  ${base.contained.lines.join('\n  ')}\ncompleted:\n  ${base.final?.lines.join('\n  ')}`);
  const row = { name: 'baseline', fault: 'none (the reference snapshots)', runs: 1, passed: 1, outcome: 'completed', effects: effectsLine(base.final), seconds: (performance.now() - t0) / 1000, failures: [] };
  return { base, row };
}

/** One stack: the baseline (the first stack), then its scenarios one after another. */
async function runStack(
  stack: ChaosStack,
  scenarios: Scenario[],
  opts: ChaosOptions & { log: (line: string) => void },
  baseline: { promise: Promise<RunResult>; settle?: (r: RunResult | Error) => void },
): Promise<ScenarioRow[]> {
  const rows: ScenarioRow[] = [];
  opts.log(`chaos: private Redis :${stack.redis.port}, PostgreSQL :${stack.postgres.port}, Temporal ${stack.temporal.address}, nginx :${stack.nginx.port}; seed ${opts.seed}; ${stack.dir}`);
  if (baseline.settle) {
    try {
      const { base, row } = await runBaseline(stack, opts);
      baseline.settle(base);
      rows.push(row);
    } catch (err) {
      baseline.settle(err as Error);
      rows.push({ name: 'baseline', fault: 'none', runs: 1, passed: 0, outcome: 'FAILED', effects: '', seconds: 0, failures: [(err as Error).message] });
    }
  }
  for (const scenario of scenarios) rows.push(await runScenario(scenario, { stack, quick: opts.quick, seed: opts.seed, log: opts.log }, baseline.promise));
  if (rows.some((r) => r.failures.length)) opts.log(workerLogTail(stack.dir));
  return rows;
}

async function runScenario(scenario: Scenario, ctx: ScenarioContext, basePromise: Promise<RunResult>): Promise<ScenarioRow> {
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
      const base = await basePromise;
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
    await Promise.all([ctx.stack.startWorker(), ctx.stack.ensureEdges()]).catch(() => undefined);
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
