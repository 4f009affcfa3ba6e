/**
 * Human decisions the incident waits for: step gates, the all-clear, and (through
 * `awaitHumans`) checklists. One wait loop for all of them, on durable timers that
 * escalate or remind each time they expire. Votes are Updates whose validators
 * apply ./authz.ts.
 */
import * as wf from '@temporalio/workflow';
import { argsHash } from '../../lib/canonical.js';
import { gateHash } from '../../lib/policy/decisions.js';
import type { StepSpec } from '../../lib/runbook/types.js';
import type { ApproveInput, GateStatus, ResolveInput } from '../definitions.js';
import { HISTORY_GUARD_EVENTS, reminderIntervalMs, textProblem } from '../../lib/limits.js';
import { refuse, voteProblem } from './authz.js';
import { checkDecision, takeDecision, type Decider } from './identity.js';
import { refreshRegistry } from './proxies.js';
import type { IncidentRun, UndoEntry } from './state.js';

/** The hash a gate's votes sign: under the worker's policy it binds the incident id too. */
export function hashFor(run: IncidentRun, action: string, args: Record<string, unknown>): string {
  return run.policy ? gateHash(run.input.incidentId, action, args) : argsHash(action, args);
}

/** Key revocations in the worker's policy take effect on open incidents: re-read at each gate. */
async function rereadRegistry(run: IncidentRun): Promise<void> {
  if (!run.policy?.authenticated) return;
  run.registry = (await refreshRegistry()).registry;
}

/**
 * THE wait loop: until `decided()` or the incident aborts, calling `remind()` each
 * time `everyMs` passes without a decision; then `after()`, in the same turn (callers
 * rely on that: concurrent steps must issue their commands in the same order on replay).
 */
export async function awaitHumans<T>(run: IncidentRun, decided: () => boolean, everyMs: number, remind: () => void, after: () => T): Promise<T> {
  await remindUntil(run, () => decided() || run.aborting, everyMs, remind);
  return after();
}

/**
 * Wait until `done()`, calling `remind()` each time the wait passes. Reminders back off
 * (lib/limits.ts) and stop near the history limit: one participant's patience must not be
 * able to end the incident's history.
 */
async function remindUntil(run: IncidentRun, done: () => boolean, everyMs: number, remind: () => void): Promise<void> {
  const bounded = wf.patched('bounded-reminders');
  for (let n = 0; !done(); n++) {
    if (bounded && run.historyFull()) {
      run.note({ kind: 'escalation', message: `escalations and reminders stopped: the incident's history is near Temporal's limit (${HISTORY_GUARD_EVENTS} events); it still waits for the decision` });
      await wf.condition(done);
      return;
    }
    if (!(await wf.condition(done, bounded ? reminderIntervalMs(everyMs, n) : everyMs))) remind();
  }
}

function escalate(run: IncidentRun, gate: GateStatus): void {
  gate.escalations += 1;
  const waiting = gate.required - gate.approvals.length;
  const message = `gate ${gate.id} still needs ${waiting} approval(s) from ${gate.group} (escalation ${gate.escalations})`;
  run.note({ kind: 'escalation', step: gate.id, message });
  run.event('escalation', message);
  wf.log.warn(message, { incidentId: run.input.incidentId, gate: gate.id, escalations: gate.escalations });
}

function awaitGate<T>(run: IncidentRun, gate: GateStatus, escalateAfterMs: number, after: () => T): Promise<T> {
  return awaitHumans(run, () => gate.state !== 'open', escalateAfterMs, () => escalate(run, gate), after);
}

/**
 * A step's approval gate for `args` (what approvers see and approve): true to go on,
 * false when the incident aborted first. A retried step keeps the approval of identical arguments.
 */
export async function stepGate(run: IncidentRun, spec: StepSpec, args: Record<string, unknown>): Promise<boolean> {
  const approval = spec.approval;
  if (!approval) return true;
  const hash = hashFor(run, spec.action, args);
  const status = run.status;
  if (status.gates.some((g) => g.id === spec.id && g.state === 'approved' && g.argsHash === hash)) return true;
  await rereadRegistry(run);
  status.gates = status.gates.filter((g) => !(g.id === spec.id && g.state === 'open'));
  // Shown without sensitive values (the hash covers the real ones).
  const shown = run.shown(args);
  const gate: GateStatus = { id: spec.id, group: approval.group, required: approval.count, approvals: [], argsHash: hash, args: shown, openedAt: run.now(), escalations: 0, state: 'open' };
  status.gates.push(gate);
  run.step(spec.id).state = 'awaiting-approval';
  run.note({ kind: 'gate', step: spec.id, message: `${spec.id} waits for ${approval.count} approval(s) from group ${approval.group}` });
  run.event('gate-opened', `gate ${spec.id} (${spec.action}) is open: it waits for ${approval.count} approval(s) from group ${approval.group}; arguments ${hash.slice(0, 12)}`, { gate });
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
  await rereadRegistry(run);
  const r = run.doc.resolve.approval;
  const gate: GateStatus = {
    id: 'resolve',
    group: r.group,
    required: r.count,
    approvals: [],
    args: { lift: lift.map((u) => ({ step: u.stepId, action: u.action })) },
    argsHash: hashFor(run, 'resolve', { lift: lift.map((u) => u.stepId) }),
    openedAt: run.now(),
    escalations: 0,
    state: 'open',
  };
  run.status.gates.push(gate);
  run.pinned = 'awaiting-resolve';
  run.note({ kind: 'gate', step: 'resolve', message: `containment in force (${lift.map((u) => u.stepId).join(', ')}): waiting for the all-clear from ${r.count} of ${r.group}` });
  run.event('gate-opened', `the all-clear is open: it waits for ${r.count} approval(s) from group ${r.group} to lift ${lift.map((u) => u.stepId).join(', ')}`, { gate });
  run.refresh();
  await awaitGate(run, gate, r.escalateAfterMs, () => undefined);
}

