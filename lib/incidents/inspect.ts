/** Front doors' way to look at a target: start a short InspectWorkflow on the worker and wait for it. */
import { randomBytes } from 'node:crypto';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import { ApplicationFailure, TimeoutFailure } from '@temporalio/common';
import { getTarget, type Config } from '../config.js';
import { OperationError } from '../errors.js';
import { inspectWorkflowId } from '../ids.js';
import { INSPECT_WORKFLOW, type InspectInput, type InspectResult } from '../../workflows/inspect.js';
import { actorOf } from './sign.js';
import { judgeHolds } from './holds.js';
import type { BansResult, CheckRow, FrontDoor, Principal, TargetCheckResult } from './types.js';

/** How long a look waits for the worker unless the front door says otherwise. */
export const INSPECT_TIMEOUT_MS = 30_000;

/** The innermost failure's message: the activity's own words. */
function rootMessage(err: unknown): string {
  let e = err as { cause?: unknown; message?: string } | undefined;
  while (e?.cause) e = e.cause;
  return (e?.message ?? String(err)).split('\n')[0] ?? '';
}

export async function runInspect(client: Client, config: Readonly<Config>, input: InspectInput, timeoutMs = INSPECT_TIMEOUT_MS): Promise<InspectResult> {
  const workflowId = inspectWorkflowId(input.kind, input.target, randomBytes(5).toString('hex'));
  try {
    return (await client.workflow.execute(INSPECT_WORKFLOW, {
      workflowId,
      taskQueue: config.temporal.taskQueue,
      args: [input],
      // No worker polling the queue: the look ends instead of waiting forever.
      workflowExecutionTimeout: timeoutMs,
    })) as InspectResult;
  } catch (err) {
    if (err instanceof WorkflowFailedError) {
      if (err.cause instanceof TimeoutFailure) {
        throw new OperationError(`no worker on task queue "${config.temporal.taskQueue}" answered within ${Math.round(timeoutMs / 1000)} s (is \`firebreak worker\` running?)`);
      }
      let c: unknown = err.cause;
      while (c && !(c instanceof ApplicationFailure)) c = (c as { cause?: unknown }).cause;
      throw new OperationError(`the worker could not look at target "${input.target}": ${rootMessage(c ?? err)}`);
    }
    throw err;
  }
}

export interface LookRequest {
  /** Default: the config's default target. Unknown targets are refused before Temporal is contacted. */
  target?: string;
  actor: Principal;
  timeoutMs?: number;
}

/** The worker's view of a target's bans: all of them, or those matching one canonical network. */
export async function inspectBans(door: FrontDoor, req: LookRequest & { network?: string }): Promise<BansResult> {
  const target = req.target ?? door.config.defaultTarget;
  getTarget(door.config, target);
  const res = await runInspect(await door.client(), door.config, { kind: 'bans', target, requestedBy: actorOf(req.actor), ...(req.network ? { network: req.network } : {}) }, req.timeoutMs);
  if (res.kind !== 'bans') throw new OperationError('unexpected answer from the worker');
  return res.bans;
}

/** What the worker can reach and read on a target (`ok` false unless every check is ok or skipped). */
export async function checkTarget(door: FrontDoor, req: LookRequest & { target: string }): Promise<TargetCheckResult> {
  getTarget(door.config, req.target);
  const res = await runInspect(await door.client(), door.config, { kind: 'target-check', target: req.target, requestedBy: actorOf(req.actor) }, req.timeoutMs);
  if (res.kind !== 'target-check') throw new OperationError('unexpected answer from the worker');
  return withJudgedHolds(await door.client(), res.check);
}

/** Judge the holds the worker read against Temporal, adding one check row: orphaned containment is a warning. */
async function withJudgedHolds(client: Client, check: TargetCheckResult): Promise<TargetCheckResult> {
  const holds = check.holds;
  if (!holds) return check;
  const judged = await judgeHolds(client, holds);
  const orphans = judged.flatMap((h) => h.holders.filter((x) => x.standing === 'orphaned').map((x) => `${h.kind} ${h.subject} held by ${x.incidentId} (${x.why})`));
  const holders = judged.reduce((n, h) => n + h.holders.length, 0);
  const row: CheckRow = !judged.length
    ? { check: 'containment holds', state: 'ok', detail: 'no shared containment in force' }
    : orphans.length
      ? { check: 'containment holds', state: 'warn', detail: `${orphans.length} orphaned hold${orphans.length === 1 ? '' : 's'}, nothing will release ${orphans.length === 1 ? 'it' : 'them'}: ${orphans.slice(0, 5).join('; ')}${orphans.length > 5 ? '; …' : ''}` }
      : { check: 'containment holds', state: 'ok', detail: `${judged.length} in force, ${holders} hold${holders === 1 ? '' : 's'}, each by an open incident (or a ban until its end)` };
  const checks = [...check.checks, row];
  return { ...check, checks, judgedHolds: judged, ok: check.ok && row.state === 'ok' };
}
