/**
 * The Slack Web API as the notify activities use it: one POST per call (form-encoded, the
 * bot token as a bearer header), a short per-request timeout, and Slack's failures mapped
 * once to typed Temporal failures. No retries of its own: the workflow's activity retry
 * policy decides (a 429's Retry-After becomes the next retry's delay).
 */
import { ApplicationFailure } from '@temporalio/common';
import { FailureTypes } from '../../workflows/definitions.js';

/** An `ok: false` answer: callers branch on `error` (Slack's documented codes), never on text. */
export class SlackApiError extends Error {
  constructor(
    readonly method: string,
    readonly error: string,
  ) {
    super(`slack ${method}: ${error}`);
    this.name = 'SlackApiError';
  }
}

/** Codes that mean "try again later" (Slack's own trouble), not "this will never work". */
const TRANSIENT = new Set(['ratelimited', 'internal_error', 'fatal_error', 'service_unavailable', 'request_timeout', 'team_added_to_org']);

export interface SlackWebApiOptions {
  /** Base URL ending with `/` (slack.apiUrl). */
  apiUrl: string;
  /** Read when a call is made (a secret reference), never stored in the client. */
  token: () => string;
  /** Per request (default 5 s): a hanging Slack fails the attempt, not the activity's whole timeout. */
  timeoutMs?: number;
  fetch?: typeof fetch;
}

export type SlackAnswer = Record<string, unknown> & { ok: true };

export class SlackWebApi {
  private readonly timeoutMs: number;
  private readonly doFetch: typeof fetch;
  private botUserId: string | undefined;

  constructor(private readonly opts: SlackWebApiOptions) {
    this.timeoutMs = opts.timeoutMs ?? 5_000;
    this.doFetch = opts.fetch ?? fetch;
  }

  /** Call `method`; throws SlackApiError for `ok: false`, a retryable failure when Slack is down or rate-limits. */
  async call(method: string, args: Record<string, unknown> = {}): Promise<SlackAnswer> {
    const body = new URLSearchParams();
    for (const [k, v] of Object.entries(args)) {
      if (v === undefined) continue;
      body.set(k, typeof v === 'string' ? v : JSON.stringify(v));
    }
    let res: Response;
    try {
      res = await this.doFetch(new URL(method, this.opts.apiUrl), {
        method: 'POST',
        headers: { authorization: `Bearer ${this.opts.token()}`, 'content-type': 'application/x-www-form-urlencoded' },
        body,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw unavailable(method, causeOf(err));
    }
    if (res.status === 429) {
      const after = Number(res.headers.get('retry-after') ?? '1');
      await res.body?.cancel();
      throw unavailable(method, `rate-limited (Retry-After ${after} s)`, Number.isFinite(after) && after > 0 ? after * 1000 : 1000);
    }
    let answer: Record<string, unknown>;
    try {
      answer = (await res.json()) as Record<string, unknown>;
    } catch {
      throw unavailable(method, `HTTP ${res.status} without a JSON body`);
    }
    if (res.status >= 500) throw unavailable(method, `HTTP ${res.status}${typeof answer.error === 'string' ? ` (${answer.error})` : ''}`);
    if (answer.ok === true) return answer as SlackAnswer;
    const error = typeof answer.error === 'string' ? answer.error : 'unknown_error';
    if (TRANSIENT.has(error)) throw unavailable(method, error);
    throw new SlackApiError(method, error);
  }

  /** The bot's own user id (auth.test, once): what "a channel we created" is checked against. */
  async botUser(): Promise<string> {
    if (!this.botUserId) {
      const me = await this.call('auth.test');
      this.botUserId = String(me.user_id);
    }
    return this.botUserId;
  }
}

function causeOf(err: unknown): string {
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) return 'no answer in time';
  const code = (err as { cause?: { code?: unknown } } | undefined)?.cause?.code;
  return typeof code === 'string' ? code : err instanceof Error ? err.message.split('\n')[0] ?? err.name : String(err);
}

function unavailable(method: string, why: string, nextRetryMs?: number): ApplicationFailure {
  return ApplicationFailure.create({ type: FailureTypes.TargetUnavailable, message: `slack ${method}: ${why} (will retry)`, nonRetryable: false, ...(nextRetryMs !== undefined && { nextRetryDelay: nextRetryMs }) });
}

/** A Slack refusal no retry fixes (bad token, missing scope, archived channel): the notification is given up, typed. */
export function slackRefused(err: SlackApiError, hint = ''): ApplicationFailure {
  const scope = err.error === 'missing_scope' ? ' (add the scope to the app: slack/manifest.yaml)' : err.error === 'invalid_auth' || err.error === 'not_authed' ? ' (check slack.botToken)' : '';
  return ApplicationFailure.create({ type: FailureTypes.Refused, message: `${err.message}${scope}${hint}`, nonRetryable: true });
}
