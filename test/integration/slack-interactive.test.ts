/**
 * The Slack app's interactive parts over real HTTP: the declare modal (views.open right after
 * the ack, views.update on a runbook choice, the submission judged like the CLI), and the
 * gate message's Approve / Deny buttons (block_actions posted as Slack posts them, signed).
 * Every refusal and every retry is checked against Temporal: nothing started, nothing counted twice.
 */
import { webApi } from '@slack/bolt';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { declareIncident, getStatus, handleFor, TERMINAL, waitFor } from '../../lib/incidents/index.js';
import { createLogger } from '../../lib/logger.js';
import { DECLARE_CALLBACK_ID, DECLARE_RUNBOOK_ACTION, paramBlockId } from '../../slack/blocks/declare-modal.js';
import { DENY_CALLBACK_ID } from '../../slack/blocks/deny-modal.js';
import { encodeGateValue, GATE_APPROVE_ACTION, GATE_DENY_ACTION, gateMessage } from '../../slack/blocks/gate-message.js';
import type { SlackServer } from '../../slack/server.js';
import type { IncidentStatus } from '../../workflows/definitions.js';
import { DECLARER, type Stack } from '../helpers/firebreak.js';
import { acceptedUpdates, actionTs, blocksOf as blocksText, buttonClick, command, interaction, nextCall as nextCallOf, slackUser, startSlackApp, triggerId, viewOf, viewSubmission, SLACK_TEAM as TEAM, type SlackApp } from '../helpers/slack-app.js';
import { postToApp, type ApiCall, type SlackStandIn } from '../helpers/slack-standin.js';
import { stateOf } from '../unit/slack-blocks-shape.js';

const SECRET = 'test-signing-secret-interactive';
const CHANNEL = 'C0INCIDENT';
const SLACK_IDS: Record<string, string> = { [DECLARER]: 'U0OLGA', alice: 'U0ALICE', bob: 'U0BOB', carol: 'U0CAROL', mallory: 'U0MALLORY' };
const as = (person: string) => SLACK_IDS[person] as string;

let app: SlackApp;
let stack: Stack;
let api: SlackStandIn;
let server: SlackServer;
let web: webApi.WebClient;
const logs: string[] = [];
const logger = createLogger({ level: 'info', destination: { write: (line: string) => void logs.push(line) } });

beforeAll(async () => {
  app = await startSlackApp('slack-int', { ids: SLACK_IDS, secret: SECRET, logger });
  ({ stack, api, server } = app);
  stack.writeRunbook(
    'slack-gate',
    ['name: slack-gate', 'title: Slack gate', 'severity: high', 'resolve:', '  approval: { count: 1, group: responders }', 'phases:', '  containment:', '    - id: lockdown', '      action: lockdown.enable', '      approval: { count: 2, group: responders }'].join('\n'),
  );
  stack.writeRunbook(
    'slack-declare',
    [
      'name: slack-declare',
      'title: Declared from Slack',
      'severity: medium',
      'params:',
      '  minutes: { type: integer, required: true, description: how long it has been going on }',
      '  reason: { type: string, default: seen in Slack }',
      'resolve:',
      '  approval: { count: 1, group: responders }',
      'phases:',
      '  detection:',
      '    - id: read',
      '      action: lockdown.status',
    ].join('\n'),
  );
  web = new webApi.WebClient(api.token, { slackApiUrl: api.apiUrl });
}, 120_000);

afterAll(async () => {
  await app?.stop();
});

let seq = 0;
const fresh = (prefix: string) => `${prefix}${++seq}`;
const postInteraction = (body: string, o: { secret?: string; headers?: Record<string, string>; to?: SlackServer } = {}) =>
  postToApp((o.to ?? server).url, body, { secret: o.secret ?? SECRET, ...(o.headers && { headers: o.headers }) });
const nextCall = (method: string, where: (c: ApiCall) => boolean, timeoutMs?: number) => nextCallOf(api, method, where, timeoutMs);
const blocksOf = (c: ApiCall) => blocksText(c.args.blocks);

/** Workflows started on this stack's task queue since `since` (visibility catches up first). */
async function startedSince(since: Date): Promise<string[]> {
  await new Promise((r) => setTimeout(r, 1_500));
  const ids: string[] = [];
  for await (const wf of stack.client.workflow.list({ query: `TaskQueue = '${stack.config.temporal.taskQueue}' AND StartTime > '${since.toISOString()}'` })) ids.push(wf.workflowId);
  return ids;
}

