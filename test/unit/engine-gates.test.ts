/**
 * Approval gates and the all-clear on the time-skipping server: who may vote,
 * escalation timers, abort while a gate is open.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEXT_LIMITS } from '../../lib/limits.js';
import { gateHash } from '../../lib/policy/decisions.js';
import { fingerprint } from '../../lib/runbook/sensitive.js';
import { DECLARER, MINUTE, refusal, runbook, startEngine, stopEngine, withIncident } from './engine-harness.js';

beforeAll(startEngine, 120_000);
afterAll(stopEngine);

const GATED = runbook([
  'containment:',
  '  - id: lockdown',
  '    action: lockdown.enable',
  '    with: { reason: drill }',
  '    approval: { count: 2, group: responders, escalate_after: 15m }',
  'postmortem:',
  '  - id: timeline',
  '    action: report.timeline',
]);

describe('step gates', () => {
  it('wait for distinct approvers of the group, never the declarer, bound to the arguments; escalate on each timer, backing off', async () => {
    await withIncident({ runbook: GATED }, async (inc) => {
      let s = await inc.until((x) => x.state === 'awaiting-approval', 'the gate');
      const gate = s.gates[0]!;
      expect(gate).toMatchObject({ id: 'lockdown', group: 'responders', required: 2, state: 'open', escalations: 0, args: { reason: 'drill' } });
      expect(s.steps.find((x) => x.id === 'lockdown')?.state).toBe('awaiting-approval');
      expect(inc.calls.map((c) => c.activity)).toEqual([]);

      expect(await refusal(inc.approve('lockdown', DECLARER))).toMatch(/^two-person rule: olga declared this incident and cannot approve its gates$/);
      expect(await refusal(inc.approve('lockdown', 'dora'))).toBe('dora is not an approver in group "responders" (members: alice, bob, carol; configure approvers.groups.responders in /etc/firebreak/test.yaml)');
      expect(await refusal(inc.approve('lockdown', 'alice', 'f'.repeat(64)))).toMatch(/^approval is for arguments ffffffffffff…, but gate "lockdown" now has /);
      expect(await refusal(inc.approve('nope', 'alice'))).toBe('no gate "nope" is open on this incident');
      expect(await refusal(inc.retry(DECLARER))).toBe('nothing to retry: the incident is awaiting-approval');

      await inc.env.sleep(15 * MINUTE + 1_000);
      s = await inc.status();
      expect(s.gates[0]?.escalations).toBe(1);
      expect(s.timeline.filter((t) => t.kind === 'escalation').map((t) => t.message)).toEqual(['gate lockdown still needs 2 approval(s) from responders (escalation 1)']);

      await inc.approve('lockdown', 'alice');
      expect(await refusal(inc.approve('lockdown', 'alice'))).toBe('alice has already approved gate "lockdown"');
      // Escalations back off: the second comes twice the interval after the first.
      await inc.env.sleep(15 * MINUTE);
      expect((await inc.status()).gates[0]?.escalations).toBe(1);
      await inc.env.sleep(15 * MINUTE + 1_000);
      s = await inc.status();
      expect(s.gates[0]?.escalations).toBe(2);
      expect(s.timeline.filter((t) => t.kind === 'escalation').at(-1)?.message).toBe('gate lockdown still needs 1 approval(s) from responders (escalation 2)');
      expect(s.state).toBe('awaiting-approval');

      await inc.approve('lockdown', 'bob');
      s = await inc.until((x) => x.state === 'awaiting-resolve', 'the all-clear gate');
      expect(s.gates[0]).toMatchObject({ state: 'approved', approvals: [{ by: 'alice' }, { by: 'bob' }] });
      expect(inc.calls).toEqual([{ activity: 'lockdownEnable', step: 'lockdown', args: { reason: 'drill' }, approvedHash: gate.argsHash }]);
      expect(s.timeline.map((t) => t.message)).toContain('lockdown approved by alice, bob');
      await inc.resolve('carol');
      expect((await inc.result()).state).toBe('completed');
    });
  });

  it('a retried step keeps the approval of identical arguments; other arguments need a new one', async () => {
    let attempt = 0;
    let ttl = 3600;
    const rb = runbook(['containment:', '  - id: ban', '    action: network.ban_ips', '    with: { addresses: [203.0.113.7] }', '    retry: { maximum_attempts: 1 }', '    approval: { count: 1, group: responders }']);
    const stubs = {
      effectiveStepArgs: ({ args }: { args: Record<string, unknown> }) => ({ ...args, ttl_seconds: ttl }),
      networkBanIps: () => {
        attempt += 1;
        if (attempt < 3) throw new Error('nginx reload failed');
        return { summary: 'banned', changed: true };
      },
    } as never;
    await withIncident({ runbook: rb, stubs }, async (inc) => {
      await inc.until((x) => x.state === 'awaiting-approval', 'the gate');
      await inc.approve('ban', 'alice');
      let s = await inc.until((x) => x.state === 'blocked', 'the first failure');
      await inc.retry(DECLARER);
      s = await inc.until((x) => x.state === 'blocked' && attempt === 2, 'the second failure');
      expect(s.gates.map((g) => [g.id, g.state])).toEqual([['ban', 'approved']]);
      ttl = 7200; // the worker's config changed: what the step would act with is not what was approved
      await inc.retry(DECLARER);
      s = await inc.until((x) => x.state === 'awaiting-approval', 'a new gate');
      expect(s.gates.map((g) => [g.id, g.state, g.args.ttl_seconds])).toEqual([['ban', 'approved', 3600], ['ban', 'open', 7200]]);
      await inc.approve('ban', 'bob');
      s = await inc.result();
      expect(s.state).toBe('completed');
      expect(inc.calls.map((c) => c.approvedHash)).toEqual([s.gates[0]?.argsHash, s.gates[0]?.argsHash, s.gates[1]?.argsHash]);
    });
  });

  it('in dry-run a gate is only planned', async () => {
    await withIncident({ runbook: GATED, mode: 'dry-run' }, async (inc) => {
      const s = await inc.result();
      expect(s.state).toBe('completed');
      expect(s.gates).toEqual([]);
      expect(s.steps.find((x) => x.id === 'lockdown')).toMatchObject({ state: 'planned', plan: ['would wait for 2 approval(s) from group responders'] });
    });
  });

  it('abort while a gate is open: the gate and the step are cancelled, earlier containment is undone', async () => {
    const rb = runbook([
      'containment:',
      '  - id: ro',
      '    action: database.read_only',
      '  - id: lockdown',
      '    action: lockdown.enable',
      '    needs: [ro]',
      '    approval: { count: 1, group: responders }',
      'postmortem:',
      '  - id: timeline',
      '    action: report.timeline',
    ]);
    await withIncident({ runbook: rb }, async (inc) => {
      let s = await inc.until((x) => x.state === 'awaiting-approval', 'the gate');
      expect(s.activeContainment).toEqual(['ro']);
      expect(await refusal(inc.abort('mallory'))).toBe('mallory is neither the declarer nor an approver, so cannot abort this incident');
      expect(await refusal(inc.abort(DECLARER, '  '))).toBe('abort needs a reason');
      expect(await inc.abort(DECLARER, 'false alarm')).toBe('aborting');
      s = await inc.result();
      expect(s).toMatchObject({ state: 'aborted', phase: 'done', abortReason: 'false alarm', activeContainment: [] });
      expect(s.gates[0]?.state).toBe('cancelled');
      expect(s.steps.map((x) => [x.id, x.state])).toEqual([['ro', 'undone'], ['lockdown', 'cancelled'], ['timeline', 'pending']]);
      expect(inc.calls.map((c) => `${c.activity}:${c.step}`)).toEqual(['databaseReadOnly:ro', 'databaseReadWrite:ro.undo']);
      expect(inc.calls[1]?.args).toEqual({ of: 'ro' });
      expect(s.timeline.at(-1)?.message).toBe('incident aborted: false alarm');
    });
  });
});

describe('the all-clear', () => {
  const LOCK = runbook(['containment:', '  - id: lock', '    action: lockdown.enable', 'postmortem:', '  - id: timeline', '    action: report.timeline'], ['resolve:', '  approval: { count: 2, group: responders, escalate_after: 30m }']);

  it('waits for its approvers, escalates, then lifts containment and runs the post-mortem', async () => {
    await withIncident({ runbook: LOCK }, async (inc) => {
      let s = await inc.until((x) => x.state === 'awaiting-resolve', 'the all-clear gate');
      expect(s.gates).toMatchObject([{ id: 'resolve', required: 2, state: 'open', args: { lift: [{ step: 'lock', action: 'lockdown.disable' }] } }]);
      expect(s.activeContainment).toEqual(['lock']);
      expect(await refusal(inc.resolve(DECLARER))).toMatch(/^two-person rule/);
      await inc.env.sleep(30 * MINUTE + 1_000);
      s = await inc.status();
      expect(s.timeline.filter((t) => t.kind === 'escalation').map((t) => t.message)).toEqual(['gate resolve still needs 2 approval(s) from responders (escalation 1)']);
      await inc.resolve('alice');
      expect(await refusal(inc.resolve('alice'))).toBe('alice has already approved gate "resolve"');
      await inc.resolve('bob');
      s = await inc.result();
      expect(s).toMatchObject({ state: 'completed', phase: 'done', activeContainment: [] });
      expect(s.steps.map((x) => [x.id, x.state])).toEqual([['lock', 'undone'], ['timeline', 'succeeded']]);
      expect(s.steps[0]).toMatchObject({ effect: 'lockdown.enable done', summary: 'lockdown.disable done' });
      expect(inc.calls.map((c) => `${c.activity}:${c.step}`)).toEqual(['lockdownEnable:lock', 'lockdownDisable:lock.undo', 'reportTimeline:timeline']);
      expect(s.timeline.filter((t) => t.kind === 'resolve').map((t) => t.by)).toEqual(['alice', 'bob']);
    });
  });

  it('is refused before phases I–III are done, and not opened when nothing needs lifting', async () => {
    const rb = runbook(['containment:', '  - id: ro', '    action: database.read_only', '    approval: { count: 1, group: responders }']);
    await withIncident({ runbook: rb }, async (inc) => {
      await inc.until((x) => x.state === 'awaiting-approval', 'the gate');
      expect(await refusal(inc.resolve('alice'))).toBe('resolve is accepted once phases I–III are done and containment is in force (now: phase containment, state awaiting-approval); use abort to roll back instead');
      await inc.approve('ro', 'alice');
      const s = await inc.until((x) => x.state === 'awaiting-resolve', 'the all-clear');
      expect(s.gates.map((g) => g.id)).toEqual(['ro', 'resolve']);
      await inc.resolve('bob');
      expect((await inc.result()).state).toBe('completed');
    });
    await withIncident({ runbook: runbook(['detection:', '  - id: look', '    action: lockdown.status']) }, async (inc) => {
      const s = await inc.result();
      expect(s.state).toBe('completed');
      expect(s.gates).toEqual([]);
      expect(s.timeline.map((t) => t.message)).toContain('no containment to lift');
    });
  });

  it('a lift that fails blocks until retry; an abort from there blocks on the same undo until a second abort gives up, leaving it listed in force', async () => {
    let fail = true;
    const stubs = {
      lockdownDisable: () => {
        if (fail) throw new Error('redis down');
        return { summary: 'flag cleared', changed: true };
      },
    };
    const rb = runbook(['containment:', '  - id: lock', '    action: lockdown.enable', '    retry: { maximum_attempts: 1 }']);
    await withIncident({ runbook: rb, stubs }, async (inc) => {
      await inc.until((x) => x.state === 'awaiting-resolve', 'the all-clear');
      await inc.resolve('alice');
      let s = await inc.until((x) => x.state === 'blocked', 'the failed lift');
      expect(s.activeContainment).toEqual(['lock']);
      expect(s.timeline.some((t) => t.message.startsWith('resolve: lockdown.disable for lock FAILED: '))).toBe(true);
      expect(s.timeline.at(-1)?.message).toBe('lifting lock failed; retry or abort');
      fail = false;
      expect(await inc.retry(DECLARER)).toEqual([]);
      s = await inc.result();
      expect(s).toMatchObject({ state: 'completed', activeContainment: [] });
      expect(s.steps[0]).toMatchObject({ state: 'undone', summary: 'flag cleared' });
    });
    fail = true;
    await withIncident({ runbook: rb, stubs }, async (inc) => {
      await inc.until((x) => x.state === 'awaiting-resolve', 'the all-clear');
      await inc.resolve('alice');
      await inc.until((x) => x.state === 'blocked', 'the failed lift');
      await inc.abort('bob', 'roll back instead');
      // The abort's own undo fails too: it blocks rather than close with the lock in force…
      let s = await inc.until((x) => x.state === 'blocked' && x.timeline.at(-1)?.message.startsWith('abort blocked') === true, 'the blocked abort');
      expect(s.activeContainment).toEqual(['lock']);
      // …until someone gives up on lifting it, explicitly: a second abort.
      await inc.abort('carol', 'redis is gone for good');
      s = await inc.result();
      expect(s.state).toBe('aborted');
      expect(s.activeContainment).toEqual(['lock']);
      expect(s.timeline.map((t) => t.message)).toContain('carol gave up lifting lock: redis is gone for good');
      expect(s.timeline.at(-1)?.message).toBe('incident aborted: roll back instead; still in force: lock');
    });
  });
});

describe('drill robots', () => {
  it('on a drill target in a drill: a robot declares, robots approve, and a robot’s abort rolls back at once', async () => {
    await withIncident({ runbook: GATED, mode: 'drill', drillTarget: true, declarer: 'robot-1' }, async (inc) => {
      let s = await inc.until((x) => x.state === 'awaiting-approval', 'the gate');
      expect(s.identity?.declarer).toMatchObject({ responder: 'robot-1', via: 'drill-robot' });
      expect(await refusal(inc.approve('lockdown', 'robot-1'))).toMatch(/two-person rule: robot-1 declared this incident/);
      await inc.approve('lockdown', 'robot-2');
      await inc.approve('lockdown', 'alice');
      s = await inc.until((x) => x.state === 'awaiting-resolve', 'containment');
      expect(s.gates.find((g) => g.id === 'lockdown')?.approvals.map((v) => [v.by, v.via])).toEqual([
        ['robot-2', 'drill-robot'],
        ['alice', 'personal'],
      ]);
      await inc.abort('robot-2', 'drill over');
      s = await inc.result();
      expect(s.state).toBe('aborted');
      expect(s.gates.some((g) => g.id === 'rollback')).toBe(false);
      expect(inc.calls.map((c) => c.step)).toContain('lockdown.undo');
    });
  });

  it('anywhere else a robot is refused: live mode on a drill target, or a drill on another target', async () => {
    await withIncident({ runbook: GATED, mode: 'live', drillTarget: true }, async (inc) => {
      await inc.until((x) => x.state === 'awaiting-approval', 'the gate');
      expect(await refusal(inc.approve('lockdown', 'robot-2'))).toMatch(/drill-robot-outside-drill/);
    });
    await withIncident({ runbook: GATED, mode: 'drill', declarer: 'robot-1' }, async (inc) => {
      const s = await inc.result();
      expect(s.state).toBe('rejected');
      expect(s.rejection?.[0]?.message).toMatch(/drill-robot-outside-drill/);
      expect(inc.calls).toEqual([]);
    });
  });

  it('an abort by a person after people approved containment waits, rolling back, for the all-clear’s approval', async () => {
    await withIncident({ runbook: GATED }, async (inc) => {
      await inc.until((x) => x.state === 'awaiting-approval', 'the gate');
      await inc.approve('lockdown', 'alice');
      await inc.approve('lockdown', 'bob');
      await inc.until((x) => x.state === 'awaiting-resolve', 'containment');
      await inc.abort(DECLARER, 'one person');
      let s = await inc.until((x) => x.state === 'rolling-back', 'rolling back');
      expect(inc.calls.map((c) => c.step)).not.toContain('lockdown.undo');
      expect(await refusal(inc.resolve(DECLARER))).toMatch(/two-person rule/);
      await inc.resolve('carol');
      s = await inc.result();
      expect(s.state).toBe('aborted');
      expect(inc.calls.map((c) => c.step)).toContain('lockdown.undo');
    });
  });
});

describe('what people type is bounded (issue 11 §1)', () => {
  it('an over-long comment or abort reason is refused and changes nothing; at the limit it is taken', async () => {
    await withIncident({ runbook: GATED }, async (inc) => {
      await inc.until((x) => x.state === 'awaiting-approval', 'the gate');
      const big = 'x'.repeat(TEXT_LIMITS.comment + 1);
      expect(await refusal(inc.approve('lockdown', 'alice', undefined, big))).toBe(`a comment is limited to ${TEXT_LIMITS.comment} characters (got ${big.length})`);
      expect(await refusal(inc.abort(DECLARER, 'r'.repeat(1.5 * 1024 * 1024)))).toMatch(/^an abort reason is limited to 1000 characters/);
      let s = await inc.status();
      expect(s.gates[0]?.approvals).toEqual([]);
      expect(s.state).toBe('awaiting-approval');
      await inc.approve('lockdown', 'alice', undefined, 'c'.repeat(TEXT_LIMITS.comment));
      await inc.abort(DECLARER, 'r'.repeat(TEXT_LIMITS.reason));
      s = await inc.result();
      expect(s.state).toBe('aborted');
      expect(s.abortReason).toHaveLength(TEXT_LIMITS.reason);
    });
  });
});

describe('sensitive parameters (issue 11 §3)', () => {
  it('a gate shows a sensitive value as a fingerprint; approvers sign the real arguments and the step acts with them', async () => {
    const SECRET = 'tok_live_hunter2';
    const rb = runbook(['containment:', '  - id: lockdown', '    action: lockdown.enable', '    with: { reason: "leaked {{ params.token }}" }', '    approval: { count: 1, group: responders }'], ['params:', '  token: { type: string, sensitive: true }']);
    await withIncident({ runbook: rb, params: { token: SECRET } }, async (inc) => {
      const s = await inc.until((x) => x.state === 'awaiting-approval', 'the gate');
      const gate = s.gates[0];
      expect(gate?.args).toEqual({ reason: `leaked ${fingerprint(SECRET)}` });
      expect(JSON.stringify(s)).not.toContain(SECRET);
      expect(gate?.argsHash).toBe(gateHash(inc.id, 'lockdown.enable', { reason: `leaked ${SECRET}` }));
      await inc.approve('lockdown', 'alice');
      await inc.until((x) => x.steps.find((st) => st.id === 'lockdown')?.state === 'succeeded', 'the step');
      expect(inc.calls.find((c) => c.step === 'lockdown')?.args).toEqual({ reason: `leaked ${SECRET}` });
    });
  });

  it('a step summary, a timeline message or a document never shows one: status, the result and report inputs carry its fingerprint', async () => {
    const SECRET = 'user-4242@example.com';
    const rb = runbook(
      ['containment:', '  - id: lock', '    action: lockdown.enable', '    with: { reason: "account {{ params.who }}" }', 'postmortem:', '  - id: timeline', '    action: report.timeline'],
      ['params:', '  who: { type: string, sensitive: true }'],
    );
    let reportInput = '';
    const stubs = {
      lockdownEnable: (i: { args: Record<string, unknown> }) => ({ summary: `lockdown ON for ${String(i.args.reason)}`, changed: true, output: { echoed: i.args.reason }, undo: { action: 'lockdown.disable', args: {} } }),
      reportTimeline: (i: { status?: unknown }) => {
        reportInput = JSON.stringify(i.status);
        return { summary: 'timeline written', changed: true };
      },
    };
    await withIncident({ runbook: rb, params: { who: SECRET }, stubs: stubs }, async (inc) => {
      const s = await inc.until((x) => x.state === 'awaiting-resolve', 'containment in force');
      expect(s.steps.find((x) => x.id === 'lock')?.summary).toBe(`lockdown ON for account ${fingerprint(SECRET)}`);
      expect(s.timeline.map((t) => t.message)).toContain(`lock succeeded: lockdown ON for account ${fingerprint(SECRET)}`);
      expect(JSON.stringify(s)).not.toContain(SECRET);
      await inc.resolve('alice');
      const done = await inc.result();
      expect(done.state).toBe('completed');
      expect(JSON.stringify(done)).not.toContain(SECRET);
      expect(reportInput).toContain(fingerprint(SECRET));
      expect(reportInput).not.toContain(SECRET);
    });
  });
});
