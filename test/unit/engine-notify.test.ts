/**
 * The incident channel's events from the workflow, on the time-skipping server with stubbed
 * notify activities: which events, in which order, each key once; containment never waits
 * for Slack; a Slack outage queues events and catches up, or reports them missed at the end;
 * a refusal (bad token) gives notifications up; with notifications off nothing is called.
 */
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SlackChannelRef } from '../../workflows/definitions.js';
import type { NotifyEventInput, OpenChannelInput } from '../../workflows/notify-definitions.js';
import { DECLARER, MINUTE, runbook, startEngine, stopEngine, withIncident, type Stub } from './engine-harness.js';

beforeAll(startEngine, 120_000);
afterAll(stopEngine);

const WHOLE = runbook(
  [
    'detection:',
    '  - id: look',
    '    action: lockdown.status',
    'containment:',
    '  - id: revoke',
    '    action: tokens.revoke',
    '    with: { scope: jti, jtis: [abc], reason: leak }',
    '  - id: lockdown',
    '    action: lockdown.enable',
    '    approval: { count: 1, group: responders, escalate_after: 15m }',
    'recovery:',
    '  - id: probe',
    '    action: deploy.probe',
    'postmortem:',
    '  - id: pm',
    '    action: report.postmortem',
  ],
  ['resolve:', '  approval: { count: 1, group: responders }'],
);

const REF: SlackChannelRef = { channel: 'C0INC', name: 'inc-t', statusTs: '1700000000.000001' };

/** Stubs that record what reached "Slack", with a switch to make every call fail. */
function slackStubs(o: { openFirst?: () => Promise<void>; failing?: () => boolean; refuseOpen?: boolean } = {}) {
  const opened: OpenChannelInput[] = [];
  const events: NotifyEventInput[] = [];
  let attempts = 0;
  const down = () => ApplicationFailure.create({ type: 'FirebreakTargetUnavailable', message: 'slack chat.postMessage: HTTP 500 (will retry)', nonRetryable: false });
  const stubs: Record<string, Stub> = {
    notifyOpenChannel: (async (input: OpenChannelInput) => {
      attempts += 1;
      if (o.refuseOpen) throw ApplicationFailure.create({ type: 'FirebreakRefused', message: 'slack auth.test: invalid_auth (check slack.botToken)', nonRetryable: true });
      await o.openFirst?.();
      if (o.failing?.()) throw down();
      opened.push(input);
      return REF;
    }) as unknown as Stub,
    notifyEvent: (async (input: NotifyEventInput) => {
      attempts += 1;
      if (o.failing?.()) throw down();
      events.push(input);
      return { ts: `1700000001.${String(events.length).padStart(6, '0')}`, posted: true };
    }) as unknown as Stub,
    deployProbe: async (_input: unknown, attempt: number) => {
      if (attempt === 1) throw ApplicationFailure.create({ type: 'FirebreakVerificationFailed', message: 'missing Strict-Transport-Security', nonRetryable: true });
      return { summary: 'probe passed', changed: false };
    },
    reportPostmortem: async () => ({ summary: 'post-mortem written', changed: true, output: { files: { postmortem: '/var/lib/firebreak/evidence/x/postmortem.md' } } }),
  };
  return { stubs, opened, events, attempts: () => attempts };
}

