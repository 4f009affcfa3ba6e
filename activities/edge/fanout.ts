/**
 * The worker's side of the edge fan-out: the target's whole ban set as one snapshot (with the
 * checksum the edges' deny files must have), and the probe of an edge's nginx from the worker,
 * so an edge is never believed on its own word alone.
 */
import type { Redis } from 'ioredis';
import type { EdgeConfig } from '../../lib/config.js';
import { compareNetworks, formatNetwork, tryParseNetwork, type IpNetwork } from '../../lib/ip.js';
import { BAN_REGISTRY, ownKey, type KeySpace } from '../../lib/redis-keys.js';
import type { EdgeProbeInput, EdgeSet } from '../../workflows/edge-definitions.js';
import type { ActivityDeps } from '../deps.js';
import { badInput, onTarget, verificationFailed, verificationFailedFinal } from '../support/failures.js';
import { packNetworks, setChecksum } from './deny-set.js';

/**
 * The registry read and the generation taken in one script: a later generation always holds
 * every ban made before it. From Redis' own clock (microseconds), never going back, so a
 * flushed or restored counter cannot make edges refuse newer sets as older.
 * KEYS: registry, generation. ARGV: cutoff (bans ending after it are active).
 */
const SNAPSHOT_SCRIPT = `
local t = redis.call('TIME')
local g = tonumber(t[1]) * 1000000 + tonumber(t[2])
local last = tonumber(redis.call('GET', KEYS[2]) or '0') or 0
if g <= last then g = last + 1 end
local gs = string.format('%.0f', g)
redis.call('SET', KEYS[2], gs)
return { gs, redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[1], '+inf') }
`;

/**
 * The packed set travels in one payload (Temporal's limit is 2 MB): about 300,000 scattered
 * IPv4 addresses, far more sequential ones (100,000 random /32s pack to 0.6 MB).
 */
const MAX_PACKED_CHARS = 1_500_000;

/** How long a probe waits for nginx to answer as expected (a reload is asynchronous). */
const PROBE_WAIT_MS = 10_000;

export const edgesOf = (deps: ActivityDeps, target: string): EdgeConfig[] => deps.config.edges.filter((e) => e.target === target);

const addressOf = (network: string): string => network.slice(0, network.indexOf('/'));

/**
 * The target's ban set for its edges, or undefined when the target has none. `probe.denied`
 * (a network just banned) and `probe.allowed` (one just lifted) are kept when the set agrees.
 */
export async function edgeSetFor(
  deps: ActivityDeps,
  opts: { target: string; redis: Redis; space: KeySpace; cutoff: number; denied?: string; allowed?: readonly string[] },
): Promise<EdgeSet | undefined> {
  const edges = edgesOf(deps, opts.target);
  if (!edges.length) return undefined;
  const [generation, members] = (await onTarget('redis', () =>
    opts.redis.eval(SNAPSHOT_SCRIPT, 2, ownKey(opts.space, BAN_REGISTRY), ownKey(opts.space, 'edge', 'generation'), String(opts.cutoff)),
  )) as [string, string[]];
  const nets: IpNetwork[] = [];
  for (const m of members) {
    const r = tryParseNetwork(m);
    if ('network' in r) nets.push(r.network);
  }
  const networks = [...new Set(nets.sort(compareNetworks).map(formatNetwork))];
  const packed = packNetworks(networks);
  if (packed.length > MAX_PACKED_CHARS) {
    throw verificationFailedFinal(
      `the ban set of target ${opts.target} (${networks.length} networks) packs to ${(packed.length / 1e6).toFixed(1)} MB, more than one payload to the edges carries (${MAX_PACKED_CHARS / 1e6} MB); the bans are in Redis, the edges were not changed: ban broader networks`,
    );
  }
  const inSet = new Set(networks);
  const denied = opts.denied && inSet.has(opts.denied) ? opts.denied : networks[0];
  const allowed = opts.allowed?.find((n) => !inSet.has(n));
  return {
    target: opts.target,
    generation,
    networks: packed,
    count: networks.length,
    sha256: setChecksum(networks),
    edges: edges.map((e) => ({ name: e.name, taskQueue: e.taskQueue, probe: Boolean(e.probe) })),
    probe: { ...(denied && { denied }), ...(allowed && { allowed }) },
  };
}

async function ask(url: string, header: string, address: string): Promise<number> {
  const res = await fetch(url, { headers: { [header]: address }, redirect: 'manual', signal: AbortSignal.timeout(3_000) });
  await res.body?.cancel();
  return res.status;
}

export function createEdgeFanoutActivities(deps: ActivityDeps) {
  return {
    /** The target's ban set now, for a fan-out round after the first (an edge was down, or had a newer set). */
    async edgeDenySet(input: { target: string; denied?: string; allowed?: string[] }): Promise<EdgeSet | null> {
      const target = deps.clients.target(input.target);
      const set = await edgeSetFor(deps, {
        target: input.target,
        redis: deps.clients.redis(input.target),
        space: target.redis,
        cutoff: Math.floor(Date.now() / 1000),
        ...(input.denied && { denied: input.denied }),
        ...(input.allowed && { allowed: input.allowed }),
      });
      return set ?? null;
    },

    /** Ask the edge's nginx as a banned address (403 expected) and as a lifted one (anything else). */
    async edgeProbe(input: EdgeProbeInput): Promise<string[]> {
      const edge = deps.config.edges.find((e) => e.name === input.edge);
      if (!edge) throw badInput(`edge ${input.edge} is not configured on this worker`);
      if (!edge.probe) return [];
      const { url, header } = edge.probe;
      const checks = [
        ...(input.denied ? [{ address: addressOf(input.denied), want: (s: number) => s === 403, expect: '403' }] : []),
        ...(input.allowed ? [{ address: addressOf(input.allowed), want: (s: number) => s !== 403, expect: 'not 403' }] : []),
      ];
      const proof: string[] = [];
      for (const c of checks) {
        const deadline = Date.now() + PROBE_WAIT_MS;
        let last = '';
        for (;;) {
          try {
            const status = await ask(url, header, c.address);
            if (c.want(status)) {
              proof.push(`${c.address} → ${status}`);
              break;
            }
            last = `answered ${status}`;
          } catch (err) {
            last = `did not answer (${(err as Error).message})`;
          }
          if (Date.now() > deadline) throw verificationFailed(`edge ${edge.name}: its nginx ${url} ${last} to ${c.address} (${header}), expected ${c.expect}`);
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      return proof;
    },
  };
}
