/** Looking at incidents: status, the GDPR clock, the list, and waiting for a state. */
import type { Client } from '@temporalio/client';
import { OperationError } from '../errors.js';
import { gdprWorkflowId, incidentIdOf } from '../ids.js';
import { SA } from '../search-attributes.js';
import { INCIDENT_WORKFLOW, statusQuery, type IncidentState, type IncidentStatus } from '../../workflows/definitions.js';
import { noticeStatusQuery, type NoticeStatus } from '../../workflows/notice-definitions.js';
import { handleFor, isNotFound, toWorkflowId } from './handles.js';
import type { IncidentSummary } from './types.js';

/** States an incident never leaves. */
export const TERMINAL: IncidentState[] = ['completed', 'aborted', 'rejected'];
/** States in which nothing happens until a person acts: an approval, the all-clear, a retry or an abort. */
export const NEEDS_HUMAN: IncidentState[] = ['awaiting-approval', 'awaiting-resolve', 'blocked'];

export const isTerminal = (s: Pick<IncidentStatus, 'state'>): boolean => TERMINAL.includes(s.state);

/** The `--wait` predicate of every front door: the incident ended, or it waits for a person. */
export const needsHumanOrEnded = (s: Pick<IncidentStatus, 'state'>): boolean => isTerminal(s) || NEEDS_HUMAN.includes(s.state);

/**
 * Exit code of `declare --wait` for the state it stopped in: 2 rejected (invalid
 * arguments, nothing done), 1 blocked or aborted (a step failed; needs retry or
 * abort), 0 otherwise (completed, or waiting for an approval or the all-clear).
 */
export function waitExitCode(state: IncidentState): number {
  if (state === 'rejected') return 2;
  return state === 'blocked' || state === 'aborted' ? 1 : 0;
}

export async function getStatus(client: Client, id: string): Promise<IncidentStatus> {
  try {
    return await handleFor(client, id).query(statusQuery);
  } catch (err) {
    if (isNotFound(err)) throw new OperationError(`no incident ${id}`);
    throw err;
  }
}

/** The GDPR clock of an incident (its own workflow), or undefined when personal data was never marked. */
export async function getNoticeStatus(client: Client, id: string): Promise<NoticeStatus | undefined> {
  const incidentId = incidentIdOf(toWorkflowId(id));
  try {
    return await client.workflow.getHandle(gdprWorkflowId(incidentId)).query(noticeStatusQuery);
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

export interface ListOptions {
  /** Only running incidents. */
  open?: boolean;
  /** Only incidents that closed after this moment (with `open`: neither is listed). */
  closedAfter?: Date;
  /** Only incidents on this task queue (one Firebreak deployment's). */
  taskQueue?: string;
  limit?: number;
}

/** A value inside a visibility query's single quotes. */
const quoted = (v: string): string => `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

export async function listIncidents(client: Client, opts: ListOptions = {}): Promise<IncidentSummary[]> {
  const clauses = [`WorkflowType = '${INCIDENT_WORKFLOW}'`];
  if (opts.open) clauses.push(`ExecutionStatus = 'Running'`);
  if (opts.closedAfter) clauses.push(`CloseTime > '${opts.closedAfter.toISOString()}'`);
  if (opts.taskQueue !== undefined) clauses.push(`TaskQueue = ${quoted(opts.taskQueue)}`);
  const out: IncidentSummary[] = [];
  const limit = opts.limit ?? 50;
  for await (const wf of client.workflow.list({ query: clauses.join(' AND ') })) {
    const sa = wf.typedSearchAttributes;
    out.push({
      id: sa.get(SA.incidentId) ?? incidentIdOf(wf.workflowId),
      workflowId: wf.workflowId,
      status: wf.status.name,
      runbook: sa.get(SA.runbook),
      severity: sa.get(SA.severity),
      mode: sa.get(SA.mode),
      phase: sa.get(SA.phase),
      state: sa.get(SA.state),
      startTime: wf.startTime.toISOString(),
      closeTime: wf.closeTime?.toISOString() ?? null,
    });
    if (out.length >= limit) break;
  }
  return out;
}

export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
  /** Called with each status that differs from the last one seen (state, phase, steps, gates). */
  onChange?: (s: IncidentStatus) => void;
}

/** Poll until `done(status)` or the deadline; calls `onChange` when the status changes. */
export async function waitFor(client: Client, id: string, done: (s: IncidentStatus) => boolean, opts: WaitOptions = {}): Promise<IncidentStatus> {
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  let last = '';
  for (;;) {
    const s = await getStatus(client, id);
    const key = JSON.stringify([s.state, s.phase, s.steps.map((x) => x.state), s.gates.map((g) => [g.state, g.approvals.length])]);
    if (key !== last) {
      last = key;
      opts.onChange?.(s);
    }
    if (done(s)) return s;
    if (Date.now() > deadline) throw new OperationError(`timed out waiting for ${id} (state ${s.state}, phase ${s.phase})`);
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 250));
  }
}
