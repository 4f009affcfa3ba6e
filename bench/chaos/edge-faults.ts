/**
 * An edge host's process SIGKILLed in the middle of a ban: the edge is frozen (SIGSTOP) before
 * the incidents are declared, so the ban's fan-out hands it its sync and it never answers; once
 * Temporal shows it holding that sync, it is SIGKILLed. The ban step must say it waits for that
 * edge in `status` (its heartbeat stops, then no process polls its queue); the edge process is
 * started again only then, and must catch up: its deny file converges to the current ban set
 * (the snapshots compare its lines and its checksum with the worker's set), nothing doubled.
 */
import { declarePair, drivePair } from './drive.js';
import { ensureWorker, pendingActivities, secs, until, type Scenario, type ScenarioContext, type ScenarioResult } from './scenario-kit.js';

const RUN_TIMEOUT_MS = 180_000;

async function* edgeKill(ctx: ScenarioContext): AsyncGenerator<ScenarioResult> {
  const { stack } = ctx;
  await ensureWorker(stack);
  await stack.reset();
  const edge = stack.edges[stack.edges.length - 1];
  const victim = edge?.process;
  if (!edge || !victim) throw new Error('the stack has no edge process to kill');
  victim.signal('SIGSTOP');
  const ids = await declarePair(stack);
  const t0 = performance.now();
  let heldBy: string | undefined;
  let killedAt = 0;
  let restart: Promise<unknown> | undefined;
  let restartedAt = 0;
  const waiting = new Map<string, string>();
  const fault = (async () => {
    try {
      heldBy = await until(
        `edge ${edge.name} (frozen) holding a sync`,
        async () => {
          for (const id of ids) if ((await pendingActivities(stack, id)).some((p) => p.type === 'edgeApplyDenySet' && p.identity === victim.identity)) return id;
          return undefined;
        },
        30_000,
        100,
      );
    } finally {
      await victim.kill('SIGKILL');
      killedAt = performance.now();
    }
  })();
  fault.catch(() => undefined);
  const result = await drivePair(
    stack,
    ids,
    {
      onStatus(s) {
        const text = s.steps.find((x) => x.id === 'ban')?.waiting ?? '';
        if (!killedAt || !text.includes(`waiting for edge ${edge.name}`)) return;
        if (!waiting.has(s.id)) waiting.set(s.id, text);
        // Started again only once the step says it waits for the dead edge.
        if (!restart) {
          restartedAt = performance.now();
          restart = edge.start();
          restart.catch(() => undefined);
        }
      },
    },
    RUN_TIMEOUT_MS,
  ).finally(() => fault.catch(() => undefined));
  await fault.catch(() => undefined);
  await restart?.catch(() => undefined);
  const checks: string[] = [];
  const name = (id: string | undefined) => result.statuses[ids.indexOf(id ?? '')]?.runbook.name ?? id;
  // Live, in `status`: the step's waiting text (what started the edge again).
  const said = [...waiting.values()][0];
  if (!said) checks.push(`no ban step ever said it was waiting for edge ${edge.name}`);
  else if (!new RegExp(`^waiting for edge ${edge.name} since \\S+ \\(attempt \\d+\\): `).test(said)) checks.push(`an unclear waiting text: ${said}`);
  if (!heldBy) checks.push(`edge ${edge.name} was never seen holding a sync: the kill missed the ban`);
  else {
    // The incident whose sync died with the edge: in its timeline (its live text may come and go between two polls).
    const timeline = (result.statuses[ids.indexOf(heldBy)]?.timeline ?? []).filter((t) => t.step === 'ban');
    if (!timeline.some((t) => t.message.includes(`waiting for edge ${edge.name}: `))) checks.push(`${name(heldBy)}'s timeline does not say it waited for edge ${edge.name}`);
    if (!timeline.some((t) => new RegExp(`edge ${edge.name} caught up after \\d+ attempts`).test(t.message))) checks.push(`${name(heldBy)}'s timeline does not say edge ${edge.name} caught up`);
  }
  if (!restart) checks.push(`edge ${edge.name} was never started again (no waiting seen)`);
  else if (!(await restart.then(() => true).catch(() => false))) checks.push(`edge ${edge.name} did not start again`);
  const example = [...waiting.values()][0]?.replace(/ since \S+/, '').slice(0, 110) ?? '';
  yield {
    ...result,
    outcome: `completed (${edge.name} SIGKILLed holding ${name(heldBy)}'s sync at ${secs(killedAt - t0)}; "${example}…" in status of ${waiting.size}/${ids.length}; restarted at ${secs(restartedAt - t0)}, caught up)`,
    checks,
  };
}

export const EDGE_FAULTS: Scenario[] = [
  {
    name: 'edge-kill',
    fault: () => 'an edge process frozen, SIGKILLed once Temporal shows it holding a ban sync; started again once the step says it waits for it',
    run: edgeKill,
    weight: 3,
  },
];
