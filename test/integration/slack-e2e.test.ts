/**
 * A whole incident from Slack, over real HTTP with signed requests: `/incident declare`, the
 * modal, the incident channel the worker opens (real Temporal, a real worker, the Slack Web
 * API stand-in), the live status message through every phase, the gate's buttons (the
 * declarer refused privately, double clicks and Slack's retries counted once, the second
 * approver passing it), `/incident resolve`, and the post-mortem's link in the channel.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getStatus, handleFor, waitFor } from '../../lib/incidents/index.js';
import { createLogger } from '../../lib/logger.js';
import { PHASE_TITLES } from '../../lib/runbook/types.js';
import { paramBlockId } from '../../slack/blocks/declare-modal.js';
import { GATE_APPROVE_ACTION, parseGateValue } from '../../slack/blocks/gate-message.js';
import { statusTopic } from '../../slack/blocks/status-message.js';
import type { IncidentStatus } from '../../workflows/definitions.js';
import { SLACK_EVENT_TYPE, statusMetadata } from '../../workflows/notify-definitions.js';
import { DECLARER } from '../helpers/firebreak.js';
import { startGithubStandin, type GithubStandin } from '../helpers/github-standin.js';
import { acceptedUpdates, blocksOf, buttonClick, command, nextCall, startSlackApp, viewOf, viewSubmission, type SlackApp } from '../helpers/slack-app.js';
import { postToApp, type ApiCall } from '../helpers/slack-standin.js';

const SECRET = 'test-signing-secret-e2e';
const IDS: Record<string, string> = { [DECLARER]: 'U0OLGA', alice: 'U0ALICE', bob: 'U0BOB', carol: 'U0CAROL' };
const as = (person: string) => IDS[person] as string;
const RUNBOOK = 'slack-e2e';

let gh: GithubStandin;
let app: SlackApp;

beforeAll(async () => {
  gh = await startGithubStandin();
  process.env.FBT_E2E_GITHUB_TOKEN = gh.model.token;
  app = await startSlackApp('slack-e2e', {
    ids: IDS,
    secret: SECRET,
    logger: createLogger({ level: 'silent', pretty: false }),
    slackExtra: ['  channels:', '    targets: [local]', '    inviteGroups: [responders]'],
    live: { listMs: 400, activePollMs: 250, idlePollMs: 500, catchUpClosedMs: 120_000 },
    stack: { targetExtra: `    github: { repo: acme/web, branch: main, token: { env: FBT_E2E_GITHUB_TOKEN }, baseUrl: "${gh.url}" }` },
  });
  app.stack.writeRunbook(
    RUNBOOK,
    [
      `name: ${RUNBOOK}`,
      'title: A whole incident from Slack',
      'severity: high',
      'params:',
      '  reason: { type: string, required: true, description: why the app is locked down }',
      '  minutes: { type: integer, default: 5, description: how long it has been going on }',
      'resolve:',
      '  approval: { count: 1, group: responders }',
      'phases:',
      '  detection:',
      '    - id: flag-before',
      '      action: lockdown.status',
      '  containment:',
      '    - id: lockdown',
      '      action: lockdown.enable',
      '      with: { reason: "{{ params.reason }}" }',
      '      approval: { count: 2, group: responders }',
      '  postmortem:',
      '    - id: pm',
      '      action: report.postmortem',
      '      with: { open_issue: true }',
    ].join('\n'),
  );
}, 120_000);

afterAll(async () => {
  await app?.stop();
  await gh?.stop();
  delete process.env.FBT_E2E_GITHUB_TOKEN;
});

const post = (body: string, headers?: Record<string, string>) => postToApp(app.server.url, body, { secret: SECRET, ...(headers && { headers }) });
const until = (id: string, pred: (s: IncidentStatus) => boolean) => waitFor(app.stack.client, id, pred, { timeoutMs: 30_000, intervalMs: 100 });
const approvals = async (id: string) => (await getStatus(app.stack.client, id)).gates.find((g) => g.id === 'lockdown')?.approvals.map((v) => [v.by, v.via]);
/** `state` and phase title of a status message's fallback text (statusText). */
const stateAndPhase = (c: ApiCall) => /: ([a-z-]+), phase (.+?), high,/.exec(String(c.args.text))?.slice(1, 3).join(' / ');
/** A phase's title as the status line shows it (mrkdwn-escaped). */
const title = (phase: keyof typeof PHASE_TITLES) => PHASE_TITLES[phase].replace(/&/g, '&amp;');
/** Waits for the Slack app's refresher to draw the status message with this in its status line. */
const statusShows = (ref: { channel: string; statusTs: string }, part: string) =>
  nextCall(app.api, 'chat.update', (c) => c.args.channel === ref.channel && c.args.ts === ref.statusTs && c.status === 200 && String(c.args.text).includes(part));
const metadataOf = (c: ApiCall) => (typeof c.args.metadata === 'string' ? JSON.parse(c.args.metadata) : c.args.metadata) as unknown;

