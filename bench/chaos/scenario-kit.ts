/** What every scenario shares: its context and result, a seeded RNG, polling, the moments faults wait for. */
import { handleFor } from '../../lib/incidents/index.js';
import type { IncidentStatus, StepStatus } from '../../workflows/definitions.js';
import type { RunResult } from './drive.js';
import type { ChaosStack } from './stack.js';

export interface ScenarioContext {
  stack: ChaosStack;
  quick: boolean;
  seed: number;
  log(line: string): void;
}

export interface ScenarioResult extends RunResult {
  /** How the run went, in a few words, for the table. */
  outcome: string;
  /** Problems found by the scenario's own checks (empty: none). */
  checks?: string[];
}

export interface Scenario {
  name: string;
  /** The fault, as the table says it. */
  fault(quick: boolean): string;
  run(ctx: ScenarioContext): AsyncGenerator<ScenarioResult>;
  /** About how long it takes next to the others (default 1; about a tenth of its quick seconds), to spread scenarios over stacks. */
  weight?: number;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** mulberry32: a small seeded generator, so a failing campaign can be run again with its seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 30_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** A live worker (starting one when every worker is dead) and every edge process running. */
export async function ensureWorker(stack: ChaosStack): Promise<void> {
  await Promise.all([stack.workers.some((w) => w.alive()) ? undefined : stack.startWorker(), stack.ensureEdges()]);
}

/** The steps of a phase that are running now. */
export function running(s: IncidentStatus, phase: string): string[] {
  return s.steps.filter((x) => x.phase === phase && x.state === 'running').map((x) => x.id);
}

/** The incident's pending activities and the worker identity that last took each. */
export async function pendingActivities(stack: ChaosStack, id: string): Promise<Array<{ type: string; identity: string; attempt: number }>> {
  const d = await handleFor(stack.client, id).describe();
  return (d.raw.pendingActivities ?? []).map((p) => ({ type: p.activityType?.name ?? '?', identity: p.lastWorkerIdentity ?? '', attempt: p.attempt ?? 0 }));
}

/** Whether a worker's Redis client sits on a write command (while CLIENT PAUSE WRITE holds writes, it waits there). */
export async function workerWriteWaiting(stack: ChaosStack): Promise<boolean> {
  const list = (await stack.redis.client.call('CLIENT', 'LIST')) as string;
  return list.split('\n').some((l) => l.includes('name=firebreak-worker') && /cmd=(eval|evalsha|fcall|set|hset|zadd|sadd|del|unlink|exec|pexpire|expire)\b/i.test(l));
}

export const secs = (ms: number) => `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;

/**
 * A drive hook that catches step `gate` of incident `id` inside a Redis write: once its gate
 * waits for the last vote, Redis writes are paused (CLIENT PAUSE WRITE); once the step runs
 * and a worker's write waits, `onHeld` runs (it must end the pause: kill the server, or
 * UNPAUSE). Detection has written what it writes by then, and the incident's other
 * containment steps have run.
 */
export function heldWrite(stack: ChaosStack, id: () => string | undefined, gate: string, onHeld: () => Promise<void>) {
  let phase: 'idle' | 'paused' | 'done' = 'idle';
  return {
    fired: () => phase === 'done',
    async release() {
      if (phase === 'paused') await stack.redis.client.call('CLIENT', 'UNPAUSE');
      phase = 'done';
    },
    async onStatus(s: IncidentStatus) {
      if (s.id !== id() || phase === 'done') return;
      const g = s.gates.find((x) => x.id === gate && x.state === 'open');
      if (phase === 'idle' && g && g.approvals.length === g.required - 1) {
        await stack.redis.client.call('CLIENT', 'PAUSE', '60000', 'WRITE');
        phase = 'paused';
      } else if (phase === 'paused' && s.steps.some((x) => x.id === gate && x.state === 'running') && (await workerWriteWaiting(stack))) {
        phase = 'done';
        await onHeld();
      }
    },
  };
}

/** How often activities of type `type` were scheduled in the incident's history, and the highest attempt one reached. */
export async function attemptsOf(stack: ChaosStack, id: string, type: string): Promise<{ scheduled: number; maxAttempt: number }> {
  const events = (await handleFor(stack.client, id).fetchHistory()).events ?? [];
  const scheduled = new Set<string>();
  let maxAttempt = 0;
  for (const e of events) {
    if (e.activityTaskScheduledEventAttributes?.activityType?.name === type) scheduled.add(String(e.eventId));
    const started = e.activityTaskStartedEventAttributes;
    if (started && scheduled.has(String(started.scheduledEventId))) maxAttempt = Math.max(maxAttempt, started.attempt ?? 0);
  }
  return { scheduled: scheduled.size, maxAttempt };
}

/**
 * A check that the fault hit the activity: it took a second attempt, was scheduled again by
 * `retry`, or (an attempt that waits for its server) its step lasted at least `spanMs`.
 */
export async function hitCheck(stack: ChaosStack, id: string, type: string, span?: { step?: StepStatus; ms: number }): Promise<string[]> {
  const { scheduled, maxAttempt } = await attemptsOf(stack, id, type);
  if (maxAttempt >= 2 || scheduled >= 2) return [];
  const lasted = span?.step?.startedAt && span.step.endedAt ? Date.parse(span.step.endedAt) - Date.parse(span.step.startedAt) : 0;
  if (span && lasted >= span.ms) return [];
  return [`${type} ran once in one attempt${span ? ` and took ${lasted} ms` : ''}: the fault missed it`];
}
