/** The notify activities' Slack client against the stand-in: Slack's failures mapped once, to typed Temporal failures. */
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SlackApiError, SlackWebApi, channelName } from '../../activities/notify/index.js';
import { eventMessage } from '../../activities/notify/event.js';
import { renderStatus } from '../../cli/render.js';
import { channelsFor, type SlackConfig } from '../../lib/config-slack.js';
import type { IncidentStatus } from '../../workflows/definitions.js';
import { startSlackStandIn, type SlackStandIn } from '../helpers/slack-standin.js';

let api: SlackStandIn;
beforeAll(async () => {
  api = await startSlackStandIn();
});
afterAll(async () => {
  await api?.close();
});

const client = (token = () => api.token) => new SlackWebApi({ apiUrl: api.apiUrl, token, timeoutMs: 500 });
async function failure(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('it did not fail');
}

describe('the Slack Web API client', () => {
  it('answers ok:true as is, with the bot token as a bearer header', async () => {
    expect(await client().botUser()).toBe(api.bot.userId);
    expect(api.callsOf('auth.test').at(-1)?.token).toBe(api.token);
  });

  it('ok:false is a SlackApiError naming Slack\'s code; a refusal no retry fixes', async () => {
    const err = await failure(client(() => 'xoxb-wrong').call('auth.test'));
    expect(err).toBeInstanceOf(SlackApiError);
    expect((err as SlackApiError).error).toBe('invalid_auth');
    expect(String((err as Error).message)).not.toContain('xoxb-wrong');
  });

  it('429 is retryable after Retry-After; 500 and a hanging Slack are retryable', async () => {
    api.fail('chat.postMessage', { status: 429, retryAfter: 7, times: 1 });
    const limited = (await failure(client().call('chat.postMessage', { channel: 'C1', text: 'x' }))) as ApplicationFailure;
    expect(limited).toBeInstanceOf(ApplicationFailure);
    expect(limited).toMatchObject({ type: 'FirebreakTargetUnavailable', nonRetryable: false, nextRetryDelay: 7000 });
    api.fail('chat.postMessage', { status: 500, times: 1 });
    expect(await failure(client().call('chat.postMessage', { channel: 'C1', text: 'x' }))).toMatchObject({ type: 'FirebreakTargetUnavailable', nonRetryable: false, message: 'slack chat.postMessage: HTTP 500 (internal_error) (will retry)' });
    api.channels.outage('hang');
    try {
      const started = Date.now();
      expect(await failure(client().call('chat.postMessage', { channel: 'C1', text: 'x' }))).toMatchObject({ type: 'FirebreakTargetUnavailable', message: 'slack chat.postMessage: no answer in time (will retry)' });
      expect(Date.now() - started).toBeLessThan(2_000);
    } finally {
      api.channels.outage('off');
    }
  });
});

describe('names and text', () => {
  it('channel names: predictable, in Slack\'s alphabet, suffixed on collision', () => {
    expect(channelName('inc', 'INC-20261204-4ztsqc')).toBe('inc-20261204-4ztsqc');
    expect(channelName('sec', 'INC-20261204-4ztsqc', 3)).toBe('sec-20261204-4ztsqc-3');
    expect(channelName('inc', 'Odd id/with spaces')).toBe('inc-odd-id-with-spaces');
  });

  it('event text pings nobody and links only http(s)', () => {
    const m = eventMessage({ kind: 'completed', text: 'done <!channel> <https://evil.example|click> @everyone', url: 'javascript:alert(1)' });
    const blocks = JSON.stringify(m.blocks);
    expect(blocks).not.toMatch(/<!channel>|<https:\/\/evil|@everyone/);
    expect(blocks).not.toContain('<javascript:');
  });

  it('firebreak status shows the channel and what did not reach it', () => {
    const base = { id: 'INC-1', state: 'completed', severity: 'high', phase: 'done', mode: 'live', target: 'local', runbook: { name: 'x', title: 'X', sha256: '0'.repeat(64), file: 'x.yaml' }, declaredBy: { user: 'olga', host: 'h', via: 'cli' }, declaredAt: new Date().toISOString(), steps: [], gates: [], timeline: [], activeContainment: [], checklists: [] } as unknown as IncidentStatus;
    expect(renderStatus(base)).not.toContain('Slack');
    const lines = (s: IncidentStatus) => renderStatus(s).split('\n');
    expect(lines({ ...base, slack: { channel: 'C1', name: 'inc-1', statusTs: '1.2' }, notifications: { sent: 5, pending: 0, missed: [] } })).toContain('Slack: #inc-1 (C1) · 5 event(s) posted');
    expect(lines({ ...base, notifications: { sent: 0, pending: 0, missed: ['1-gate-opened', '2-completed'], down: 'slack conversations.create: HTTP 500 (will retry)' } })).toContain(
      'Slack: no channel yet · 0 event(s) posted · 2 missed (1-gate-opened, 2-completed) — Slack down: slack conversations.create: HTTP 500 (will retry)',
    );
  });

  it('only the targets slack.channels names get a channel', () => {
    const slack = { channels: { prefix: 'inc', private: false, targets: ['prod'], inviteGroups: [], inviteUsergroups: [] } } as unknown as SlackConfig;
    expect(channelsFor(slack, 'prod')).toBeDefined();
    expect(channelsFor(slack, 'staging')).toBeUndefined();
    expect(channelsFor({ ...slack, channels: { ...slack.channels!, targets: undefined } }, 'staging')).toBeDefined();
    expect(channelsFor(undefined, 'prod')).toBeUndefined();
  });
});
