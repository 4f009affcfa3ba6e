/**
 * The live status message, kept by the Slack app over real HTTP: the app polls each open
 * incident's `status` query and redraws its pinned message on the Slack stand-in with
 * chat.update — through every phase, at most once a second per message however many changes
 * come, waiting Slack's Retry-After on a 429, catching up after a restart — and the
 * incident's history never grows with a refresh. The channel and the message are made here
 * through the stand-in, as the worker's notify activities make them (status.slack); the
 * refresher is given where they are by its injectable lookup.
 */
import { webApi } from '@slack/bolt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addNote, approveGate, declareIncident, getStatus, handleFor, resolveIncident, TERMINAL, waitFor } from '../../lib/incidents/index.js';
import { createLogger } from '../../lib/logger.js';
import { statusText, statusTopic } from '../../slack/blocks/status-message.js';
import type { LiveOptions } from '../../slack/live/index.js';
import type { SlackServer } from '../../slack/server.js';
import type { IncidentStatus, SlackChannelRef } from '../../workflows/definitions.js';
import { statusMetadata } from '../../workflows/notify-definitions.js';
import { DECLARER, type Stack } from '../helpers/firebreak.js';
import { startSlackApp, SLACK_TEAM as TEAM, type SlackApp } from '../helpers/slack-app.js';
import { postToApp, slashCommandBody, type ApiCall, type SlackStandIn } from '../helpers/slack-standin.js';

const SECRET = 'test-signing-secret-live';
const SLACK_IDS: Record<string, string> = { [DECLARER]: 'U0OLGA', alice: 'U0ALICE', bob: 'U0BOB' };

let app: SlackApp;
let stack: Stack;
let api: SlackStandIn;
let server: SlackServer;
let web: webApi.WebClient;
const logs: string[] = [];
const logger = createLogger({ level: 'info', destination: { write: (line: string) => void logs.push(line) } });
/** Where each incident's status message is (what status.slack will say once the notify activities fill it). */
const refs = new Map<string, SlackChannelRef>();
const LIVE: LiveOptions = { channelOf: (s) => s.slack ?? refs.get(s.id), listMs: 400, activePollMs: 250, idlePollMs: 800, catchUpClosedMs: 120_000 };
const start = () => app.startServer(LIVE);

beforeAll(async () => {
  app = await startSlackApp('slack-live', { ids: SLACK_IDS, secret: SECRET, logger, live: LIVE });
  ({ stack, api, server } = app);
  stack.writeRunbook(
    'live-phases',
    [
      'name: live-phases',
      'title: Live phases',
      'severity: high',
      'resolve:',
      '  approval: { count: 1, group: responders }',
      'phases:',
      '  detection:',
      '    - id: look',
      '      action: lockdown.status',
      '  containment:',
      '    - id: lockdown',
      '      action: lockdown.enable',
      '      approval: { count: 1, group: responders }',
    ].join('\n'),
  );
  web = new webApi.WebClient(api.token, { slackApiUrl: api.apiUrl });
}, 120_000);

afterAll(async () => {
  for (const id of refs.keys()) await handleFor(stack.client, id).terminate('test done').catch(() => undefined);
  await app?.stop();
});

let seq = 0;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An incident of `live-phases` and its channel + status message, made as the notify activities make them. */
async function incident(): Promise<{ id: string; ref: SlackChannelRef }> {
  const { id } = await declareIncident(stack.client, stack.config, { runbook: 'live-phases', actor: stack.actor(DECLARER) });
  const name = `inc-live-${++seq}`;
  const created = await web.conversations.create({ name });
  const channel = created.channel?.id as string;
  const status = await getStatus(stack.client, id);
  await web.conversations.setTopic({ channel, topic: statusTopic(status) });
  const posted = await web.chat.postMessage({ channel, text: statusText(status), metadata: statusMetadata(id) });
  await web.pins.add({ channel, timestamp: posted.ts as string });
  const ref = { channel, name, statusTs: posted.ts as string };
  refs.set(id, ref);
  return { id, ref };
}

const updatesOf = (ref: SlackChannelRef): ApiCall[] => api.callsOf('chat.update').filter((c) => c.args.ts === ref.statusTs && c.args.channel === ref.channel);
const okUpdatesOf = (ref: SlackChannelRef) => updatesOf(ref).filter((c) => c.status === 200);
/** The message's blocks as JSON (the web client sends them as a JSON string). */
const shown = (ref: SlackChannelRef): string => {
  const blocks = api.messageAt(ref.channel, ref.statusTs)?.blocks;
  return JSON.stringify(typeof blocks === 'string' ? (JSON.parse(blocks) as unknown) : (blocks ?? []));
};

