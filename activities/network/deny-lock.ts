/**
 * One writer at a time per host and deny file: a lock in the target Redis, a random token set
 * with NX and a short TTL that the holder renews while it holds it. A worker that dies holding
 * it (SIGKILL mid-ban) stalls the next ban for at most the TTL, not the whole write time a
 * fixed TTL would have to allow; a holder that is too slow to renew (a paused event loop,
 * Redis away longer than the TTL) finds the lock lost and fails the attempt, so a retry
 * renders the registry again rather than leave a write that may have interleaved.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { heartbeatProgress } from '../support/context.js';
import { verificationFailed } from '../support/failures.js';
import { onRedis } from './registry.js';

/** A held lock lives this long after its last renewal. */
export const LOCK_TTL_MS = 10_000;
/** How long a writer waits for another's lock before its attempt fails (retryable). */
const LOCK_WAIT_MS = 90_000;

const UNLOCK_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;
/** Renew only our own lock: 1 renewed, 0 lost (expired, or someone else's now). */
const RENEW_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`;

export interface DenyLock {
  redis: Redis;
  lockKey: string;
}

export async function withDenyFileLock<T>(lock: DenyLock, fn: () => Promise<T>, opts: { ttlMs?: number; waitMs?: number } = {}): Promise<T> {
  const ttl = opts.ttlMs ?? LOCK_TTL_MS;
  const token = randomBytes(12).toString('hex');
  const deadline = Date.now() + (opts.waitMs ?? LOCK_WAIT_MS);
  while ((await onRedis(() => lock.redis.set(lock.lockKey, token, 'PX', ttl, 'NX'))) !== 'OK') {
    if (Date.now() > deadline) throw verificationFailed(`nginx deny file is locked by another worker (${lock.lockKey}) for more than ${(opts.waitMs ?? LOCK_WAIT_MS) / 1000} s`);
    heartbeatProgress({ phase: 'waiting for the deny file lock' });
    await new Promise((r) => setTimeout(r, 25));
  }
  let lost = false;
  let renewing: Promise<unknown> = Promise.resolve();
  // Four renewals per TTL: one slow round trip or a missed tick does not lose it.
  const timer = setInterval(() => {
    renewing = lock.redis
      .eval(RENEW_SCRIPT, 1, lock.lockKey, token, String(ttl))
      .then((n) => {
        if (n === 0) lost = true;
      })
      .catch(() => undefined); // Redis away for a moment: the next tick tries again, the TTL decides
  }, Math.max(10, Math.floor(ttl / 4)));
  try {
    const result = await fn();
    await renewing;
    if (lost) throw verificationFailed(`nginx deny file lock ${lock.lockKey} expired while this write held it (not renewed within ${ttl / 1000} s); another writer may have written since, so the file is synced again on retry`);
    return result;
  } finally {
    clearInterval(timer);
    await onRedis(() => lock.redis.eval(UNLOCK_SCRIPT, 1, lock.lockKey, token)).catch(() => undefined);
  }
}
