/**
 * The one way front doors (CLI, Slack, schedules, demo) talk to incidents:
 * validate, snapshot the runbook, start or update the workflow.
 */
import { randomBytes } from 'node:crypto';
import { Client, Connection, WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { WorkflowIdConflictPolicy } from '@temporalio/common';
import type { Config } from './config.js';
import { getTarget } from './config.js';
import { drillRefusal } from './drills.js';
import { argProblems, type ArgCheckContext } from './args/checks.js';
import { InvalidArgumentsError, OperationError, UsageError } from './errors.js';
import { planSteps } from './runbook/plan.js';
import { coerceParams, loadRunbook } from './runbook/loader.js';
import { SEVERITIES, type Severity } from './runbook/types.js';
import { incidentIdOf, WORKFLOW_ID_PREFIX } from './ids.js';
import { connectionOptions, dataConverter } from './temporal-connection.js';
import { gdprWorkflowId, noticeSentUpdate, noticeStatusQuery, type NoticeStatus } from '../workflows/notice-definitions.js';
import {
  abortUpdate,
  approveUpdate,
  confirmItemUpdate,
  INCIDENT_WORKFLOW,
  markPersonalDataUpdate,
  MODES,
  noteUpdate,
  overrideUpdate,
  resolveUpdate,
  retryUpdate,
  SA,
  statusQuery,
  waiveItemUpdate,
  workflowIdFor,
  type Actor,
  type ChecklistStatus,
  type GateStatus,
  type IncidentInput,
  type IncidentState,
  type IncidentStatus,
  type Mode,
  type StepStatus,
} from '../workflows/definitions.js';

export async function connectClient(config: Readonly<Config>): Promise<Client> {
  const connection = await Connection.connect({ ...connectionOptions(config), connectTimeout: '5s' }).catch((err: unknown) => {
    throw new OperationError(`cannot reach Temporal at ${config.temporal.address}: ${(err as Error).message.split('\n')[0]} (start one with \`firebreak dev\`)`);
  });
  return new Client({ connection, namespace: config.temporal.namespace, dataConverter: dataConverter(config) });
}

export function newIncidentId(now = new Date()): string {
  const day = now.toISOString().slice(0, 10).replace(/-/g, '');
  const alphabet = 'abcdefghjkmnpqrstuvwxyz23456789';
  const rand = [...randomBytes(6)].map((b) => alphabet[b % alphabet.length]).join('');
  return `INC-${day}-${rand}`;
}

/** Accepts an incident id (`INC-…`) or a workflow id (`firebreak-INC-…`). */
export function toWorkflowId(id: string): string {
  if (!/^[A-Za-z0-9._-]{1,200}$/.test(id)) throw new UsageError(`"${id}" is not an incident id`);
  return id.startsWith(WORKFLOW_ID_PREFIX) ? id : workflowIdFor(id);
}

export interface DeclareRequest {
  runbook: string;
  params?: Record<string, string | string[] | number | boolean>;
  severity?: string;
  mode?: string;
  target?: string;
  dedupKey?: string;
  summary?: string;
  actor: Actor;
}

export interface DeclareResult {
  id: string;
  workflowId: string;
  runId?: string;
  /** True when --dedup-key matched an incident that was already open. */
  existing: boolean;
  runbook: string;
  runbookSha256: string;
  mode: Mode;
  target: string;
}

/** A validated declaration, ready to start: nothing has touched Temporal yet. */
export interface PreparedDeclaration {
  input: IncidentInput;
  dedupKey?: string;
  taskQueue: string;
}

/** Validate runbook, parameters, mode, severity and target. Throws usage errors (exit 2); no I/O beyond reading the runbook. */
export function prepareDeclaration(config: Readonly<Config>, req: DeclareRequest): PreparedDeclaration {
  const snapshot = loadRunbook(config.runbooksDir, req.runbook);
  const doc = snapshot.doc;
  const params = coerceParams(doc, req.params ?? {});
  const mode = (req.mode ?? 'live') as Mode;
  if (!MODES.includes(mode)) throw new UsageError(`unknown mode "${req.mode}" (one of ${MODES.join(', ')})`);
  const severity = (req.severity ?? doc.severity) as Severity;
  if (!SEVERITIES.includes(severity)) throw new UsageError(`unknown severity "${req.severity}" (one of ${SEVERITIES.join(', ')})`);
  const targetName = req.target ?? config.defaultTarget;
  const target = getTarget(config, targetName);
  const drill = drillRefusal(target, targetName, mode);
  if (drill) throw new UsageError(drill);
  const sensitive = Object.entries(doc.params).filter(([name, p]) => p.sensitive && params[name] !== undefined && params[name] !== '');
  if (sensitive.length && !config.encryption) {
    throw new UsageError(`parameter ${sensitive.map(([n]) => n).join(', ')} is sensitive and would be stored in plain text: configure encryption first (README: Payload encryption)`);
  }
  if (req.dedupKey !== undefined && !/^[\w.:@/-]{1,200}$/.test(req.dedupKey)) {
    throw new UsageError('dedup key: 1–200 characters of letters, digits and . _ : @ / -');
  }
  const capabilities = (['redis', 'postgres', 'github', 'nginx', 'secrets', 'app'] as const).filter((k) => target[k] !== undefined);
  const declaredBy = req.actor;
  const incidentId = newIncidentId();
  const problems = declarationArgProblems(snapshot.doc, {
    params,
    incident: { id: incidentId, target: targetName, mode, severity, declaredBy: declaredBy.user, capabilities },
  }, { targetName, ...target.network });
  if (problems.length) throw new InvalidArgumentsError(problems);
  return {
    dedupKey: req.dedupKey,
    taskQueue: config.temporal.taskQueue,
    input: {
      incidentId,
      runbook: snapshot,
      params,
      severity,
      mode,
      target: targetName,
      declaredBy,
      declaredAt: new Date().toISOString(),
      summary: req.summary,
      dedupKey: req.dedupKey,
      approvers: { ...config.approvers.groups },
      approversSource: config.source,
      capabilities,
    },
  };
}

/** Each step's arguments known at declaration (params, incident fields), checked by the action's own rules. */
function declarationArgProblems(doc: PreparedDeclaration['input']['runbook']['doc'], ctx: Parameters<typeof planSteps>[1], banPolicy: ArgCheckContext['banPolicy']): string[] {
  const plan = planSteps(doc, ctx);
  const out = plan.problems.map((p) => `step ${p.step} (${p.action}): ${p.message}`);
  for (const step of plan.steps) {
    for (const message of argProblems(step.action, step.args, { banPolicy, deferred: step.deferred })) out.push(`step ${step.id} (${step.action}): ${message}`);
  }
  return out;
}

/** Start a prepared incident, or return the open one with the same dedup key. */
export async function startDeclared(client: Client, prepared: PreparedDeclaration): Promise<DeclareResult> {
  const { input } = prepared;
  const doc = input.runbook.doc;
  const base = { runbook: doc.name, runbookSha256: input.runbook.sha256, mode: input.mode, target: input.target };
  if (prepared.dedupKey) {
    const open = await findOpenByDedupKey(client, prepared.dedupKey, prepared.taskQueue);
    if (open) return { ...base, id: open.incidentId, workflowId: open.workflowId, existing: true };
  }
  const handle = await client.workflow.start(INCIDENT_WORKFLOW, {
    workflowId: workflowIdFor(input.incidentId),
    taskQueue: prepared.taskQueue,
    args: [input],
    workflowIdConflictPolicy: WorkflowIdConflictPolicy.FAIL,
    typedSearchAttributes: [
      { key: SA.incidentId, value: input.incidentId },
      { key: SA.runbook, value: doc.name },
      { key: SA.severity, value: input.severity },
      { key: SA.mode, value: input.mode },
      { key: SA.phase, value: 'detection' },
      { key: SA.state, value: 'running' },
      ...(prepared.dedupKey ? [{ key: SA.dedupKey, value: prepared.dedupKey }] : []),
    ],
    // No memo: `list` decodes memos, and an encrypted one would break listing for anyone without the key.
  });
  return { ...base, id: input.incidentId, workflowId: handle.workflowId, runId: handle.firstExecutionRunId, existing: false };
}

/** Validate everything up front, then start (or find) the incident. Bad input changes nothing. */
export async function declareIncident(client: Client, config: Readonly<Config>, req: DeclareRequest): Promise<DeclareResult> {
  return startDeclared(client, prepareDeclaration(config, req));
}

/**
 * The open incident with this dedup key on this task queue. A task queue is one Firebreak
 * deployment (its workers, config and targets), so two deployments sharing a namespace, each
 * with a target called `local`, never mistake each other's `lockdown:local` for their own.
 */
export async function findOpenByDedupKey(client: Client, key: string, taskQueue: string): Promise<{ incidentId: string; workflowId: string } | undefined> {
  const quote = (v: string) => `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  const query = `FirebreakDedupKey = ${quote(key)} AND TaskQueue = ${quote(taskQueue)} AND ExecutionStatus = 'Running'`;
  for await (const wf of client.workflow.list({ query, pageSize: 1 })) {
    return { incidentId: incidentIdOf(wf.workflowId), workflowId: wf.workflowId };
  }
  return undefined;
}

export function handleFor(client: Client, id: string): WorkflowHandle {
  return client.workflow.getHandle(toWorkflowId(id));
}

export async function getStatus(client: Client, id: string): Promise<IncidentStatus> {
  const handle = handleFor(client, id);
  try {
    return await handle.query(statusQuery);
  } catch (err) {
    const name = (err as Error).name;
    if (name === 'WorkflowNotFoundError') throw new OperationError(`no incident ${id}`);
    throw err;
  }
}

/** Updates are refused by the workflow's validators; surface their message as one clear line. */
async function update<R>(client: Client, id: string, fn: (h: WorkflowHandle) => Promise<R>): Promise<R> {
  const handle = handleFor(client, id);
  try {
    return await fn(handle);
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) {
      throw new OperationError(err.cause?.message ?? err.message);
    }
    if ((err as Error).name === 'WorkflowNotFoundError') {
      const closed = await handle.describe().then((d) => d.status.name, () => undefined);
      throw new OperationError(closed ? `incident ${id} is closed (${closed.toLowerCase()})` : `no incident ${id}`);
    }
    throw err;
  }
}

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
  return update(client, id, (h) => h.executeUpdate(approveUpdate, { args: [{ gate, argsHash: open.argsHash, actor, comment }] }));
}

export async function abortIncident(client: Client, id: string, reason: string, actor: Actor): Promise<IncidentState> {
  return update(client, id, (h) => h.executeUpdate(abortUpdate, { args: [{ reason, actor }] }));
}

export async function resolveIncident(client: Client, id: string, actor: Actor, comment?: string): Promise<GateStatus> {
  return update(client, id, (h) => h.executeUpdate(resolveUpdate, { args: [{ actor, comment }] }));
}

export async function addNote(client: Client, id: string, text: string, actor: Actor): Promise<number> {
  return update(client, id, (h) => h.executeUpdate(noteUpdate, { args: [{ text, actor }] }));
}

export async function confirmItem(client: Client, id: string, step: string, item: string, actor: Actor, note?: string): Promise<ChecklistStatus> {
  return update(client, id, (h) => h.executeUpdate(confirmItemUpdate, { args: [{ step, item, actor, note }] }));
}

export async function waiveItem(client: Client, id: string, step: string, item: string, actor: Actor, reason: string): Promise<ChecklistStatus> {
  return update(client, id, (h) => h.executeUpdate(waiveItemUpdate, { args: [{ step, item, actor, note: reason }] }));
}

export async function overrideStep(client: Client, id: string, step: string, actor: Actor, reason: string): Promise<StepStatus> {
  return update(client, id, (h) => h.executeUpdate(overrideUpdate, { args: [{ step, reason, actor }] }));
}

export async function markPersonalData(client: Client, id: string, actor: Actor, opts: { awareAt?: string; highRisk?: boolean } = {}): Promise<NonNullable<IncidentStatus['notice']>> {
  return update(client, id, (h) => h.executeUpdate(markPersonalDataUpdate, { args: [{ actor, ...opts }] }));
}

/** The GDPR clock of an incident (its own workflow), or undefined when personal data was never marked. */
export async function getNoticeStatus(client: Client, id: string): Promise<NoticeStatus | undefined> {
  const incidentId = incidentIdOf(toWorkflowId(id));
  try {
    return await client.workflow.getHandle(gdprWorkflowId(incidentId)).query(noticeStatusQuery);
  } catch (err) {
    if ((err as Error).name === 'WorkflowNotFoundError') return undefined;
    throw err;
  }
}

export async function recordNoticeSent(client: Client, id: string, actor: Actor, opts: { at?: string; reference?: string } = {}): Promise<NoticeStatus> {
  const incidentId = incidentIdOf(toWorkflowId(id));
  try {
    return await client.workflow.getHandle(gdprWorkflowId(incidentId)).executeUpdate(noticeSentUpdate, { args: [{ actor, ...opts }] });
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) throw new OperationError(err.cause?.message ?? err.message);
    if ((err as Error).name === 'WorkflowNotFoundError') throw new OperationError(`incident ${incidentId} has no running GDPR clock (mark personal data first, in live mode)`);
    throw err;
  }
}

export async function retryIncident(client: Client, id: string, actor: Actor): Promise<string[]> {
  return update(client, id, (h) => h.executeUpdate(retryUpdate, { args: [{ actor }] }));
}

export interface IncidentSummary {
  id: string;
  workflowId: string;
  status: string;
  runbook?: string;
  severity?: string;
  mode?: string;
  phase?: string;
  state?: string;
  startTime: string;
  closeTime: string | null;
}

export async function listIncidents(client: Client, opts: { open?: boolean; limit?: number } = {}): Promise<IncidentSummary[]> {
  const clauses = [`WorkflowType = '${INCIDENT_WORKFLOW}'`];
  if (opts.open) clauses.push(`ExecutionStatus = 'Running'`);
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

/** Poll until `done(status)` or the deadline; calls `onChange` when the status changes. */
export async function waitFor(
  client: Client,
  id: string,
  done: (s: IncidentStatus) => boolean,
  opts: { timeoutMs?: number; intervalMs?: number; onChange?: (s: IncidentStatus) => void } = {},
): Promise<IncidentStatus> {
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

export const TERMINAL: IncidentState[] = ['completed', 'aborted', 'rejected'];

/**
 * Exit code of `declare --wait` for the state it stopped in: 2 rejected (invalid
 * arguments, nothing done), 1 blocked or aborted (a step failed; needs retry or
 * abort), 0 otherwise (completed, or waiting for an approval or the all-clear).
 */
export function waitExitCode(state: IncidentState): number {
  if (state === 'rejected') return 2;
  return state === 'blocked' || state === 'aborted' ? 1 : 0;
}
export const NEEDS_HUMAN: IncidentState[] = ['awaiting-approval', 'awaiting-resolve', 'blocked'];
