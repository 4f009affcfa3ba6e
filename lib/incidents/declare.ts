/** Declaring an incident: validate everything up front, then start it (or find the open one with the same dedup key). */
import { randomBytes } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { WorkflowIdConflictPolicy } from '@temporalio/common';
import { argProblems, targetArgContext, type ArgCheckContext } from '../args/checks.js';
import { getTarget, type Config } from '../config.js';
import { drillRefusal } from '../drills.js';
import { InvalidArgumentsError, OperationError, UsageError } from '../errors.js';
import { incidentIdOf, workflowIdFor } from '../ids.js';
import { textProblem } from '../limits.js';
import { approvalProblems } from '../runbook/approvals.js';
import { coerceParams, loadRunbook } from '../runbook/loader.js';
import { planSteps } from '../runbook/plan.js';
import { SEVERITIES, type Severity } from '../runbook/types.js';
import { SA } from '../search-attributes.js';
import { INCIDENT_WORKFLOW, MODES, type Mode } from '../../workflows/definitions.js';
import type { IncidentStatus } from '../../workflows/definitions.js';
import { getStatus } from './queries.js';
import { actorOf, signDeclaration } from './sign.js';
import type { DeclareRequest, DeclareResult, PreparedDeclaration } from './types.js';

export function newIncidentId(now = new Date()): string {
  const day = now.toISOString().slice(0, 10).replace(/-/g, '');
  const alphabet = 'abcdefghjkmnpqrstuvwxyz23456789';
  const rand = [...randomBytes(6)].map((b) => alphabet[b % alphabet.length]).join('');
  return `INC-${day}-${rand}`;
}

/** Validate runbook, parameters, mode, severity and target. Throws usage errors (exit 2); no I/O beyond reading the runbook. */
export function prepareDeclaration(config: Readonly<Config>, req: DeclareRequest): PreparedDeclaration {
  const targetName = req.target ?? config.defaultTarget;
  const target = getTarget(config, targetName);
  // Only the worker's runbooks run where decisions are signed: a copy with the gates removed is not one.
  if (!target.development && !/^[a-z0-9-]+$/.test(req.runbook)) {
    throw new UsageError(`runbook "${req.runbook}" is a file: target ${targetName} runs only the worker's own runbooks, declared by name (see \`firebreak runbook list\`); files may be declared on a target marked \`development: true\``);
  }
  if (!target.development && !req.actor.signer) {
    throw new UsageError(`target ${targetName} requires signed decisions and ${req.actor.user} has no signing key: run \`firebreak keys init\` and have the public line it prints added to the worker's identity.responders`);
  }
  const snapshot = loadRunbook(config.runbooksDir, req.runbook);
  const doc = snapshot.doc;
  const gates = approvalProblems(doc, config.approvers.groups, config.source);
  if (gates.length) throw new InvalidArgumentsError(gates);
  const params = coerceParams(doc, req.params ?? {});
  const mode = (req.mode ?? 'live') as Mode;
  if (!MODES.includes(mode)) throw new UsageError(`unknown mode "${req.mode}" (one of ${MODES.join(', ')})`);
  const severity = (req.severity ?? doc.severity) as Severity;
  if (!SEVERITIES.includes(severity)) throw new UsageError(`unknown severity "${req.severity}" (one of ${SEVERITIES.join(', ')})`);
  const drill = drillRefusal(target, targetName, mode);
  if (drill) throw new UsageError(drill);
  const sensitive = Object.entries(doc.params).filter(([name, p]) => p.sensitive && params[name] !== undefined && params[name] !== '');
  if (sensitive.length && !config.encryption) {
    throw new UsageError(`parameter ${sensitive.map(([n]) => n).join(', ')} is sensitive and would be stored in plain text: configure encryption first (README: Payload encryption)`);
  }
  const long = textProblem('summary', req.summary, '--summary');
  if (long) throw new UsageError(long);
  if (req.dedupKey !== undefined && !/^[\w.:@/-]{1,200}$/.test(req.dedupKey)) {
    throw new UsageError('dedup key: 1–200 characters of letters, digits and . _ : @ / -');
  }
  const capabilities = (['redis', 'postgres', 'github', 'nginx', 'secrets', 'app'] as const).filter((k) => target[k] !== undefined);
  const declaredBy = actorOf(req.actor);
  const incidentId = newIncidentId();
  const declaredAt = new Date().toISOString();
  const problems = declarationArgProblems(snapshot.doc, {
    params,
    incident: { id: incidentId, target: targetName, mode, severity, declaredBy: declaredBy.user, capabilities },
    declaredAt,
  }, targetArgContext(targetName, target));
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
      declaredAt,
      summary: req.summary,
      dedupKey: req.dedupKey,
      capabilities,
    },
    declarer: req.actor,
    development: target.development,
  };
}

