/** Secret values: told apart by fingerprint, and kept out of every message that leaves an activity. */
import { redactValues } from '../../lib/redact.js';
import { createHash } from 'node:crypto';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { FailureTypes } from '../../workflows/definitions.js';
import { errorLine, sqlState } from '../support/failures.js';

/** First 12 hex digits of SHA-256: tells values apart without revealing them. */
export function fingerprint(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex').slice(0, 12);
}

/**
 * Every secret value this call touched; errors leave the activity through
 * `failure`, so no message can carry one (whatever a client library echoed).
 */
export class Hush {
  private readonly values = new Set<string>();

  add(...values: (string | undefined)[]): void {
    for (const v of values) if (v) this.values.add(v);
  }

  scrub(text: string): string {
    return redactValues(text, this.values, '[redacted]');
  }

  /** The error to throw instead of `err`: same failure type and retry policy, scrubbed message, no details or cause. */
  failure(err: unknown): Error {
    if (err instanceof CancelledFailure) return err;
    if (err instanceof ApplicationFailure) {
      return ApplicationFailure.create({ type: err.type ?? FailureTypes.TargetUnavailable, message: this.scrub(err.message), nonRetryable: err.nonRetryable ?? false });
    }
    const code = (err as NodeJS.ErrnoException | undefined)?.code;
    return ApplicationFailure.create({
      type: FailureTypes.TargetUnavailable,
      message: this.scrub(`secret rotation failed: ${code && !sqlState(err) ? code : errorLine(err)}`),
      nonRetryable: false,
    });
  }
}
