/**
 * The jti deny-list in the target Redis: `SET <keyBase><jti> 1 EX <ttl>` per id, written
 * as plain pipelined SETs over a bulk connection (support/redis-bulk.ts), in chunks, each
 * followed on the same connection by the progress record a retry resumes from; then a
 * read-back of a sample.
 */
import { CancelledFailure } from '@temporalio/common';
import type { Redis } from 'ioredis';
import { activityContext, heartbeatProgress } from '../support/context.js';
import { onTarget, targetUnavailable } from '../support/failures.js';
import { RedisBulkWriter, respCommand } from '../support/redis-bulk.js';
import { checkPipeline, REVOKE_CHUNK } from './common.js';
import type { JtiList } from './jti-list.js';

/** Chunks sent and not yet answered: enough that Redis never waits for the worker. */
const DEPTH = 3;
/** Read-back: the first and last chunk in full, plus this many random positions. */
const RANDOM_SAMPLES = 1_000;
/** Progress records only serve retries, which come within minutes; a later one just rewrites (idempotent). */
const PROGRESS_TTL_SECONDS = 24 * 3600;

/** What a chunk's heartbeat carries; `done` is where a retry may resume. */
export interface RevokeHeartbeat {
  done: number;
  total: number;
  simplejwtSlices?: number;
}

function throwIfCancelled(): void {
  if (activityContext()?.cancellationSignal.aborted) throw new CancelledFailure('tokens.revoke cancelled between chunks');
}

/** RESP of `SET <keyBase><id> 1 EX <ttl>` for ids [from, to): three copies per id, no string per id. */
function encodeSets(ids: JtiList, from: number, to: number, keyBase: Buffer, ttl: string): Buffer {
  const tail = Buffer.from(`\r\n$1\r\n1\r\n$2\r\nEX\r\n$${ttl.length}\r\n${ttl}\r\n`, 'latin1');
  const heads = new Map<number, Buffer>(); // by id length: `*5 … $<key length>\r\n<keyBase>`
  const head = (len: number): Buffer => {
    let h = heads.get(len);
    if (!h) heads.set(len, (h = Buffer.concat([Buffer.from(`*5\r\n$3\r\nSET\r\n$${keyBase.length + len}\r\n`, 'latin1'), keyBase])));
    return h;
  };
  const { data, ends } = ids;
  let size = 0;
  for (let i = from, s = ids.start(from); i < to; i += 1) {
    const e = (ends[i] as number) - 1;
    size += head(e - s).length + (e - s) + tail.length;
    s = e + 1;
  }
  const out = Buffer.allocUnsafe(size);
  let o = 0;
  for (let i = from, s = ids.start(from); i < to; i += 1) {
    const e = (ends[i] as number) - 1;
    o += head(e - s).copy(out, o);
    o += data.copy(out, o, s, e);
    o += tail.copy(out, o);
    s = e + 1;
  }
  return out;
}

interface Chunk {
  sent: Promise<void>;
  end: number;
}

/**
 * SET <keyBase><id> 1 EX ttl for ids[from..], REVOKE_CHUNK ids per chunk, DEPTH chunks in
 * flight. After each chunk, on the same connection (so Redis has executed the chunk when it
 * executes this), the progress record is updated: a retry resumes from it. Heartbeats carry
 * the same count. A failed chunk fails the attempt (retryable); the retry resumes.
 */
export async function writeJtis(opts: { redis: Redis; keyBase: string; ids: JtiList; from: number; ttl: number; progressKey: string }): Promise<void> {
  const { redis, ids, ttl, progressKey } = opts;
  if (opts.from >= ids.count) return;
  const keyBase = Buffer.from(opts.keyBase, 'utf8'); // as ioredis and the app's client encode key strings
  // Never outlives the keys it vouches for (if it did, the read-back fails and the record is dropped).
  const progressTtl = String(Math.min(ttl, PROGRESS_TTL_SECONDS));
  const writer = await onTarget('redis', () => RedisBulkWriter.open(redis, 'firebreak-worker-bulk'));
  const inflight: Chunk[] = [];
  const settle = async (chunk: Chunk): Promise<void> => {
    try {
      await chunk.sent;
    } catch (err) {
      throw targetUnavailable('redis', err);
    }
    heartbeatProgress<RevokeHeartbeat>({ done: chunk.end, total: ids.count });
  };
  try {
    for (let start = opts.from; start < ids.count; start += REVOKE_CHUNK) {
      throwIfCancelled();
      const end = Math.min(ids.count, start + REVOKE_CHUNK);
      const progress = respCommand(['SET', progressKey, `${end}:${ids.fingerprint}`, 'EX', progressTtl]);
      const sent = writer.send(Buffer.concat([encodeSets(ids, start, end, keyBase, String(ttl)), progress]), end - start + 1);
      sent.catch(() => undefined); // observed by settle(); never an unhandled rejection if we stop early
      inflight.push({ sent, end });
      if (inflight.length >= DEPTH) await settle(inflight.shift() as Chunk);
    }
    while (inflight.length) await settle(inflight.shift() as Chunk);
  } finally {
    // What was sent runs either way: wait for its replies, so nothing lands after the attempt ended.
    await writer.close();
  }
}

function sampleIndices(n: number): number[] {
  const set = new Set<number>();
  for (let i = 0; i < Math.min(n, REVOKE_CHUNK); i += 1) set.add(i);
  for (let i = Math.max(0, n - REVOKE_CHUNK); i < n; i += 1) set.add(i);
  for (let k = 0; k < RANDOM_SAMPLES && set.size < n; k += 1) set.add(Math.floor(Math.random() * n));
  return [...set];
}

/** EXISTS over a sample of the written keys (multi-key EXISTS, 1,000 keys per command). */
export async function verifyJtis(redis: Redis, keyBase: string, ids: JtiList): Promise<{ sampled: number; missing: number; ttlSeconds: number }> {
  const idx = sampleIndices(ids.count);
  const pipeline = redis.pipeline();
  for (let b = 0; b < idx.length; b += 1_000) {
    pipeline.exists(...idx.slice(b, b + 1_000).map((i) => keyBase + ids.id(i)));
  }
  pipeline.ttl(keyBase + ids.id(0));
  const values = checkPipeline(await pipeline.exec()) as number[];
  const ttlSeconds = values.pop() ?? -2;
  const found = values.reduce((a, b) => a + b, 0);
  return { sampled: idx.length, missing: idx.length - found, ttlSeconds };
}
