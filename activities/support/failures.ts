/** Typed failures: the workflow and clients branch on `type`, never on message text. */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { currentTarget, outageOf } from './outages.js';
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
export function targetUnavailable(system: string, err: unknown, now: number = Date.now()): ApplicationFailure {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const down = connectionDown(err);
  if (down) {
    const { where, since } = outageOf(system, currentTarget());
    const when = since === undefined ? '' : ` since ${new Date(since).toISOString().slice(11, 19)}Z (${Math.max(0, Math.round((now - since) / 1000))} s)`;
    // ioredis's own words for "the connection is down" name its internals, not the cause.
    const cause = code ?? 'the connection is down';
    return ApplicationFailure.create({ type: FailureTypes.TargetUnavailable, message: `${where} unreachable${when}: ${cause} (will retry)`, nonRetryable: false });
  }
  if (code) return ApplicationFailure.create({ type: FailureTypes.TargetUnavailable, message: `${system} unavailable: ${code}`, nonRetryable: false });
  const reason = err instanceof Error ? (err.message.split('\n')[0] ?? err.name) : 'unknown error';
  return ApplicationFailure.create({ type: FailureTypes.TargetUnavailable, message: `${system} error: ${reason}`, nonRetryable: false });
}

const DOWN_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN']);

/** The error says the connection is down (not that the command was refused). */
function connectionDown(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as NodeJS.ErrnoException).code;
  return err.name === 'MaxRetriesPerRequestError' || err.message === 'Connection is closed.' || (code !== undefined && DOWN_CODES.has(code));
}

/** Most of one attempt an outage wait may use: the rest of the attempt stays for the work itself. */
const OUTAGE_MARGIN_MS = 3_000;
/** Longer steps (a bulk revocation's 15 minutes) still fail an attempt after a minute down, so the retries show. */
const OUTAGE_MAX_WAIT_MS = 60_000;
const OUTAGE_POLL_MS = [250, 500, 1_000, 2_000] as const;

/**
 * How long this activity attempt may wait for a lost connection to come back: until shortly
 * before its start-to-close timeout. Outside an activity (direct calls, tests of one function)
 * it does not wait.
 */
function outageDeadline(): number | undefined {
  let info: Context['info'];
  try {
    info = Context.current().info;
  } catch {
    return undefined;
  }
  const timeout = info.startToCloseTimeoutMs;
  if (!timeout) return undefined;
  return Math.min(info.currentAttemptScheduledTimestampMs + timeout - OUTAGE_MARGIN_MS, Date.now() + OUTAGE_MAX_WAIT_MS);
}

/**
 * Run a call against a target system; untyped errors become retryable TargetUnavailable failures.
 * A Redis connection that is down is waited for within the attempt (heartbeating), so an outage
 * of about a minute is ridden out by a containment step's attempts instead of blocking the incident.
 */
export async function onTarget<T>(system: string, fn: () => Promise<T>): Promise<T> {
  const deadline = system === 'redis' ? outageDeadline() : undefined;
  for (let n = 0; ; n++) {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof ApplicationFailure) throw err;
      const pause = OUTAGE_POLL_MS[Math.min(n, OUTAGE_POLL_MS.length - 1)] as number;
      if (deadline === undefined || !connectionDown(err) || Date.now() + pause > deadline) throw targetUnavailable(system, err);
      const ctx = Context.current();
      ctx.heartbeat({ waitingFor: outageOf(system, currentTarget()).where });
      await ctx.sleep(pause);
    }
  }
}