describe('a whole incident from Slack', () => {
  it('declare in the modal → channel and live status → the gate’s buttons → resolve → completed, post-mortem linked', async () => {
    const { api, stack } = app;

    // `/incident declare <runbook>`: acked empty, the form opened with that trigger_id, submitted with target and params.
    const declare = await command(app.server, SECRET, { user: as(DECLARER), text: `declare ${RUNBOOK}`, responseUrl: api.responseUrl('declare') });
    expect(declare.ack).toMatchObject({ status: 200, body: '' });
    const form = viewOf(await nextCall(api, 'views.open', (c) => c.args.trigger_id === declare.trigger));
    const submitted = await post(
      viewSubmission(as(DECLARER), form, { runbook: RUNBOOK, target: 'local', summary: 'pager: 5xx after a deploy', [paramBlockId(RUNBOOK, 'reason')]: 'tokens seen on a paste site', [paramBlockId(RUNBOOK, 'minutes')]: '12' }, 'V0E2E1'),
    );
    expect(submitted).toMatchObject({ status: 200, body: '' });
    const told = await nextCall(api, 'chat.postEphemeral', (c) => c.args.user === as(DECLARER) && String(c.args.text).includes('declared'));
    const id = /`(INC-[^`]+)`/.exec(String(told.args.text))?.[1] as string;
    expect(id).toBeTruthy();

    // The worker opens the channel: the declarer and the approvers invited, the topic, one pinned status message; the gate in its thread.
    const gated = await until(id, (s) => s.state === 'awaiting-approval' && (s.notifications?.sent ?? 0) >= 1);
    expect(gated.summary).toBe('pager: 5xx after a deploy');
    expect(gated.identity?.declarer).toMatchObject({ responder: DECLARER, via: 'attested' });
    const ref = gated.slack as NonNullable<IncidentStatus['slack']>;
    expect(api.callsOf('conversations.create').map((c) => c.args.name)).toEqual([ref.name]);
    const channel = api.channels.named(ref.name);
    expect(new Set(channel?.members)).toEqual(new Set([api.bot.userId, as(DECLARER), as('alice'), as('bob'), as('carol')]));
    const top = api.channels.history(ref.channel);
    expect(top.map((m) => [m.ts, m.metadata])).toEqual([[ref.statusTs, statusMetadata(id)]]);
    expect(api.callsOf('pins.add').map((c) => [c.args.channel, c.args.timestamp])).toEqual([[ref.channel, ref.statusTs]]);
    expect(api.callsOf('conversations.setTopic').filter((c) => c.args.channel === ref.channel)[0]?.args.topic).toBe(statusTopic({ ...gated, state: 'running', phase: 'detection' }));
    const gateMsg = api.channels.thread(ref.channel, ref.statusTs)[0];
    expect(gateMsg?.metadata).toMatchObject({ event_type: SLACK_EVENT_TYPE, event_payload: { incident_id: id, kind: 'gate-opened' } });
    const buttons = (JSON.parse(blocksOf(gateMsg?.blocks)) as Array<{ elements?: Array<{ action_id?: string; value?: string }> }>).flatMap((b) => b.elements ?? []);
    const value = buttons.find((e) => e.action_id === GATE_APPROVE_ACTION)?.value ?? '';
    const gate = gated.gates.find((g) => g.id === 'lockdown');
    // The gate is bound to the arguments resolved from the modal's params.
    expect(gate?.args).toMatchObject({ reason: 'tokens seen on a paste site' });
    expect(parseGateValue(value)).toEqual({ incidentId: id, gate: 'lockdown', argsHash: gate?.argsHash });
    // What the responders see before they click: the status message drawn waiting at the gate.
    await statusShows(ref, `awaiting-approval, phase ${title('containment')}`);
    const where = { actionId: GATE_APPROVE_ACTION, value, channel: ref.channel, ts: gateMsg?.ts ?? '', threadTs: ref.statusTs };
    const gateUpdates = () => api.callsOf('chat.update').filter((c) => c.args.channel === ref.channel && c.args.ts === where.ts);

    // The declarer's own Approve: refused, to them only, with the reason; nothing counted.
    const own = await post(buttonClick(as(DECLARER), { ...where, responseUrl: api.responseUrl('own') }));
    expect(own).toMatchObject({ status: 200, body: '' });
    const refusal = await api.nextResponse('own');
    expect(refusal.body).toMatchObject({ response_type: 'ephemeral', replace_original: false });
    expect(String(refusal.body.text)).toMatch(/two-person rule: oncall-olga declared this incident/);
    expect(await approvals(id)).toEqual([]);
    expect(await acceptedUpdates(stack.client, id, 'approve')).toEqual([]);
    expect(gateUpdates()).toEqual([]);

    // A second responder: counted, and the gate message redrawn in place with who approved.
    const first = buttonClick(as('alice'), { ...where, responseUrl: api.responseUrl('alice') });
    expect(await post(first)).toMatchObject({ status: 200, body: '' });
    const redrawn = await nextCall(api, 'chat.update', (c) => c.args.ts === where.ts && blocksOf(c.args.blocks).includes('alice via attested'));
    expect(blocksOf(redrawn.args.blocks)).toContain(GATE_APPROVE_ACTION);
    expect(await approvals(id)).toEqual([['alice', 'attested']]);

    // A double click (its own action_ts), the same delivery twice, and Slack's retry of it: still one vote.
    await post(buttonClick(as('alice'), { ...where, responseUrl: api.responseUrl('alice-double') }));
    expect((await post(first)).status).toBe(200);
    expect((await post(first, { 'x-slack-retry-num': '1', 'x-slack-retry-reason': 'http_timeout' })).status).toBe(200);
    await nextCall(api, 'chat.update', (c) => c.args.ts === where.ts && c !== redrawn);
    expect(await approvals(id)).toEqual([['alice', 'attested']]);
    expect(await acceptedUpdates(stack.client, id, 'approve')).toHaveLength(1);
    expect(api.responses.filter((r) => r.name.startsWith('alice'))).toEqual([]);

    // The second approver passes the gate: containment runs, then the all-clear waits.
    await post(buttonClick(as('bob'), { ...where, responseUrl: api.responseUrl('bob') }));
    const contained = await until(id, (s) => s.state === 'awaiting-resolve');
    expect(contained.gates.find((g) => g.id === 'lockdown')).toMatchObject({ state: 'approved', approvals: [{ by: 'alice' }, { by: 'bob' }] });
    expect(await stack.redis.redis.get(stack.flagKey)).toBe('1');
    const passed = await nextCall(api, 'chat.update', (c) => c.args.ts === where.ts && blocksOf(c.args.blocks).includes('bob via attested'));
    expect(blocksOf(passed.args.blocks)).toMatch(/:white_check_mark: \*Approved\*/);
    expect(blocksOf(passed.args.blocks)).not.toContain(GATE_APPROVE_ACTION);

    await statusShows(ref, `awaiting-resolve, phase ${title('recovery')}`);

    // `/incident resolve`: the all-clear lifts the lockdown, phase IV opens the post-mortem issue, the incident completes.
    const resolved = await command(app.server, SECRET, { user: as('carol'), text: `resolve ${id}`, responseUrl: api.responseUrl('resolve') });
    expect(resolved.ack.status).toBe(200);
    expect(String((await api.nextResponse('resolve')).body.text)).toMatch(/carol gave the all-clear/);
    const done = (await handleFor(stack.client, id).result()) as IncidentStatus;
    expect(done.state).toBe('completed');
    expect(await stack.redis.redis.get(stack.flagKey)).toBeNull();
    const issue = gh.model.issues[0];
    const issueUrl = `https://github.test/acme/web/issues/${issue?.number}`;
    expect(gh.model.issues).toHaveLength(1);
    const thread = api.channels.thread(ref.channel, ref.statusTs);
    expect(thread.map((m) => m.metadata?.event_payload?.kind)).toEqual(['gate-opened', 'containment', 'gate-opened', 'all-clear', 'completed']);
    expect(String(thread.at(-1)?.text)).toBe(`incident completed; active containment: none; post-mortem: ${issueUrl}`);
    expect(blocksOf(thread.at(-1)?.blocks)).toContain(`<${issueUrl}|post-mortem>`);
    expect(done.notifications).toEqual({ sent: 5, pending: 0, missed: [] });

    // The live status message went through every phase the incident rested in, in order, each edit keeping its metadata.
    await statusShows(ref, 'completed, phase done');
    const updates = api.callsOf('chat.update').filter((c) => c.args.channel === ref.channel && c.args.ts === ref.statusTs && c.status === 200);
    const seen = updates.map(stateAndPhase).filter((x, i, all) => x !== all[i - 1]);
    // Phases only move forward; the states it rested in (waiting for people, and the end) are each drawn, in order.
    const phases = ['detection', 'containment', 'recovery', 'postmortem'].map((p) => title(p as keyof typeof PHASE_TITLES)).concat('done');
    const at = seen.map((x) => phases.indexOf(x?.split(' / ')[1] ?? ''));
    expect(at.every((i) => i >= 0)).toBe(true);
    expect(at).toEqual([...at].sort((a, b) => a - b));
    const rested = [`awaiting-approval / ${title('containment')}`, `awaiting-resolve / ${title('recovery')}`, 'completed / done'];
    expect(seen.filter((x) => rested.includes(x as string))).toEqual(rested);
    expect(seen.at(-1)).toBe('completed / done');
    expect(updates.map(metadataOf)).toEqual(updates.map(() => statusMetadata(id)));
    expect(api.channels.history(ref.channel).map((m) => m.metadata)).toEqual([statusMetadata(id)]);
    expect(blocksOf(api.messageAt(ref.channel, ref.statusTs)?.blocks)).toContain(`<${issueUrl}|GitHub issue #${issue?.number}>`);
    // The topic followed the incident to its end.
    expect(api.topicOf(ref.channel)).toBe(statusTopic(done));
  }, 60_000);
});
