/**
 * A failed Web API call of the live refresher, as what to do about it: wait Slack's
 * Retry-After (429), or back off and try again later (anything else). The web client is
 * built with `rejectRateLimitedCalls`, so a 429 reaches us instead of being slept on.
 */
import type { webApi } from '@slack/bolt';

export type SlackFailure =
  | { kind: 'rate-limited'; retryAfterMs: number; detail: string }
  | { kind: 'failed'; detail: string };

/** Slack's error name or the HTTP status, never the request (it carries the token in its headers). */
export function slackFailure(err: unknown): SlackFailure {
  const e = err as Partial<webApi.WebAPICallError> & { message?: string };
  switch (e.code as string | undefined) {
    case 'slack_webapi_rate_limited_error': {
      const seconds = Number((e as webApi.WebAPIRateLimitedError).retryAfter);
      return { kind: 'rate-limited', retryAfterMs: Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 1000, detail: `429, Retry-After ${String(seconds)} s` };
    }
    case 'slack_webapi_platform_error':
      return { kind: 'failed', detail: `Slack answered ${String((e as webApi.WebAPIPlatformError).data?.error ?? 'an error')}` };
    case 'slack_webapi_http_error':
      return { kind: 'failed', detail: `HTTP ${String((e as webApi.WebAPIHTTPError).statusCode)}` };
    case 'slack_webapi_request_error':
      return { kind: 'failed', detail: `request failed: ${String((e as webApi.WebAPIRequestError).original?.message ?? 'no answer').slice(0, 200)}` };
    default:
      return { kind: 'failed', detail: String(e.message ?? err).split('\n')[0]?.slice(0, 200) ?? 'unknown error' };
  }
}
