/**
 * How the interpreter reaches activities: one proxy per step (the catalog's
 * timeouts, the step's retry overrides) and the engine's own checks. Activities
 * are imported type-only; the worker registers the implementations.
 */
import * as wf from '@temporalio/workflow';
import type { createActivities } from '../../activities/index.js';
import type { ActivityActionSpec } from '../../lib/actions.js';
import type { StepSpec } from '../../lib/runbook/types.js';
import { FailureTypes, type ActionInput, type ActionResult } from '../definitions.js';

type Activities = ReturnType<typeof createActivities>;
export type ActionFn = (input: ActionInput) => Promise<ActionResult>;

const DEFAULT_ATTEMPTS = 5;
/**
 * The worker heartbeats for an activity with a heartbeat timeout until it heartbeats itself
 * (worker/keep-alive.ts): a worker killed mid-step loses the attempt after this, not after the
 * step's whole timeout.
 */
const HEARTBEAT_MS = 15_000;
/** Bad input and refusals do not get better by trying again. */
const NON_RETRYABLE = [FailureTypes.BadInput, FailureTypes.Refused];

/** The activity that runs `action` for `spec`. */
export function actionActivity(spec: StepSpec, action: ActivityActionSpec): ActionFn {
  const acts = wf.proxyActivities<Activities>({
    startToCloseTimeout: spec.timeoutMs ?? action.timeoutMs,
    heartbeatTimeout: action.heartbeatTimeoutMs ?? HEARTBEAT_MS,
    retry: {
      maximumAttempts: spec.retry?.maximumAttempts ?? DEFAULT_ATTEMPTS,
      initialInterval: spec.retry?.initialIntervalMs ?? 500,
      maximumInterval: spec.retry?.maximumIntervalMs ?? 10_000,
      backoffCoefficient: spec.retry?.backoffCoefficient ?? 2,
      nonRetryableErrorTypes: NON_RETRYABLE,
    },
  });
  return (acts as unknown as Record<string, ActionFn>)[action.activity] as ActionFn;
}

/** The engine's own checks on the worker (argument validation, effective arguments). */
export const engineChecks = wf.proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  heartbeatTimeout: HEARTBEAT_MS,
  retry: { maximumAttempts: 5, initialInterval: 500, maximumInterval: 10_000, nonRetryableErrorTypes: NON_RETRYABLE },
});

/** One line for the timeline: the failure type (when typed) and the activity's message, not the wrapper's. */
export function failureMessage(err: unknown): string {
  if (err instanceof wf.ActivityFailure && err.cause) {
    const cause = err.cause;
    const type = cause instanceof wf.ApplicationFailure && cause.type ? `${cause.type}: ` : '';
    return `${type}${cause.message}`;
  }
  return err instanceof Error ? err.message : String(err);
}

/**
 * The worker's policy and its registry re-read at a gate: ordinary activities, recorded in
 * history. Not local activities: with the policy as a local activity followed by
 * `patched('validate-args')` in the same workflow task, replaying the history failed as
 * nondeterministic (the patch marker was met while the workflow still awaited the local
 * activity), and a later patch next to a gate's re-read would risk the same.
 */
export const { loadIncidentPolicy, refreshRegistry } = wf.proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  heartbeatTimeout: HEARTBEAT_MS,
  retry: { maximumAttempts: 5, initialInterval: 200, maximumInterval: 5_000, nonRetryableErrorTypes: NON_RETRYABLE },
});
