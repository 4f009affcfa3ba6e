/**
 * The faults: workers SIGKILLed at random moments, two workers with one killed mid-containment,
 * the Temporal dev server killed and restarted on its SQLite file, nginx's config broken during
 * a ban (outages of Redis and PostgreSQL are in outages.ts). Each run starts from reset target
 * systems with a token-leak and an sqli incident, driven by drive.ts.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import type { IncidentStatus } from '../../workflows/definitions.js';
import { declarePair, drivePair, INCIDENTS } from './drive.js';
import { EDGE_FAULTS } from './edge-faults.js';
import { OUTAGES } from './outages.js';
import type { WorkerProcess } from './stack.js';
import { ensureWorker, heldWrite, hitCheck, pendingActivities, secs, seededRandom, sleep, until, type Scenario, type ScenarioContext, type ScenarioResult } from './scenario-kit.js';

export type { Scenario, ScenarioContext } from './scenario-kit.js';

const RUN_TIMEOUT_MS = 180_000;

/** What the incidents were doing when last seen: their running steps, else their state. */
function momentOf(seen: ReadonlyMap<string, IncidentStatus>, ids: string[]): string {
  return ids
    .map((id) => seen.get(id))
    .map((s) => (s ? s.steps.filter((x) => x.state === 'running').map((x) => x.id).join('+') || s.state : 'not seen yet'))
    .join(' / ');
}

/**
 * N SIGKILLs of the worker at seeded random moments, at most 5 per incident pair, as many pairs
 * as it takes; every other kill also SIGKILLs a random edge process, started again after a
 * random delay (its own seeded stream, so the worker's kill moments of a seed stay as they were).
 */
async function* kills(ctx: ScenarioContext): AsyncGenerator<ScenarioResult> {
  const { stack } = ctx;
  const total = ctx.quick ? 3 : 20;
  const rng = seededRandom(ctx.seed);
  const edgeRng = seededRandom(ctx.seed ^ 0x5eed);
  let killed = 0;
  while (killed < total) {
    await ensureWorker(stack);
    await stack.reset();
    const ids = await declarePair(stack);
    const t0 = performance.now();
    let finished = false;
    const moments: string[] = [];
    const edgeKills: string[] = [];
    const restarts: Array<Promise<unknown>> = [];
    const seen = new Map<string, IncidentStatus>();
    // At most 5 kills per pair, so the kills land across many pairs' phases, not mostly in one long all-clear.
    const stopAt = Math.min(total, killed + 5);
    const killer = (async () => {
      while (!finished && killed < stopAt) {
        // Up to 6 s between kills in the full run: the incidents must get somewhere between them.
        await sleep(100 + Math.floor(rng() * (ctx.quick ? 1_200 : 6_000)));
        const victim = stack.workers.find((w) => w.alive());
        if (finished || !victim) break;
        const where = momentOf(seen, ids);
        const at = secs(performance.now() - t0);
        const edge = killed % 2 === 0 && stack.edges.length ? stack.edges[Math.floor(edgeRng() * stack.edges.length)] : undefined;
        const downMs = Math.floor(edgeRng() * (ctx.quick ? 2_000 : 6_000));
        await Promise.all([victim.kill('SIGKILL'), edge?.alive() && edge.kill()]);
        killed += 1;
        moments.push(`${at} (${where})`);
        if (edge) {
          edgeKills.push(`${edge.name} at ${at}, back after ${secs(downMs)}`);
          restarts.push(sleep(downMs).then(() => edge.start()));
        }
        await stack.startWorker();
      }
    })();
    const result = await drivePair(stack, ids, { onStatus: (s) => void seen.set(s.id, s) }, 2 * RUN_TIMEOUT_MS).finally(() => {
      finished = true;
    });
    await killer;
    const failedStarts = (await Promise.allSettled(restarts)).filter((r) => r.status === 'rejected');
    ctx.log(`chaos: kills at ${moments.join(', ')} after declaring (running steps of token-leak / sqli); edges killed: ${edgeKills.join(', ') || 'none'}`);
    const checks = failedStarts.map((r) => `an edge did not start again: ${String(r.reason)}`);
    yield { ...result, outcome: `completed (${moments.length} kills, ${edgeKills.length} of edges${result.retries ? `, ${result.retries} retry` : ''})`, checks };
  }
}

