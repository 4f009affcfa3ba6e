/**
 * The incident channel for real: a worker process with slack.channels in its config, the
 * dev server, and the Slack Web API stand-in over HTTP. One channel, the declarer and the
 * groups invited, the topic, one pinned status message, events in its thread in order and
 * each once (gates as gate messages whose Approve the Slack app counts) — also when the worker is SIGKILLed after Slack took a post but before the
 * activity completed; a Slack outage (500 or hanging) never holds the incident, and the
 * channel catches up when Slack is back or the events are reported missed.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNotifyActivities, channelName, SlackWebApi } from '../../activities/notify/index.js';
import { TargetClients } from '../../activities/deps.js';
import { createKeyPair, keyFilePath, publicLine } from '../../lib/identity/keys.js';
import { approveGate, declareIncident, handleFor, resolveIncident, waitFor } from '../../lib/incidents/index.js';
import { createLogger } from '../../lib/logger.js';
import { GATE_APPROVE_ACTION, parseGateValue } from '../../slack/blocks/gate-message.js';
import { statusTopic } from '../../slack/blocks/status-message.js';
import type { IncidentStatus } from '../../workflows/definitions.js';
import { SLACK_EVENT_TYPE, SLACK_STATUS_EVENT_TYPE } from '../../workflows/notify-definitions.js';
import { DECLARER, startStack, type Stack } from '../helpers/firebreak.js';
import { spawnWorker, type WorkerProcess } from '../helpers/processes.js';
import { postToApp, startSlackStandIn, type SlackStandIn, type StoredMessage } from '../helpers/slack-standin.js';
import { startSlackServer } from '../../slack/server.js';

const TEAM = 'T0FIRE';
const SLACK_IDS: Record<string, string> = { [DECLARER]: 'U0OLGA', alice: 'U0ALICE', bob: 'U0BOB', carol: 'U0CAROL' };
const ONCALL_GROUP = 'S0ONCALL';

let stack: Stack;
let api: SlackStandIn;
let dir: string;
let worker: WorkerProcess | undefined;
const workers: WorkerProcess[] = [];

async function startWorker(): Promise<void> {
  worker = await spawnWorker(stack.configFile);
  workers.push(worker);
}

beforeAll(async () => {
  api = await startSlackStandIn({ teamId: TEAM });
  for (const id of [...Object.values(SLACK_IDS), 'U0DAVE']) api.addUser({ id });
  api.channels.setUsergroup(ONCALL_GROUP, ['U0DAVE', 'U0ALICE']);
  dir = mkdtempSync(join(tmpdir(), 'fbt-slack-notify-'));
  const slackKey = await createKeyPair(join(dir, 'key'));
  writeFileSync(join(dir, 'token'), `${api.token}\n`, { mode: 0o600 });
  writeFileSync(join(dir, 'signing'), 'test-signing-secret-notify\n', { mode: 0o600 });
  stack = await startStack('slack-notify', {
    worker: false,
    slack: Object.fromEntries(Object.entries(SLACK_IDS).map(([name, user]) => [name, { team: TEAM, user }])),
    identityExtra: ['  services:', `    - { name: slack-app, kind: slack, keys: ["${publicLine(slackKey, 'slack-app')}"], may: [declare, approve, resolve, abort, note, retry] }`],
    extraConfig: [
      'slack:',
      `  signingSecret: { file: ${join(dir, 'signing')} }`,
      `  botToken: { file: ${join(dir, 'token')} }`,
      `  teamId: ${TEAM}`,
      `  apiUrl: "${api.apiUrl}"`,
      '  service: slack-app',
      `  keyFile: ${keyFilePath(join(dir, 'key'))}`,
      '  channels:',
      '    targets: [local]',
      '    inviteGroups: [responders]',
      `    inviteUsergroups: [${ONCALL_GROUP}]`,
    ].join('\n'),
  });
  stack.writeRunbook(
    'notify-lock',
    [
      'name: notify-lock',
      'title: Lockdown with a channel',
      'severity: high',
      'resolve:',
      '  approval: { count: 1, group: responders }',
      'phases:',
      '  containment:',
      '    - id: lockdown',
      '      action: lockdown.enable',
      '      approval: { count: 1, group: responders }',
      '  postmortem:',
      '    - id: pm',
      '      action: report.postmortem',
    ].join('\n'),
  );
  await startWorker();
}, 120_000);

afterAll(async () => {
  for (const w of workers) await w.kill('SIGKILL');
  await stack?.stop();
  await api?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const until = (id: string, pred: (s: IncidentStatus) => boolean, timeoutMs = 60_000) => waitFor(stack.client, id, pred, { timeoutMs, intervalMs: 100 });
const kinds = (thread: StoredMessage[]) => thread.map((m) => m.metadata?.event_payload?.kind);
const keys = (thread: StoredMessage[]) => thread.map((m) => m.metadata?.event_payload?.key);

/** Declare, approve the lockdown, give the all-clear; the workflow's result (after the events drained). */
async function wholeIncident(during?: { afterGate?: (id: string) => Promise<void>; beforeResolve?: (id: string) => Promise<void> }): Promise<{ id: string; done: IncidentStatus }> {
  const { id } = await declareIncident(stack.client, stack.config, { runbook: 'notify-lock', actor: stack.actor(DECLARER) });
  await until(id, (s) => s.state === 'awaiting-approval');
  await during?.afterGate?.(id);
  await approveGate(stack.client, id, 'lockdown', stack.actor('alice'));
  await until(id, (s) => s.state === 'awaiting-resolve');
  await during?.beforeResolve?.(id);
  await resolveIncident(stack.client, id, stack.actor('bob'));
  const done = (await handleFor(stack.client, id).result()) as IncidentStatus;
  return { id, done };
}

