/** Incident ids to workflow handles, and the one mapping of Temporal's update and lookup errors to clear lines. */
import { randomUUID } from 'node:crypto';
import { isGrpcServiceError, ServiceError, WorkflowUpdateFailedError, type Client, type WorkflowHandle } from '@temporalio/client';
import proto from '@temporalio/proto';
import { OperationError, UsageError } from '../errors.js';
import { WORKFLOW_ID_PREFIX, workflowIdFor } from '../ids.js';
import { POLICY_LOADING } from '../../workflows/definitions.js';

/** Accepts an incident id (`INC-…`) or a workflow id (`firebreak-INC-…`). */
export function toWorkflowId(id: string): string {
  if (!/^[A-Za-z0-9._-]{1,200}$/.test(id)) throw new UsageError(`"${id}" is not an incident id`);
  return id.startsWith(WORKFLOW_ID_PREFIX) ? id : workflowIdFor(id);
}

export function handleFor(client: Client, id: string): WorkflowHandle {
  return client.workflow.getHandle(toWorkflowId(id));
}

export const isNotFound = (err: unknown): boolean => (err as Error | undefined)?.name === 'WorkflowNotFoundError';

/** An update the workflow's validator refused: its own message, as one clear line. */
export function refusedUpdate(err: unknown): OperationError | undefined {
  return err instanceof WorkflowUpdateFailedError ? new OperationError(err.cause?.message ?? err.message) : undefined;
}

/** How long a decision waits for a just-declared incident to load the worker's policy. */
const POLICY_WAIT_MS = 15_000;

/**
 * How long a decision waits while the incident's workflow task is failing (the server refuses
 * every Update then, FAILED_PRECONDITION "Workflow Task in failed state"): a worker overloaded
 * past the task timeout, or restarting, recovers in seconds; a task that keeps failing does not,
 * and the caller is told so.
 */
export const NOT_READY_WAIT_MS = 20_000;
const NOT_READY_FIRST_MS = 250;
const NOT_READY_MAX_MS = 2_000;

/** gRPC status code 9. */
const FAILED_PRECONDITION = 9;

/** Temporal's WorkflowNotReady (the incident's workflow task is in failed state), read from the gRPC status details, not the message. */
export function isWorkflowNotReady(err: unknown): boolean {
  const cause = err instanceof ServiceError ? err.cause : err;
  if (!isGrpcServiceError(cause) || Number(cause.code) !== FAILED_PRECONDITION) return false;
  const bin = cause.metadata?.get('grpc-status-details-bin')?.[0];
  if (!bin || typeof bin === 'string') return false;
  try {
    return proto.google.rpc.Status.decode(bin).details.some((d) => d.type_url?.endsWith('/temporal.api.errordetails.v1.WorkflowNotReadyFailure'));
  } catch {
    return false;
  }
}

export interface UpdateCallOptions {
  /** The Update id (e.g. derived by a front door from the request): kept across every retry. Default: one random id per decision. */
  updateId?: string;
  /** Override of NOT_READY_WAIT_MS (tests). */
  notReadyWaitMs?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Run an update on an incident; refusals and closed or unknown incidents become one clear line.
 * `fn` sends the update with the id it is given. While the workflow task is in failed state the
 * same update (same id, same signed statement) is sent again with a bounded backoff: the server
 * refused it before admitting it, and if an earlier attempt did land, Temporal attaches the
 * retry to it by id, so a decision never counts twice.
 */
export async function updateIncident<R>(client: Client, id: string, fn: (h: WorkflowHandle, updateId: string) => Promise<R>, opts: UpdateCallOptions = {}): Promise<R> {
  const handle = handleFor(client, id);
  const started = Date.now();
  const notReadyWait = opts.notReadyWaitMs ?? NOT_READY_WAIT_MS;
  let updateId = opts.updateId ?? randomUUID();
  let backoff = NOT_READY_FIRST_MS;
  for (;;) {
    try {
      return await fn(handle, updateId);
    } catch (err) {
      const refused = refusedUpdate(err);
      // A refused update changed nothing and spent no nonce: the same signed statement may be sent again.
      if (refused?.message.startsWith(POLICY_LOADING) && Date.now() < started + POLICY_WAIT_MS) {
        // A rejected Update is not kept by the server; a fresh id (unless the caller chose one) keeps it that way.
        if (opts.updateId === undefined) updateId = randomUUID();
        await sleep(100);
        continue;
      }
      if (isWorkflowNotReady(err)) {
        const left = started + notReadyWait - Date.now();
        if (left > 0) {
          await sleep(Math.min(backoff, left));
          backoff = Math.min(backoff * 2, NOT_READY_MAX_MS);
          continue;
        }
        throw new OperationError(`incident ${id}: its workflow task kept failing for ${Math.round((Date.now() - started) / 1000)} s (worker overloaded, down or failing: see the worker log); nothing was decided, try again`);
      }
      throw await mapUpdateError(err, refused, handle, id);
    }
  }
}

async function mapUpdateError(err: unknown, refused: OperationError | undefined, handle: WorkflowHandle, id: string): Promise<unknown> {
  if (refused) return refused;
  if (!isNotFound(err)) return err;
  const closed = await handle.describe().then((d) => d.status.name, () => undefined);
  return new OperationError(closed ? `incident ${id} is closed (${closed.toLowerCase()})` : `no incident ${id}`);
}
