/**
 * The drill report where people see it, when the drill target has them configured: a short
 * Slack notice of every drill (its `slack.webhook`), and a GitHub issue (its `github` repo,
 * label `drill`) for a drill that did not pass — a passing drill is no work for anyone.
 * Each is sent once: a retry finds the record (or, for the issue, its title) and sends nothing.
 */
import { readSecret } from '../../lib/config.js';
import { reportMarkdown } from '../../lib/drill-report.js';
import { ownKey, type KeySpace } from '../../lib/redis-keys.js';
import type { DrillReport } from '../../workflows/drill-definitions.js';
import type { ActivityDeps } from '../deps.js';
import { githubClients } from '../github-client.js';
import { issueBody, postToSlack } from '../report/publish.js';
import { badInput, onTarget } from '../support/failures.js';
import { RECORD_TTL_SECONDS } from '../support/records.js';

const secs = (v?: number): string => (v === undefined ? '—' : `${(v / 1000).toFixed(1)} s`);
const slackEscape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function drillIssueTitle(r: Pick<DrillReport, 'incidentId' | 'runbook' | 'target' | 'outcome'>): string {
  return `[DRILL] ${r.runbook} on ${r.target}: ${r.outcome} (${r.incidentId})`;
}

/** The Slack notice: outcome, times, what failed (at most five), what changed since the previous drill. */
export function drillSlackText(r: DrillReport, issueUrl?: string): string {
  const g = r.regression;
  const worse = g ? [...g.newlyFailing.map((s) => `step ${s}`), ...g.newlyFailingChecks, ...g.slower.map((s) => `${s.step} slower by ${secs(s.deltaMs)}`)] : [];
  return [
    `[DRILL] *${slackEscape(r.runbook)}* on ${slackEscape(r.target)}: *${r.outcome.toUpperCase()}* (${slackEscape(r.incidentId)}${r.scheduleId ? `, schedule ${slackEscape(r.scheduleId)}` : ''})`,
    `Containment ${secs(r.timeToContainmentMs)} · full restore ${secs(r.timeToRestoreMs)} · ${r.postConditions.filter((c) => c.ok).length}/${r.postConditions.length} outside checks held`,
    ...r.failures.slice(0, 5).map((f) => `• ${slackEscape(f)}`),
    ...(r.failures.length > 5 ? [`• … and ${r.failures.length - 5} more`] : []),
    ...(worse.length ? [`Worse than the previous drill: ${slackEscape(worse.join('; '))}`] : []),
    ...(issueUrl ? [`GitHub issue: <${issueUrl}>`] : []),
  ].join('\n');
}

export interface DrillPublished {
  issue?: { number: number; url: string };
  slack?: 'posted' | 'already-posted';
}

export function createPublish(deps: ActivityDeps) {
  return async function drillPublish(report: DrillReport): Promise<DrillPublished> {
    const target = deps.clients.target(report.target);
    const wantIssue = report.outcome !== 'passed' && Boolean(target.github);
    if (!wantIssue && !target.slack) return {};
    const space: KeySpace = target.redis;
    const redis = deps.clients.redis(report.target);
    const out: DrillPublished = {};
    if (wantIssue) {
      const gh = githubClients(deps).for(report.target);
      const key = ownKey(space, 'drill-issue', report.incidentId);
      const title = drillIssueTitle(report);
      const recorded = await onTarget('redis', () => redis.get(key));
      if (recorded) out.issue = JSON.parse(recorded) as { number: number; url: string };
      else {
        // A crash after GitHub created the issue but before we recorded it: find it by its title (it names the drill).
        const found = await gh.call('GET /repos/{owner}/{repo}/issues', { labels: 'drill', state: 'all', sort: 'created', direction: 'desc', per_page: 100 });
        const mine = found.data.find((i) => i.title === title && !i.pull_request);
        const res = mine ? undefined : await gh.call('POST /repos/{owner}/{repo}/issues', { title, body: issueBody(reportMarkdown(report)), labels: ['drill'] });
        const issue = mine ?? res?.data;
        if (issue) {
          out.issue = { number: issue.number, url: issue.html_url };
          await onTarget('redis', () => redis.set(key, JSON.stringify(out.issue), 'EX', RECORD_TTL_SECONDS));
        }
      }
    }
    if (target.slack) {
      const key = ownKey(space, 'drill-slack', report.incidentId);
      if (await onTarget('redis', () => redis.get(key))) out.slack = 'already-posted';
      else {
        let webhook: string;
        try {
          webhook = readSecret(target.slack.webhook);
        } catch (err) {
          throw badInput(`target "${report.target}": cannot read slack.webhook: ${(err as Error).message}`);
        }
        await postToSlack(webhook, drillSlackText(report, out.issue?.url));
        await onTarget('redis', () => redis.set(key, 'posted', 'EX', RECORD_TTL_SECONDS));
        out.slack = 'posted';
      }
    }
    deps.logger.info({ incidentId: report.incidentId, outcome: report.outcome, issue: out.issue?.number, slack: out.slack }, 'drill report published');
    return out;
  };
}