/** `/incident declare …`: the ack, and the views.open it causes. */
const declareCommand = (user: string, text: string) => command(server, SECRET, { user, text, responseUrl: api.responseUrl(fresh('declare')), channel: CHANNEL });

/** An incident with its `lockdown` gate open, and that gate's message posted to the channel as the notifier would. */
async function gateOpen(): Promise<{ id: string; status: IncidentStatus; ts: string; value: string }> {
  const { id } = await declareIncident(stack.client, stack.config, { runbook: 'slack-gate', actor: stack.actor(DECLARER) });
  const status = await waitFor(stack.client, id, (s) => s.gates.some((g) => g.state === 'open'));
  const gate = status.gates.find((g) => g.id === 'lockdown' && g.state === 'open');
  if (!gate) throw new Error('no open lockdown gate');
  const m = gateMessage(status, gate);
  const posted = await web.chat.postMessage({ channel: CHANNEL, text: m.text, blocks: m.blocks });
  return { id, status, ts: posted.ts as string, value: encodeGateValue({ incidentId: id, gate: 'lockdown', argsHash: gate.argsHash }) };
}

/** A click on a gate message's button, as Slack posts it. */
const click = (user: string, actionId: string, g: { ts: string; value: string }, responseName: string) => buttonClick(user, { actionId, value: g.value, channel: CHANNEL, ts: g.ts, responseUrl: api.responseUrl(responseName) });

const approvalsOf = async (id: string) => (await getStatus(stack.client, id)).gates.find((g) => g.id === 'lockdown')?.approvals.map((v) => [v.by, v.via]);
/** The approve Updates the incident's history accepted, by Update id. */
const acceptedApproves = (id: string) => acceptedUpdates(stack.client, id, 'approve');
const updatesOf = (ts: string) => api.callsOf('chat.update').filter((c) => c.args.ts === ts);

