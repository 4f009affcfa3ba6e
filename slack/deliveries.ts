/**
 * Slack delivers a request again when it saw no answer in time (`X-Slack-Retry-Num`), and a
 * captured request stays correctly signed for the five minutes Bolt accepts it. Both are
 * the same bytes: a body seen before is acknowledged and dropped, so it never acts twice.
 * Every body is unique per person and moment (a command's `trigger_id`, an event's id).
 */
import { createHash } from 'node:crypto';

export const deliveryKey = (rawBody: Buffer): string => createHash('sha256').update(rawBody).digest('base64url');

export class Deliveries {
  private readonly seen = new Map<string, number>();

  /** `ttlMs` outlasts Bolt's 5-minute window and Slack's retries; `max` bounds the memory. */
  constructor(
    private readonly ttlMs = 60 * 60_000,
    private readonly max = 100_000,
  ) {}

  /** True the first time `key` is offered within the window. */
  firstTime(key: string, now = Date.now()): boolean {
    for (const [k, at] of this.seen) {
      if (now - at < this.ttlMs && this.seen.size < this.max) break;
      this.seen.delete(k);
    }
    if (this.seen.has(key)) return false;
    this.seen.set(key, now);
    return true;
  }
}
