/**
 * When a target system went down, as the worker's clients saw it, and which target the
 * running activity acts on: so a failure can say "redis at … unreachable since …", and a
 * containment step can wait out a short outage instead of blocking until a human retries.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

const scope = new AsyncLocalStorage<{ target: string }>();
const downSinceMs = new Map<string, number>();
const endpoints = new Map<string, string>();

const keyOf = (system: string, target: string): string => `${system}\u0000${target}`;

/** Run `fn` as an activity acting on `target` (set once per action by createActivities). */
export function inTargetScope<T>(target: string, fn: () => Promise<T>): Promise<T> {
  return scope.run({ target }, fn);
}

export function currentTarget(): string | undefined {
  return scope.getStore()?.target;
}

/** Where the target's `system` lives (`host:port`), for messages; never credentials. */
export function noteEndpoint(system: string, target: string, endpoint: string): void {
  endpoints.set(keyOf(system, target), endpoint);
}

/** The client lost its connection (the first moment counts until it is back). */
export function noteDown(system: string, target: string, at: number = Date.now()): void {
  const key = keyOf(system, target);
  if (!downSinceMs.has(key)) downSinceMs.set(key, at);
}

export function noteUp(system: string, target: string): void {
  downSinceMs.delete(keyOf(system, target));
}

/** `redis at 127.0.0.1:6379` (or `redis` when the endpoint is unknown) and, when down, since when. */
export function outageOf(system: string, target: string | undefined): { where: string; since?: number } {
  if (target === undefined) return { where: system };
  const key = keyOf(system, target);
  const endpoint = endpoints.get(key);
  return { where: endpoint ? `${system} at ${endpoint}` : system, since: downSinceMs.get(key) };
}