describe('declare through the modal', () => {
  it('opens the modal right after the ack, redraws it for the chosen runbook, refuses a bad param on its field, and declares a good one', async () => {
    const since = new Date();
    const { ack, trigger } = await declareCommand(as('alice'), 'declare');
    expect(ack.status).toBe(200);
    expect(ack.body).toBe('');
    const open = await nextCall('views.open', (c) => c.args.trigger_id === trigger);
    expect(open.at - ack.at).toBeLessThan(3_000);
    const picker = viewOf(open);
    expect(picker.callback_id).toBe(DECLARE_CALLBACK_ID);
    expect(JSON.parse(picker.private_metadata ?? '{}')).toEqual({ channel: CHANNEL });
    expect(JSON.stringify(picker.blocks)).toContain('slack-declare');
    expect(JSON.stringify(picker.blocks)).not.toContain(paramBlockId('slack-declare', 'minutes'));

    // Choosing the runbook is a block action inside the view: answered with views.update.
    const choose = await postInteraction(
      interaction({
        type: 'block_actions',
        user: slackUser(as('alice')),
        team: { id: TEAM, domain: 'firebreak-test' },
        api_app_id: 'A0FIREBREAK',
        token: 'x',
        container: { type: 'view', view_id: 'V0PICKER1' },
        trigger_id: triggerId(),
        view: { ...picker, id: 'V0PICKER1', hash: 'V0PICKER1.h1', team_id: TEAM, state: { values: stateOf(picker, { runbook: 'slack-declare', summary: 'pager went off' }) } },
        actions: [{ type: 'static_select', action_id: DECLARE_RUNBOOK_ACTION, block_id: 'runbook', selected_option: { text: { type: 'plain_text', text: 'slack-declare' }, value: 'slack-declare' }, action_ts: actionTs() }],
      }),
    );
    expect(choose.status).toBe(200);
    const update = await nextCall('views.update', (c) => c.args.view_id === 'V0PICKER1');
    expect(update.args.hash).toBe('V0PICKER1.h1');
    const form = viewOf(update);
    const minutes = paramBlockId('slack-declare', 'minutes');
    expect(JSON.stringify(form.blocks)).toContain(minutes);
    expect(JSON.stringify(form.blocks)).toContain('pager went off');

    const bad = await postInteraction(viewSubmission(as('alice'), form, { [minutes]: '2.5' }, 'V0PICKER1'));
    expect(bad.status).toBe(200);
    const errors = JSON.parse(bad.body) as { response_action: string; errors: Record<string, string> };
    expect(errors.response_action).toBe('errors');
    expect(Object.keys(errors.errors)).toEqual([minutes]);
    expect(errors.errors[minutes]).toMatch(/integer/);
    const huge = await postInteraction(viewSubmission(as('alice'), form, { [minutes]: '5', summary: 'x'.repeat(10_000) }, 'V0PICKER1'));
    expect(JSON.parse(huge.body)).toMatchObject({ response_action: 'errors', errors: { summary: expect.stringMatching(/limited to 1000 characters/) } });
    expect(await startedSince(since)).toEqual([]);

    api.addUser({ id: as('mallory'), is_restricted: true });
    const guest = await postInteraction(viewSubmission(as('mallory'), form, { [minutes]: '15' }, 'V0PICKER1'));
    api.addUser({ id: as('mallory') });
    expect(JSON.parse(guest.body)).toMatchObject({ response_action: 'errors', errors: { runbook: expect.stringMatching(/is a guest \(restricted account\): refused \(ref fb-[0-9a-f]{10}\)/) } });
    api.addUser({ id: 'U0NOBODY' });
    const unmapped = await postInteraction(viewSubmission('U0NOBODY', form, { [minutes]: '15' }, 'V0PICKER1'));
    expect(JSON.parse(unmapped.body)).toMatchObject({ response_action: 'errors', errors: { runbook: expect.stringMatching(/not a Firebreak responder/) } });
    const drill = await postInteraction(viewSubmission(as('alice'), form, { [minutes]: '15', target: 'prod', mode: 'drill' }, 'V0PICKER1'));
    expect(JSON.parse(drill.body)).toMatchObject({ response_action: 'errors', errors: { mode: expect.stringMatching(/drill/) } });
    expect(await startedSince(since)).toEqual([]);

    const good = await postInteraction(viewSubmission(as('alice'), form, { [minutes]: '15' }, 'V0PICKER1'));
    expect(good.status).toBe(200);
    expect(good.body).toBe('');
    const told = await nextCall('chat.postEphemeral', (c) => c.args.user === as('alice') && String(c.args.text).includes('declared'));
    expect(told.args.channel).toBe(CHANNEL);
    const id = /`(INC-[^`]+)`/.exec(String(told.args.text))?.[1] as string;
    expect(id).toBeTruthy();
    const s = await waitFor(stack.client, id, (x) => x.identity !== undefined);
    expect(s.runbook.name).toBe('slack-declare');
    expect(s.summary).toBe('pager went off');
    const started = (await handleFor(stack.client, id).fetchHistory()).events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
    expect(defaultPayloadConverter.fromPayload<{ params: unknown; target: string }>(started as Payload)).toMatchObject({ params: { minutes: 15, reason: 'seen in Slack' }, target: 'local' });
    expect(s.identity?.declarer).toMatchObject({ responder: 'alice', via: 'attested' });
    expect(await startedSince(since)).toEqual([handleFor(stack.client, id).workflowId]);
    // Nothing to contain: it runs detection and completes on its own.
    expect((await waitFor(stack.client, id, (x) => TERMINAL.includes(x.state))).state).toBe('completed');
  });

  it('a runbook named on the command opens its form at once; an unknown one is refused in the ack', async () => {
    const { ack, trigger } = await declareCommand(as('carol'), 'declare slack-declare');
    expect(ack.body).toBe('');
    const view = viewOf(await nextCall('views.open', (c) => c.args.trigger_id === trigger));
    expect(JSON.stringify(view.blocks)).toContain(paramBlockId('slack-declare', 'minutes'));
    const unknown = await declareCommand(as('carol'), 'declare no-such-runbook');
    expect((JSON.parse(unknown.ack.body) as { text: string }).text).toMatch(/unknown runbook 'no-such-runbook'/);
    await new Promise((r) => setTimeout(r, 300));
    expect(api.callsOf('views.open').some((c) => c.args.trigger_id === unknown.trigger)).toBe(false);
  });
});

describe('Approve and Deny on the gate message', () => {
  it('the declarer is refused privately; a second responder counts; double clicks, retries and a replay after a restart count once; the second approver passes the gate', async () => {
    const g = await gateOpen();

    const own = fresh('own');
    expect((await postInteraction(click(as(DECLARER), GATE_APPROVE_ACTION, g, own))).status).toBe(200);
    const refusal = await api.nextResponse(own);
    expect(refusal.body).toMatchObject({ response_type: 'ephemeral', replace_original: false });
    expect(String(refusal.body.text)).toMatch(/two-person rule: oncall-olga declared this incident/);
    expect(await approvalsOf(g.id)).toEqual([]);
    expect(updatesOf(g.ts)).toEqual([]);

    const first = click(as('alice'), GATE_APPROVE_ACTION, g, fresh('alice'));
    const ack = await postInteraction(first);
    expect(ack.status).toBe(200);
    expect(ack.body).toBe('');
    const redrawn = await nextCall('chat.update', (c) => c.args.ts === g.ts);
    expect(redrawn.args.channel).toBe(CHANNEL);
    expect(blocksOf(redrawn)).toMatch(/Approved by\*\\n• alice via attested/);
    expect(blocksOf(redrawn)).toContain(GATE_APPROVE_ACTION);
    expect(await approvalsOf(g.id)).toEqual([['alice', 'attested']]);

    // A double click (a second delivery with its own action_ts), Slack's retry, and the same bytes after a restart.
    const second = fresh('alice-again');
    await postInteraction(click(as('alice'), GATE_APPROVE_ACTION, g, second));
    await nextCall('chat.update', (c) => c.args.ts === g.ts && c !== redrawn);
    const retried = await postInteraction(first, { headers: { 'x-slack-retry-num': '1', 'x-slack-retry-reason': 'http_timeout' } });
    expect(retried.status).toBe(200);
    const restarted = await app.startServer();
    try {
      const replayed = await postInteraction(first, { to: restarted });
      expect(replayed.status).toBe(200);
      await new Promise((r) => setTimeout(r, 1_500));
    } finally {
      await restarted.close();
    }
    expect(await approvalsOf(g.id)).toEqual([['alice', 'attested']]);
    const accepted = await acceptedApproves(g.id);
    expect(accepted).toHaveLength(1);
    expect(accepted[0]).toMatch(/^slack-approve-[0-9a-f]{40}$/);
    // Nothing refused: each repeat attached to the one Update, and the retry was dropped before any listener.
    expect(api.responses.filter((r) => r.name.startsWith('alice'))).toEqual([]);

    const bob = fresh('bob');
    await postInteraction(click(as('bob'), GATE_APPROVE_ACTION, g, bob));
    const s = await waitFor(stack.client, g.id, (x) => x.state === 'awaiting-resolve');
    expect(s.gates.find((x) => x.id === 'lockdown')?.state).toBe('approved');
    const passed = await nextCall('chat.update', (c) => c.args.ts === g.ts && blocksOf(c).includes('bob via attested'));
    expect(blocksOf(passed)).toMatch(/:white_check_mark: \*Approved\*/);
    expect(blocksOf(passed)).not.toContain(GATE_APPROVE_ACTION);
    expect(String(passed.args.text)).toMatch(/lockdown \(lockdown\.enable\) approved, 2\/2/);
    await handleFor(stack.client, g.id).terminate('test done');
  });

  it('a stale hash, a non-approver and a bad button value are refused privately, and nothing is counted', async () => {
    const g = await gateOpen();
    const stale = fresh('stale');
    await postInteraction(click(as('alice'), GATE_APPROVE_ACTION, { ts: g.ts, value: encodeGateValue({ incidentId: g.id, gate: 'lockdown', argsHash: 'a'.repeat(64) }) }, stale));
    expect(String((await api.nextResponse(stale)).body.text)).toMatch(/gate "lockdown" has arguments [0-9a-f]{12}…, not a{64}: read the status again/);
    const outsider = fresh('mallory');
    await postInteraction(click(as('mallory'), GATE_APPROVE_ACTION, g, outsider));
    expect(String((await api.nextResponse(outsider)).body.text)).toMatch(/mallory is not an approver in group "responders"/);
    api.addUser({ id: 'U0NOBODY' });
    const nobody = fresh('nobody');
    await postInteraction(click('U0NOBODY', GATE_APPROVE_ACTION, g, nobody));
    expect(String((await api.nextResponse(nobody)).body.text)).toMatch(/Slack user U0NOBODY is not a Firebreak responder/);
    expect(logs.some((l) => l.includes('"slackUser":"U0NOBODY"') && l.includes('"reason":"unmapped"'))).toBe(true);
    for (const [flags, pattern] of [[{ is_restricted: true }, /is a guest/], [{ is_bot: true }, /is a bot/]] as const) {
      api.addUser({ id: as('bob'), ...flags });
      const name = fresh('bob-refused');
      await postInteraction(click(as('bob'), GATE_APPROVE_ACTION, g, name));
      expect(String((await api.nextResponse(name)).body.text)).toMatch(pattern);
    }
    api.addUser({ id: as('bob') });
    const otherTeam = fresh('other-team');
    const foreign = (JSON.parse(decodeURIComponent(click(as('bob'), GATE_APPROVE_ACTION, g, otherTeam).slice('payload='.length))) as Record<string, unknown>);
    await postInteraction(interaction({ ...foreign, team: { id: 'T0OTHER', domain: 'other' } }));
    expect(String((await api.nextResponse(otherTeam)).body.text)).toMatch(/serves Slack workspace T0FIRE, not T0OTHER/);
    const big = fresh('big');
    await postInteraction(click(as('alice'), GATE_APPROVE_ACTION, { ts: g.ts, value: 'x'.repeat(10_000) }, big));
    expect(String((await api.nextResponse(big)).body.text)).toMatch(/gate button value is 10000 characters/);
    const forged = fresh('forged');
    expect((await postInteraction(click(as('alice'), GATE_APPROVE_ACTION, g, forged), { secret: 'forged' })).status).toBe(401);
    expect((await postInteraction(`payload=${encodeURIComponent('{"type":"block_actions", not json')}`)).status).toBe(400);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(api.responses.some((r) => r.name === forged)).toBe(false);
    expect(await approvalsOf(g.id)).toEqual([]);
    expect(await acceptedApproves(g.id)).toEqual([]);
    expect(updatesOf(g.ts)).toEqual([]);
    await handleFor(stack.client, g.id).terminate('test done');
  });

  it('Deny opens a modal; the reason becomes a signed note shown on the gate, which stays open', async () => {
    const g = await gateOpen();
    const before = await getStatus(stack.client, g.id);
    const deny = JSON.parse(decodeURIComponent(click(as('carol'), GATE_DENY_ACTION, g, fresh('deny')).slice('payload='.length))) as { trigger_id: string };
    expect((await postInteraction(interaction(deny))).status).toBe(200);
    const modal = viewOf(await nextCall('views.open', (c) => c.args.trigger_id === deny.trigger_id));
    expect(modal.callback_id).toBe(DENY_CALLBACK_ID);

    const empty = await postInteraction(viewSubmission(as('carol'), modal, { reason: '' }, 'V0DENY1'));
    expect(JSON.parse(empty.body)).toMatchObject({ response_action: 'errors', errors: { reason: expect.stringMatching(/Say why/) } });
    const huge = await postInteraction(viewSubmission(as('carol'), modal, { reason: 'y'.repeat(10_000) }, 'V0DENY1'));
    expect(JSON.parse(huge.body)).toMatchObject({ response_action: 'errors', errors: { reason: expect.stringMatching(/limited to 1000 characters/) } });
    const outsider = await postInteraction(viewSubmission(as('mallory'), modal, { reason: 'not mine to say' }, 'V0DENY2'));
    expect(outsider.body).toBe('');
    const refused = await nextCall('chat.postEphemeral', (c) => c.args.user === as('mallory'));
    expect(String(refused.args.text)).toMatch(/mallory is not an approver in group "responders"/);
    expect((await getStatus(stack.client, g.id)).timeline.length).toBe(before.timeline.length);

    const submit = viewSubmission(as('carol'), modal, { reason: 'the target is wrong: <!channel> check it' }, 'V0DENY3');
    expect((await postInteraction(submit)).body).toBe('');
    const shown = await nextCall('chat.update', (c) => c.args.ts === g.ts);
    expect(blocksOf(shown)).toMatch(/Denied by\*\\n• carol at [^:]+:[^:]+:[^:]+: the target is wrong: &lt;!channel&gt; check it/);
    expect(blocksOf(shown)).toContain('the gate stays open');
    expect(blocksOf(shown)).toContain(GATE_APPROVE_ACTION);
    const told = await nextCall('chat.postEphemeral', (c) => c.args.user === as('carol'));
    expect(String(told.args.text)).toMatch(/the gate stays open/);
    // The same submission again, after a restart: the note's Update id makes it one note.
    const restarted = await app.startServer();
    try {
      expect((await postInteraction(submit, { to: restarted })).status).toBe(200);
      await new Promise((r) => setTimeout(r, 1_500));
    } finally {
      await restarted.close();
    }
    const s = await getStatus(stack.client, g.id);
    expect(s.timeline.filter((t) => t.kind === 'note').map((t) => [t.by, t.message])).toEqual([['carol', 'denied gate lockdown: the target is wrong: <!channel> check it']]);
    expect(s.gates.find((x) => x.id === 'lockdown')?.state).toBe('open');
    expect(s.state).toBe('awaiting-approval');
    await handleFor(stack.client, g.id).terminate('test done');
  });
});
