/**
 * GitHub REST through Octokit: one client per target, built lazily, and one
 * place where Octokit's RequestError becomes a typed Firebreak failure.
 * Octokit never retries here; Temporal's retry policy owns retries.
 */
import { Octokit } from '@octokit/rest';
import type { Endpoints } from '@octokit/types';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { readSecret, type TargetConfig } from '../lib/config.js';
import { redactValues } from '../lib/redact.js';
import { FailureTypes } from '../workflows/definitions.js';
import type { ActivityDeps } from './deps.js';
import { badInput, targetUnavailable } from './support/failures.js';
import { activityContext } from './support/context.js';

export type GithubConfig = NonNullable<TargetConfig['github']>;
export type GithubRoute = keyof Endpoints;
export type GithubParams<R extends GithubRoute> = Omit<Endpoints[R]['parameters'], 'owner' | 'repo'>;
export type GithubResponse<R extends GithubRoute> = Endpoints[R]['response'];

/** Longest a single GitHub call may take: well inside the 60 s heartbeat timeout of long steps. */
export const GITHUB_REQUEST_TIMEOUT_MS = 20_000;
/** A rate-limited call is retried no later than this, whatever GitHub's reset time. */
const MAX_RATE_LIMIT_DELAY_MS = 15 * 60_000;

/** One target's repository and the client that reaches it. */
export class GithubTarget {
  readonly owner: string;
  readonly repo: string;
  /** `owner/name`, for messages. */
  readonly slug: string;

  constructor(
    readonly targetName: string,
    readonly config: GithubConfig,
    readonly octokit: Octokit,
    private readonly token: string,
    private readonly requestTimeoutMs: number,
    private readonly onUnauthorized: () => void,
  ) {
    const [owner, repo] = config.repo.split('/') as [string, string];
    this.owner = owner;
    this.repo = repo;
    this.slug = config.repo;
  }

  get branch(): string {
    return this.config.branch;
  }

  /**
   * Call one REST endpoint of this target's repository (`owner`/`repo` filled in).
   * Cancellation of the surrounding activity aborts the call and is rethrown as is;
   * every other error goes through {@link githubFailure}.
   */
  async call<R extends GithubRoute>(route: R, params: GithubParams<R>, opts: { ignoreCancellation?: boolean } = {}): Promise<GithubResponse<R>> {
    const cancel = opts.ignoreCancellation ? undefined : activityCancellationSignal();
    const signals = [AbortSignal.timeout(this.requestTimeoutMs), ...(cancel ? [cancel] : [])];
    try {
      const options = { ...params, owner: this.owner, repo: this.repo, request: { signal: AbortSignal.any(signals) } };
      return await this.octokit.request(route, options as never);
    } catch (err) {
      if (cancel?.aborted) throw cancellationOf(cancel);
      if (statusOf(err) === 401) this.onUnauthorized();
      throw githubFailure(err, `${route} (${this.slug})`, [this.token]);
    }
  }
}

/** Options for {@link GithubClients}; tests shorten the request timeout. */
export interface GithubClientOptions {
  requestTimeoutMs?: number;
  userAgent?: string;
}

/** The per-worker cache of GitHub clients, keyed by target name. */
export class GithubClients {
  private readonly byTarget = new Map<string, GithubTarget>();

  constructor(
    private readonly deps: ActivityDeps,
    private readonly options: GithubClientOptions = {},
  ) {}

  /** The target's GitHub client; a non-retryable BadInput failure when the target has no usable `github` section. */
  for(targetName: string): GithubTarget {
    const cached = this.byTarget.get(targetName);
    if (cached) return cached;
    const target = this.deps.clients.target(targetName);
    const gh = target.github;
    if (!gh) throw badInput(`target "${targetName}" has no github section in config (github: { repo, branch, token, ... })`);
    if (!gh.token) throw badInput(`target "${targetName}": github.token is not set (a secret reference, e.g. { env: GITHUB_TOKEN })`);
    let token: string;
    try {
      token = readSecret(gh.token);
    } catch (err) {
      throw badInput(`target "${targetName}": cannot read github.token: ${(err as Error).message}`);
    }
    const logger = this.deps.logger.child({ github: gh.repo, target: targetName });
    const octokit = new Octokit({
      auth: token,
      ...(gh.baseUrl ? { baseUrl: gh.baseUrl.replace(/\/+$/, '') } : {}),
      userAgent: this.options.userAgent ?? 'firebreak',
      // Octokit's request log says "GET /path - 200 in 12ms"; failures are mapped and reported by the caller.
      log: {
        debug: () => undefined,
        info: () => undefined,
        warn: (message: string) => logger.warn(message),
        error: (message: string) => logger.debug(message),
      },
      request: { retries: 0 },
    });
    const client = new GithubTarget(targetName, gh, octokit, token, this.options.requestTimeoutMs ?? GITHUB_REQUEST_TIMEOUT_MS, () =>
      // A rotated token file is read again on the next attempt.
      this.byTarget.delete(targetName),
    );
    this.byTarget.set(targetName, client);
    return client;
  }
}

