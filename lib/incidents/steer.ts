/** Steering an incident: every human decision is a workflow update, validated inside the workflow. */
import type { Client } from '@temporalio/client';
import { OperationError } from '../errors.js';
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
  type Actor,
  type ChecklistStatus,
  type GateStatus,
  type IncidentState,
  type IncidentStatus,
  type StepStatus,
} from '../../workflows/definitions.js';
import { noticeSentUpdate, type NoticeStatus } from '../../workflows/notice-definitions.js';
import { isNotFound, refusedUpdate, toWorkflowId, updateIncident } from './handles.js';
import { getStatus } from './queries.js';

/** Approve a gate for exactly the arguments it shows now. */
export async function approveGate(client: Client, id: string, gate: string, actor: Actor, comment?: string, expectedHash?: string): Promise<GateStatus> {
  const status = await getStatus(client, id);
  const open = status.gates.find((g) => g.id === gate && g.state === 'open');
  if (!open) {
    const gates = status.gates.filter((g) => g.state === 'open').map((g) => g.id);
    throw new OperationError(`no open gate "${gate}" on ${status.id} (open: ${gates.join(', ') || 'none'})`);
  }
  if (expectedHash && !open.argsHash.startsWith(expectedHash)) {
    throw new OperationError(`gate "${gate}" has arguments ${open.argsHash.slice(0, 12)}…, not ${expectedHash}: read the status again`);
  }
  return updateIncident(client, id, (h) => h.executeUpdate(approveUpdate, { args: [{ gate, argsHash: open.argsHash, actor, comment }] }));
}

export async function abortIncident(client: Client, id: string, reason: string, actor: Actor): Promise<IncidentState> {
  return updateIncident(client, id, (h) => h.executeUpdate(abortUpdate, { args: [{ reason, actor }] }));
}

export async function resolveIncident(client: Client, id: string, actor: Actor, comment?: string): Promise<GateStatus> {
  return updateIncident(client, id, (h) => h.executeUpdate(resolveUpdate, { args: [{ actor, comment }] }));
}

export async function addNote(client: Client, id: string, text: string, actor: Actor): Promise<number> {
  return updateIncident(client, id, (h) => h.executeUpdate(noteUpdate, { args: [{ text, actor }] }));
}

export async function confirmItem(client: Client, id: string, step: string, item: string, actor: Actor, note?: string): Promise<ChecklistStatus> {
  return updateIncident(client, id, (h) => h.executeUpdate(confirmItemUpdate, { args: [{ step, item, actor, note }] }));
}

export async function waiveItem(client: Client, id: string, step: string, item: string, actor: Actor, reason: string): Promise<ChecklistStatus> {
  return updateIncident(client, id, (h) => h.executeUpdate(waiveItemUpdate, { args: [{ step, item, actor, note: reason }] }));
}

export async function overrideStep(client: Client, id: string, step: string, actor: Actor, reason: string): Promise<StepStatus> {
  return updateIncident(client, id, (h) => h.executeUpdate(overrideUpdate, { args: [{ step, reason, actor }] }));
}

export async function retryIncident(client: Client, id: string, actor: Actor): Promise<string[]> {
  return updateIncident(client, id, (h) => h.executeUpdate(retryUpdate, { args: [{ actor }] }));
}

export async function markPersonalData(client: Client, id: string, actor: Actor, opts: { awareAt?: string; highRisk?: boolean } = {}): Promise<NonNullable<IncidentStatus['notice']>> {
  if (opts.awareAt !== undefined) pastMoment('--aware-at', opts.awareAt);
  return updateIncident(client, id, (h) => h.executeUpdate(markPersonalDataUpdate, { args: [{ actor, ...opts }] }));
}

/** Record on the incident's GDPR clock that the Art. 33 notice went out (stops the reminders). */
export async function recordNoticeSent(client: Client, id: string, actor: Actor, opts: { at?: string; reference?: string } = {}): Promise<NoticeStatus> {
  const incidentId = incidentIdOf(toWorkflowId(id));
  try {
    return await client.workflow.getHandle(gdprWorkflowId(incidentId)).executeUpdate(noticeSentUpdate, { args: [{ actor, ...opts }] });
  } catch (err) {
    const refused = refusedUpdate(err);
    if (refused) throw refused;
    if (isNotFound(err)) throw new OperationError(`incident ${incidentId} has no running GDPR clock (mark personal data first, in live mode)`);
    throw err;
  }
}
