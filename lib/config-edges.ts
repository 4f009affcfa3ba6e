/**
 * The nginx edge hosts (`edges:`): one `firebreak edge <name>` process per host polls its
 * own task queue and keeps that host's deny file equal to the target's ban set; the worker
 * fans every ban, unban and expiry out to the edges of the target and checks each.
 */
import { z } from 'zod';
import { absolutePath } from './config-target.js';

export const EDGE_NAME = /^[a-z][a-z0-9-]{0,39}$/;

/** Temporal's worker-specific task queue of an edge. */
export const edgeTaskQueue = (name: string): string => `firebreak-edge-${name}`;

const edgeEntry = z
  .object({
    name: z.string().regex(EDGE_NAME, 'edge names are lower-case words (a-z, 0-9, -; at most 40)').describe('The edge host, as `firebreak edge <name>` is started'),
    target: z.string().optional().describe('The target whose bans this edge enforces (default: defaultTarget)'),
    taskQueue: z.string().min(1).optional().describe('The task queue its edge process polls (default firebreak-edge-<name>)'),
    denyFile: absolutePath.describe('The deny file nginx includes on that host'),
    testCommand: z.array(z.string()).min(1).default(['nginx', '-t']).describe('Checks the configuration before a reload (argv, no shell)'),
    reloadCommand: z.array(z.string()).min(1).default(['nginx', '-s', 'reload']).describe('Loads the new deny file (argv, no shell)'),
    probe: z
      .object({
        url: z.string().url().describe("A URL of that host's nginx the worker can reach"),
        header: z.string().regex(/^[A-Za-z0-9-]{1,64}$/).default('X-Real-IP').describe('The header that nginx takes the client address from (realip) when the worker asks'),
      })
      .strict()
      .optional()
      .describe('After each sync the worker asks as a banned address (403 expected) and as a lifted one (not 403)'),
  })
  .strict();

export const edgesSchema = z.array(edgeEntry).default([]).describe('nginx edge hosts that enforce bans, each running `firebreak edge <name>`');

export type EdgeEntry = z.infer<typeof edgeEntry>;
/** An edge as the rest of Firebreak sees it: target and task queue resolved. */
export type EdgeConfig = EdgeEntry & { target: string; taskQueue: string };

/** Resolve each edge's target and task queue; the problems of the list (unique names and queues, known targets). */
export function resolveEdges(edges: readonly EdgeEntry[], targets: readonly string[], defaultTarget: string | undefined): { edges: EdgeConfig[]; problems: string[] } {
  const problems: string[] = [];
  const names = new Map<string, number>();
  const queues = new Map<string, number>();
  const out: EdgeConfig[] = edges.map((e, i) => {
    const target = e.target ?? defaultTarget ?? '';
    const taskQueue = e.taskQueue ?? edgeTaskQueue(e.name);
    if (names.has(e.name)) problems.push(`edges[${i}].name: "${e.name}" is also edges[${names.get(e.name)}]; each edge host has its own name`);
    else {
      names.set(e.name, i);
      if (queues.has(taskQueue)) problems.push(`edges[${i}].taskQueue: "${taskQueue}" is also the queue of edges[${queues.get(taskQueue)}]; each edge polls its own task queue`);
      else queues.set(taskQueue, i);
    }
    if (target && !targets.includes(target)) problems.push(`edges[${i}].target: no target named "${target}" (known: ${targets.join(', ')})`);
    return { ...e, target, taskQueue };
  });
  return { edges: out, problems };
}
