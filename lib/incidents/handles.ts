/** Incident ids to workflow handles, and the one mapping of Temporal's update and lookup errors to clear lines. */
import { WorkflowUpdateFailedError, type Client, type WorkflowHandle } from '@temporalio/client';
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

/** Run an update on an incident; refusals and closed or unknown incidents become one clear line. */
export async function updateIncident<R>(client: Client, id: string, fn: (h: WorkflowHandle) => Promise<R>): Promise<R> {
  const handle = handleFor(client, id);
  const deadline = Date.now() + POLICY_WAIT_MS;
  for (;;) {
    try {
      return await fn(handle);
    } catch (err) {
      const refused = refusedUpdate(err);
      // A refused update changed nothing and spent no nonce: the same signed statement may be sent again.
      if (refused?.message.startsWith(POLICY_LOADING) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
        continue;
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