async function until<T>(what: string, fn: () => T | undefined | false, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}
const gateOpen = (id: string) => waitFor(stack.client, id, (s) => s.gates.some((g) => g.id === 'lockdown' && g.state === 'open'));
/** The message shows this status (its fallback text is the status line). */
const showsStatus = (ref: SlackChannelRef, s: IncidentStatus) => api.messageAt(ref.channel, ref.statusTs)?.text === statusText(s);
const gapsOf = (calls: ApiCall[]) => calls.slice(1).map((c, i) => c.at - (calls[i] as ApiCall).at);

describe('the live status message', () => {
  it('follows an incident through its phases, with the topic, who approved, and nothing but status queries', async () => {
    const { id, ref } = await incident();
    const seen: string[] = [];
    const look = () => {
      const t = api.messageAt(ref.channel, ref.statusTs)?.text;
      if (typeof t === 'string' && seen.at(-1) !== t) seen.push(t);
    };
    const watch = setInterval(look, 20);
    try {
      const waiting = await gateOpen(id);
      await until('the gate on the message', () => showsStatus(ref, waiting));
      expect(shown(ref)).toContain(':raised_hand: `lockdown`: 0/1 from group `responders`');
      await until('the topic', () => api.topicOf(ref.channel) === statusTopic(waiting)); // set right after the update
      await approveGate(stack.client, id, 'lockdown', stack.actor('alice'));
      const contained = await waitFor(stack.client, id, (s) => s.state === 'awaiting-resolve');
      await until('awaiting-resolve on the message', () => showsStatus(ref, contained));
      expect(shown(ref)).toContain('*Approved*\\n:white_check_mark: `lockdown` by alice');
      expect(shown(ref)).toContain(':shield: *Containment in force:*');
      await resolveIncident(stack.client, id, stack.actor('bob'));
      const done = await waitFor(stack.client, id, (s) => TERMINAL.includes(s.state));
      expect(done.state).toBe('completed');
      await until('completed on the message', () => showsStatus(ref, done));
      await until('the incident dropped once drawn completed', () => !server.live?.tracked().includes(id));
    } finally {
      clearInterval(watch);
      look();
    }
    const lines = seen.map((t) => t.replace(/^.*?: /, ''));
    const at = (part: string) => lines.findIndex((l) => l.startsWith(part));
    expect(at('awaiting-approval, phase II. Containment')).toBeGreaterThanOrEqual(0);
    expect(at('awaiting-resolve')).toBeGreaterThan(at('awaiting-approval, phase II. Containment'));
    expect(at('completed, phase done')).toBeGreaterThan(at('awaiting-resolve'));
    await until('the completed topic', () => api.topicOf(ref.channel)?.includes('completed'));
    const topics = api.callsOf('conversations.setTopic').filter((c) => c.args.channel === ref.channel).map((c) => String(c.args.topic));
    expect(topics.at(-1)).toBe(api.topicOf(ref.channel));
    for (const [i, t] of topics.slice(1).entries()) expect(t).not.toBe(topics[i]); // set only when it changed
    for (const gap of gapsOf(okUpdatesOf(ref))) expect(gap).toBeGreaterThanOrEqual(990);
    // Every edit sent the message's metadata again: notify.open_channel's retry still finds the message by it.
    expect(okUpdatesOf(ref).map((c) => JSON.parse(String(c.args.metadata)) as unknown)).toEqual(okUpdatesOf(ref).map(() => statusMetadata(id)));
    expect(api.channels.history(ref.channel).map((m) => m.metadata)).toEqual([statusMetadata(id)]);
  }, 60_000);

  it('coalesces a burst of changes from Slack into at most one update a second, and the last change wins', async () => {
    const { id, ref } = await incident();
    const waiting = await gateOpen(id);
    await until('the first draw', () => showsStatus(ref, waiting));
    await sleep(1_200);
    const before = okUpdatesOf(ref).length;
    const t0 = performance.now();
    const NOTES = 20;
    for (let i = 1; i <= NOTES; i += 1) {
      const body = slashCommandBody({ team: TEAM, user: SLACK_IDS.alice as string, text: `note ${id} burst note ${i}`, responseUrl: api.responseUrl(`note-${id}-${i}`) });
      const ack = await postToApp(server.url, body, { secret: SECRET });
      expect(ack.status).toBe(200);
      await api.nextResponse(`note-${id}-${i}`);
    }
    const t1 = performance.now();
    await until('the last note on the message', () => shown(ref).includes(`burst note ${NOTES}`), 10_000);
    await sleep(1_500);
    const burst = okUpdatesOf(ref).slice(before);
    const seconds = (performance.now() - t0) / 1000;
    expect(burst.length).toBeGreaterThan(0);
    expect(burst.length).toBeLessThanOrEqual(Math.ceil(seconds) + 1);
    expect(burst.length).toBeLessThan(NOTES);
    for (const gap of gapsOf(burst)) expect(gap).toBeGreaterThanOrEqual(990);
    // After the burst nothing more is sent: the render no longer changes.
    expect(okUpdatesOf(ref).length).toBe(before + burst.length);
    logs.push(JSON.stringify({ burstMs: t1 - t0, updates: burst.length }));
  }, 60_000);

  it('waits Retry-After on a 429, then draws the latest state', async () => {
    const { id, ref } = await incident();
    const waiting = await gateOpen(id);
    await until('the first draw', () => showsStatus(ref, waiting));
    await sleep(1_100);
    api.rateLimit('chat.update', 2, 1);
    await addNote(stack.client, id, 'first after the limit', stack.actor('alice'));
    server.live?.poke(id);
    const limited = await until('the 429', () => updatesOf(ref).find((c) => c.status === 429));
    await addNote(stack.client, id, 'second during the limit', stack.actor('alice'));
    server.live?.poke(id);
    const next = await until('the update after the limit', () => api.callsOf('chat.update').find((c) => c.at > limited.at && c.status === 200), 10_000);
    expect(next.at - limited.at).toBeGreaterThanOrEqual(1_990);
    expect(next.args.ts).toBe(ref.statusTs);
    await until('both notes on the message', () => shown(ref).includes('second during the limit') && shown(ref));
    expect(shown(ref)).toContain('first after the limit');
    expect(logs.some((l) => l.includes('rate-limited') && l.includes('"retryAfterMs":2000'))).toBe(true);
    expect(logs.join('\n')).not.toContain(api.token);
  }, 60_000);

  it('catches up after the Slack app restarts: open incidents and one that completed while it was down', async () => {
    const a = await incident();
    const b = await incident();
    for (const x of [a, b]) await gateOpen(x.id);
    await approveGate(stack.client, b.id, 'lockdown', stack.actor('alice'));
    const bWaiting = await waitFor(stack.client, b.id, (s) => s.state === 'awaiting-resolve');
    await until('b drawn awaiting-resolve', () => showsStatus(b.ref, bWaiting));
    await server.close();
    const downAt = performance.now();
    await approveGate(stack.client, a.id, 'lockdown', stack.actor('bob'));
    const aNow = await waitFor(stack.client, a.id, (s) => s.state === 'awaiting-resolve');
    await resolveIncident(stack.client, b.id, stack.actor('bob'));
    const bDone = await waitFor(stack.client, b.id, (s) => s.state === 'completed');
    await sleep(1_500); // visibility sees b closed
    expect(api.callsOf('chat.update').filter((c) => c.at > downAt)).toEqual([]);
    server = app.server = await start();
    const upAt = performance.now();
    await until('a caught up', () => showsStatus(a.ref, aNow), 5_000);
    await until('b caught up', () => showsStatus(b.ref, bDone), 5_000);
    expect(okUpdatesOf(a.ref).filter((c) => c.at > upAt)[0]?.at ?? Infinity).toBeLessThan(upAt + 3_000);
    await until('both topics caught up', () => api.topicOf(a.ref.channel) === statusTopic(aNow) && api.topicOf(b.ref.channel) === statusTopic(bDone), 3_000);
  }, 60_000);

  it('never adds an event to the incident’s history, however often it refreshes', async () => {
    const { id, ref } = await incident();
    const waiting = await gateOpen(id);
    await until('the first draw', () => showsStatus(ref, waiting));
    const length = async () => (await handleFor(stack.client, id).fetchHistory()).events?.length ?? 0;
    const before = await length();
    const queries = server.live?.stats().queries ?? 0;
    for (let i = 0; i < 8; i += 1) {
      server.live?.poke(id);
      await sleep(400);
    }
    expect((server.live?.stats().queries ?? 0) - queries).toBeGreaterThanOrEqual(8);
    expect(await length()).toBe(before);
    expect((await getStatus(stack.client, id)).state).toBe('awaiting-approval');
  }, 60_000);
});
