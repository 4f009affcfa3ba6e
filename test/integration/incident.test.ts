import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  abortIncident,
  addNote,
  approveGate,
  declareIncident,
  findOpenByDedupKey,
  getStatus,
  listIncidents,
  resolveIncident,
  retryIncident,
  confirmItem,
  waiveItem,
  overrideStep,
  getNoticeStatus,
  recordNoticeSent,
  markPersonalData,
  TERMINAL,
  waitFor,
  handleFor,
} from '../../lib/incidents/index.js';
import { approveUpdate, type IncidentStatus } from '../../workflows/definitions.js';
import type { NoticeStatus } from '../../workflows/notice-definitions.js';
import { APPROVERS, DECLARER, startStack, type Stack } from '../helpers/firebreak.js';
import { noReadersWarning } from '../../activities/inspect/readers.js';

let stack: Stack;

beforeAll(async () => {
  stack = await startStack('incident');
});
afterAll(async () => {
  await stack?.stop();
});

const declare = (runbook: string, extra: Partial<Parameters<typeof declareIncident>[2]> = {}) =>
  declareIncident(stack.client, stack.config, { runbook, actor: stack.actor(DECLARER), ...extra });

const until = (id: string, pred: (s: IncidentStatus) => boolean, timeoutMs = 30_000) => waitFor(stack.client, id, pred, { timeoutMs, intervalMs: 100 });

const HOUR = 3600_000;
const iso = (ms: number) => new Date(ms).toISOString();

/** Poll the incident's GDPR clock until `pred` holds. */
async function noticeUntil(id: string, pred: (n: NoticeStatus) => boolean, timeoutMs = 10_000): Promise<NoticeStatus> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const n = await getNoticeStatus(stack.client, id);
    if (n && pred(n)) return n;
    if (Date.now() > deadline) throw new Error(`GDPR clock of ${id} not as expected within ${timeoutMs} ms: ${JSON.stringify(n)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('IncidentWorkflow, live token-leak', () => {
  let id: string;

  it('runs phase I, then waits at the two-person lockdown gate with the flag untouched', async () => {
    const res = await declare('token-leak', { params: { reason: 'test leak', lockdown: true } });
    id = res.id;
    expect(res.existing).toBe(false);
    expect(res.workflowId).toBe(`firebreak-${id}`);
    const s = await until(id, (x) => x.state === 'awaiting-approval');
    expect(s.phase).toBe('containment');
    expect(s.steps.find((x) => x.id === 'lockdown-before')).toMatchObject({ state: 'succeeded', phase: 'detection' });
    const gate = s.gates.find((g) => g.id === 'lockdown');
    expect(gate).toMatchObject({ state: 'open', required: 2, group: 'responders', args: { reason: 'test leak' } });
    expect(gate?.argsHash).toMatch(/^[0-9a-f]{64}$/);
    expect(await stack.redis.redis.get(stack.flagKey)).toBeNull();
  });

  it('refuses the declarer, a stranger, a repeat vote and a vote for other arguments', async () => {
    await expect(approveGate(stack.client, id, 'lockdown', stack.actor(DECLARER))).rejects.toThrow(/two-person rule: oncall-olga declared this incident/);
    await expect(approveGate(stack.client, id, 'lockdown', stack.actor('mallory'))).rejects.toThrow(/mallory is not an approver in group "responders"/);
    await expect(approveGate(stack.client, id, 'nope', stack.actor('alice'))).rejects.toThrow(/no open gate "nope"/);
    await expect(resolveIncident(stack.client, id, stack.actor('alice'))).rejects.toThrow(/resolve is accepted once phases I–III are done/);
    const first = await approveGate(stack.client, id, 'lockdown', stack.actor('alice'));
    expect(first.approvals.map((v) => v.by)).toEqual(['alice']);
    await expect(approveGate(stack.client, id, 'lockdown', stack.actor('alice'))).rejects.toThrow(/alice has already approved gate "lockdown"/);
    // A vote bound to a different argument hash is refused by the workflow itself, whatever the front door.
    await expect(
      handleFor(stack.client, id).executeUpdate(approveUpdate, { args: [{ gate: 'lockdown', argsHash: '0'.repeat(64), actor: stack.actor('bob') }] }),
    ).rejects.toThrow();
    const s = await getStatus(stack.client, id);
    expect(s.gates.find((g) => g.id === 'lockdown')?.approvals).toHaveLength(1);
    expect(await stack.redis.redis.get(stack.flagKey)).toBeNull();
  });

  it('a second approver opens the gate: the flag is set to integer 1 and verified', async () => {
    await approveGate(stack.client, id, 'lockdown', stack.actor('bob'), 'confirmed in #incident');
    const s = await until(id, (x) => x.state === 'awaiting-resolve');
    expect(await stack.redis.redis.get(stack.flagKey)).toBe('1');
    const step = s.steps.find((x) => x.id === 'lockdown');
    expect(step).toMatchObject({ state: 'succeeded', proof: { key: stack.flagKey, readBack: '1' } });
    expect(s.activeContainment).toEqual(['lockdown']);
    expect(s.phase).toBe('recovery');
    expect(s.timeline.some((t) => t.kind === 'approval' && t.by === 'bob' && t.message.includes('confirmed in #incident'))).toBe(true);
  });

  it('resolve: the declarer cannot give the all-clear; a responder lifts containment and phase IV completes', async () => {
    await expect(resolveIncident(stack.client, id, stack.actor(DECLARER))).rejects.toThrow(/two-person rule/);
    await addNote(stack.client, id, 'token rotated upstream', stack.actor(DECLARER));
    await resolveIncident(stack.client, id, stack.actor('carol'));
    const s = await until(id, (x) => TERMINAL.includes(x.state));
    expect(s.state).toBe('completed');
    expect(s.phase).toBe('done');
    expect(await stack.redis.redis.get(stack.flagKey)).toBeNull();
    expect(s.steps.find((x) => x.id === 'lockdown')?.state).toBe('undone');
    expect(s.activeContainment).toEqual([]);
    const md = join(stack.config.dataDir, 'evidence', id, 'timeline.md');
    expect(existsSync(md)).toBe(true);
    const text = readFileSync(md, 'utf8');
    expect(text).toContain(`# Incident ${id}`);
    expect(text).toContain('token rotated upstream');
    await expect(resolveIncident(stack.client, id, stack.actor('alice'))).rejects.toThrow(/is closed \(completed\)/);
  });

  it('lists the incident through visibility with its search attributes', async () => {
    const deadline = Date.now() + 10_000;
    let found;
    while (Date.now() < deadline) {
      found = (await listIncidents(stack.client)).find((i) => i.id === id);
      if (found?.state === 'completed') break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(found).toMatchObject({ runbook: 'token-leak', severity: 'high', mode: 'live', state: 'completed', phase: 'done', status: 'COMPLETED' });
  });
});

