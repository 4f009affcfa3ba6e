/**
 * DrillWorkflow: one rehearsal of a runbook on a drill target, started by a Temporal
 * Schedule (or `drill run`) with names only. The worker prepares the declaration when the
 * drill fires (its own runbook and config, a robot's key); the incident runs unchanged as a
 * child in `drill` mode; robots approve its gates after a delay; the drill checks from the
 * outside that containment held and that the all-clear restored everything, and reports.
 *
 * Workflow code cannot send an Update to another workflow, and the robots' keys live on the
 * worker, so each robot decision is an activity that signs and sends the very update a
 * person's front door sends (the incident's validators judge it like any other).
 */
import * as wf from '@temporalio/workflow';
import type { createDrillActivities } from '../activities/drill/index.js';
import { SA } from '../lib/search-attributes.js';
import { workflowIdFor } from '../lib/ids.js';
import { FailureTypes, INCIDENT_WORKFLOW, type IncidentInput, type IncidentStatus } from './definitions.js';
import { DRILL_FAILED, type Baseline, type DrillInput, type DrillReport, type Observation, type PostCondition, type PreparedDrill } from './drill-definitions.js';

type Activities = ReturnType<typeof createDrillActivities>;

const NON_RETRYABLE = [FailureTypes.BadInput, FailureTypes.Refused];
const quick = wf.proxyActivities<Activities>({ startToCloseTimeout: '1 minute', retry: { maximumAttempts: 5, initialInterval: '500ms', nonRetryableErrorTypes: NON_RETRYABLE } });
/** A health check or a post-condition is an answer, not something to retry until it passes. */
const once = wf.proxyActivities<Activities>({ startToCloseTimeout: '1 minute', retry: { maximumAttempts: 2, initialInterval: '1s', nonRetryableErrorTypes: NON_RETRYABLE } });
const watch = wf.proxyActivities<Activities>({ startToCloseTimeout: '2 minutes', heartbeatTimeout: '30s', retry: { maximumAttempts: 10, initialInterval: '1s', nonRetryableErrorTypes: NON_RETRYABLE } });

/** Marker of drills that publish their report (to Slack, a GitHub issue) when the target has them. */
const DRILL_PUBLISH = 'drill-publish-report';
/** Marker of drills that check containment after an incident that ended before the drill saw it contained. */
const LATE_CONTAINMENT_CHECK = 'drill-late-containment-check';

const TERMINAL = new Set(['completed', 'aborted', 'rejected']);
const PAST_CONTAINMENT = new Set(['recovery', 'postmortem', 'done']);