/** Two workers; the one running the lockdown activity is killed while Redis holds its write. */
async function* twoWorkers(ctx: ScenarioContext): AsyncGenerator<ScenarioResult> {
  const { stack } = ctx;
  await ensureWorker(stack);
  while (stack.workers.filter((w) => w.alive()).length < 2) await stack.startWorker();
  await stack.reset();
  const ids = await declarePair(stack);
  let victim: WorkerProcess | undefined;
  const hold = heldWrite(stack, () => ids[0], 'lockdown', async () => {
    const taken = await until('the lockdown activity taken by a worker', async () => (await pendingActivities(stack, ids[0] as string)).find((p) => p.type === 'lockdownEnable' && p.identity));
    victim = stack.workers.find((w) => w.alive() && w.identity === taken.identity);
    await victim?.kill('SIGKILL');
    await stack.redis.client.call('CLIENT', 'UNPAUSE');
  });
  const survivors = stack.workers.filter((w) => w.alive());
  const result = await drivePair(stack, ids, { onStatus: (s) => hold.onStatus(s) }, RUN_TIMEOUT_MS).finally(() => hold.release());
  const checks: string[] = [];
  if (!victim) checks.push('no worker was seen holding the lockdown activity');
  else checks.push(...(await hitCheck(stack, ids[0] as string, 'lockdownEnable')));
  const left = survivors.filter((w) => w.alive());
  if (left.length !== 1) checks.push(`expected the other worker alive, ${left.length} of 2 are`);
  yield { ...result, outcome: `completed by the other worker${result.retries ? ` (${result.retries} retry)` : ''}`, checks };
}

/** The dev server SIGKILLed while both incidents are in containment, started again on its SQLite file. */
async function* temporalRestart(ctx: ScenarioContext): AsyncGenerator<ScenarioResult> {
  const { stack } = ctx;
  await ensureWorker(stack);
  await stack.reset();
  const ids = await declarePair(stack);
  const before = stack.workers.filter((w) => w.alive());
  const downMs = ctx.quick ? 1_000 : 5_000;
  let restart: Promise<void> | undefined;
  const t0 = performance.now();
  let at = '';
  const result = await drivePair(
    stack,
    ids,
    {
      onStatus(s) {
        if (restart || s.id !== ids[0] || !s.gates.some((g) => g.id === 'lockdown' && g.state === 'open')) return;
        at = secs(performance.now() - t0);
        restart = stack.temporal.restart(downMs);
      },
    },
    RUN_TIMEOUT_MS,
  );
  await restart;
  const checks = restart ? [] : ['the server was never restarted (the lockdown gate was not seen open)'];
  const dead = before.filter((w) => !w.alive()).length;
  if (dead) checks.push(`${dead} worker(s) exited when the server went away`);
  yield { ...result, outcome: `completed (server killed at ${at}, back after ${secs(downMs)}, workers reconnected)`, checks };
}

/** nginx's config broken before a ban: the ban refuses (nothing changed), blocks; fixed, `retry` completes it. */
async function* nginxBroken(ctx: ScenarioContext): AsyncGenerator<ScenarioResult> {
  const { stack } = ctx;
  await ensureWorker(stack);
  await stack.reset();
  const conf = readFileSync(stack.nginx.conf, 'utf8');
  writeFileSync(stack.nginx.conf, `${conf}chaos_not_a_directive on;\n`);
  let fixed = false;
  const blockedOn: string[] = [];
  try {
    const ids = await declarePair(stack);
    const result = await drivePair(
      stack,
      ids,
      {
        async onBlocked(s) {
          const ban = s.steps.find((x) => x.id === 'ban');
          if (ban?.state === 'failed') blockedOn.push(`${s.runbook.name}: ${ban.error ?? ''}`);
          if (!fixed) {
            // Both incidents ban: wait until both are blocked on it, then fix and retry.
            if (new Set(blockedOn.map((b) => b.split(':')[0])).size < INCIDENTS.length) return false;
            writeFileSync(stack.nginx.conf, conf);
            fixed = true;
          }
          return true;
        },
      },
      RUN_TIMEOUT_MS,
    );
    const checks: string[] = [];
    if (!blockedOn.length) checks.push('no incident blocked on the ban');
    const clear = blockedOn.filter((b) => /nginx/i.test(b) && /test/i.test(b));
    if (clear.length < blockedOn.length) checks.push(`an unclear error: ${blockedOn.find((b) => !clear.includes(b))}`);
    const example = (blockedOn[0] ?? '').replace(/^[^:]+: /, '').slice(0, 140);
    yield { ...result, outcome: `blocked on the ban ("${example}…"), completed after fix + retry`, checks };
  } finally {
    if (!fixed) writeFileSync(stack.nginx.conf, conf);
  }
}

export const SCENARIOS: Scenario[] = [
  {
    name: 'worker-kills',
    fault: (q) => `${q ? 3 : 20} SIGKILLs of the worker at random moments (seeded${q ? '' : ', at most 5 per incident pair'}), a new worker each time; every other kill also SIGKILLs a random edge process, back after 0–${q ? 2 : 6} s`,
    run: kills,
    weight: 5,
  },
  { name: 'two-workers', fault: () => 'two workers on one task queue; the one running the lockdown activity (its Redis write paused) is SIGKILLed', run: twoWorkers, weight: 2.5 },
  ...EDGE_FAULTS,
  ...OUTAGES,
  { name: 'temporal-restart', fault: (q) => `Temporal dev server SIGKILLed mid-containment, restarted on its SQLite file ${q ? 1 : 5} s later`, run: temporalRestart, weight: 2 },
  { name: 'nginx-broken', fault: () => 'nginx.conf broken before the bans (nginx -t fails); fixed once both incidents are blocked, then retry', run: nginxBroken, weight: 1.5 },
];
