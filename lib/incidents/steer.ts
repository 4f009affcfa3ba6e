/** Steering an incident: every human decision is a workflow update, validated inside the workflow. */
import type { Client } from '@temporalio/client';
import { OperationError, UsageError } from '../errors.js';
import { textProblem, type TextKind } from '../limits.js';
import { pastMoment } from './moments.js';
import { gdprWorkflowId, incidentIdOf } from '../ids.js';
import {
  abortUpdate,
  approveUpdate,
  confirmItemUpdate,
  markPersonalDataUpdate,
  noteUpdate,
  overrideUpdate,
  resolveUpdate,
  retryUpdate,
  waiveItemUpdate,
  type ChecklistStatus,
  type GateStatus,
  type IncidentState,
  type IncidentStatus,
  type StepStatus,
} from '../../workflows/definitions.js';
import { noticeSentUpdate, type NoticeStatus } from '../../workflows/notice-definitions.js';
import { isNotFound, refusedUpdate, toWorkflowId, updateIncident } from './handles.js';
import { getStatus } from './queries.js';
import { signDecision } from './sign.js';
import type { Principal } from './types.js';

/** A text over its limit is a usage error here, before anything is signed or sent (the workflow refuses it too). */
function limited(kind: TextKind, value: string | undefined, flag: string): void {
  const problem = textProblem(kind, value, flag);
  if (problem) throw new UsageError(problem);
}

/**
 * How a front door sends a decision. `updateId`: the Temporal Update id, derived by the front
 * door from the request it answers (e.g. Slack's user, incident, gate and hash), so a retried or
 * replayed request attaches to the first Update instead of deciding twice — Temporal dedupes it
 * for the life of the run, across front-door restarts.
 */
export interface SteerOptions {
  updateId?: string;
}

const UPDATE_ID = /^[A-Za-z0-9:._-]{1,200}$/;

function updateOptions(o: SteerOptions): { updateId?: string } {
  if (o.updateId === undefined) return {};
  if (!UPDATE_ID.test(o.updateId)) throw new UsageError('an update id is 1–200 letters, digits and : . _ -');
  return { updateId: o.updateId };
}

/** The incident id of an id or workflow id. */
const incidentOf = (id: string): string => incidentIdOf(toWorkflowId(id));

/** Approve a gate for exactly the arguments it shows now. `expectedHash`: at least 12 hex digits of what the approver read. */
export async function approveGate(client: Client, id: string, gate: string, actor: Principal, comment?: string, expectedHash?: string, opts: SteerOptions = {}): Promise<GateStatus> {
  limited('comment', comment, '--comment');
  const update = updateOptions(opts);
  if (expectedHash !== undefined && !/^[0-9a-f]{12,64}$/.test(expectedHash)) {
    throw new UsageError(`--hash takes at least 12 hex digits of the gate's argument hash (as status shows it), not "${expectedHash}"`);
  }
  const status = await getStatus(client, id);
  const open = status.gates.find((g) => g.id === gate && g.state === 'open');
  if (!open) {
    const gates = status.gates.filter((g) => g.state === 'open').map((g) => g.id);
    throw new OperationError(`no open gate "${gate}" on ${status.id} (open: ${gates.join(', ') || 'none'})`);
  }
  if (expectedHash && !open.argsHash.startsWith(expectedHash)) {
    throw new OperationError(`gate "${gate}" has arguments ${open.argsHash.slice(0, 12)}…, not ${expectedHash}: read the status again`);
  }
  const who = await signDecision(actor, status.id, { kind: 'approve', gate, argsHash: open.argsHash });
  return updateIncident(client, id, (h, updateId) => h.executeUpdate(approveUpdate, { updateId, args: [{ gate, argsHash: open.argsHash, comment, ...who }] }), update);
}

export async function abortIncident(client: Client, id: string, reason: string, actor: Principal): Promise<IncidentState> {
  limited('reason', reason, '--reason');
  const who = await signDecision(actor, incidentOf(id), { kind: 'abort', reason });
  return updateIncident(client, id, (h, updateId) => h.executeUpdate(abortUpdate, { updateId, args: [{ reason, ...who }] }));
}

