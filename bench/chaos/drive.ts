/**
 * One chaos run: a token-leak and an sqli incident declared together on the chaos stack and
 * steered the way people would, through lib/incidents only: two approvers vote on every open
 * gate, `retry` when an incident is blocked (a scenario may hold it first, e.g. until nginx is
 * fixed), a snapshot of the target systems once both are contained (awaiting the all-clear),
 * then the all-clear and a snapshot once both completed. Every call to Temporal may fail or
 * hang while a fault is on: the steering fires and forgets, and polls again.
 */
import { approveGate, declareIncident, getStatus, resolveIncident, retryIncident, TERMINAL } from '../../lib/incidents/index.js';
import type { IncidentStatus } from '../../workflows/definitions.js';
import { snapshot, type Snapshot } from './effects.js';
import { APPROVERS, DECLARER, type ChaosStack } from './stack.js';

export const BANNED: readonly string[] = ['203.0.113.7', '198.51.100.9'];

export const INCIDENTS: ReadonlyArray<{ runbook: string; summary: string; params: Record<string, string | string[]> }> = [
  {
    runbook: 'token-leak',
    summary: 'chaos: a refresh token pasted in a public channel',
    params: { reason: 'chaos run', jtis: ['chaos-jti-1', 'chaos-jti-2'], user_ids: ['42'], ban_ips: ['203.0.113.7'], lockdown: 'true', redeploy: 'false' },
  },
  { runbook: 'sqli', summary: 'chaos: UNION SELECT payloads in the WAF log', params: { reason: 'chaos run', ban_ips: ['198.51.100.9'], redeploy: 'false' } },
];

export interface RunHooks {
  /** Each status seen (both incidents), e.g. to inject a fault at a moment. */
  onStatus?(s: IncidentStatus): void | Promise<void>;
  /** An incident is blocked: resolve true to `retry` it now (default), false to look again later. */
  onBlocked?(s: IncidentStatus): Promise<boolean>;
  /** Hold the all-clear until this resolves (default: at once). */
  beforeResolve?(): Promise<void>;
}

export interface RunResult {
  ids: string[];
  states: string[];
  /** The last status of each incident, in `ids` order. */
  statuses: IncidentStatus[];
  retries: number;
  /** Each distinct error a blocked step showed, as `<step>: <error>`. */
  blockedErrors: string[];
  contained?: Snapshot;
  final?: Snapshot;
  ms: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolve with the promise's value, or undefined after `ms` (the call itself carries on). */
export function within<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  p.catch(() => undefined);
  return Promise.race([p, sleep(ms).then(() => undefined)]);
}

export async function statusOf(stack: ChaosStack, id: string): Promise<IncidentStatus | undefined> {
  return within(getStatus(stack.client, id), 3_000).catch(() => undefined);
}

export async function declarePair(stack: ChaosStack): Promise<string[]> {
  const ids: string[] = [];
  for (const inc of INCIDENTS) {
    const { id } = await declareIncident(stack.client, stack.config, {
      runbook: inc.runbook,
      summary: inc.summary,
      params: { ...inc.params },
      actor: stack.actor(DECLARER),
    });
    ids.push(id);
  }
  return ids;
}

/** Drive both incidents to the end; throws when `timeoutMs` passes first. */
export async function drivePair(stack: ChaosStack, ids: string[], hooks: RunHooks = {}, timeoutMs = 120_000): Promise<RunResult> {
  const t0 = performance.now();
  const deadline = Date.now() + timeoutMs;
  const inFlight = new Set<string>();
  const errors = new Set<string>();
  let retries = 0;
  let resolveAllowed = false;
  let contained: Snapshot | undefined;
  const last = new Map<string, IncidentStatus>();
  const fire = (key: string, call: () => Promise<unknown>) => {
    if (inFlight.has(key)) return;
    inFlight.add(key);
    void within(call(), 20_000)
      .catch(() => undefined)
      .finally(() => inFlight.delete(key));
  };

  for (;;) {
    if (Date.now() > deadline) {
      const where = ids.map((id) => `${id}: ${last.get(id)?.state ?? 'unknown'} ${(last.get(id)?.steps ?? []).map((s) => `${s.id}=${s.state}`).join(' ')}`);
      throw new Error(`the incidents did not finish within ${timeoutMs / 1000} s:\n  ${where.join('\n  ')}`);
    }
    // Both queries at once: one slow answer (a worker replaying after a kill) does not hold up the other incident's votes.
    const seen = await Promise.all(ids.map((id) => statusOf(stack, id)));
    for (const [i, id] of ids.entries()) {
      const s = seen[i];
      if (!s) continue;
      last.set(id, s);
      await hooks.onStatus?.(s);
      if (TERMINAL.includes(s.state)) continue;
      if (s.state === 'blocked') {
        for (const step of s.steps) if (step.state === 'failed' && step.error) errors.add(`${step.id}: ${step.error}`);
        if (!inFlight.has(`${id}:retry`) && (await (hooks.onBlocked?.(s) ?? Promise.resolve(true)))) {
          retries += 1;
          fire(`${id}:retry`, () => retryIncident(stack.client, id, stack.actor(DECLARER)));
        }
        continue;
      }
      for (const gate of s.gates) {
        if (gate.state !== 'open' || gate.id === 'resolve') continue;
        // One vote at a time per gate, so a scenario sees each vote land (and can act between them).
        if (APPROVERS.some((a) => inFlight.has(`${id}:${gate.id}:${a}`))) continue;
        const voter = APPROVERS.find((a) => !gate.approvals.some((v) => v.by === a));
        if (voter && gate.approvals.length < gate.required) fire(`${id}:${gate.id}:${voter}`, () => approveGate(stack.client, id, gate.id, stack.actor(voter)));
      }
      if (s.state === 'awaiting-resolve' && resolveAllowed) fire(`${id}:resolve`, () => resolveIncident(stack.client, id, stack.actor(APPROVERS[0]), 'chaos: all clear'));
    }
    const states = ids.map((id) => last.get(id)?.state);
    if (!resolveAllowed && states.every((st) => st === 'awaiting-resolve' || (st !== undefined && TERMINAL.includes(st)))) {
      contained = await snapshot(stack, BANNED);
      await hooks.beforeResolve?.();
      resolveAllowed = true;
    }
    if (states.every((st) => st !== undefined && TERMINAL.includes(st))) break;
    await sleep(100);
  }
  const final = await snapshot(stack, BANNED);
  return {
    ids,
    states: ids.map((id) => last.get(id)?.state ?? 'unknown'),
    statuses: ids.flatMap((id) => last.get(id) ?? []),
    retries,
    blockedErrors: [...errors],
    ...(contained && { contained }),
    final,
    ms: performance.now() - t0,
  };
}
