/**
 * Holds on bans: every incident step that bans a network holds it until its own end. The
 * holds of a target's bans are ONE hash, `firebreak:hold:bans`, field = the network (canonical
 * CIDR), value = its holds `<incident>/<step>=<until>|<since>|<outcome>;…` (unix seconds;
 * outcome n = banned it first, k = found a later ban, x = extended it, l = recorded for an older
 * worker's ban). One hash and not a key per network: a Redis key (with its expiry) per network
 * doubled the cost of a bulk ban (bench/RESULTS.md), a hash field costs a fraction of that.
 * The ban key's end is the latest end among the live holds, the registry's score the same;
 * every change to a hold and to the ban is one script. Fields do not expire by themselves: a
 * network's entry goes with its last hold (a release, the step's expiry, or the expiry's sweep
 * of ended registry entries), and every reader ignores holds that have ended, so an entry left
 * behind after its end means nothing.
 * A ban no live hold explains (banned by an older worker) is held by `~legacy` until its end;
 * when that is the only hold left, the entry goes and the ban is as the older worker left it.
 */
import type { Redis } from 'ioredis';
import type { Holder, HoldView } from '../../lib/holds.js';
import { compareNetworks, formatNetwork, tryParseNetwork, type IpNetwork } from '../../lib/ip.js';
import { BAN_REGISTRY, ownKey, type KeySpace } from '../../lib/redis-keys.js';
import { LEGACY_FIELD } from './hold-scripts.js';

export { CHECK_SCRIPT, EXPIRE_SCRIPT, LEGACY_FIELD, PROOF_SCRIPT, RELEASE_SCRIPT, SWEEP_SCRIPT, TAKE_SCRIPT } from './hold-scripts.js';

/** How the unknown holder of an older worker's ban is shown. */
export const LEGACY_HOLDER = { incidentId: 'unknown', stepId: 'older-worker' } as const;

/** The hash of every ban hold of a target (field = network). */
export function banHoldsKey(space: KeySpace): string {
  return ownKey(space, 'hold', 'bans');
}

/** `<incident>/<step>`: the field of a step's hold. */
export const holdField = (incidentId: string, stepId: string): string => `${incidentId}/${stepId}`;

/** The incident id of a hold field (`unknown` for an older worker's ban). */
export function holderIncident(field: string): string {
  return field === LEGACY_FIELD ? LEGACY_HOLDER.incidentId : field.slice(0, field.lastIndexOf('/'));
}

/** A network's holds from its entry in the holds hash (`f=v;f=v`), as field → value; {} for none. Neither `;` nor `=` occurs in a field or a value. */
export function parseHoldList(text: string | null | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (text ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && !(part.slice(0, eq) in out)) out[part.slice(0, eq)] = part.slice(eq + 1);
  }
  return out;
}

/** The holds of each network (field → value), read in chunks with HMGET. */
export async function readBanHolds(redis: Redis, space: KeySpace, networks: readonly string[]): Promise<Array<Record<string, string>>> {
  const out: Array<Record<string, string>> = [];
  for (let i = 0; i < networks.length; i += 1_000) {
    const part = networks.slice(i, i + 1_000);
    for (const text of await redis.hmget(banHoldsKey(space), ...part)) out.push(parseHoldList(text));
  }
  return out;
}

/** One hold from its field and value, or null when it is unreadable. */
export function parseHold(field: string, value: string): (Holder & { outcome: string; untilSeconds: number }) | null {
  const m = /^(\d+)\|(\d+)\|([a-z])$/.exec(value);
  if (!m) return null;
  const untilSeconds = Number(m[1]);
  const until = new Date(untilSeconds * 1000).toISOString();
  const since = new Date(Number(m[2]) * 1000).toISOString();
  if (field === LEGACY_FIELD) return { ...LEGACY_HOLDER, since, until, outcome: m[3] as string, untilSeconds };
  const slash = field.lastIndexOf('/');
  if (slash <= 0) return null;
  return { incidentId: field.slice(0, slash), stepId: field.slice(slash + 1), since, until, outcome: m[3] as string, untilSeconds };
}

/** The live holders of one network from its holds (parseHoldList), sorted by end then incident; an older worker's ban (no hold, a key until `keyEnd`) has the unknown holder. */
export function holdersOf(hash: Record<string, string>, nowSeconds: number, keyEnd: number | null): Holder[] {
  const holds = Object.entries(hash)
    .map(([f, v]) => parseHold(f, v))
    .filter((h): h is NonNullable<ReturnType<typeof parseHold>> => h !== null && h.untilSeconds > nowSeconds)
    .sort((a, b) => a.untilSeconds - b.untilSeconds || a.incidentId.localeCompare(b.incidentId) || a.stepId.localeCompare(b.stepId));
  if (!holds.length && keyEnd !== null && keyEnd > nowSeconds) {
    return [{ ...LEGACY_HOLDER, since: '', until: new Date(keyEnd * 1000).toISOString() }];
  }
  return holds.map(({ outcome: _o, untilSeconds: _u, ...h }) => h);
}

/** Active bans on a target (registry entries ending after now). */
export async function countActiveBans(redis: Redis, space: KeySpace, nowSeconds = Math.floor(Date.now() / 1000)): Promise<number> {
  return redis.zcount(ownKey(space, BAN_REGISTRY), `(${nowSeconds}`, '+inf');
}

/**
 * Every active ban of a target with its holders, for `firebreak target check`. Reads only.
 * At most `limit` networks (default 1,000: those ending first, listed in address order);
 * countActiveBans gives the total. A ban from an older worker has the holder `unknown`.
 */
export async function listBanHolds(redis: Redis, space: KeySpace, opts: { limit?: number; nowSeconds?: number } = {}): Promise<HoldView[]> {
  const now = opts.nowSeconds ?? Math.floor(Date.now() / 1000);
  const limit = opts.limit ?? 1_000;
  const flat = await redis.zrangebyscore(ownKey(space, BAN_REGISTRY), `(${now}`, '+inf', 'WITHSCORES', 'LIMIT', 0, limit);
  const ends = new Map<string, number>();
  for (let i = 0; i < flat.length; i += 2) ends.set(flat[i] as string, Number(flat[i + 1]));
  const nets: IpNetwork[] = [];
  for (const m of ends.keys()) {
    const r = tryParseNetwork(m);
    if ('network' in r && formatNetwork(r.network) === m) nets.push(r.network);
  }
  const networks = nets.sort(compareNetworks).map(formatNetwork);
  const holds = await readBanHolds(redis, space, networks);
  return networks.map((net, i) => ({ kind: 'ban', subject: net, holders: holdersOf(holds[i] ?? {}, now, ends.get(net) ?? null) }));
}
