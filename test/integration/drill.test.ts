/**
 * Drills for real on the dev server: a drill target whose app (the shipped Express guard,
 * over real HTTP) reads the target's Redis; robots whose keys the worker holds. A drill
 * passes with its outside post-conditions checked and the flag back as before; a sabotaged
 * app (reading another Redis namespace) fails the drill on the outside check and says so.
 * Schedules: created through the CLI, in Temporal, triggered, listed, paused and deleted.
 * Refused: production, a drill target sharing with production, robots on a live incident.
 */
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { firebreakGuard } from '../../examples/express/firebreak-middleware.js';
import { createKeyPair, publicLine, type KeyPair } from '../../lib/identity/keys.js';
import { keyPairSigner } from '../../lib/identity/signer.js';
import { declareIncident, getStatus, resolveIncident, waitFor } from '../../lib/incidents/index.js';
import { drillResult, runDrill } from '../../lib/incidents/drills.js';
import { loadConfig } from '../../lib/config.js';
import { runCli } from '../helpers/cli.js';
import { DECLARER, startStack, type Stack } from '../helpers/firebreak.js';
import { REDIS_URL } from '../helpers/services.js';
import { startGithubStandin, type GithubStandin } from '../helpers/github-standin.js';
import { startSlackWebhook, type SlackWebhook } from '../helpers/slack-webhook.js';

let stack: Stack;
let app: Server;
let appRedis: Redis;
let gh: GithubStandin;
let slack: SlackWebhook;
/** What the app reads: the target's namespace, or (sabotage) another one. */
let appPrefix = '';
const robots = new Map<string, KeyPair>();
type Json = { report: { incidentId: string }; schedule: { id: string; paused: boolean; note?: string } };

beforeAll(async () => {
  appRedis = new Redis(REDIS_URL, { maxRetriesPerRequest: 2 });
  gh = await startGithubStandin();
  slack = await startSlackWebhook();
  process.env.FBT_DRILL_GITHUB_TOKEN = gh.model.token;
  process.env.FBT_DRILL_SLACK_WEBHOOK = slack.url;
  app = createServer((req, res) => {
    const guard = firebreakGuard({ redis: appRedis, keyPrefix: appPrefix, onError: () => undefined });
    guard(req, res, () => res.end('ok'));
  });
  await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
  const port = (app.address() as AddressInfo).port;
  const dir = join('/tmp', `fbt-drill-robots-${process.pid}`);
  for (const name of ['robot-a', 'robot-b']) robots.set(name, await createKeyPair(join(dir, name), { force: true }));
  const keyFile = (name: string) => join(dir, name, 'firebreak', 'ed25519.key');
  stack = await startStack('drill', {
    targetExtra: [
      '    drillTarget: true',
      `    app: { url: "http://127.0.0.1:${port}/" }`,
      // Where the drill reports go: every drill to Slack, a drill that did not pass as a GitHub issue.
      `    github: { repo: acme/web, token: { env: FBT_DRILL_GITHUB_TOKEN }, baseUrl: "${gh.url}" }`,
      '    slack: { webhook: { env: FBT_DRILL_SLACK_WEBHOOK } }',
    ].join('\n'),
    identityExtra: ['  services:', ...[...robots].map(([name, key]) => `    - { name: ${name}, kind: drill-robot, keys: ["${publicLine(key, name)}"], may: [declare, approve, resolve, abort] }`)],
    extraConfig: ['drills:', '  approveAfter: 100ms', '  healthEvery: 2s', '  robots:', ...[...robots.keys()].map((n) => `    - { name: ${n}, keyFile: ${keyFile(n)} }`)].join('\n'),
  });
  appPrefix = stack.redis.prefix;
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  await appRedis?.quit();
  await new Promise((r) => app?.close(r));
  await slack?.stop();
  await gh?.stop();
  delete process.env.FBT_DRILL_GITHUB_TOKEN;
  delete process.env.FBT_DRILL_SLACK_WEBHOOK;
});

