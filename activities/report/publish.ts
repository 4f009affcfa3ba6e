/** Publishing a post-mortem: a GitHub issue (opened once, updated on a retry) and a Slack notice, each when configured. */
import { ApplicationFailure } from '@temporalio/common';
import { readSecret } from '../../lib/config.js';
import { ownKey, type KeySpace } from '../../lib/redis-keys.js';
import { FailureTypes, type ActionInput, type IncidentStatus } from '../../workflows/definitions.js';
import type { ActivityDeps } from '../deps.js';
import { badInput, onTarget, targetUnavailable } from '../support/failures.js';
import { activityCancellationSignal, githubClients } from '../github-client.js';
import { RECORD_TTL_SECONDS } from '../support/records.js';

/** GitHub rejects issue bodies over 65,536 characters; stay well inside. */
export const MAX_ISSUE_BODY = 60_000;
export const SLACK_TIMEOUT_MS = 10_000;

/** The issue body: the post-mortem, cut to {@link MAX_ISSUE_BODY} characters with a note when longer. */
export function issueBody(markdown: string): string {
  if (markdown.length <= MAX_ISSUE_BODY) return markdown;
  const note = `\n\n---\n_Truncated by Firebreak: the post-mortem has ${markdown.length} characters; the full draft is postmortem.md in the evidence folder._\n`;
  return markdown.slice(0, MAX_ISSUE_BODY - note.length) + note;
}

export function issueTitle(status: Pick<IncidentStatus, 'id' | 'runbook' | 'mode'>): string {
  return `${status.mode === 'drill' ? '[DRILL] ' : ''}[Firebreak] ${status.id}: ${status.runbook.title}`;
}

const slackEscape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** The short Slack notice: incident, title, state, severity, where the post-mortem is, and the issue when opened. */
export function slackText(status: IncidentStatus, postmortemPath: string, issueUrl?: string): string {
  return [
    `${status.mode === 'drill' ? '[DRILL] ' : ''}*Post-mortem ready* for ${slackEscape(status.id)}: ${slackEscape(status.runbook.title)}`,
    `State: ${status.state} · Severity: ${status.severity}`,
    `Post-mortem: ${slackEscape(postmortemPath)}`,
    ...(issueUrl ? [`GitHub issue: <${issueUrl}>`] : []),
  ].join('\n');
}

/**
 * POST `{ text }` to a Slack incoming webhook. 2xx is success; 408/429/5xx and network
 * errors are retryable TargetUnavailable, other 4xx non-retryable BadInput. The webhook
 * URL (a secret) never appears in a message.
 */
export async function postToSlack(webhookUrl: string, text: string, timeoutMs = SLACK_TIMEOUT_MS): Promise<void> {
  const cancel = activityCancellationSignal();
  const signal = AbortSignal.any([AbortSignal.timeout(timeoutMs), ...(cancel ? [cancel] : [])]);
  const clean = (said: string) => said.split(webhookUrl).join('[webhook]').split('\n')[0]?.slice(0, 200) ?? '';
  let res: Response;
  try {
    res = await fetch(webhookUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text }), signal });
  } catch (err) {
    if (cancel?.aborted) throw cancel.reason instanceof Error ? cancel.reason : err;
    const cause = (err as { cause?: { code?: string } }).cause;
    const why = cause?.code ?? ((err as Error).name === 'TimeoutError' ? `no answer within ${Math.round(timeoutMs / 1000)} s` : (err as Error).name);
    throw targetUnavailable('slack', new Error(`Slack webhook unreachable: ${why}`));
  }
  if (res.ok) return;
  const said = clean(await res.text().catch(() => ''));
  const message = `Slack webhook answered ${res.status}${said ? `: ${said}` : ''}`;
  const retryable = res.status === 408 || res.status === 429 || res.status >= 500;
  throw ApplicationFailure.create({ type: retryable ? FailureTypes.TargetUnavailable : FailureTypes.BadInput, message, nonRetryable: !retryable, details: [{ status: res.status }] });
}

export interface Published {
  issue?: { number: number; url: string; created: boolean };
  slack?: 'posted' | 'already-posted';
}

/** Open (or, on a retry, update) the GitHub issue and post the Slack notice, each when configured. */
export async function publishPostmortem(deps: ActivityDeps, input: ActionInput, status: IncidentStatus, markdown: string, postmortemPath: string, openIssue: boolean): Promise<Published> {
  const target = deps.clients.target(input.target);
  const out: Published = {};
  const wantIssue = openIssue && Boolean(target.github);
  if (!wantIssue && !target.slack) return out;
  const space: KeySpace = target.redis;
  const redis = deps.clients.redis(input.target);
  const logger = deps.logger.child({ incidentId: input.incidentId, step: input.stepId });
  if (wantIssue) {
    const gh = githubClients(deps).for(input.target);
    const key = ownKey(space, 'postmortem-issue', input.incidentId, input.stepId);
    const title = issueTitle(status);
    const body = issueBody(markdown);
    let recorded = await onTarget('redis', () => redis.get(key));
    if (!recorded) {
      // A crash after GitHub created the issue but before we recorded it: find it by its title (it names the incident).
      const found = await gh.call('GET /repos/{owner}/{repo}/issues', { labels: 'incident', state: 'all', sort: 'created', direction: 'desc', per_page: 100 });
      const mine = found.data.find((i) => i.title === title && !i.pull_request);
      if (mine) recorded = String(mine.number);
    }
    if (recorded && /^\d+$/.test(recorded)) {
      const res = await gh.call('PATCH /repos/{owner}/{repo}/issues/{issue_number}', { issue_number: Number(recorded), title, body });
      out.issue = { number: res.data.number, url: res.data.html_url, created: false };
      await onTarget('redis', () => redis.set(key, String(res.data.number), 'EX', RECORD_TTL_SECONDS));
    } else {
      const res = await gh.call('POST /repos/{owner}/{repo}/issues', { title, body, labels: ['incident'] });
      out.issue = { number: res.data.number, url: res.data.html_url, created: true };
      await onTarget('redis', () => redis.set(key, String(res.data.number), 'EX', RECORD_TTL_SECONDS));
    }
    logger.info({ issue: out.issue.number, repo: gh.slug }, out.issue.created ? 'post-mortem issue opened' : 'post-mortem issue updated');
  }
  if (target.slack) {
    const key = ownKey(space, 'postmortem-slack', input.incidentId, input.stepId);
    if (await onTarget('redis', () => redis.get(key))) {
      out.slack = 'already-posted';
    } else {
      let webhook: string;
      try {
        webhook = readSecret(target.slack.webhook);
      } catch (err) {
        throw badInput(`target "${input.target}": cannot read slack.webhook: ${(err as Error).message}`);
      }
      await postToSlack(webhook, slackText(status, postmortemPath, out.issue?.url));
      await onTarget('redis', () => redis.set(key, 'posted', 'EX', RECORD_TTL_SECONDS));
      out.slack = 'posted';
      logger.info('post-mortem notice posted to Slack');
    }
  }
  return out;
}