const EVENTS = ['gate-opened', 'containment', 'gate-opened', 'all-clear', 'completed'];

describe('the incident channel', () => {
  it('one channel, the declarer and the groups invited, the topic, one pinned status message, the events in its thread in order, each once', async () => {
    const before = api.calls.length;
    const { id, done } = await wholeIncident();
    expect(done.state).toBe('completed');
    const name = `inc-${id.toLowerCase().replace(/^inc-/, '')}`;
    const channel = api.channels.named(name);
    expect(channel).toBeDefined();
    expect(done.slack).toEqual({ channel: channel?.id, name, statusTs: expect.stringMatching(/^\d+\.\d{6}$/) });
    const mine = api.calls.slice(before).filter((c) => c.args.channel === channel?.id || c.method === 'conversations.create');
    expect(mine.filter((c) => c.method === 'conversations.create').map((c) => c.args.name)).toEqual([name]);
    expect(new Set(channel?.members)).toEqual(new Set([api.bot.userId, 'U0OLGA', 'U0ALICE', 'U0BOB', 'U0CAROL', 'U0DAVE']));
    // No Slack app runs here: the topic follows the incident through the notify activities alone, set only when it changes.
    const topic = (state: IncidentStatus['state'], phase: IncidentStatus['phase']) => statusTopic({ id, state, severity: 'high', phase, mode: 'live' });
    const topics = mine.filter((c) => c.method === 'conversations.setTopic').map((c) => c.args.topic);
    expect(topics[0]).toBe(topic('running', 'detection'));
    expect(topics).toContain(topic('awaiting-approval', 'containment'));
    expect(topics.at(-1)).toBe(topic('completed', 'done'));
    for (const [i, t] of topics.slice(1).entries()) expect(t).not.toBe(topics[i]);
    expect(channel?.topic).toBe(topic('completed', 'done'));
    const top = api.channels.history(channel?.id ?? '');
    expect(top).toHaveLength(1);
    expect(top[0]?.metadata).toEqual({ event_type: SLACK_STATUS_EVENT_TYPE, event_payload: { incident_id: id } });
    expect(mine.filter((c) => c.method === 'pins.add').map((c) => c.args.timestamp)).toEqual([done.slack?.statusTs]);
    const thread = api.channels.thread(channel?.id ?? '', done.slack?.statusTs ?? '');
    expect(kinds(thread)).toEqual(EVENTS);
    expect(keys(thread)).toEqual(EVENTS.map((k, i) => `${i + 1}-${k}`));
    // Gates are posted as gate messages: their Approve / Deny buttons are the Slack app's (slack/listeners/actions).
    const blocks = thread.map((m) => (typeof m.blocks === 'string' ? m.blocks : JSON.stringify(m.blocks)));
    expect(blocks.map((b) => b.includes(GATE_APPROVE_ACTION))).toEqual([true, false, true, false, false]);
    const approve = (JSON.parse(blocks[0] ?? '[]') as Array<{ elements?: Array<{ action_id?: string; value?: string }> }>).flatMap((b) => b.elements ?? []).filter((e) => e.action_id === GATE_APPROVE_ACTION);
    expect(approve.map((b) => parseGateValue(b.value))).toEqual([{ incidentId: id, gate: 'lockdown', argsHash: done.gates.find((g) => g.id === 'lockdown')?.argsHash }]);
    expect(thread.every((m) => m.metadata?.event_type === SLACK_EVENT_TYPE && m.metadata.event_payload?.incident_id === id)).toBe(true);
    expect(String(thread.at(-1)?.text)).toMatch(/^incident completed; active containment: none; post-mortem: .*postmortem\.md$/);
    expect(mine.filter((c) => c.method === 'chat.update')).toEqual([]);
    expect(done.notifications).toEqual({ sent: 5, pending: 0, missed: [] });
  }, 120_000);

  it("the gate message in the thread takes a click: the Slack app counts the vote and redraws it in place", async () => {
    const server = await startSlackServer({ config: stack.config, logger: createLogger({ level: 'silent', pretty: false }), port: 0 });
    try {
      const { id } = await declareIncident(stack.client, stack.config, { runbook: 'notify-lock', actor: stack.actor(DECLARER) });
      const s = await until(id, (x) => x.state === 'awaiting-approval' && (x.notifications?.sent ?? 0) >= 1);
      const ref = s.slack as NonNullable<IncidentStatus['slack']>;
      const gateMsg = api.channels.thread(ref.channel, ref.statusTs)[0] as StoredMessage;
      const blocks = JSON.parse(String(gateMsg.blocks)) as Array<{ elements?: Array<{ action_id?: string; value?: string }> }>;
      const value = blocks.flatMap((b) => b.elements ?? []).find((e) => e.action_id === GATE_APPROVE_ACTION)?.value ?? '';
      const body = `payload=${encodeURIComponent(
        JSON.stringify({
          type: 'block_actions',
          user: { id: 'U0BOB', username: 'u0bob', name: 'u0bob', team_id: TEAM },
          api_app_id: 'A0FIREBREAK',
          token: 'deprecated-verification-token',
          container: { type: 'message', message_ts: gateMsg.ts, channel_id: ref.channel, is_ephemeral: false, thread_ts: ref.statusTs },
          trigger_id: `${Date.now()}.notify`,
          team: { id: TEAM, domain: 'firebreak-test' },
          enterprise: null,
          is_enterprise_install: false,
          channel: { id: ref.channel, name: ref.name },
          message: { type: 'message', ts: gateMsg.ts, thread_ts: ref.statusTs, text: 'gate', bot_id: api.bot.id },
          state: { values: {} },
          response_url: api.responseUrl(`notify-click-${id}`),
          actions: [{ action_id: GATE_APPROVE_ACTION, block_id: 'firebreak.gate.actions', text: { type: 'plain_text', text: 'Approve' }, value, type: 'button', action_ts: `${Math.floor(Date.now() / 1000)}.000001` }],
        }),
      )}`;
      expect((await postToApp(server.url, body, { secret: 'test-signing-secret-notify' })).status).toBe(200);
      const after = await until(id, (x) => x.state === 'awaiting-resolve');
      expect(after.gates.find((g) => g.id === 'lockdown')?.approvals.map((v) => [v.by, v.via])).toEqual([['bob', 'attested']]);
      const deadline = Date.now() + 10_000;
      while (!String(api.channels.thread(ref.channel, ref.statusTs)[0]?.blocks).includes('Approved') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(String(api.channels.thread(ref.channel, ref.statusTs)[0]?.blocks)).toContain('Approved');
      await resolveIncident(stack.client, id, stack.actor('alice'));
      expect(((await handleFor(stack.client, id).result()) as IncidentStatus).state).toBe('completed');
    } finally {
      await server.close();
    }
  }, 120_000);

  it('a worker SIGKILLed after Slack took a post but before the activity completed: the retry edits it, nothing is posted twice', async () => {
    const before = api.calls.length;
    const held = api.channels.holdAfter('chat.postMessage', (a) => typeof a.thread_ts === 'string');
    const { id } = await declareIncident(stack.client, stack.config, { runbook: 'notify-lock', actor: stack.actor(DECLARER) });
    const post = await held;
    await worker?.kill('SIGKILL');
    expect(worker?.child.signalCode).toBe('SIGKILL');
    api.channels.release();
    await startWorker();
    await until(id, (s) => s.state === 'awaiting-approval' && (s.notifications?.sent ?? 0) >= 1, 90_000);
    await approveGate(stack.client, id, 'lockdown', stack.actor('alice'));
    await until(id, (s) => s.state === 'awaiting-resolve');
    await resolveIncident(stack.client, id, stack.actor('bob'));
    const done = (await handleFor(stack.client, id).result()) as IncidentStatus;
    expect(done.state).toBe('completed');
    const thread = api.channels.thread(done.slack?.channel ?? '', done.slack?.statusTs ?? '');
    expect(kinds(thread)).toEqual(EVENTS);
    expect(new Set(keys(thread)).size).toBe(EVENTS.length);
    // The first attempt's post stood; the retry found it by its key and edited it.
    const updates = api.calls.slice(before).filter((c) => c.method === 'chat.update' && c.args.channel === done.slack?.channel);
    expect(updates.map((c) => c.args.ts)).toEqual([thread[0]?.ts]);
    expect(post.args.thread_ts).toBe(done.slack?.statusTs);
    const history = await handleFor(stack.client, id).fetchHistory();
    const attempts = (history.events ?? []).filter((e) => e.activityTaskStartedEventAttributes).map((e) => e.activityTaskStartedEventAttributes?.attempt ?? 0);
    expect(Math.max(...attempts)).toBeGreaterThanOrEqual(2);
  }, 180_000);

  it('Slack hanging: the incident never waits for it; when Slack is back the channel opens and catches up, in order', async () => {
    api.channels.outage('hang');
    const started = Date.now();
    const { done } = await wholeIncident({
      afterGate: async () => {
        // Containment reached its gate while every Slack call hung.
        expect(Date.now() - started).toBeLessThan(15_000);
      },
      beforeResolve: async (id) => {
        const s = await until(id, (x) => x.notifications?.down !== undefined);
        expect(s.slack).toBeUndefined();
        expect(s.notifications?.down).toMatch(/no answer in time/);
        api.channels.outage('off');
      },
    });
    expect(done.state).toBe('completed');
    const thread = api.channels.thread(done.slack?.channel ?? '', done.slack?.statusTs ?? '');
    expect(kinds(thread)).toEqual(EVENTS);
    expect(done.notifications).toEqual({ sent: 5, pending: 0, missed: [] });
  }, 180_000);

  it('Slack down to the end: the incident completes; after a bounded wait the events are reported missed', async () => {
    api.channels.outage('down');
    try {
      const { done } = await wholeIncident();
      expect(done.state).toBe('completed');
      expect(done.slack).toBeUndefined();
      expect(done.notifications).toMatchObject({ sent: 0, pending: 0, missed: EVENTS.map((k, i) => `${i + 1}-${k}`), down: expect.stringMatching(/HTTP 500/) });
      expect(done.timeline.at(-1)?.message).toMatch(/^5 event\(s\) never reached Slack/);
    } finally {
      api.channels.outage('off');
    }
  }, 180_000);
});

describe('the activities on their own', () => {
  const logger = createLogger({ level: 'silent', pretty: false });
  const deps = () => ({ config: stack.config, logger, clients: new TargetClients(stack.config), slack: new SlackWebApi({ apiUrl: api.apiUrl, token: () => api.token }) });
  const status = (id: string) => ({ id, state: 'running', severity: 'high', phase: 'detection', mode: 'live', target: 'local', runbook: { name: 'x', title: 'X', sha256: '0'.repeat(64), file: 'x.yaml' }, declaredBy: { user: DECLARER, host: 'h', via: 'cli' }, declaredAt: new Date().toISOString(), steps: [], gates: [], timeline: [], activeContainment: [], checklists: [] }) as IncidentStatus;

  it('a name someone else holds: the next name; opening again reuses our channel, its status message and its pin', async () => {
    const acts = createNotifyActivities(deps());
    const id = 'INC-20261204-taken1';
    api.channels.addChannel(channelName('inc', id), 'U0SOMEONE');
    const first = await acts.notifyOpenChannel({ incidentId: id, declarer: DECLARER, status: status(id) });
    expect(first.name).toBe(`${channelName('inc', id)}-2`);
    const again = await acts.notifyOpenChannel({ incidentId: id, declarer: DECLARER, status: status(id) });
    expect(again).toEqual(first);
    expect(api.channels.history(first.channel)).toHaveLength(1);
  });

  it('an event sent twice with the same key is posted once and edited once', async () => {
    const acts = createNotifyActivities(deps());
    const id = 'INC-20261204-twice1';
    const ref = await acts.notifyOpenChannel({ incidentId: id, declarer: DECLARER, status: status(id) });
    const input = { incidentId: id, channel: ref, key: '1-gate-opened', kind: 'gate-opened' as const, text: 'gate <!channel> @here opened', status: { ...status(id), state: 'awaiting-approval' as const, phase: 'containment' as const } };
    const a = await acts.notifyEvent(input);
    const b = await acts.notifyEvent(input);
    expect(a.posted).toBe(true);
    expect(b).toEqual({ ts: a.ts, posted: false });
    const thread = api.channels.thread(ref.channel, ref.statusTs);
    expect(thread).toHaveLength(1);
    // Opening set the topic, the first send moved it on, the second found it so and left it (a topic set again posts a line).
    expect(api.callsOf('conversations.setTopic').filter((c) => c.args.channel === ref.channel).map((c) => c.args.topic)).toEqual([statusTopic(status(id)), statusTopic(input.status)]);
    expect(api.topicOf(ref.channel)).toBe(statusTopic(input.status));
    // People's text cannot ping: mrkdwn control characters are entities, broadcast words broken.
    expect(JSON.stringify(thread[0]?.blocks)).not.toMatch(/<!channel>|@here/);
  });
});
