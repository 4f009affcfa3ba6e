/**
 * ExpiryWorkflow: a durable timer for something with an end date (IP bans).
 * Started by the incident with ParentClosePolicy ABANDON, so it outlives the
 * incident; sleeps until the moment, then runs the expiry action.
 */
import * as wf from '@temporalio/workflow';
import type { createActivities } from '../activities/index.js';
import { actionSpec, type ActivityActionSpec } from '../lib/actions.js';
import type { ActionInput, ActionResult, Mode } from './definitions.js';
import { syncEdges, withEdges } from './edges.js';

type Activities = ReturnType<typeof createActivities>;

export interface ExpiryInput {
  incidentId: string;
  stepId: string;
  target: string;
  mode: Mode;
  /** Action to run at `at` (from the catalog's `onExpiry`). */
  action: string;
  args: Record<string, unknown>;
  /** ISO time of the expiry. */
  at: string;
  /** The incident's signed declaration, for the worker's re-check (activities/authorize.ts). */
  authz?: ActionInput['authz'];
}

export async function ExpiryWorkflow(input: ExpiryInput): Promise<ActionResult> {
  const wait = Date.parse(input.at) - Date.now();
  // A margin so keys whose Redis TTL ends at `at` are gone when we look.
  if (wait > 0) await wf.sleep(wait + 1_000);
  const spec = actionSpec(input.action) as ActivityActionSpec;
  const acts = wf.proxyActivities<Activities>({
    startToCloseTimeout: spec.timeoutMs,
    heartbeatTimeout: spec.heartbeatTimeoutMs,
    retry: { initialInterval: 1_000, maximumInterval: 60_000, backoffCoefficient: 2 },
  });
  const fn = (acts as unknown as Record<string, (i: ActionInput) => Promise<ActionResult>>)[spec.activity] as (i: ActionInput) => Promise<ActionResult>;
  const result = await fn({
    incidentId: input.incidentId,
    stepId: `${input.stepId}.expiry`,
    action: input.action,
    target: input.target,
    mode: input.mode,
    args: input.args,
    requestedAt: new Date().toISOString(),
    ...(input.authz && { authz: input.authz }),
  });
  if (!result.edges || !wf.patched('edge-fanout')) return result;
  // No status to show it on: the waiting is in this workflow's history and the worker's log.
  const hooks = { waiting: (edge: string, why: string | undefined) => why && wf.log.warn(why, { edge }), note: (message: string) => wf.log.info(message) };
  return withEdges(result, await syncEdges(result.edges, hooks));
}