/**
 * Rolling back containment that people approved needs the all-clear's approval: an abort
 * stops pending work, then the incident waits, open, until that approval comes. Unlike the
 * other waits, abort cannot end this one: it is what abort is waiting for.
 */
export async function rollbackGate(run: IncidentRun, held: UndoEntry[]): Promise<void> {
  await rereadRegistry(run);
  const r = run.doc.resolve.approval;
  const ids = held.map((u) => u.stepId);
  const gate: GateStatus = {
    id: 'rollback',
    group: r.group,
    required: r.count,
    approvals: [],
    args: { lift: held.map((u) => ({ step: u.stepId, action: u.action })) },
    argsHash: hashFor(run, 'rollback', { lift: ids }),
    openedAt: run.now(),
    escalations: 0,
    state: 'open',
  };
  run.status.gates = run.status.gates.filter((g) => g.id !== 'rollback');
  run.status.gates.push(gate);
  run.pin('rolling-back');
  run.event('gate-opened', `aborted with approved containment in force (${ids.join(', ')}): rolling it back waits for ${r.count} approval(s) from group ${r.group}`);
  run.note({ kind: 'gate', step: 'rollback', message: `aborted with approved containment in force (${ids.join(', ')}): rolling it back needs ${r.count} approval(s) from ${r.group}, as the all-clear would (firebreak resolve)` });
  await remindUntil(run, () => gate.state !== 'open', r.escalateAfterMs, () => escalate(run, gate));
  run.note({ kind: 'gate', step: 'rollback', message: `rollback approved by ${gate.approvals.map((v) => v.by).join(', ')}` });
}

function addVote(gate: GateStatus, d: Decider, at: string): void {
  gate.approvals.push({ by: d.actor.user, host: d.actor.host, at, ...(d.keyId && { keyId: d.keyId, via: d.via }), ...(d.signed && { signed: d.signed }) });
  if (gate.approvals.length >= gate.required) gate.state = 'approved';
}

const openGateNamed = (run: IncidentRun, id: string): GateStatus | undefined => run.status.gates.find((g) => g.id === id && g.state === 'open');

// ---- the approve and resolve updates ---------------------------------------

const signedBy = (d: Decider): string => (d.keyId ? ` (signed ${d.keyId}, ${d.via})` : '');

export function validateApprove(run: IncidentRun, req: ApproveInput): void {
  refuse(textProblem('comment', req.comment, 'a comment'));
  const gate = openGateNamed(run, req.gate);
  // Cheap checks first: an unknown gate or a stale hash is refused without verifying a signature.
  if (!gate) refuse(`no gate "${req.gate}" is open on this incident`);
  if (typeof req.argsHash !== 'string' || req.argsHash !== gate?.argsHash) {
    refuse(`approval is for arguments ${String(req.argsHash).slice(0, 12)}…, but gate "${req.gate}" now has ${gate?.argsHash.slice(0, 12)}…: read the status again and approve what it shows`);
  }
  const d = checkDecision(run, req, { kind: 'approve', gate: req.gate, argsHash: req.argsHash });
  refuse(voteProblem(run.roster(), gate, req.gate, d.actor, req.argsHash, { via: d.via, personalVote: run.policy?.personalVote }));
}

export function approve(run: IncidentRun, req: ApproveInput): GateStatus {
  const gate = openGateNamed(run, req.gate) as GateStatus;
  const d = takeDecision(run, req, 'approve');
  addVote(gate, d, run.now());
  run.note({ kind: 'approval', by: d.actor.user, step: req.gate, message: `${d.actor.user}@${d.actor.host} approved ${req.gate}${signedBy(d)}${req.comment ? `: ${req.comment}` : ''}` });
  run.refresh();
  return gate;
}

/** The gate `resolve` votes on: the all-clear, or the rollback of an aborted incident. */
const resolveGateOf = (run: IncidentRun): 'resolve' | 'rollback' => (run.status.state === 'rolling-back' ? 'rollback' : 'resolve');

export function validateResolve(run: IncidentRun, req: ResolveInput): void {
  refuse(textProblem('comment', req.comment, 'a comment'));
  const status = run.status;
  if (status.state !== 'awaiting-resolve' && status.state !== 'rolling-back') {
    throw new Error(`resolve is accepted once phases I–III are done and containment is in force (now: phase ${status.phase}, state ${status.state}); use abort to roll back instead`);
  }
  const id = resolveGateOf(run);
  const gate = openGateNamed(run, id);
  if (!gate) refuse(`no gate "${id}" is open on this incident`);
  const d = checkDecision(run, req, { kind: 'resolve', gate: id, argsHash: gate?.argsHash ?? '' });
  refuse(voteProblem(run.roster(), gate, id, d.actor, undefined, { via: d.via, personalVote: run.policy?.personalVote }));
}

export function resolve(run: IncidentRun, req: ResolveInput): GateStatus {
  const id = resolveGateOf(run);
  const gate = openGateNamed(run, id) as GateStatus;
  const d = takeDecision(run, req, 'resolve');
  addVote(gate, d, run.now());
  const what = id === 'rollback' ? 'approved the rollback' : 'gave the all-clear';
  run.note({ kind: 'resolve', by: d.actor.user, message: `${d.actor.user} ${what}${signedBy(d)}${req.comment ? `: ${req.comment}` : ''}` });
  run.refresh();
  return gate;
}