/** `<prefix>:<version>` of this file's target: the flag key without its name. */
const namespace = (): string => stack.flagKey.slice(0, stack.flagKey.lastIndexOf(':'));

describe('modes and steering', () => {
  it('dry-run plans every step, waits for nobody and changes nothing', async () => {
    await stack.redis.redis.set(stack.flagKey, '0');
    const res = await declare('sqli', { mode: 'dry-run', params: { read_only: false, lockdown: true } });
    const s = await until(res.id, (x) => TERMINAL.includes(x.state));
    expect(s.state).toBe('completed');
    expect(await stack.redis.redis.get(stack.flagKey)).toBe('0');
    const lockdown = s.steps.find((x) => x.action === 'lockdown.enable');
    expect(lockdown?.state).toBe('planned');
    // No app process reads this test's namespace: the plan says so, loudly.
    expect(lockdown?.plan).toEqual(['would wait for 2 approval(s) from group responders', `SET ${stack.flagKey} 1 (now: 0)`, `WARNING: ${noReadersWarning(namespace())}`]);
    expect(s.gates).toEqual([]);
    await stack.redis.redis.del(stack.flagKey);
  });

  it('abort of approved containment waits, rolling back, for the all-clear approval; then restores the exact prior value', async () => {
    await stack.redis.redis.set(stack.flagKey, '0');
    // An app process that reads the namespace (the middleware's heartbeat), so the summary names it.
    const seen = Math.floor(Date.now() / 1000);
    const reader = `${namespace()}:fb:reader:test-app:4242`;
    await stack.redis.redis.set(reader, String(seen), 'EX', 300);
    const res = await declare('token-leak', { params: { lockdown: true } });
    await until(res.id, (x) => x.state === 'awaiting-approval');
    await approveGate(stack.client, res.id, 'lockdown', stack.actor('alice'));
    await approveGate(stack.client, res.id, 'lockdown', stack.actor('bob'));
    await until(res.id, (x) => x.state === 'awaiting-resolve');
    expect(await stack.redis.redis.get(stack.flagKey)).toBe('1');
    await expect(abortIncident(stack.client, res.id, 'x', stack.actor('mallory'))).rejects.toThrow(/neither the declarer nor an approver/);
    const state = await abortIncident(stack.client, res.id, 'false positive: it was a test token', stack.actor(DECLARER));
    expect(state).toBe('aborting');
    // Two people approved the lockdown: one person's abort does not lift it.
    const waiting = await until(res.id, (x) => x.state === 'rolling-back');
    expect(waiting.gates.find((g) => g.id === 'rollback')).toMatchObject({ state: 'open', required: 1, group: 'responders' });
    expect(await stack.redis.redis.get(stack.flagKey)).toBe('1');
    await expect(resolveIncident(stack.client, res.id, stack.actor(DECLARER))).rejects.toThrow(/two-person rule: oncall-olga declared this incident/);
    expect(await stack.redis.redis.get(stack.flagKey)).toBe('1');
    await resolveIncident(stack.client, res.id, stack.actor('carol'), 'agreed: false positive');
    const s = await until(res.id, (x) => TERMINAL.includes(x.state));
    expect(s.timeline.some((t) => t.step === 'rollback' && t.message === 'rollback approved by carol')).toBe(true);
    expect(s.state).toBe('aborted');
    expect(s.abortReason).toBe('false positive: it was a test token');
    expect(await stack.redis.redis.get(stack.flagKey)).toBe('0');
    // The status says what the undo did; what the step had done stays in `effect` and in the timeline.
    expect(s.steps.find((x) => x.id === 'lockdown')).toMatchObject({
      state: 'undone',
      summary: `lockdown restored to ${stack.flagKey} = 0`,
      effect: `lockdown ON (${stack.flagKey} = 1, was 0); 1 app process reads ${namespace()} (last seen ${new Date(seen * 1000).toISOString()})`,
    });
    await stack.redis.redis.del(reader);
    expect(s.timeline.some((t) => t.step === 'lockdown' && t.kind === 'step' && t.message.includes(`lockdown ON (${stack.flagKey} = 1, was 0)`))).toBe(true);
    expect(s.steps.find((x) => x.id === 'timeline')?.state).toBe('pending');
    await stack.redis.redis.del(stack.flagKey);
  });

  it('abort while a gate is open cancels the gate and changes nothing', async () => {
    const res = await declare('token-leak', { params: { lockdown: true } });
    await until(res.id, (x) => x.state === 'awaiting-approval');
    await abortIncident(stack.client, res.id, 'declared by mistake', stack.actor('alice'));
    const s = await until(res.id, (x) => TERMINAL.includes(x.state));
    expect(s.state).toBe('aborted');
    expect(s.gates.find((g) => g.id === 'lockdown')?.state).toBe('cancelled');
    expect(s.steps.find((x) => x.id === 'lockdown')?.state).toBe('cancelled');
    expect(await stack.redis.redis.get(stack.flagKey)).toBeNull();
  });

  it('--dedup-key returns the open incident instead of starting a second', async () => {
    const key = `alert-${Date.now()}`;
    const a = await declare('token-leak', { dedupKey: key, params: { lockdown: true } });
    const b = await declare('token-leak', { dedupKey: key, params: { lockdown: true } });
    expect(b.existing).toBe(true);
    expect(b.id).toBe(a.id);
    // Another deployment (task queue) in the same namespace has its own dedup scope.
    expect(await findOpenByDedupKey(stack.client, key, stack.config.temporal.taskQueue)).toMatchObject({ incidentId: a.id });
    expect(await findOpenByDedupKey(stack.client, key, `${stack.config.temporal.taskQueue}-elsewhere`)).toBeUndefined();
    await abortIncident(stack.client, a.id, 'cleanup', stack.actor(DECLARER));
    await until(a.id, (x) => TERMINAL.includes(x.state));
    const deadline = Date.now() + 10_000;
    let c = await declare('token-leak', { dedupKey: key, params: { lockdown: true } });
    // Visibility is eventually consistent: once it sees the close, a new incident starts.
    while (c.existing && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      c = await declare('token-leak', { dedupKey: key, params: { lockdown: true } });
    }
    expect(c.existing).toBe(false);
    expect(c.id).not.toBe(a.id);
    await abortIncident(stack.client, c.id, 'cleanup', stack.actor(DECLARER));
  });

  // Escalations firing repeatedly (and their exact messages) are tested on the time-skipping
  // server (test/unit/engine-gates.test.ts): the shortest escalation a runbook may set is 1m.
  it('an unanswered gate stays open on its escalation timer; the group decides who may approve', async () => {
    stack.writeRunbook(
      'slow-gate',
      [
        'name: slow-gate',
        'title: Gate with the shortest escalation timer',
        'severity: low',
        'phases:',
        '  containment:',
        '    - id: lockdown',
        '      action: lockdown.enable',
        '      approval: { count: 1, group: dba, escalate_after: 1m }',
      ].join('\n'),
    );
    const res = await declare('slow-gate');
    const s = await until(res.id, (x) => x.gates[0]?.state === 'open', 20_000);
    expect(s.state).toBe('awaiting-approval');
    expect(s.gates[0]).toMatchObject({ id: 'lockdown', group: 'dba', escalations: 0 });
    await expect(approveGate(stack.client, res.id, 'lockdown', stack.actor('alice'))).rejects.toThrow(/alice is not an approver in group "dba"/);
    await abortIncident(stack.client, res.id, 'test done', stack.actor(DECLARER));
    await until(res.id, (x) => TERMINAL.includes(x.state));
  });

  it('a failing step blocks the phase; retry re-runs it once the cause is fixed', async () => {
    stack.writeRunbook(
      'flaky-read',
      [
        'name: flaky-read',
        'title: A step that fails until the target is fixed',
        'severity: low',
        'phases:',
        '  detection:',
        '    - id: read',
        '      action: lockdown.status',
        '      retry: { maximum_attempts: 2, initial_interval: 100ms }',
        '    - id: after',
        '      action: lockdown.status',
        '      needs: [read]',
      ].join('\n'),
    );
    await stack.redis.redis.hset(stack.flagKey, 'wrong', 'type');
    const res = await declare('flaky-read');
    let s = await until(res.id, (x) => x.state === 'blocked');
    expect(s.steps.find((x) => x.id === 'read')).toMatchObject({ state: 'failed', error: expect.stringMatching(/^FirebreakTargetUnavailable: redis error: WRONGTYPE/) });
    expect(s.steps.find((x) => x.id === 'after')).toMatchObject({ state: 'cancelled', error: 'not run: it needs read' });
    await expect(retryIncident(stack.client, res.id, stack.actor('mallory'))).rejects.toThrow(/neither the declarer nor an approver/);
    await stack.redis.redis.del(stack.flagKey);
    expect(await retryIncident(stack.client, res.id, stack.actor(DECLARER))).toEqual(['read', 'after']);
    s = await until(res.id, (x) => TERMINAL.includes(x.state));
    expect(s.state).toBe('completed');
    expect(s.steps.map((x) => x.state)).toEqual(['succeeded', 'succeeded']);
  });

  it('a lift that fails on resolve blocks the incident with containment in force; retry lifts it', async () => {
    stack.writeRunbook(
      'lift-fails',
      [
        'name: lift-fails',
        'title: Lockdown whose lift fails once',
        'severity: low',
        'phases:',
        '  containment:',
        '    - id: lockdown',
        '      action: lockdown.enable',
        '      retry: { maximum_attempts: 2, initial_interval: 100ms }',
      ].join('\n'),
    );
    const res = await declare('lift-fails');
    await until(res.id, (x) => x.state === 'awaiting-resolve');
    await stack.redis.redis.del(stack.flagKey);
    await stack.redis.redis.hset(stack.flagKey, 'wrong', 'type');
    await resolveIncident(stack.client, res.id, stack.actor('alice'));
    let s = await until(res.id, (x) => x.state === 'blocked');
    expect(s.activeContainment).toEqual(['lockdown']);
    expect(s.steps.find((x) => x.id === 'lockdown')?.state).toBe('succeeded');
    expect(s.timeline.some((t) => t.message.startsWith('resolve: lockdown.disable for lockdown FAILED: FirebreakTargetUnavailable: redis error: WRONGTYPE'))).toBe(true);
    await stack.redis.redis.del(stack.flagKey);
    await stack.redis.redis.set(stack.flagKey, '1');
    await retryIncident(stack.client, res.id, stack.actor(DECLARER));
    s = await until(res.id, (x) => TERMINAL.includes(x.state));
    expect(s.state).toBe('completed');
    expect(s.activeContainment).toEqual([]);
    expect(await stack.redis.redis.get(stack.flagKey)).toBeNull();
  });

  it('a later step that lifts containment itself settles it: no all-clear is needed', async () => {
    stack.writeRunbook(
      'self-lifting',
      [
        'name: self-lifting',
        'title: Lockdown lifted by the runbook itself',
        'severity: low',
        'phases:',
        '  containment:',
        '    - id: on',
        '      action: lockdown.enable',
        '  recovery:',
        '    - id: off',
        '      action: lockdown.disable',
      ].join('\n'),
    );
    const res = await declare('self-lifting');
    const s = await until(res.id, (x) => TERMINAL.includes(x.state) || x.state === 'awaiting-resolve');
    expect(s.state).toBe('completed');
    expect(s.activeContainment).toEqual([]);
    expect(s.timeline.some((t) => t.message === 'off (lockdown.disable) lifted what on had put in force')).toBe(true);
    expect(await stack.redis.redis.get(stack.flagKey)).toBeNull();
  });

  it('a manual checklist waits for each item, reminds on its timer, and takes confirmations and waivers', async () => {
    stack.writeRunbook(
      'manual',
      [
        'name: manual',
        'title: Vendor secrets rotated by hand',
        'severity: medium',
        'phases:',
        '  recovery:',
        '    - id: vendors',
        '      action: secrets.manual',
        '      with: { items: [STRIPE_SECRET, MAIL_API_KEY], remind_every_minutes: 0.02 }',
      ].join('\n'),
    );
    const res = await declare('manual');
    let s = await until(res.id, (x) => (x.checklists[0]?.reminders ?? 0) >= 1);
    expect(s.steps[0]?.state).toBe('running');
    expect(s.checklists[0]?.items.map((i) => [i.name, i.state])).toEqual([['STRIPE_SECRET', 'open'], ['MAIL_API_KEY', 'open']]);
    expect(s.timeline.some((t) => t.kind === 'escalation' && t.message.includes('still to rotate by hand: STRIPE_SECRET, MAIL_API_KEY'))).toBe(true);
    await expect(confirmItem(stack.client, res.id, 'vendors', 'NOPE', stack.actor(DECLARER))).rejects.toThrow(/has no item "NOPE"/);
    await expect(confirmItem(stack.client, res.id, 'vendors', 'STRIPE_SECRET', stack.actor('mallory'))).rejects.toThrow(/neither the declarer nor an approver/);
    await confirmItem(stack.client, res.id, 'vendors', 'STRIPE_SECRET', stack.actor(DECLARER), 'rolled in the Stripe dashboard');
    await expect(confirmItem(stack.client, res.id, 'vendors', 'STRIPE_SECRET', stack.actor('alice'))).rejects.toThrow(/already confirmed by oncall-olga/);
    await expect(waiveItem(stack.client, res.id, 'vendors', 'MAIL_API_KEY', stack.actor(DECLARER), 'not exposed')).rejects.toThrow(/two-person rule/);
    await expect(waiveItem(stack.client, res.id, 'vendors', 'MAIL_API_KEY', stack.actor('alice'), ' ')).rejects.toThrow(/a waiver needs a reason/);
    await waiveItem(stack.client, res.id, 'vendors', 'MAIL_API_KEY', stack.actor('alice'), 'the mail key was never on the leaked host');
    s = await until(res.id, (x) => TERMINAL.includes(x.state));
    expect(s.state).toBe('completed');
    expect(s.steps[0]).toMatchObject({ state: 'succeeded', summary: '1 confirmed, 1 waived (MAIL_API_KEY by alice)' });
    expect(s.timeline.some((t) => t.message === 'alice WAIVED MAIL_API_KEY: the mail key was never on the leaked host')).toBe(true);
  });

  it('only failures of overridable actions can be overridden', async () => {
    await stack.redis.redis.hset(stack.flagKey, 'wrong', 'type');
    stack.writeRunbook(
      'no-override',
      ['name: no-override', 'title: t', 'severity: low', 'phases:', '  detection:', '    - id: read', '      action: lockdown.status', '      retry: { maximum_attempts: 1 }'].join('\n'),
    );
    const res = await declare('no-override');
    await until(res.id, (x) => x.state === 'blocked');
    await expect(overrideStep(stack.client, res.id, 'read', stack.actor('alice'), 'go on')).rejects.toThrow(/a failure of lockdown.status cannot be overridden/);
    await stack.redis.redis.del(stack.flagKey);
    await abortIncident(stack.client, res.id, 'done', stack.actor(DECLARER));
  });

  it('personal data starts the GDPR clock in live mode; a drill only says when it would end', async () => {
    stack.writeRunbook(
      'pd',
      [
        'name: pd',
        'title: Personal data',
        'severity: high',
        'params:',
        '  personal_data: { type: boolean, default: false }',
        '  aware_at: { type: string, default: "" }',
        'phases:',
        '  detection:',
        '    - id: flag',
        '      action: lockdown.status',
      ].join('\n'),
    );
    // Times derive from now: the same assertions hold whatever the calendar says.
    const awareAt = iso(Date.now() - HOUR);
    const deadline = iso(Date.parse(awareAt) + 72 * HOUR);
    const live = await declare('pd', { params: { personal_data: true, aware_at: awareAt } });
    const s = await until(live.id, (x) => TERMINAL.includes(x.state));
    expect(s.notice).toMatchObject({ awareAt, deadline, highRisk: false, workflowId: `firebreak-${live.id}-gdpr` });
    const clock = await getNoticeStatus(stack.client, live.id);
    expect(clock).toMatchObject({ deadline, missed: false });
    await expect(recordNoticeSent(stack.client, live.id, stack.actor('mallory'))).rejects.toThrow(/neither the declarer nor an approver/);
    const sent = await recordNoticeSent(stack.client, live.id, stack.actor('alice'), { reference: 'DPA-1' });
    expect(sent).toMatchObject({ sentBy: 'alice', reference: 'DPA-1', missed: false });

    // Awareness 73 h ago: the deadline passed an hour before the declaration, so the clock flags it at once.
    const lateAware = iso(Date.now() - 73 * HOUR);
    const late = await declare('pd', { params: { personal_data: true, aware_at: lateAware } });
    await until(late.id, (x) => TERMINAL.includes(x.state));
    const lateClock = await noticeUntil(late.id, (n) => n.missed);
    expect(lateClock).toMatchObject({ awareAt: lateAware, deadline: iso(Date.parse(lateAware) + 72 * HOUR), missed: true, reminders: [] });
    expect(await recordNoticeSent(stack.client, late.id, stack.actor('alice'), { reference: 'DPA-2' })).toMatchObject({ missed: true, sentBy: 'alice' });

    const drill = await declare('token-leak', { mode: 'drill', params: { lockdown: true } });
    await until(drill.id, (x) => x.state === 'awaiting-approval');
    await expect(markPersonalData(stack.client, drill.id, stack.actor('mallory'))).rejects.toThrow(/neither the declarer nor an approver/);
    const drillAware = iso(Date.now() - 2 * HOUR);
    const drillDeadline = iso(Date.parse(drillAware) + 72 * HOUR);
    const marked = await markPersonalData(stack.client, drill.id, stack.actor('alice'), { highRisk: true, awareAt: drillAware });
    expect(marked).toMatchObject({ deadline: drillDeadline, highRisk: true, markedBy: 'alice' });
    await expect(markPersonalData(stack.client, drill.id, stack.actor('alice'))).rejects.toThrow(/already marked/);
    const d = await getStatus(stack.client, drill.id);
    expect(d.timeline.some((t) => t.message.includes(`would be due by ${drillDeadline} (drill: no clock started)`))).toBe(true);
    expect(await getNoticeStatus(stack.client, drill.id)).toBeUndefined();
    await abortIncident(stack.client, drill.id, 'test done', stack.actor(DECLARER));
  });

  it('refuses bad input before starting anything', async () => {
    await expect(declare('no-such-runbook')).rejects.toThrow(/token-leak/);
    await expect(declare('token-leak', { params: { nope: 'x' } })).rejects.toThrow(/nope/);
    await expect(declare('token-leak', { mode: 'yolo' })).rejects.toThrow(/unknown mode "yolo"/);
    await expect(declare('token-leak', { severity: 'apocalyptic' })).rejects.toThrow(/unknown severity/);
    await expect(declare('token-leak', { target: 'mars' })).rejects.toThrow(/unknown target "mars"/);
    await expect(declare('token-leak', { target: 'prod', mode: 'drill' })).rejects.toThrow(/production and does not allow drills/);
    expect(APPROVERS).toContain('alice');
  });
});
