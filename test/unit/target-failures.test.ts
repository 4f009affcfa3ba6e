/** How a target's errors read in a step (issue 11 §5): the cause, not a client library's internals. */
import { Redis } from 'ioredis';
import { expect, it } from 'vitest';
import { onTarget } from '../../activities/support/failures.js';

it('a Redis whose connection is down reads "unreachable", not ioredis\'s max-retries message, and stays retryable', async () => {
  // A real client to a port nothing listens on, with the worker's settings (one retry per command).
  const redis = new Redis('redis://127.0.0.1:1/0', { maxRetriesPerRequest: 1, connectTimeout: 500, retryStrategy: () => 50, lazyConnect: false });
  redis.on('error', () => undefined);
  try {
    const failure = await onTarget('redis', () => redis.get('k')).then(
      () => undefined,
      (err: unknown) => err as { message: string; nonRetryable: boolean },
    );
    expect(failure?.message).toMatch(/^redis unreachable: the connection is down \(will retry\)$|^redis unavailable: ECONNREFUSED$/);
    expect(failure?.message).not.toMatch(/max retries per request/);
    expect(failure?.nonRetryable).toBe(false);
  } finally {
    redis.disconnect();
  }
});
