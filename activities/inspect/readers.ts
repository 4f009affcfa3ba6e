/**
 * Who reads the namespace Firebreak writes to: the app middleware's heartbeat
 * keys (`<prefix>:<version>:fb:reader:<host>:<pid>` = unix seconds, TTL 60 s).
 * Zero readers means the contract keys are written where no app looks: a
 * KEY_PREFIX / VERSION mismatch, or no middleware at all.
 */
import type { Redis } from 'ioredis';
import type { Logger } from '../../lib/logger.js';
import { djangoKey, namespaceOf, READER_MARKER, READER_TTL_SECONDS, readerPattern, type KeySpace } from '../../lib/redis-keys.js';
import type { ActionResult } from '../../workflows/definitions.js';
import type { ReaderInfo } from '../../lib/incidents/types.js';

export type { ReaderInfo } from '../../lib/incidents/types.js';

/** SCAN iterations at most (COUNT 1000 each): bounded on a huge cache. */
const MAX_SCAN_ROUNDS = 1_000;

export function noReadersWarning(namespace: string): string {
  return `no app process has read ${namespace} in the last ${READER_TTL_SECONDS} s — is KEY_PREFIX/VERSION right?`;
}

/** Every key matching `pattern` (SCAN, COUNT 1000; optionally of one TYPE), at most `max`. */
export async function scanKeys(redis: Redis, pattern: string, opts: { type?: string; max?: number } = {}): Promise<string[]> {
  const keys = new Set<string>();
  let cursor = '0';
  let rounds = 0;
  do {
    const [next, batch] = opts.type
      ? await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000, 'TYPE', opts.type)
      : await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    for (const k of batch) keys.add(k);
    cursor = next;
    rounds += 1;
  } while (cursor !== '0' && rounds < MAX_SCAN_ROUNDS && keys.size < (opts.max ?? Number.POSITIVE_INFINITY));
  return [...keys];
}

/** Count the app processes whose heartbeat in `space` is alive. */
export async function readersOf(redis: Redis, space: KeySpace): Promise<ReaderInfo> {
  const namespace = namespaceOf(space);
  const keys = await scanKeys(redis, readerPattern(space));
  const base = djangoKey(space, 'fb:reader:').length;
  const seen: Array<{ proc: string; at: number }> = [];
  if (keys.length) {
    const values = await redis.mget(...keys);
    keys.forEach((k, i) => {
      const v = values[i];
      // A key that expired between SCAN and MGET is gone: not a reader.
      if (v === null || v === undefined) return;
      const at = /^\d{1,12}$/.test(v) ? Number(v) : Number.NaN;
      seen.push({ proc: k.slice(base), at });
    });
  }
  seen.sort((a, b) => (Number.isFinite(b.at) ? b.at : -1) - (Number.isFinite(a.at) ? a.at : -1));
  const times = seen.map((s) => s.at).filter(Number.isFinite);
  const iso = (s: number | undefined) => (s === undefined ? null : new Date(s * 1000).toISOString());
  return {
    namespace,
    count: seen.length,
    newest: iso(times.length ? Math.max(...times) : undefined),
    oldest: iso(times.length ? Math.min(...times) : undefined),
    processes: seen.slice(0, 10).map((s) => s.proc),
    ...(seen.length ? {} : { warning: noReadersWarning(namespace) }),
  };
}

/** Namespaces other than `space` that app processes do read (the likely right one on a mismatch). */
export async function otherReaderNamespaces(redis: Redis, space: KeySpace): Promise<Array<{ namespace: string; count: number }>> {
  const mine = namespaceOf(space);
  const counts = new Map<string, number>();
  for (const k of await scanKeys(redis, `*${READER_MARKER}*`)) {
    const ns = k.slice(0, k.lastIndexOf(READER_MARKER));
    if (ns !== mine) counts.set(ns, (counts.get(ns) ?? 0) + 1);
  }
  return [...counts].map(([namespace, count]) => ({ namespace, count })).sort((a, b) => b.count - a.count);
}

/** One phrase for summaries: "3 app processes read p:1 (last seen 2026-…)" or the warning. */
export function readersPhrase(r: ReaderInfo): string {
  if (r.count === 0) return `WARNING: ${r.warning ?? noReadersWarning(r.namespace)}`;
  return `${r.count} app ${r.count === 1 ? 'process reads' : 'processes read'} ${r.namespace} (last seen ${r.newest ?? 'unknown'})`;
}

/**
 * A contract-writing step's result with who reads it: the phrase in the
 * summary (so `status` says it), the counts in output and proof. Reading the
 * heartbeats never fails the step: the write itself is what was asked for.
 */
export async function withReaders(redis: Redis, space: KeySpace, result: ActionResult, logger?: Logger): Promise<ActionResult> {
  let readers: ReaderInfo;
  try {
    readers = await readersOf(redis, space);
  } catch (err) {
    logger?.warn({ err: (err as Error).message }, 'could not count the app processes reading the namespace');
    return result;
  }
  if (readers.warning) logger?.warn({ namespace: readers.namespace }, readers.warning);
  const phrase = readersPhrase(readers);
  return {
    ...result,
    summary: `${result.summary}; ${phrase}`,
    ...(result.plan ? { plan: [...result.plan, phrase] } : {}),
    ...(result.proof ? { proof: { ...result.proof, readers } } : {}),
    output: { ...(result.output ?? {}), readers },
  };
}