/** What Slack was told about one drill. */
const slackFor = (incidentId: string | undefined) => slack.bodies.filter((b) => incidentId && b.text.includes(incidentId)).map((b) => b.text);

describe('a real drill on a drill target', () => {
  it('passes: containment seen from outside (503), the all-clear restores the flag and the app exactly as before', async () => {
    appPrefix = stack.redis.prefix;
    const { workflowId } = await runDrill(stack.client, stack.config, { runbook: 'lockdown', target: 'local', actor: { user: DECLARER, host: 'test', via: 'api' } });
    const { report, error } = await drillResult(stack.client, workflowId);
    expect(error).toBeUndefined();
    expect(report?.outcome, JSON.stringify(report?.failures)).toBe('passed');
    expect(report?.postConditions.map((c) => [c.when, c.system, c.ok])).toEqual([
      ['containment', 'app', true],
      ['restore', 'redis', true],
      ['restore', 'app', true],
    ]);
    expect(report?.steps.find((s) => s.id === 'lockdown')?.outcome).toBe('undone');
    expect(await stack.redis.redis.get(stack.flagKey)).toBeNull();
    const status = await getStatus(stack.client, report?.incidentId ?? '');
    expect(status).toMatchObject({ mode: 'drill', state: 'completed', identity: { declarer: { responder: 'robot-a', via: 'drill-robot' } } });
    // The report is kept, and `drill report` reads it.
    const cli = await runCli(['drill', 'report', report?.incidentId ?? '', '--json'], { cwd: stack.dir, env: stack.cliEnv(DECLARER) });
    expect(cli.code).toBe(0);
    expect((JSON.parse(cli.stdout) as Json).report.incidentId).toBe(report?.incidentId);
    // Published: a Slack notice; no GitHub issue for a drill that passed.
    expect(slackFor(report?.incidentId)).toEqual([expect.stringMatching(new RegExp(`^\\[DRILL\\] \\*lockdown\\* on local: \\*PASSED\\* \\(${report?.incidentId}\\)\nContainment \\d+\\.\\d s · full restore \\d+\\.\\d s · 3/3 outside checks held$`))]);
    expect(gh.model.issues.filter((i) => i.title.includes(report?.incidentId ?? '-'))).toEqual([]);
  }, 90_000);

  it('sabotaged: the app reads another Redis namespace, the kill-switch never reaches it, and the drill fails on that check', async () => {
    appPrefix = `${stack.redis.prefix}-elsewhere`;
    try {
      const { workflowId } = await runDrill(stack.client, stack.config, { runbook: 'lockdown', target: 'local', actor: { user: DECLARER, host: 'test', via: 'api' } });
      const { report } = await drillResult(stack.client, workflowId);
      expect(report?.outcome).toBe('failed');
      expect(report?.failures).toEqual([expect.stringMatching(/^post-condition failed \(app, after containment\): the app answers 503 under lockdown .*: answered 200$/)]);
      expect(report?.regression?.newlyFailingChecks).toEqual([expect.stringMatching(/^app: the app answers 503 under lockdown/)]);
      // A drill that did not pass opens a GitHub issue (label drill, the report as its body) and Slack names it.
      const issues = gh.model.issues.filter((i) => i.title === `[DRILL] lockdown on local: failed (${report?.incidentId})`);
      expect(issues.map((i) => [i.labels, i.body?.split('\n')[0]])).toEqual([[['drill'], `# Drill ${report?.incidentId}: FAILED`]]);
      const text = slackFor(report?.incidentId);
      expect(text).toHaveLength(1);
      expect(text[0]).toContain('*FAILED*');
      expect(text[0]).toContain('• post-condition failed (app, after containment): the app answers 503 under lockdown');
      expect(text[0]).toContain('Worse than the previous drill: app: the app answers 503 under lockdown');
      expect(text[0]).toContain(`GitHub issue: <https://github.test/acme/web/issues/${issues[0]?.number}>`);
      expect(text[0]).not.toContain('/services/');
    } finally {
      appPrefix = stack.redis.prefix;
    }
  }, 90_000);
});