/** Each step's arguments known at declaration (params, incident fields), checked by the action's own rules. */
function declarationArgProblems(doc: PreparedDeclaration['input']['runbook']['doc'], ctx: Parameters<typeof planSteps>[1], checks: ArgCheckContext): string[] {
  const plan = planSteps(doc, ctx);
  const out = plan.problems.map((p) => `step ${p.step} (${p.action}): ${p.message}`);
  for (const step of plan.steps) {
    for (const message of argProblems(step.action, step.args, { ...checks, deferred: step.deferred })) out.push(`step ${step.id} (${step.action}): ${message}`);
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
    if (open) {
      await trustedOpenIncident(client, open, prepared);
      return { ...base, id: open.incidentId, workflowId: open.workflowId, existing: true };
    }
  }
  const declaration = await signDeclaration(prepared.declarer, input);
  const handle = await client.workflow.start(INCIDENT_WORKFLOW, {
    workflowId: workflowIdFor(input.incidentId),
    taskQueue: prepared.taskQueue,
    args: [{ ...input, ...(declaration && { declaration }) }],
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

/**
 * Joining the open incident of a dedup key is trusting it: anyone who can reach Temporal can
 * start a workflow with that key (to squat `lockdown:prod` and make every `lockdown on` a
 * no-op). It counts only once the worker verified its declaration; one it rejected, or one
 * with no verified declarer on a signed target, is refused loudly.
 */
async function trustedOpenIncident(client: Client, open: { incidentId: string; workflowId: string }, prepared: PreparedDeclaration): Promise<void> {
  const development = prepared.development;
  // A workflow of another type on our queue answers no status (a query would hang until it times out).
  const type = (await client.workflow.getHandle(open.workflowId).describe()).type;
  const status = type === INCIDENT_WORKFLOW ? await waitForPolicy(client, open.incidentId).catch(() => undefined) : undefined;
  if (!status) {
    throw new OperationError(`incident ${open.incidentId} holds dedup key ${prepared.dedupKey ?? ''} but the worker never verified its declaration (it answers no status): it may be forged. Terminate it (temporal workflow terminate --workflow-id ${open.workflowId}) and declare again`);
  }
  const identity = status.identity;
  const ok = identity && status.state !== 'rejected' && (development || identity.authenticated) && status.target === prepared.input.target && status.runbook.name === prepared.input.runbook.doc.name;
  if (!ok) {
    throw new OperationError(
      `incident ${open.incidentId} holds dedup key ${prepared.dedupKey ?? ''} but the worker never verified its declaration (${status.state}${identity ? '' : ', no verified declarer'}): it may be forged. Terminate it (temporal workflow terminate --workflow-id ${open.workflowId}) and declare again`,
    );
  }
}

/** The status once the worker's policy is in (a just-started incident may not have it yet). */
async function waitForPolicy(client: Client, id: string): Promise<IncidentStatus> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const status = await getStatus(client, id);
    if (status.identity || status.state === 'rejected' || Date.now() > deadline) return status;
    await new Promise((r) => setTimeout(r, 100));
  }
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
  const query = `${SA.dedupKey.name} = ${quote(key)} AND TaskQueue = ${quote(taskQueue)} AND ExecutionStatus = 'Running'`;
  for await (const wf of client.workflow.list({ query, pageSize: 1 })) {
    return { incidentId: incidentIdOf(wf.workflowId), workflowId: wf.workflowId };
  }
  return undefined;
}