describe('incident channel events', () => {
  it('every kind in order, each key once; the channel opens beside containment, which never waits for it', async () => {
    let containmentRan!: () => void;
    const revoked = new Promise<void>((r) => (containmentRan = r));
    const slack = slackStubs({ openFirst: () => revoked });
    const stubs = { ...slack.stubs, tokensRevoke: (async () => (containmentRan(), { summary: 'revoked 1', changed: true })) as unknown as Stub };
    await withIncident({ runbook: WHOLE, notify: true, stubs }, async (inc) => {
      let s = await inc.until((x) => x.state === 'awaiting-approval', 'the lockdown gate');
      // The revocation ran while the channel was still opening (the open stub waited for it).
      s = await inc.until((x) => x.slack !== undefined && (x.notifications?.sent ?? 0) >= 1, 'the channel and the gate event');
      expect(s.slack).toEqual(REF);
      expect(slack.opened).toHaveLength(1);
      expect(slack.opened[0]).toMatchObject({ incidentId: inc.id, declarer: DECLARER, status: { id: inc.id, state: expect.any(String) } });
      await inc.env.sleep(15 * MINUTE + 1_000);
      await inc.approve('lockdown', 'alice');
      s = await inc.until((x) => x.state === 'blocked', 'the failed probe');
      await inc.retry(DECLARER);
      s = await inc.until((x) => x.state === 'awaiting-resolve', 'the all-clear');
      await inc.resolve('bob');
      const done = await inc.result();
      expect(done.state).toBe('completed');
      expect(slack.events.map((e) => e.kind)).toEqual(['gate-opened', 'escalation', 'containment', 'step-failed', 'blocked', 'gate-opened', 'all-clear', 'completed']);
      expect(slack.events.map((e) => e.key)).toEqual(slack.events.map((e, i) => `${i + 1}-${e.kind}`));
      expect(slack.events.every((e) => e.incidentId === inc.id && e.channel.statusTs === REF.statusTs)).toBe(true);
      // Gate events carry the gate as it stood when sent (for the message with buttons), never the signed statements.
      expect(slack.events.map((e) => e.gate?.gate.id)).toEqual(['lockdown', undefined, undefined, undefined, undefined, 'resolve', undefined, undefined]);
      expect(slack.events[0]?.gate).toMatchObject({ incident: { id: inc.id, state: 'awaiting-approval', steps: [{ id: 'lockdown', action: 'lockdown.enable' }] }, gate: { id: 'lockdown', state: 'open', required: 1 } });
      expect(slack.events[5]?.gate).toMatchObject({ incident: { state: 'awaiting-resolve' }, gate: { id: 'resolve', state: 'open' } });
      const text = slack.events.map((e) => e.text);
      expect(text[0]).toMatch(/^gate lockdown \(lockdown\.enable\) is open: it waits for 1 approval\(s\) from group responders; arguments [0-9a-f]{12}$/);
      expect(text[2]).toBe('containment in force: lockdown');
      expect(text[3]).toBe('probe (deploy.probe) failed: FirebreakVerificationFailed: missing Strict-Transport-Security');
      expect(text[6]).toBe('all-clear given by bob: lifted lockdown');
      expect(text[7]).toBe('incident completed; active containment: none; post-mortem: /var/lib/firebreak/evidence/x/postmortem.md');
      expect(done.notifications).toEqual({ sent: 8, pending: 0, missed: [] });
      expect(done.timeline.filter((t) => t.kind === 'notify').map((t) => t.message)).toEqual(['Slack channel #inc-t opened (C0INC); events go to its status message\'s thread']);
    });
  });

  it('Slack down: events wait in order and catch up when it is back; the incident goes on meanwhile', async () => {
    let failing = true;
    const slack = slackStubs({ failing: () => failing });
    await withIncident({ runbook: WHOLE, notify: true, stubs: slack.stubs }, async (inc) => {
      await inc.until((x) => x.state === 'awaiting-approval', 'the lockdown gate');
      await inc.approve('lockdown', 'alice');
      await inc.until((x) => x.state === 'blocked', 'the failed probe');
      const s = await inc.until((x) => x.notifications?.pending === 4 && x.notifications.down !== undefined, 'the queued events');
      expect(s.slack).toBeUndefined();
      expect(s.notifications).toMatchObject({ sent: 0, pending: 4, missed: [], down: expect.stringMatching(/HTTP 500/) });
      failing = false;
      await inc.retry(DECLARER);
      await inc.until((x) => x.state === 'awaiting-resolve', 'the all-clear');
      await inc.resolve('bob');
      const done = await inc.result();
      expect(done.state).toBe('completed');
      expect(done.slack).toEqual(REF);
      expect(slack.events.map((e) => e.kind)).toEqual(['gate-opened', 'containment', 'step-failed', 'blocked', 'gate-opened', 'all-clear', 'completed']);
      expect(new Set(slack.events.map((e) => e.key)).size).toBe(7);
      expect(done.notifications).toEqual({ sent: 7, pending: 0, missed: [] });
    });
  });

  it('Slack down to the end: the incident completes, the events are reported missed after a bounded wait', async () => {
    const slack = slackStubs({ failing: () => true });
    await withIncident({ runbook: WHOLE, notify: true, stubs: { ...slack.stubs, deployProbe: (async () => ({ summary: 'ok', changed: false })) as unknown as Stub } }, async (inc) => {
      await inc.until((x) => x.state === 'awaiting-approval', 'the lockdown gate');
      await inc.approve('lockdown', 'alice');
      await inc.until((x) => x.state === 'awaiting-resolve', 'the all-clear');
      await inc.resolve('bob');
      const done = await inc.result();
      expect(done.state).toBe('completed');
      expect(done.slack).toBeUndefined();
      expect(done.notifications).toMatchObject({ sent: 0, pending: 0, missed: ['1-gate-opened', '2-containment', '3-gate-opened', '4-all-clear', '5-completed'], down: expect.stringMatching(/HTTP 500/) });
      expect(done.timeline.at(-1)).toMatchObject({ kind: 'notify', message: expect.stringMatching(/^5 event\(s\) never reached Slack \(1-gate-opened, .*5-completed\): .*HTTP 500/) });
      // Bounded: a few rounds of 3 attempts each, not one per event per minute.
      expect(slack.attempts()).toBeLessThan(60);
    });
  });

  it('Slack refuses (bad token): notifications are given up at once, the incident is unaffected', async () => {
    const slack = slackStubs({ refuseOpen: true });
    await withIncident({ runbook: WHOLE, notify: true, stubs: { ...slack.stubs, deployProbe: (async () => ({ summary: 'ok', changed: false })) as unknown as Stub } }, async (inc) => {
      await inc.until((x) => x.state === 'awaiting-approval', 'the lockdown gate');
      await inc.approve('lockdown', 'alice');
      await inc.until((x) => x.state === 'awaiting-resolve', 'the all-clear');
      await inc.resolve('bob');
      const done = await inc.result();
      expect(done.state).toBe('completed');
      expect(slack.attempts()).toBe(1);
      expect(done.notifications?.missed).toHaveLength(5);
      expect(done.notifications?.down).toMatch(/invalid_auth/);
      expect(done.timeline.filter((t) => t.kind === 'notify').map((t) => t.message)[0]).toMatch(/^no Slack channel: FirebreakRefused: slack auth\.test: invalid_auth/);
    });
  });

  it('off unless the worker config gives the target a channel: nothing is called, nothing recorded', async () => {
    const slack = slackStubs();
    await withIncident({ runbook: WHOLE, stubs: { ...slack.stubs, deployProbe: (async () => ({ summary: 'ok', changed: false })) as unknown as Stub } }, async (inc) => {
      await inc.until((x) => x.state === 'awaiting-approval', 'the lockdown gate');
      await inc.approve('lockdown', 'alice');
      await inc.until((x) => x.state === 'awaiting-resolve', 'the all-clear');
      await inc.resolve('bob');
      const done = await inc.result();
      expect(done.state).toBe('completed');
      expect(slack.attempts()).toBe(0);
      expect(done.notifications).toBeUndefined();
      expect(done.slack).toBeUndefined();
    });
  });
});
