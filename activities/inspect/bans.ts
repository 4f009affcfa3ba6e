/**
 * Read-only view of a target's bans, as the worker sees them: the registry
 * (`firebreak:bans`, score = end), each ban key the app reads (value, TTL), the
 * incident steps holding it (its hold records), and for a ban an older worker made
 * (no hold records) which step's undo record says it banned it.
 */
import { scanKeys } from './readers.js';
import { holdersOf, LEGACY_HOLDER, parseHold, readBanHolds } from '../network/holds.js';
import { addressBits, compareNetworks, formatNetwork, networkContains, networkOf, tryParseNetwork, type IpNetwork } from '../../lib/ip.js';
import { BAN_REGISTRY, contractKeys, djangoKey, escapeGlob, ownKey, type KeySpace } from '../../lib/redis-keys.js';
import type { ActivityDeps } from '../deps.js';
import { badInput, onTarget } from '../support/failures.js';
import type { BanAttribution, BansResult, BanView } from '../../lib/incidents/types.js';

export type { BanAttribution, BansResult, BanView } from '../../lib/incidents/types.js';

/** Bans listed at most; the total is always given. */
const MAX_LISTED = 1_000;
/** Undo records looked through for attribution at most. */
const MAX_RECORDS = 5_000;
/** Narrower bans inside a shown CIDR are searched in registries up to this size. */
const MAX_REGISTRY_SCAN = 100_000;

export interface BansInput {
  target: string;
  /** `show`: one address or CIDR. Absent: list every active ban. */
  network?: string;
}

const iso = (seconds: number): string => new Date(seconds * 1000).toISOString();

