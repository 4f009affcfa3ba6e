/**
 * declare-to-complete: wall time from `declareIncident(...)` being called to
 * the incident reaching `completed`, for a lockdown-only incident in live mode
 * on the bench target. Floor: the same Redis work issued directly.
 */
import type { Client } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import { declareIncident, getStatus } from '../lib/incidents/index.js';
import { djangoKey, LOCKDOWN_KEY } from '../lib/redis-keys.js';
import type { IncidentStatus } from '../workflows/definitions.js';
import { percentile } from './stats.js';
import type { BenchContext, Benchmark, BenchResult } from './types.js';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

const RUNBOOK_NAME = 'bench-lockdown';
/** Per-run deadline: a run that takes this long is stuck, not slow. */
const RUN_TIMEOUT_MS = 30_000;

/**
 * Phase II sets the flag, phase III clears it; no approvals, no other steps.
 * The phase III step settles the containment phase II put in force, so the
 * incident completes without waiting for an all-clear.
 */
const RUNBOOK = `# Written by bench/run.ts into a temp runbooks dir; never part of the product.
name: ${RUNBOOK_NAME}
title: Bench lockdown (on, then off)
description: Benchmark runbook for declare-to-complete; no approval gates.
severity: critical
phases:
  containment:
    - id: lockdown
      action: lockdown.enable
      with:
        reason: benchmark
  recovery:
    - id: unlock
      action: lockdown.disable
`;

export const declareToComplete: Benchmark = {
  name: 'declare-to-complete',
  unit: 'ms',
  description: 'ms from declareIncident() to `completed`, live lockdown on/off incident; floor: the same Redis commands via ioredis',
  runbooks: { [`${RUNBOOK_NAME}.yaml`]: RUNBOOK },
  run,
};

interface Segments {
  /** declareIncident() call: runbook load + validation + StartWorkflowExecution. */
  declare: number;
  /** Declared → the close event is seen. */
  toClosed: number;
  /** From the workflow history (server clock): summed over all tasks of the run. */
  wftQueue: number;
  wftRun: number;
  actQueue: number;
  actRun: number;
  wfts: number;
  activities: number;
}

async function run(ctx: BenchContext): Promise<BenchResult> {
  const { client, config, redis } = ctx;
  const target = config.targets[ctx.target];
  if (!target) throw new Error(`bench target "${ctx.target}" is not configured`);
  const flag = djangoKey(target.redis, LOCKDOWN_KEY);
  const declarer = ctx.actor(ctx.users.declarer);
  const responder = ctx.actor(ctx.users.responders[0] ?? '');
  if (!responder.user) throw new Error('declare-to-complete needs a responder in the bench config');

  const samples: number[] = [];
  const floorSamples: number[] = [];
  const segments: Segments[] = [];

  for (let i = 0; i < ctx.warmup + ctx.runs; i += 1) {
    const recorded = i >= ctx.warmup;
    if ((await redis.exists(flag)) !== 0) throw new Error(`${flag} is set before run ${i + 1}: another run or process left it behind`);

    // ---- floor: what the two lockdown activities do, straight to Redis ------
    const f0 = performance.now();
    await redis.set(flag, '1');
    const readBack = await redis.get(flag);
    await redis.del(flag);
    const afterDel = await redis.get(flag);
    const floorMs = performance.now() - f0;
    if (readBack !== '1' || afterDel !== null) throw new Error(`floor: read back ${readBack} after SET and ${afterDel} after DEL`);

    // ---- the incident ---------------------------------------------------------
    const deadline = Date.now() + RUN_TIMEOUT_MS;
    const t0 = performance.now();
    const declared = await declareIncident(client, config, {
      runbook: RUNBOOK_NAME,
      mode: 'live',
      target: ctx.target,
      summary: `bench run ${i + 1}`,
      actor: declarer,
    });
    const tDeclared = performance.now();
    let final: IncidentStatus;
    try {
      final = (await client.withDeadline(deadline, () => client.workflow.getHandle(declared.workflowId, declared.runId).result())) as IncidentStatus;
    } catch (err) {
      const state = await getStatus(client, declared.id).then(
        (s) => `state ${s.state}, phase ${s.phase}, steps ${s.steps.map((x) => `${x.id}=${x.state}${x.error ? ` (${x.error})` : ''}`).join(', ')}`,
        () => 'status unavailable',
      );
      throw new Error(`run ${i + 1}: incident ${declared.id} did not complete: ${(err as Error).message} [${state}]`, { cause: err });
    }
    const t1 = performance.now();

    // ---- checks (outside the timed window) --------------------------------------
    const problems: string[] = [];
    if (final.state !== 'completed') problems.push(`ended ${final.state}, not completed`);
    if (final.activeContainment.length) problems.push(`containment still active: ${final.activeContainment.join(', ')}`);
    const failed = final.steps.filter((s) => s.state === 'failed' || s.state === 'cancelled' || s.state === 'pending');
    if (failed.length) problems.push(`steps not done: ${failed.map((s) => `${s.id}=${s.state}`).join(', ')}`);
    const left = await redis.get(flag);
    if (left !== null) problems.push(`${flag} is still set (${left})`);
    if (problems.length) throw new Error(`run ${i + 1}: incident ${declared.id}: ${problems.join('; ')}`);

    if (recorded) {
      samples.push(t1 - t0);
      floorSamples.push(floorMs);
      const fromHistory = await historyBreakdown(client, config.temporal.namespace, declared.workflowId, declared.runId);
      segments.push({ declare: tDeclared - t0, toClosed: t1 - tDeclared, ...fromHistory });
      ctx.progress(samples.length);
    }
  }
  return { samples, floorSamples, notes: breakdownNotes(segments) };
}


