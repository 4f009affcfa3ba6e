/** Typed failures: the workflow and clients branch on `type`, never on message text. */
import { ApplicationFailure } from '@temporalio/common';
import { FailureTypes } from '../../workflows/definitions.js';

export function badInput(message: string, details?: unknown): ApplicationFailure {
  return ApplicationFailure.create({ type: FailureTypes.BadInput, message, nonRetryable: true, details: details === undefined ? [] : [details] });
}

export function refused(message: string): ApplicationFailure {
  return ApplicationFailure.create({ type: FailureTypes.Refused, message, nonRetryable: true });
}

/** A proof that failed for a reason a retry cannot fix (role design, failed deploy, failed probe): the incident blocks. */
export function verificationFailedFinal(message: string, details?: unknown): ApplicationFailure {
  return ApplicationFailure.create({ type: FailureTypes.VerificationFailed, message, nonRetryable: true, details: details === undefined ? [] : [details] });
}

/** PostgreSQL's SQLSTATE of a pg error, when it has one. */
export function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/** The first line of an error's message, for one-line failure messages. */
export function errorLine(err: unknown): string {
  return err instanceof Error ? (err.message.split('\n')[0] ?? err.name) : String(err);
}

export function verificationFailed(message: string): ApplicationFailure {
  return ApplicationFailure.create({ type: FailureTypes.VerificationFailed, message, nonRetryable: false });
}

/** A target system did not answer or refused the command; Temporal retries with backoff. */
export function targetUnavailable(system: string, err: unknown): ApplicationFailure {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code) return ApplicationFailure.create({ type: FailureTypes.TargetUnavailable, message: `${system} unavailable: ${code}`, nonRetryable: false });
  // ioredis's own words for "the connection is down" name its internals, not the cause.
  if (err instanceof Error && err.name === 'MaxRetriesPerRequestError') {
    return ApplicationFailure.create({ type: FailureTypes.TargetUnavailable, message: `${system} unreachable: the connection is down (will retry)`, nonRetryable: false });
  }
  const reason = err instanceof Error ? (err.message.split('\n')[0] ?? err.name) : 'unknown error';
  return ApplicationFailure.create({ type: FailureTypes.TargetUnavailable, message: `${system} error: ${reason}`, nonRetryable: false });
}

/** Run a call against a target system; untyped errors become retryable TargetUnavailable failures. */
export async function onTarget<T>(system: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ApplicationFailure) throw err;
    throw targetUnavailable(system, err);
  }
}