describe('drill schedules through the CLI', () => {
  it('create → in Temporal → trigger fires a drill → list → pause → delete', async () => {
    const env = stack.cliEnv(DECLARER);
    const cli = (args: string[]) => runCli([...args, '--json'], { cwd: stack.dir, env });
    const created = await cli(['drill', 'schedule', 'create', 'lockdown', '--target', 'local', '--every', '24h', '--id', `drill-t-${process.pid}`]);
    expect(created.code, created.stderr + created.stdout).toBe(0);
    const id = (JSON.parse(created.stdout) as Json).schedule.id;
    const d = await stack.client.schedule.getHandle(id).describe();
    expect(d.action).toMatchObject({ type: 'startWorkflow', workflowType: 'DrillWorkflow', taskQueue: stack.config.temporal.taskQueue });
    expect(d.policies).toMatchObject({ overlap: 'SKIP' });

    expect((await cli(['drill', 'trigger', id])).code).toBe(0);
    let listed: { id: string; lastRun?: { workflowId: string } } | undefined;
    for (let i = 0; i < 50 && !listed?.lastRun; i++) {
      const out = await cli(['drill', 'list']);
      listed = (JSON.parse(out.stdout) as { schedules: Array<typeof listed> }).schedules.find((s) => s?.id === id);
      if (!listed?.lastRun) await new Promise((r) => setTimeout(r, 200));
    }
    expect(listed?.lastRun?.workflowId).toMatch(new RegExp(`^firebreak-drill-${id}`));
    const { report } = await drillResult(stack.client, listed?.lastRun?.workflowId ?? '');
    expect(report).toMatchObject({ scheduleId: id, outcome: 'passed' });

    const paused = await cli(['drill', 'pause', id, '--note', 'maintenance']);
    expect((JSON.parse(paused.stdout) as Json).schedule).toMatchObject({ paused: true, note: 'maintenance' });
    const latest = await cli(['drill', 'report', id]);
    expect((JSON.parse(latest.stdout) as Json).report.incidentId).toBe(report?.incidentId);
    expect((await cli(['drill', 'delete', id])).code).toBe(0);
    expect((await cli(['drill', 'trigger', id])).code).toBe(1);
  }, 120_000);
});

describe('refusals', () => {
  it('a drill on a production target, at the front door (exit 2, nothing created)', async () => {
    const out = await runCli(['drill', 'run', 'lockdown', '--target', 'prod'], { cwd: stack.dir, env: stack.cliEnv(DECLARER) });
    expect(out.code).toBe(2);
    expect(out.stderr).toContain('target "prod" is production: drills run by robots (scheduled, or `drill run`) only run on a drill target');
  });

  it('a drill target sharing the Redis namespace of a production target', () => {
    const file = join(stack.dir, 'shared.yaml');
    writeFileSync(file, ['defaultTarget: d', 'targets:', '  d: { drillTarget: true, redis: { keyPrefix: same } }', '  p: { production: true, redis: { keyPrefix: same } }'].join('\n'));
    expect(() => loadConfig({ file, env: {} })).toThrow(/targets\.d: a drill target shares Redis keys \(127\.0\.0\.1:6379 db 0, keyPrefix "same"\) with production target "p"/);
  });

  it('drill robots voting on a live incident', async () => {
    const inc = await declareIncident(stack.client, stack.config, { runbook: 'lockdown', target: 'local', actor: stack.actor(DECLARER) });
    await waitFor(stack.client, inc.id, (x) => x.state === 'awaiting-resolve', { timeoutMs: 20_000 });
    const robot = { user: 'robot-b', host: 'test', via: 'api' as const, signer: keyPairSigner(robots.get('robot-b') as KeyPair, 'drill') };
    await expect(resolveIncident(stack.client, inc.id, robot)).rejects.toThrow(/drill robot robot-b may only act in drill mode on a drill target \(mode live/);
    await resolveIncident(stack.client, inc.id, stack.actor('alice'));
    expect((await waitFor(stack.client, inc.id, (x) => x.state === 'completed', { timeoutMs: 20_000 })).state).toBe('completed');
  }, 60_000);
});