const shared = new WeakMap<object, GithubClients>();

/** The GitHub client cache of this worker (one per `deps.clients`, so per worker), created on first use. */
export function githubClients(deps: ActivityDeps): GithubClients {
  let clients = shared.get(deps.clients);
  if (!clients) {
    clients = new GithubClients(deps);
    shared.set(deps.clients, clients);
  }
  return clients;
}

interface RequestErrorLike {
  status: number;
  message: string;
  response?: { headers?: Record<string, string | number | undefined>; data?: unknown };
  request?: { method?: string; url?: string };
}

function statusOf(err: unknown): number | undefined {
  const status = (err as { status?: unknown } | null)?.status;
  return typeof status === 'number' ? status : undefined;
}

function isRequestError(err: unknown): err is RequestErrorLike {
  return err instanceof Error && err.name === 'HttpError' && typeof statusOf(err) === 'number';
}

/**
 * Map a GitHub client error to a typed failure, once:
 * 401, 403 (not rate limiting) → non-retryable `FirebreakRefused`;
 * 404, 422 and other 4xx → non-retryable `FirebreakBadInput`;
 * 408, 429, 403 with the rate limit exhausted, 5xx and network errors → retryable
 * `FirebreakTargetUnavailable` (rate limits carry GitHub's reset time as the next retry delay).
 * The message names the endpoint and status and never the token (nor a request body).
 */
export function githubFailure(err: unknown, endpoint = 'GitHub API', redact: string[] = []): ApplicationFailure | CancelledFailure {
  if (err instanceof ApplicationFailure || err instanceof CancelledFailure) return err;
  // Redacted before the cut: a secret cut in half would no longer match.
  const clean = (text: string): string => redactValues(text.split('\n')[0] ?? '', redact).slice(0, 300);
  if (!isRequestError(err)) return targetUnavailable('github', new Error(clean(`${endpoint}: ${(err as Error | undefined)?.message ?? String(err)}`)));
  const status = err.status;
  const headers = err.response?.headers ?? {};
  const data = err.response?.data;
  const said = clean(typeof data === 'object' && data !== null && typeof (data as { message?: unknown }).message === 'string' ? (data as { message: string }).message : err.message);
  const what = `GitHub ${endpoint} answered ${status}${said ? `: ${said}` : ''}`;
  // Callers that must tell statuses apart (a 422 from a 404) read details[0].status.
  const details = [{ status: err.response ? status : undefined, endpoint }];
  const rateDelay = rateLimitDelayMs(status, headers);
  if (rateDelay !== undefined) {
    return ApplicationFailure.create({
      type: FailureTypes.TargetUnavailable,
      message: `${what} (rate limited; retrying in ${Math.ceil(rateDelay / 1000)} s)`,
      nonRetryable: false,
      nextRetryDelay: rateDelay,
      details,
    });
  }
  if (status === 401) {
    return ApplicationFailure.create({ type: FailureTypes.Refused, message: `${what} (the token was not accepted: check github.token)`, nonRetryable: true, details });
  }
  if (status === 403) {
    return ApplicationFailure.create({ type: FailureTypes.Refused, message: `${what} (the token lacks a permission this needs)`, nonRetryable: true, details });
  }
  if (status === 408 || status === 429 || status >= 500) {
    // Octokit reports network failures (no response at all) as status 500.
    const message = err.response ? what : `GitHub ${endpoint} unreachable: ${said || 'network error'}`;
    return ApplicationFailure.create({ type: FailureTypes.TargetUnavailable, message, nonRetryable: false, details });
  }
  return ApplicationFailure.create({ type: FailureTypes.BadInput, message: what, nonRetryable: true, details });
}

/** Milliseconds to wait when GitHub says the call was rate limited (primary or secondary), else undefined. */
function rateLimitDelayMs(status: number, headers: Record<string, string | number | undefined>): number | undefined {
  if (status !== 403 && status !== 429) return undefined;
  const retryAfter = Number(headers['retry-after']);
  const remaining = headers['x-ratelimit-remaining'];
  const reset = Number(headers['x-ratelimit-reset']);
  let delay: number | undefined;
  if (Number.isFinite(retryAfter) && headers['retry-after'] !== undefined) delay = retryAfter * 1000;
  else if (String(remaining) === '0') delay = Number.isFinite(reset) ? reset * 1000 - Date.now() : 60_000;
  else if (status === 429) delay = 60_000;
  if (delay === undefined) return undefined;
  return Math.min(Math.max(delay, 1000), MAX_RATE_LIMIT_DELAY_MS);
}

/** The running activity's cancellation signal, or undefined outside an activity. */
export function activityCancellationSignal(): AbortSignal | undefined {
  return activityContext()?.cancellationSignal;
}

function cancellationOf(signal: AbortSignal): unknown {
  return signal.reason instanceof Error ? signal.reason : new CancelledFailure('CANCELLED');
}