export function createBanInspection(deps: ActivityDeps) {
  const { clients } = deps;
  const run = <T>(fn: () => Promise<T>): Promise<T> => onTarget('redis', fn);

  /** Which ban steps' undo records hold each network (records are sets of canonical CIDRs). */
  async function attribute(space: KeySpace, target: string, networks: string[]): Promise<Map<string, BanAttribution[]>> {
    const out = new Map<string, BanAttribution[]>();
    if (!networks.length) return out;
    const redis = clients.redis(target);
    const base = `${ownKey(space, 'undo')}:`;
    const records = (await run(() => scanKeys(redis, `${escapeGlob(base)}*`, { type: 'set', max: MAX_RECORDS }))).sort();
    for (const record of records) {
      const [incident, step, ...rest] = record.slice(base.length).split(':');
      if (!incident || !step || rest.length) continue;
      const member = await run(() => redis.smismember(record, ...networks));
      const hits = networks.filter((_, i) => member[i] === 1);
      if (!hits.length) continue;
      const metaRaw = await run(() => redis.get(`${record}:meta`));
      let meta: { at?: unknown; expiresAt?: unknown } = {};
      try {
        meta = metaRaw ? (JSON.parse(metaRaw) as typeof meta) : {};
      } catch {
        // an unreadable meta record only loses the times
      }
      // An older worker's meta may hold the ban's reason (free text from the parameters): not shown.
      const who: BanAttribution = {
        incident,
        step,
        ...(typeof meta.at === 'string' ? { at: meta.at } : {}),
        ...(typeof meta.expiresAt === 'string' ? { expiresAt: meta.expiresAt } : {}),
      };
      for (const h of hits) out.set(h, [...(out.get(h) ?? []), who]);
    }
    return out;
  }

  async function views(space: KeySpace, target: string, networks: string[], registryScores: Map<string, number | null>): Promise<BanView[]> {
    const redis = clients.redis(target);
    const keys = networks.map((n) => djangoKey(space, contractKeys.ban(n)));
    const pipe = redis.pipeline();
    for (const k of keys) pipe.get(k).ttl(k);
    const [res, hashes] = await run(() => Promise.all([pipe.exec().then((r) => r ?? []), readBanHolds(redis, space, networks)]));
    const now = Math.floor(Date.now() / 1000);
    // Only bans without hold records (an older worker's) are looked up in the undo records.
    const by = await attribute(
      space,
      target,
      networks.filter((_, i) => !Object.keys(hashes[i] as Record<string, string>).length),
    );
    return networks.map((network, i) => {
      const value = res[2 * i]?.[1] as string | null;
      const ttl = res[2 * i + 1]?.[1] as number;
      const score = registryScores.get(network) ?? null;
      const keyEnd = value !== null && /^\d+$/.test(value) ? Number(value) : null;
      const hash = hashes[i] as Record<string, string>;
      const holders = holdersOf(hash, now, keyEnd ?? score);
      const first: BanAttribution[] = [];
      for (const [f, v] of Object.entries(hash)) {
        const h = parseHold(f, v);
        if (h && h.outcome === 'n' && h.untilSeconds > now && h.incidentId !== LEGACY_HOLDER.incidentId) first.push({ incident: h.incidentId, step: h.stepId, at: h.since, expiresAt: h.until });
      }
      return {
        network,
        until: score === null ? null : iso(score),
        key: keys[i] as string,
        keyUntil: keyEnd === null ? null : iso(keyEnd),
        ttlSeconds: value === null ? null : ttl,
        holders,
        bannedBy: Object.keys(hash).length ? first : (by.get(network) ?? []),
      };
    });
  }

  return {
    /** List the active bans of a target, or show the bans that touch one address or CIDR. Reads only. */
    async inspectBans(input: BansInput): Promise<BansResult> {
      const t = clients.target(input.target);
      const space: KeySpace = t.redis;
      const redis = clients.redis(input.target);
      const registry = ownKey(space, BAN_REGISTRY);
      const now = Math.floor(Date.now() / 1000);
      const total = await run(() => redis.zcount(registry, `(${now}`, '+inf'));
      const head = { target: input.target, namespace: `${space.keyPrefix}:${space.keyVersion}`, registry, at: new Date().toISOString(), total };

      if (input.network === undefined) {
        const flat = await run(() => redis.zrangebyscore(registry, `(${now}`, '+inf', 'WITHSCORES', 'LIMIT', 0, MAX_LISTED));
        const scores = new Map<string, number | null>();
        for (let i = 0; i < flat.length; i += 2) scores.set(flat[i] as string, Number(flat[i + 1]));
        const listed = sortCanonical([...scores.keys()]);
        return { ...head, bans: await views(space, input.target, listed, scores), truncated: total > listed.length };
      }

      const parsed = tryParseNetwork(String(input.network).trim());
      if ('error' in parsed) throw badInput(`bans show: ${parsed.error}`);
      const asked = parsed.network;
      const query = formatNetwork(asked);
      // Every network that contains the one asked about (its own key included): what the app would match.
      const candidates = new Map<string, 'exact' | 'covers' | 'inside'>();
      for (let p = 0; p <= asked.prefix; p += 1) {
        const n = formatNetwork(networkOf({ version: asked.version, value: asked.base }, p));
        candidates.set(n, p === asked.prefix ? 'exact' : 'covers');
      }
      // Narrower bans inside a CIDR, from the registry (bounded).
      if (asked.prefix < addressBits(asked.version) && (await run(() => redis.zcard(registry))) <= MAX_REGISTRY_SCAN) {
        for (const m of await run(() => redis.zrangebyscore(registry, `(${now}`, '+inf'))) {
          const r = tryParseNetwork(m);
          if ('network' in r && !candidates.has(m) && networkContains(asked, r.network)) candidates.set(m, 'inside');
        }
      }
      const names = [...candidates.keys()];
      const keyValues = await run(() => redis.mget(...names.map((n) => djangoKey(space, contractKeys.ban(n)))));
      const scoreValues = await run(() => redis.zmscore(registry, ...names));
      const scores = new Map<string, number | null>();
      const hits: string[] = [];
      names.forEach((n, i) => {
        const s = scoreValues[i];
        const score = s === null || s === undefined ? null : Number(s);
        if (keyValues[i] !== null || (score !== null && score > now)) {
          hits.push(n);
          scores.set(n, score);
        }
      });
      const listed = sortCanonical(hits);
      const bans = (await views(space, input.target, listed, scores)).map((b) => ({ ...b, relation: candidates.get(b.network) }));
      return { ...head, query, bans, truncated: false };
    },
  };
}

function sortCanonical(networks: string[]): string[] {
  const parsed: IpNetwork[] = [];
  for (const n of networks) {
    const r = tryParseNetwork(n);
    if ('network' in r) parsed.push(r.network);
  }
  return parsed.sort(compareNetworks).map(formatNetwork);
}
