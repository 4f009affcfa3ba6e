/**
 * The scheduler: the steps of a phase run concurrently, each after its `needs`;
 * a failure (unless `continue_on_error`) blocks the incident until someone
 * retries, overrides or aborts — one retry loop, for phases and for lifting
 * containment alike.
 */
import * as wf from '@temporalio/workflow';
import { actionSpec } from '../../lib/actions.js';
import { PHASE_TITLES, type PhaseName } from '../../lib/runbook/types.js';
import type { IncidentState, OverrideInput, RetryInput, StepStatus } from '../definitions.js';
import { HISTORY_GUARD_EVENTS, RETRY_LIMIT, textProblem } from '../../lib/limits.js';
import { approverProblem, participantProblem, refuse } from './authz.js';
import { checkDecision, takeDecision } from './identity.js';
import type { IncidentRun } from './state.js';
import { runStep } from './steps.js';

/** Done, or failed without blocking (`continue_on_error`): a step that needs it may run. */
function needSatisfied(run: IncidentRun, id: string): boolean {
  const st = run.step(id);
  if (st.state === 'succeeded' || st.state === 'skipped' || st.state === 'planned' || st.state === 'overridden') return true;
  return st.state === 'failed' && run.spec(id).continueOnError;
}

/** Run the given steps of a phase: concurrently, each after its `needs`. */
async function runSteps(run: IncidentRun, phase: PhaseName, ids: string[]): Promise<void> {
  const running = new Map<string, Promise<boolean>>();
  const start = (id: string): Promise<boolean> => {
    let p = running.get(id);
    if (!p) {
      const spec = run.spec(id);
      p = (async () => {
        const needs = await Promise.all(
          spec.needs.map(async (n) => {
            if (!ids.includes(n)) return needSatisfied(run, n);
            if (await start(n)) return needSatisfied(run, n);
            // A same-phase need that failed with continue_on_error used to cancel its dependants.
            return needSatisfied(run, n) && wf.patched('continue-on-error-needs');
          }),
        );
        if (!needs.every(Boolean)) {
          const st = run.step(id);
          st.state = 'cancelled';
          st.error = `not run: it needs ${spec.needs.filter((n) => !needSatisfied(run, n)).join(', ')}`;
          return false;
        }
        return runStep(run, spec);
      })();
      running.set(id, p);
    }
    return p;
  };
  await Promise.all(ids.filter((id) => run.step(id).phase === phase).map(start));
}

/**
 * THE retry loop: `attempt` (false: stop, the incident is aborting), then while
 * `blocked()` names what did not succeed, the incident is blocked until retry (or an
 * override) or abort. Resumes as `resumeAs`. False when it ended in abort.
 */
export async function untilUnblocked(run: IncidentRun, attempt: () => Promise<boolean>, blocked: () => string | undefined, resumeAs: IncidentState | undefined): Promise<boolean> {
  for (;;) {
    if (!(await attempt())) return false;
    const message = blocked();
    if (message === undefined) return true;
    run.pinned = 'blocked';
    run.note({ kind: 'phase', message });
    run.event('blocked', `incident blocked: ${message}`);
    run.refresh();
    run.retryRequested = false;
    await wf.condition(() => run.retryRequested || run.aborting);
    if (run.aborting) return false;
    run.pin(resumeAs);
  }
}

/** Run one phase to the end; false when the incident is aborting. */
export async function runPhase(run: IncidentRun, phase: PhaseName): Promise<boolean> {
  const { status, doc } = run;
  status.phase = phase;
  run.note({ kind: 'phase', message: `${PHASE_TITLES[phase]} started` });
  run.refresh();
  let blocking = doc.phases[phase];
  const done = await untilUnblocked(
    run,
    async () => {
      // Overridden steps are done; everything else that did not succeed runs (again).
      await runSteps(run, phase, blocking.filter((s) => run.step(s.id).state !== 'overridden').map((s) => s.id));
      return !run.aborting;
    },
    () => {
      blocking = doc.phases[phase].filter((s) => {
        const st = run.step(s.id).state;
        return (st === 'failed' && !s.continueOnError) || st === 'cancelled';
      });
      return blocking.length ? `${PHASE_TITLES[phase]} blocked: ${blocking.map((s) => s.id).join(', ')} did not succeed; retry or abort` : undefined;
    },
    undefined,
  );
  if (done) run.note({ kind: 'phase', message: `${PHASE_TITLES[phase]} done` });
  return done;
}

// ---- the retry and override updates ----------------------------------------

export function validateRetry(run: IncidentRun, req: RetryInput): void {
  if (run.status.state !== 'blocked') throw new Error(`nothing to retry: the incident is ${run.status.state}`);
  if (run.retries >= RETRY_LIMIT) refuse(`this incident has been retried ${run.retries} times, the most it takes (${RETRY_LIMIT}): override the failed step or abort`);
  if (run.historyFull()) refuse(`this incident's history is near Temporal's limit (${HISTORY_GUARD_EVENTS} events): retries are no longer taken; override the failed step or abort`);
  const { actor, via } = checkDecision(run, req, { kind: 'retry' });
  if (via !== 'drill-robot') refuse(participantProblem(run.roster(), actor, 'retry steps of'));
}

export function retry(run: IncidentRun, req: RetryInput): string[] {
  const { actor } = takeDecision(run, req, 'retry');
  run.retries += 1;
  run.retryRequested = true;
  run.note({ kind: 'retry', by: actor.user, message: `${actor.user} asked to retry the failed steps` });
  return run.status.steps.filter((s) => s.state === 'failed' || s.state === 'cancelled').map((s) => s.id);
}

export function validateOverride(run: IncidentRun, req: OverrideInput): void {
  const st = run.status.steps.find((x) => x.id === req.step);
  if (!st) throw new Error(`no step "${req.step}"`);
  if (st.state !== 'failed') throw new Error(`step ${req.step} is ${st.state}; only a failed step can be overridden`);
  if (!actionSpec(st.action)?.overridable) throw new Error(`a failure of ${st.action} cannot be overridden (retry it or abort)`);
  if (typeof req.reason !== 'string' || !req.reason.trim()) throw new Error('an override needs a reason');
  refuse(textProblem('reason', req.reason, 'an override reason'));
  const { actor, via } = checkDecision(run, req, { kind: 'override', step: req.step, reason: req.reason });
  if (via !== 'drill-robot') refuse(approverProblem(run.roster(), actor, 'override failed steps'));
}

/** An approver goes on without a failed step (recorded); the blocked phase resumes. */
export function override(run: IncidentRun, req: OverrideInput): StepStatus {
  const { actor } = takeDecision(run, req, 'override');
  const st = run.step(req.step);
  st.state = 'overridden';
  st.summary = `overridden by ${actor.user}: ${req.reason}`;
  run.note({ kind: 'approval', by: actor.user, step: req.step, message: `${actor.user} OVERRODE the failure of ${req.step} (${st.error ?? ''}): ${req.reason}` });
  run.retryRequested = true;
  return st;
}