function eventMs(e: HistoryEvent): number {
  const ts = e.eventTime;
  if (!ts) return Number.NaN;
  const seconds = typeof ts.seconds === 'number' ? ts.seconds : Number(ts.seconds?.toString() ?? 0);
  return seconds * 1000 + (ts.nanos ?? 0) / 1e6;
}

const idOf = (id: unknown): string => String(id);

/** Where the server says the time went: queue wait and run time of workflow and activity tasks. */
async function historyBreakdown(
  client: Client,
  namespace: string,
  workflowId: string,
  runId: string | undefined,
): Promise<Pick<Segments, 'wftQueue' | 'wftRun' | 'actQueue' | 'actRun' | 'wfts' | 'activities'>> {
  const events: HistoryEvent[] = [];
  let nextPageToken: Uint8Array | undefined;
  do {
    const res = await client.workflowService.getWorkflowExecutionHistory({ namespace, execution: { workflowId, runId }, skipArchival: true, nextPageToken });
    events.push(...(res.history?.events ?? []));
    nextPageToken = res.nextPageToken?.length ? res.nextPageToken : undefined;
  } while (nextPageToken);
  const at = new Map(events.map((e) => [idOf(e.eventId), eventMs(e)]));
  const out = { wftQueue: 0, wftRun: 0, actQueue: 0, actRun: 0, wfts: 0, activities: 0 };
  for (const e of events) {
    const started = eventMs(e);
    const wft = e.workflowTaskStartedEventAttributes;
    if (wft) out.wftQueue += started - (at.get(idOf(wft.scheduledEventId)) ?? started);
    const wftDone = e.workflowTaskCompletedEventAttributes;
    if (wftDone) {
      out.wfts += 1;
      out.wftRun += started - (at.get(idOf(wftDone.startedEventId)) ?? started);
    }
    const act = e.activityTaskStartedEventAttributes;
    if (act) out.actQueue += started - (at.get(idOf(act.scheduledEventId)) ?? started);
    const actDone = e.activityTaskCompletedEventAttributes;
    if (actDone) {
      out.activities += 1;
      out.actRun += started - (at.get(idOf(actDone.startedEventId)) ?? started);
    }
  }
  return out;
}

function breakdownNotes(segments: Segments[]): string[] {
  if (!segments.length) return [];
  const p50 = (key: keyof Segments): string => percentile(segments.map((s) => s[key]), 50).toFixed(1);
  return [
    `p50 per segment (harness clock, ms): declare call ${p50('declare')}, declared→completed ${p50('toClosed')}`,
    `p50 per run from history (server clock, ms): ${p50('wfts')} workflow tasks: queue ${p50('wftQueue')} + run ${p50('wftRun')}; ` +
      `${p50('activities')} activities: queue ${p50('actQueue')} + run ${p50('actRun')}`,
  ];
}
