/** The emergency kill-switch as intents: `on` declares (or joins) the target's lockdown incident, `off` gives its all-clear. */
import { OperationError } from '../errors.js';
import type { GateStatus, IncidentState, IncidentStatus } from '../../workflows/definitions.js';
import { findOpenByDedupKey, prepareDeclaration } from './declare.js';
import { followIntent, intentDone } from './intent.js';
import { isTerminal, waitFor } from './queries.js';
import { resolveIncident } from './steer.js';
import type { FollowOptions, FrontDoor, IntentOutcome, Principal } from './types.js';

const RUNBOOK = 'lockdown';
const ACTION = 'lockdown.enable';

/** One lockdown incident per target: a second `on` joins the open one. */
export const lockdownDedupKey = (target: string): string => `lockdown:${target}`;

export interface LockdownOnRequest {
  target?: string;
  reason: string;
  mode?: string;
  actor: Principal;
}

/** Declare (or join) the lockdown incident and wait until the flag is verified set; throws when it is not. */
export async function lockdownOn(door: FrontDoor, req: LockdownOnRequest, opts: FollowOptions = {}): Promise<IntentOutcome> {
  const target = req.target ?? door.config.defaultTarget;
  const prepared = prepareDeclaration(door.config, {
    runbook: RUNBOOK,
    params: { reason: req.reason },
    mode: req.mode,
    target,
    dedupKey: lockdownDedupKey(target),
    actor: req.actor,
  });
  const outcome = await followIntent(await door.client(), prepared, ACTION, opts);
  if (!intentDone(outcome)) throw new OperationError(`lockdown not confirmed: ${outcome.step?.error ?? outcome.status.state}`);
  return outcome;
}

export interface LockdownOffResult {
  id: string;
  state: IncidentState;
  gate: GateStatus;
  status: IncidentStatus;
  /**
   * What releasing this incident's hold did, once the all-clear ran it: `lockdown off (…)`, or
   * `lockdown stays ON: still held by …` when other incidents still hold it (a success: the
   * flag is lifted by the last holder's release).
   */
  lift?: string;
}

/** Give the all-clear on the target's open lockdown incident (two-person rule applies); throws when its release failed. */
export async function lockdownOff(door: FrontDoor, req: { target?: string; actor: Principal }): Promise<LockdownOffResult> {
  const client = await door.client();
  const target = req.target ?? door.config.defaultTarget;
  const open = await findOpenByDedupKey(client, lockdownDedupKey(target), door.config.temporal.taskQueue);
  if (!open) throw new OperationError(`no open lockdown incident for target ${target}`);
  const id = open.incidentId;
  const gate = await resolveIncident(client, id, req.actor);
  // Votes still missing: the incident stays awaiting-resolve. All-clear complete: wait until
  // containment is lifted and the incident ends, or blocks because the lift failed.
  const status = await waitFor(client, id, (x) => isTerminal(x) || x.state === 'blocked' || (gate.state !== 'approved' && x.state === 'awaiting-resolve'), { timeoutMs: 60_000 });
  const step = status.steps.find((x) => x.action === ACTION);
  if (gate.state === 'approved' && step?.state === 'succeeded') throw new OperationError(`lockdown not lifted: incident ${id} is ${status.state} with the flag still set (see firebreak status ${id}; then firebreak retry ${id})`);
  return { id, state: status.state, gate, status, ...(step?.state === 'undone' && step.summary !== undefined ? { lift: step.summary } : {}) };
}
