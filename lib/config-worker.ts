/**
 * `temporal.worker`: the worker's concurrency limits, workflow cache and pollers. Every field
 * is optional; unset means the value below, chosen from `npm run bench -- incident-storm`
 * (bench/storm/) on a 2-core machine. README "Worker tuning" says what each one trades.
 */
import { z } from 'zod';
import { parseDuration } from './runbook/schema.js';

const count = (max: number) => z.number().int().min(1).max(max);

/** A duration (`500ms`, `2s`) as milliseconds, within [minMs, maxMs]. */
const duration = (minMs: number, maxMs: number) =>
  z.string().transform((v, ctx) => {
    const ms = parseDuration(v.trim());
    if (ms === undefined || ms < minMs || ms > maxMs) {
      ctx.addIssue({ code: 'custom', message: `${JSON.stringify(v)} is not a duration from ${minMs / 1000}s to ${maxMs / 1000}s (e.g. 500ms, 2s)` });
      return z.NEVER;
    }
    return ms;
  });

export const workerTuning = z
  .object({
    maxConcurrentWorkflowTaskExecutions: count(1000).optional().describe('workflow tasks run at once (SDK default 40)'),
    maxConcurrentActivityTaskExecutions: count(10_000).optional().describe('activities run at once on this worker (SDK default 100)'),
    maxCachedWorkflows: z.number().int().min(0).max(100_000).optional().describe('open incidents kept in memory between tasks (sticky cache); 0 replays the history on every task'),
    workflowTaskPollers: count(100).optional().describe('concurrent workflow task long-polls (SDK default min(10, maxConcurrentWorkflowTaskExecutions))'),
    workflowThreads: count(16).optional().describe('worker threads running workflow code (SDK default 1): signature checks in the workflow are CPU work'),
    activityTaskPollers: count(100).optional().describe('concurrent activity task long-polls (SDK default min(10, maxConcurrentActivityTaskExecutions))'),
    stickyQueueScheduleToStartTimeout: duration(100, 600_000)
      .optional()
      .describe("how long a cached incident's next task waits for this worker on its sticky queue before any worker may take it (SDK default 10s): a worker that died unannounced costs this much per cached incident"),
  })
  .strict()
  .default({});

export type WorkerTuning = z.infer<typeof workerTuning>;
