/**
 * Human decisions the incident waits for: step gates, the all-clear, and (through
 * `awaitHumans`) checklists. One wait loop for all of them, on durable timers that
 * escalate or remind each time they expire. Votes are Updates whose validators
 * apply ./authz.ts.
 */
import * as wf from '@temporalio/workflow';
import { argsHash } from '../../lib/canonical.js';
import type { StepSpec } from '../../lib/runbook/types.js';
import type { Actor, ApproveInput, GateStatus, ResolveInput } from '../definitions.js';
import { refuse, voteProblem } from './authz.js';
import type { IncidentRun, UndoEntry } from './state.js';

/**
 * THE wait loop: until `decided()` or the incident aborts, calling `remind()` each
 * time `everyMs` passes without a decision; then `after()`, in the same turn (callers
 * rely on that: concurrent steps must issue their commands in the same order on replay).
 */
export async function awaitHumans<T>(run: IncidentRun, decided: () => boolean, everyMs: number, remind: () => void, after: () => T): Promise<T> {
  while (!decided() && !run.aborting) {
    if (!(await wf.condition(() => decided() || run.aborting, everyMs))) remind();
  }
  return after();
}

function escalate(run: IncidentRun, gate: GateStatus): void {
  gate.escalations += 1;
  const waiting = gate.required - gate.approvals.length;
  const message = `gate ${gate.id} still needs ${waiting} approval(s) from ${gate.group} (escalation ${gate.escalations})`;
  run.note({ kind: 'escalation', step: gate.id, message });
  wf.log.warn(message, { incidentId: run.input.incidentId, gate: gate.id, escalations: gate.escalations });
}

function awaitGate<T>(run: IncidentRun, gate: GateStatus, escalateAfterMs: number, after: () => T): Promise<T> {
  return awaitHumans(run, () => gate.state !== 'open', escalateAfterMs, () => escalate(run, gate), after);
}

/**
 * A step's approval gate for `args` (what approvers see and approve): true to go on,
 * false when the incident aborted first. A retried step keeps the approval of identical arguments.
 */
export function stepGate(run: IncidentRun, spec: StepSpec, args: Record<string, unknown>): Promise<boolean> {
  const approval = spec.approval;
  if (!approval) return Promise.resolve(true);
  const hash = argsHash(spec.action, args);
  const status = run.status;
  if (status.gates.some((g) => g.id === spec.id && g.state === 'approved' && g.argsHash === hash)) return Promise.resolve(true);
  status.gates = status.gates.filter((g) => !(g.id === spec.id && g.state === 'open'));
  const gate: GateStatus = { id: spec.id, group: approval.group, required: approval.count, approvals: [], argsHash: hash, args, openedAt: run.now(), escalations: 0, state: 'open' };
  status.gates.push(gate);
  run.step(spec.id).state = 'awaiting-approval';
  run.note({ kind: 'gate', step: spec.id, message: `${spec.id} waits for ${approval.count} approval(s) from group ${approval.group}` });
  run.refresh();
  return awaitGate(run, gate, approval.escalateAfterMs, () => {
    if (gate.state !== 'approved') {
      gate.state = 'cancelled';
      run.refresh();
      return false;
    }
    run.note({ kind: 'gate', step: spec.id, message: `${spec.id} approved by ${gate.approvals.map((v) => v.by).join(', ')}` });
    run.refresh();
    return true;
  });
}

/** The all-clear gate over what would be lifted; resolves when decided or aborting (the caller tells which). */
export async function allClearGate(run: IncidentRun, lift: UndoEntry[]): Promise<void> {
  const r = run.doc.resolve.approval;
  const gate: GateStatus = {
    id: 'resolve',
    group: r.group,
    required: r.count,
    approvals: [],
    args: { lift: lift.map((u) => ({ step: u.stepId, action: u.action })) },
    argsHash: argsHash('resolve', { lift: lift.map((u) => u.stepId) }),
    openedAt: run.now(),
    escalations: 0,
    state: 'open',
  };
  run.status.gates.push(gate);
  run.pinned = 'awaiting-resolve';
  run.note({ kind: 'gate', step: 'resolve', message: `containment in force (${lift.map((u) => u.stepId).join(', ')}): waiting for the all-clear from ${r.count} of ${r.group}` });
  run.refresh();
  await awaitGate(run, gate, r.escalateAfterMs, () => undefined);
}

function addVote(gate: GateStatus, actor: Actor, at: string): void {
  gate.approvals.push({ by: actor.user, host: actor.host, at });
  if (gate.approvals.length >= gate.required) gate.state = 'approved';
}

const openGateNamed = (run: IncidentRun, id: string): GateStatus | undefined => run.status.gates.find((g) => g.id === id && g.state === 'open');

// ---- the approve and resolve updates ---------------------------------------

export function validateApprove(run: IncidentRun, req: ApproveInput): void {
  refuse(voteProblem(run.input, openGateNamed(run, req.gate), req.gate, req.actor, req.argsHash));
}

export function approve(run: IncidentRun, req: ApproveInput): GateStatus {
  const gate = openGateNamed(run, req.gate) as GateStatus;
  addVote(gate, req.actor, run.now());
  run.note({ kind: 'approval', by: req.actor.user, step: req.gate, message: `${req.actor.user}@${req.actor.host} approved ${req.gate}${req.comment ? `: ${req.comment}` : ''}` });
  run.refresh();
  return gate;
}

export function validateResolve(run: IncidentRun, req: ResolveInput): void {
  const status = run.status;
  if (status.state !== 'awaiting-resolve') {
    throw new Error(`resolve is accepted once phases I–III are done and containment is in force (now: phase ${status.phase}, state ${status.state}); use abort to roll back instead`);
  }
  refuse(voteProblem(run.input, openGateNamed(run, 'resolve'), 'resolve', req.actor));
}

export function resolve(run: IncidentRun, req: ResolveInput): GateStatus {
  const gate = openGateNamed(run, 'resolve') as GateStatus;
  addVote(gate, req.actor, run.now());
  run.note({ kind: 'resolve', by: req.actor.user, message: `${req.actor.user} gave the all-clear${req.comment ? `: ${req.comment}` : ''}` });
  run.refresh();
  return gate;
}
