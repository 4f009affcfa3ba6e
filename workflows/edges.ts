/**
 * The fan-out of a ban change to the target's nginx edge hosts (deterministic). Each edge gets
 * the target's whole ban set on its own task queue (`firebreak-edge-<name>`) and answers with
 * the checksum of its deny file read back from disk; the worker's expected checksum must match,
 * and where the edge has a probe the worker asks its nginx as a banned address (403) and as a
 * lifted one. An edge that does not pick its set up within seconds, fails, or disagrees is
 * waited for — the caller shows "waiting for edge X" — and retried with the target's set as it
 * is then, so an edge that comes back converges to the current bans. The step blocks until
 * every edge agrees (or the edge leaves the worker's config, or `stop` says so).
 */
import * as wf from '@temporalio/workflow';
import type { createActivities } from '../activities/index.js';
import type { createEdgeActivities } from '../activities/edge/index.js';
import { FailureTypes, type ActionResult } from './definitions.js';
import type { EdgeRef, EdgeReport, EdgeSet } from './edge-definitions.js';
import { failureMessage } from './incident/proxies.js';

type Activities = ReturnType<typeof createActivities>;
type EdgeActivities = ReturnType<typeof createEdgeActivities>;

/** How long an edge has to pick its set up before it counts as down. */
export const EDGE_PICKUP_MS = 5_000;
const BACKOFF_FIRST_MS = 1_000;
const BACKOFF_MAX_MS = 30_000;

const onWorker = wf.proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { maximumAttempts: 2, initialInterval: 500, nonRetryableErrorTypes: [FailureTypes.BadInput] },
});

export interface FanoutHooks {
  /** An edge is (why) or is no longer (undefined) being waited for. */
  waiting(edge: string, why: string | undefined): void;
  note(message: string): void;
  /** Stop waiting now (e.g. the incident is aborting: its undo syncs the edges again). */
  stop?(): boolean;
}

/** Sync every edge of the set, concurrently; resolves when each agrees (or was given up on). */
export function syncEdges(first: EdgeSet, hooks: FanoutHooks): Promise<EdgeReport[]> {
  return Promise.all(first.edges.map((edge) => syncEdge(first, edge, hooks)));
}

function whyFailed(err: unknown, edge: EdgeRef): string {
  if (err instanceof wf.ActivityFailure && err.cause instanceof wf.TimeoutFailure && err.cause.timeoutType === 'SCHEDULE_TO_START') {
    return `no edge process picked up its deny set within ${EDGE_PICKUP_MS / 1000} s (is \`firebreak edge ${edge.name}\` running, polling ${edge.taskQueue}?)`;
  }
  return failureMessage(err);
}

async function syncEdge(first: EdgeSet, ref: EdgeRef, hooks: FanoutHooks): Promise<EdgeReport> {
  let set = first;
  let edge = ref;
  let attempts = 0;
  let failures = 0;
  let since: string | undefined;
  for (;;) {
    attempts += 1;
    let why: string | undefined;
    try {
      const { edgeApplyDenySet } = wf.proxyActivities<EdgeActivities>({
        taskQueue: edge.taskQueue,
        scheduleToStartTimeout: EDGE_PICKUP_MS,
        startToCloseTimeout: '3 minutes',
        // The edge beats every 3 s: an edge process killed mid-sync counts as down within seconds.
        heartbeatTimeout: '15 seconds',
        retry: { maximumAttempts: 1 },
      });
      const r = await edgeApplyDenySet({ edge: edge.name, target: set.target, generation: set.generation, networks: set.networks, count: set.count, sha256: set.sha256 });
      if (r.stale) {
        // Another fan-out got a newer set there first: send the current one, at once.
        why = undefined;
      } else if (r.sha256 !== set.sha256) {
        why = `its deny file reads back as sha256 ${r.sha256.slice(0, 12)}, the ban set's is ${set.sha256.slice(0, 12)}`;
      } else {
        const probed = edge.probe ? await onWorker.edgeProbe({ edge: edge.name, ...set.probe }) : [];
        if (since) {
          hooks.waiting(edge.name, undefined);
          hooks.note(`edge ${edge.name} caught up after ${attempts} attempts (waited since ${since}): ${r.lines} bans, sha256 ${r.sha256.slice(0, 12)}`);
        }
        return { edge: edge.name, sha256: r.sha256, lines: r.lines, reloaded: r.reloaded, probed, attempts };
      }
    } catch (err) {
      if (err instanceof wf.CancelledFailure) throw err;
      why = whyFailed(err, edge);
    }
    if (why !== undefined) {
      failures += 1;
      if (!since) {
        since = new Date().toISOString();
        hooks.note(`waiting for edge ${edge.name}: ${why}`);
      }
      hooks.waiting(edge.name, `waiting for edge ${edge.name} since ${since} (attempt ${attempts}): ${why}`);
      const delay = Math.min(BACKOFF_FIRST_MS * 2 ** (failures - 1), BACKOFF_MAX_MS);
      if (await wf.condition(() => hooks.stop?.() ?? false, delay)) return giveUp(edge, attempts, 'stopped waiting: the incident is aborting', hooks);
    }
    const next = await onWorker.edgeDenySet({ target: set.target, ...(first.probe.denied && { denied: first.probe.denied }), ...(first.probe.allowed && { allowed: [first.probe.allowed] }) });
    const still = next?.edges.find((e) => e.name === edge.name);
    if (!next || !still) return giveUp(edge, attempts, 'stopped waiting: the worker no longer lists this edge (edges: in its config)', hooks);
    set = next;
    edge = still;
  }
}

function giveUp(edge: EdgeRef, attempts: number, why: string, hooks: FanoutHooks): EdgeReport {
  hooks.waiting(edge.name, undefined);
  hooks.note(`edge ${edge.name}: ${why}`);
  return { edge: edge.name, sha256: '', lines: 0, reloaded: false, probed: [], attempts, gaveUp: why };
}

/** The result with the edges' outcome: a clause in the summary and the proof per edge; the packed set dropped. */
export function withEdges(result: ActionResult, reports: EdgeReport[]): ActionResult {
  const { edges: _set, ...rest } = result;
  const ok = reports.filter((r) => !r.gaveUp);
  const gaveUp = reports.filter((r) => r.gaveUp);
  const sha = ok[0]?.sha256.slice(0, 12);
  const clause = `; ${ok.length}/${reports.length} nginx edges in sync${sha ? ` (${ok[0]?.lines} bans, sha256 ${sha}${ok.some((r) => r.probed.length) ? ', probed' : ''})` : ''}${gaveUp.length ? `; not waited for: ${gaveUp.map((r) => r.edge).join(', ')}` : ''}`;
  return {
    ...rest,
    summary: rest.summary + clause,
    proof: {
      ...rest.proof,
      edges: reports.map((r) => ({ edge: r.edge, ...(r.gaveUp ? { gaveUp: r.gaveUp } : { sha256: r.sha256.slice(0, 12), lines: r.lines, reloaded: r.reloaded, probed: r.probed }), attempts: r.attempts })),
    },
  };
}

/** Hooks that show the waiting on a step of an incident status. */
export function stepHooks(setWaiting: (text: string | undefined) => void, note: (message: string) => void, stop?: () => boolean): FanoutHooks {
  const waitingFor = new Map<string, string>();
  return {
    waiting(edge, why) {
      if (why === undefined) waitingFor.delete(edge);
      else waitingFor.set(edge, why);
      setWaiting(waitingFor.size ? [...waitingFor.values()].join('; ') : undefined);
    },
    note,
    ...(stop && { stop }),
  };
}
