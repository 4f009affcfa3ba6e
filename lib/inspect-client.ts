/** Front doors' way to look at a target: start a short InspectWorkflow on the worker and wait for it. */
import { randomBytes } from 'node:crypto';
import { inspectWorkflowId } from './ids.js';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import { ApplicationFailure, TimeoutFailure } from '@temporalio/common';
import type { Config } from './config.js';
import { OperationError } from './errors.js';
import { INSPECT_WORKFLOW, type InspectInput, type InspectResult } from '../workflows/inspect.js';

/** The innermost failure's message: the activity's own words. */
function rootMessage(err: unknown): string {
  let e = err as { cause?: unknown; message?: string } | undefined;
  while (e?.cause) e = e.cause;
  return (e?.message ?? String(err)).split('\n')[0] ?? '';
}

export async function runInspect(client: Client, config: Readonly<Config>, input: InspectInput, timeoutMs = 30_000): Promise<InspectResult> {
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
