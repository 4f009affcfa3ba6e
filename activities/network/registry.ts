/**
 * The ban registry and the ban keys: Firebreak's sorted set of every ban
 * (score = end, unix seconds) and the contract key per network the app reads,
 * `djangoKey(fb:ban:<canonical CIDR>)` = end, expiring at that moment; beside
 * them, the holds of the incidents that banned each network (one hash, `holds.ts`).
 */
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { compareNetworks, formatNetwork, tryParseNetwork, type IpNetwork } from '../../lib/ip.js';
import { BAN_REGISTRY, contractKeys, djangoKey, ownKey, type KeySpace } from '../../lib/redis-keys.js';
import type { ActionInput } from '../../workflows/definitions.js';
import type { ActivityDeps } from '../deps.js';
import { assertModeAllowed } from '../support/mode.js';
import { banHoldsKey } from './holds.js';
import { onTarget } from '../support/failures.js';

/** Networks per Redis script call: each call blocks Redis for about a millisecond. */
export const CHUNK = 1_000;
/** Script calls in flight at once. */
export const WINDOW = 4;
/** An undo carries at most this many addresses inline; more go through the undo record (Temporal's 2 MB payload limit). */
export const MAX_INLINE_UNDO = 20_000;
/** Read-back of big bans: first and last chunk in full, plus this many random keys. */
const VERIFY_RANDOM = 500;

/** A Redis call of a network action: untyped errors become retryable TargetUnavailable failures. */
export const onRedis = <T>(fn: () => Promise<T>): Promise<T> => onTarget('redis', fn);

/** Everything a network action works with on one target: its config, Redis, key names. */
export function networkContext(deps: ActivityDeps, input: ActionInput) {
  const { clients, logger } = deps;
  const target = clients.target(input.target);
  assertModeAllowed(target, input.target, input.mode);
  const space: KeySpace = target.redis;
  // Lock and "applied" marker per host and file: the deny file lives on the worker's machine.
  const fileId = target.nginx ? createHash('sha256').update(`${hostname()}\0${target.nginx.denyFile}`).digest('hex').slice(0, 16) : '';
  return {
    target,
    space,
    logger,
    redis: clients.redis(input.target),
    registry: ownKey(space, BAN_REGISTRY),
    banKey: (net: string) => djangoKey(space, contractKeys.ban(net)),
    /** The hash of every ban hold on the target (field = network). */
    holds: banHoldsKey(space),
    /** The ban key of each network (the per-network KEYS of a hold script). */
    banKeys: (nets: readonly string[]) => nets.map((net) => djangoKey(space, contractKeys.ban(net))),
    record: (incidentId: string, stepId: string) => ownKey(space, 'undo', incidentId, stepId),
    lockKey: ownKey(space, 'nginx', 'lock', fileId),
    appliedKey: ownKey(space, 'nginx', 'applied', fileId),
  };
}

export type NetworkContext = ReturnType<typeof networkContext>;

export function sortNetworks(canonical: Iterable<string>): string[] {
  const nets: IpNetwork[] = [];
  for (const c of canonical) {
    const r = tryParseNetwork(c);
    if ('network' in r) nets.push(r.network);
  }
  return nets.sort(compareNetworks).map(formatNetwork);
}

export function chunks<T>(items: readonly T[], size = CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Indices to read back: everything for small bans; first and last chunk plus a random sample for big ones. */
export function sampleIndices(n: number): { indices: number[]; all: boolean } {
  if (n <= 2 * CHUNK + VERIFY_RANDOM) return { indices: Array.from({ length: n }, (_, i) => i), all: true };
  const picked = new Set<number>();
  for (let i = 0; i < CHUNK; i += 1) {
    picked.add(i);
    picked.add(n - 1 - i);
  }
  while (picked.size < 2 * CHUNK + VERIFY_RANDOM) picked.add(Math.floor(Math.random() * n));
  return { indices: [...picked].sort((a, b) => a - b), all: false };
}

/** The end (unix seconds) each network's ban key holds now, or null when it is not banned. */
export async function existingEnds(ctx: NetworkContext, canonical: string[]): Promise<Array<number | null>> {
  const out: Array<number | null> = [];
  for (const part of chunks(canonical, 5_000)) {
    const values = await onRedis(() => ctx.redis.mget(...part.map(ctx.banKey)));
    for (const v of values) out.push(v === null || !/^-?\d+$/.test(v) ? null : Number(v));
  }
  return out;
}