/** The all-clear (or, for an aborted incident rolling back approved containment, its approval). */
export async function resolveIncident(client: Client, id: string, actor: Principal, comment?: string): Promise<GateStatus> {
  limited('comment', comment, '--comment');
  const status = await getStatus(client, id);
  const open = status.gates.find((g) => (g.id === 'resolve' || g.id === 'rollback') && g.state === 'open');
  const gate = open?.id ?? 'resolve';
  const who = await signDecision(actor, status.id, { kind: 'resolve', gate, argsHash: open?.argsHash ?? '' });
  return updateIncident(client, id, (h, updateId) => h.executeUpdate(resolveUpdate, { updateId, args: [{ comment, ...who }] }));
}

export async function addNote(client: Client, id: string, text: string, actor: Principal, opts: SteerOptions = {}): Promise<number> {
  limited('note', text, 'a note');
  const update = updateOptions(opts);
  const who = await signDecision(actor, incidentOf(id), { kind: 'note', text });
  return updateIncident(client, id, (h, updateId) => h.executeUpdate(noteUpdate, { updateId, args: [{ text, ...who }] }), update);
}

export async function confirmItem(client: Client, id: string, step: string, item: string, actor: Principal, note?: string): Promise<ChecklistStatus> {
  limited('comment', note, '--note');
  const who = await signDecision(actor, incidentOf(id), { kind: 'confirm', step, item, note });
  return updateIncident(client, id, (h, updateId) => h.executeUpdate(confirmItemUpdate, { updateId, args: [{ step, item, note, ...who }] }));
}

export async function waiveItem(client: Client, id: string, step: string, item: string, actor: Principal, reason: string): Promise<ChecklistStatus> {
  limited('reason', reason, '--reason');
  const who = await signDecision(actor, incidentOf(id), { kind: 'waive', step, item, note: reason });
  return updateIncident(client, id, (h, updateId) => h.executeUpdate(waiveItemUpdate, { updateId, args: [{ step, item, note: reason, ...who }] }));
}

export async function overrideStep(client: Client, id: string, step: string, actor: Principal, reason: string): Promise<StepStatus> {
  limited('reason', reason, '--reason');
  const who = await signDecision(actor, incidentOf(id), { kind: 'override', step, reason });
  return updateIncident(client, id, (h, updateId) => h.executeUpdate(overrideUpdate, { updateId, args: [{ step, reason, ...who }] }));
}

export async function retryIncident(client: Client, id: string, actor: Principal): Promise<string[]> {
  const who = await signDecision(actor, incidentOf(id), { kind: 'retry' });
  return updateIncident(client, id, (h, updateId) => h.executeUpdate(retryUpdate, { updateId, args: [who] }));
}

export async function markPersonalData(client: Client, id: string, actor: Principal, opts: { awareAt?: string; highRisk?: boolean } = {}): Promise<NonNullable<IncidentStatus['notice']>> {
  if (opts.awareAt !== undefined) pastMoment('--aware-at', opts.awareAt);
  const who = await signDecision(actor, incidentOf(id), { kind: 'personal-data', awareAt: opts.awareAt, highRisk: opts.highRisk });
  return updateIncident(client, id, (h, updateId) => h.executeUpdate(markPersonalDataUpdate, { updateId, args: [{ ...opts, ...who }] }));
}

/** Record on the incident's GDPR clock that the Art. 33 notice went out (stops the reminders). */
export async function recordNoticeSent(client: Client, id: string, actor: Principal, opts: { at?: string; reference?: string } = {}): Promise<NoticeStatus> {
  limited('reference', opts.reference, '--reference');
  const incidentId = incidentOf(id);
  const who = await signDecision(actor, incidentId, { kind: 'notice-sent', at: opts.at, reference: opts.reference });
  try {
    return await client.workflow.getHandle(gdprWorkflowId(incidentId)).executeUpdate(noticeSentUpdate, { args: [{ ...opts, ...who }] });
  } catch (err) {
    const refused = refusedUpdate(err);
    if (refused) throw refused;
    if (isNotFound(err)) throw new OperationError(`incident ${incidentId} has no running GDPR clock (mark personal data first, in live mode)`);
    throw err;
  }
}
