/**
 * The deny file lock on the real Redis: renewed while held, so a write longer than the TTL
 * keeps it and a second writer waits; a holder that died leaves it for one TTL only; a holder
 * that lost it (expired, taken) fails its attempt instead of claiming a write that may have
 * interleaved.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { withDenyFileLock } from '../../activities/network/deny-lock.js';
import { redisClient } from '../helpers/services.js';

const r = redisClient('deny-lock');
afterAll(() => r.cleanup());
const sleep = (ms: number) => new Promise((res) => setTimeout(res, ms));

describe('the nginx deny file lock', () => {
  it('is renewed while held: a write three TTLs long keeps it, and the next writer waits for the release', async () => {
    const lock = { redis: r.redis, lockKey: `${r.prefix}:renew` };
    const order: string[] = [];
    const ttls: number[] = [];
    const first = withDenyFileLock(
      lock,
      async () => {
        order.push('first in');
        for (let i = 0; i < 6; i++) {
          await sleep(200);
          ttls.push(await r.redis.pttl(lock.lockKey));
        }
        order.push('first out');
      },
      { ttlMs: 400 },
    );
    await sleep(20);
    const second = withDenyFileLock(lock, async () => void order.push('second in'), { ttlMs: 400 });
    await Promise.all([first, second]);
    expect(order).toEqual(['first in', 'first out', 'second in']);
    // Never expired: every read saw a live TTL within one lifetime.
    expect(ttls.every((t) => t > 0 && t <= 400)).toBe(true);
    expect(await r.redis.exists(lock.lockKey)).toBe(0);
  });

  it("a dead holder's lock (never renewed) holds the next writer back for one TTL, not longer", async () => {
    const lock = { redis: r.redis, lockKey: `${r.prefix}:dead` };
    await r.redis.set(lock.lockKey, 'a-killed-worker', 'PX', 300);
    const t0 = performance.now();
    await withDenyFileLock(lock, async () => undefined, { ttlMs: 300 });
    const waited = performance.now() - t0;
    expect(waited).toBeGreaterThan(200);
    expect(waited).toBeLessThan(2_000);
  });

  it('a holder that lost the lock fails its attempt (retryable), and leaves the new owner its lock', async () => {
    const lock = { redis: r.redis, lockKey: `${r.prefix}:lost` };
    const attempt = withDenyFileLock(
      lock,
      async () => {
        await r.redis.set(lock.lockKey, 'another-writer', 'PX', 5_000); // as if it had expired and been taken
        await sleep(150);
        return 'written';
      },
      { ttlMs: 200 },
    );
    await expect(attempt).rejects.toMatchObject({ type: 'FirebreakVerificationFailed', nonRetryable: false, message: expect.stringMatching(/lock .* expired while this write held it/) });
    expect(await r.redis.get(lock.lockKey)).toBe('another-writer');
  });

  it('gives up waiting after its wait, saying whose lock it is', async () => {
    const lock = { redis: r.redis, lockKey: `${r.prefix}:busy` };
    await r.redis.set(lock.lockKey, 'someone', 'PX', 5_000);
    await expect(withDenyFileLock(lock, async () => undefined, { waitMs: 200 })).rejects.toThrow(/locked by another worker .*busy.* for more than 0.2 s/);
  });
});
