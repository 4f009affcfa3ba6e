/** report.postmortem publication: a GitHub issue (opened once, then updated) and a Slack notice (posted once). */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities, TargetClients } from '../../activities/index.js';
import { TERMINAL, declareIncident, getStatus, waitFor } from '../../lib/incidents/index.js';
import { createLogger } from '../../lib/logger.js';
import { ownKey } from '../../lib/redis-keys.js';
import type { ActionInput, IncidentStatus } from '../../workflows/definitions.js';
import { DECLARER, startStack, type Stack } from '../helpers/firebreak.js';
import { startGithubStandin, type GithubStandin } from '../helpers/github-standin.js';

interface SlackStandin {
  url: string;
  bodies: unknown[];
  /** Status the next posts are answered with (200 `ok` by default). */
  answer: { status: number; text: string };
  stop(): Promise<void>;
}

async function startSlackStandin(): Promise<SlackStandin> {
  const bodies: unknown[] = [];
  const answer = { status: 200, text: 'ok' };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (answer.status === 200) bodies.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown);
      res.writeHead(answer.status, { 'content-type': 'text/plain' });
      res.end(answer.text);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const secretPath = `/services/T0000/B0000/${randomBytes(12).toString('hex')}`;
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}${secretPath}`,
    bodies,
    answer,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const ISSUES = 'POST /repos/{owner}/{repo}/issues';
const PATCH = 'PATCH /repos/{owner}/{repo}/issues/{issue_number}';

let gh: GithubStandin;
let slack: SlackStandin;
let stack: Stack;

beforeAll(async () => {
  gh = await startGithubStandin();
  slack = await startSlackStandin();
  process.env.FBT_PM_GITHUB_TOKEN = gh.model.token;
  process.env.FBT_SLACK_WEBHOOK = slack.url;
  stack = await startStack('postmortem-publish', {
    targetExtra: [
      `    github: { repo: acme/web, branch: main, token: { env: FBT_PM_GITHUB_TOKEN }, baseUrl: "${gh.url}" }`,
      '    slack: { webhook: { env: FBT_SLACK_WEBHOOK } }',
    ].join('\n'),
  });
  stack.writeRunbook(
    'pm-publish',
    [
      'name: pm-publish',
      'title: Publish the post-mortem',
      'severity: high',
      'phases:',
      '  postmortem:',
      '    - id: documents',
      '      action: report.postmortem',
      '      with: { open_issue: true }',
      '',
    ].join('\n'),
  );
});

afterAll(async () => {
  await stack?.stop();
  await slack?.stop();
  await gh?.stop();
  delete process.env.FBT_PM_GITHUB_TOKEN;
  delete process.env.FBT_SLACK_WEBHOOK;
});

describe('report.postmortem publishes when configured', () => {
  let status: IncidentStatus;

  it('an incident opens one labelled issue and posts one Slack notice naming it', async () => {
    const res = await declareIncident(stack.client, stack.config, { runbook: 'pm-publish', actor: stack.actor(DECLARER) });
    status = await waitFor(stack.client, res.id, (x) => TERMINAL.includes(x.state) || x.state === 'blocked' || x.state === 'awaiting-resolve', { timeoutMs: 60_000, intervalMs: 200 });
    const step = status.steps.find((s) => s.id === 'documents');
    expect(step).toMatchObject({ state: 'succeeded' });
    expect(status.state).toBe('completed');

    expect(gh.callsTo(ISSUES)).toHaveLength(1);
    expect(gh.model.issues).toHaveLength(1);
    const issue = gh.model.issues[0];
    expect(issue?.title).toBe(`[Firebreak] ${res.id}: Publish the post-mortem`);
    expect(issue?.body?.startsWith('# Post-mortem: Publish the post-mortem')).toBe(true);
    expect(issue?.labels).toEqual(['incident']);
    const url = `https://github.test/acme/web/issues/${issue?.number}`;
    // The step's proof (and its output, read by later steps) carries the issue.
    expect(step?.proof).toMatchObject({ issue: { number: issue?.number, url } });
    expect(step?.summary).toContain(url);
    expect(await stack.redis.redis.get(ownKey({ keyPrefix: stack.redis.prefix, keyVersion: 1 }, 'postmortem-issue', res.id, 'documents'))).toBe(String(issue?.number));

    expect(slack.bodies).toHaveLength(1);
    const text = (slack.bodies[0] as { text: string }).text;
    expect(text).toContain(res.id);
    expect(text).toContain(url);
    expect(text).not.toContain(slack.url);
    expect(text).not.toContain('/services/');
  });

  it('the same step run again updates the same issue and does not post to Slack twice', async () => {
    const clients = new TargetClients(stack.config);
    try {
      const acts = createActivities({ config: stack.config, logger: createLogger({ level: 'silent', pretty: false }), clients });
      const fresh = await getStatus(stack.client, status.id);
      const input: ActionInput = {
        incidentId: status.id,
        stepId: 'documents',
        action: 'report.postmortem',
        target: 'local',
        mode: 'live',
        args: { open_issue: true },
        requestedAt: new Date().toISOString(),
        status: fresh,
      };
      const again = await acts.reportPostmortem(input);
      expect(gh.callsTo(ISSUES)).toHaveLength(1);
      expect(gh.callsTo(PATCH)).toHaveLength(1);
      expect(gh.callsTo(PATCH)[0]?.path).toBe('/repos/acme/web/issues/1');
      expect(gh.model.issues).toHaveLength(1);
      expect(again.output).toMatchObject({ issue: { number: 1, url: 'https://github.test/acme/web/issues/1' } });
      expect(slack.bodies).toHaveLength(1);

      // The record was lost (a crash after GitHub created the issue): the issue is found by its title, not opened twice.
      await stack.redis.redis.del(ownKey({ keyPrefix: stack.redis.prefix, keyVersion: 1 }, 'postmortem-issue', status.id, 'documents'));
      const afterLoss = await acts.reportPostmortem({ ...input, requestedAt: new Date().toISOString() });
      expect(gh.callsTo(ISSUES)).toHaveLength(1);
      expect(gh.model.issues).toHaveLength(1);
      expect(afterLoss.output).toMatchObject({ issue: { number: 1 } });
      expect(await stack.redis.redis.get(ownKey({ keyPrefix: stack.redis.prefix, keyVersion: 1 }, 'postmortem-issue', status.id, 'documents'))).toBe('1');
    } finally {
      await clients.close();
    }
  });

  it('a webhook 500 is retryable, a 404 is not, and neither message shows the webhook URL', async () => {
    const clients = new TargetClients(stack.config);
    try {
      const acts = createActivities({ config: stack.config, logger: createLogger({ level: 'silent', pretty: false }), clients });
      const input = (incidentId: string): ActionInput => ({
        incidentId,
        stepId: 'documents',
        action: 'report.postmortem',
        target: 'local',
        mode: 'live',
        args: {},
        requestedAt: new Date().toISOString(),
        status: { ...status, id: incidentId },
      });
      slack.answer.status = 500;
      slack.answer.text = 'internal_error';
      const e500 = await acts.reportPostmortem(input('INC-T-slack-500')).catch((e: unknown) => e);
      expect(e500).toMatchObject({ type: 'FirebreakTargetUnavailable', nonRetryable: false, message: expect.stringContaining('500') });
      expect((e500 as Error).message).not.toContain(slack.url);
      slack.answer.status = 404;
      slack.answer.text = 'no_service';
      const e404 = await acts.reportPostmortem(input('INC-T-slack-404')).catch((e: unknown) => e);
      expect(e404).toMatchObject({ type: 'FirebreakBadInput', nonRetryable: true, message: expect.stringContaining('404') });
      expect((e404 as Error).message).not.toContain(slack.url);
      // Nothing was recorded as posted: a retry once Slack answers posts the notice.
      slack.answer.status = 200;
      slack.answer.text = 'ok';
      await acts.reportPostmortem(input('INC-T-slack-500'));
      expect(slack.bodies).toHaveLength(2);
      expect((slack.bodies[1] as { text: string }).text).toContain('INC-T-slack-500');
      expect(gh.model.issues).toHaveLength(1);
    } finally {
      await clients.close();
    }
  });
});