export async function DrillWorkflow(drill: DrillInput): Promise<DrillReport> {
  const startedAt = new Date(Date.now()).toISOString();
  const prepared: PreparedDrill = await quick.drillPrepare(drill);
  const { input, settings } = prepared;
  const baseline: Baseline = await once.drillBaseline({ target: input.target, incidentId: input.incidentId });
  const workflowId = workflowIdFor(input.incidentId);
  const child = await wf.startChild<(i: IncidentInput) => Promise<IncidentStatus>>(INCIDENT_WORKFLOW, {
    workflowId,
    args: [input],
    typedSearchAttributes: [
      { key: SA.incidentId, value: input.incidentId },
      { key: SA.runbook, value: input.runbook.doc.name },
      { key: SA.severity, value: input.severity },
      { key: SA.mode, value: 'drill' },
      { key: SA.phase, value: 'detection' },
      { key: SA.state, value: 'running' },
    ],
  });
  let ended = false;
  const result = child.result().finally(() => {
    ended = true;
  });
  result.catch(() => undefined);

  const postConditions: PostCondition[] = [];
  const failures: string[] = [];
  let stop: DrillReport['stop'];
  let containedAt: string | undefined;
  let lastHealth = Date.now();
  let seen = '';
  const acted = new Set<string>();
  const abort = async (reason: NonNullable<DrillReport['stop']>['reason'], detail: string): Promise<void> => {
    if (stop) return;
    stop = { reason, detail };
    failures.push(`stopped: ${detail}`);
    await quick.drillDecide({ workflowId, incidentId: input.incidentId, kind: 'abort', robot: settings.approvers[0] ?? settings.declarer, reason: `drill stopped: ${detail}` });
  };

  /** Containment must hold, seen from outside the steps that made it (before the all-clear lifts it). */
  const checkContainment = async (steps: Observation['steps']): Promise<void> => {
    containedAt = new Date(Date.now()).toISOString();
    const checks = await once.drillCheck({ when: 'containment', target: input.target, incidentId: input.incidentId, baseline, steps, params: input.params });
    postConditions.push(...checks);
    for (const c of checks) if (!c.ok) failures.push(`post-condition failed (${c.system}, after containment): ${c.check}: ${c.detail}`);
  };

  while (!ended) {
    const o: Observation = await watch.drillObserve({ workflowId, since: seen, waitMs: Math.min(settings.healthEveryMs, 5_000) });
    if (TERMINAL.has(o.state)) break;
    const changed = o.fingerprint !== seen;
    seen = o.fingerprint;
    if (!stop && Date.now() - Date.parse(startedAt) > settings.timeBudgetMs) {
      await abort('time-budget', `the drill ran past its time budget of ${Math.round(settings.timeBudgetMs / 1000)} s`);
    }
    if (!stop && Date.now() - lastHealth >= settings.healthEveryMs) {
      lastHealth = Date.now();
      const health = await once.drillHealth({ target: input.target });
      if (!health.ok) await abort('health', `a health check of drill target ${input.target} failed: ${health.problem ?? 'unhealthy'}`);
    }
    if (!stop && o.state === 'blocked') {
      const broken = o.steps.filter((s) => s.state === 'failed').map((s) => `${s.id} (${s.error ?? 'failed'})`);
      await abort('step-failed', `step ${broken.join(', ') || '(unknown)'} failed`);
    }
    if (!stop && !containedAt && (o.state === 'awaiting-resolve' || PAST_CONTAINMENT.has(o.phase))) await checkContainment(o.steps);
    const gate = o.gates.find((g) => !acted.has(`${g.id}/${g.argsHash}/${g.voters.length}`));
    if (gate && (o.state === 'awaiting-approval' || o.state === 'awaiting-resolve' || o.state === 'rolling-back')) {
      acted.add(`${gate.id}/${gate.argsHash}/${gate.voters.length}`);
      const allClear = gate.id === 'resolve' || gate.id === 'rollback';
      const robot = settings.approvers.find((r) => !gate.voters.includes(r));
      if (!robot) {
        await abort('step-failed', `gate ${gate.id} needs more approvals than the drill has robots (${settings.approvers.join(', ')})`);
        continue;
      }
      await wf.sleep(settings.approveAfterMs);
      await quick.drillDecide({ workflowId, incidentId: input.incidentId, kind: allClear ? 'resolve' : 'approve', robot, gate: gate.id, argsHash: gate.argsHash });
      continue;
    }
    if (!changed) await wf.sleep(settings.pollMs);
  }

  const final = await result.catch((err: unknown) => {
    failures.push(`the incident failed: ${(err as Error).message}`);
    return undefined;
  });
  const last: Observation = await quick.drillObserve({ workflowId, since: '', waitMs: 0 });
  // An incident with nothing to lift can end before the drill looked: what it put in force is still there.
  if (!stop && !containedAt && last.state === 'completed' && wf.patched(LATE_CONTAINMENT_CHECK)) await checkContainment(last.steps);
  if (final && final.state !== 'completed' && !stop) failures.push(`the incident ended ${final.state}${final.abortReason ? `: ${final.abortReason}` : ''}`);
  const restore = await once.drillCheck({ when: 'restore', target: input.target, incidentId: input.incidentId, baseline, steps: last.steps, params: input.params });
  postConditions.push(...restore);
  for (const c of restore) if (!c.ok) failures.push(`post-condition failed (${c.system}, after the all-clear): ${c.check}: ${c.detail}`);
  const endedAt = new Date(Date.now()).toISOString();
  const restoredAt = restore.every((c) => c.ok) ? endedAt : undefined;

  const report = await quick.drillReport({ drill, incident: input, observation: last, postConditions, startedAt, endedAt, stop, failures, restoredAt, containedAt });
  if (wf.patched(DRILL_PUBLISH)) {
    // Slack and GitHub are told when configured; the report is kept either way, and an outage there changes no outcome.
    await quick.drillPublish(report).catch((err: unknown) => wf.log.warn('drill report not published', { incidentId: input.incidentId, error: (err as Error).message }));
  }
  if (report.outcome !== 'passed') {
    throw wf.ApplicationFailure.create({ type: DRILL_FAILED, nonRetryable: true, message: `drill ${input.incidentId} ${report.outcome}: ${report.failures.join('; ')}`, details: [report] });
  }
  return report;
}
