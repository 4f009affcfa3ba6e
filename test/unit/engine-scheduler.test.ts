/**
 * The scheduler: steps of a phase run concurrently unless ordered by `needs`;
 * `when`; `continue_on_error`; a blocked phase waits for retry (or an override)
 * and then runs only what did not succeed.
 */
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DECLARER, refusal, runbook, startEngine, stopEngine, withIncident, type Stub } from './engine-harness.js';

beforeAll(startEngine, 120_000);
afterAll(stopEngine);

/** A stub that finishes only once `release()` was called (real time). */
function latch(): { stub: Stub; release: () => void; started: Promise<void> } {
  let release!: () => void;
  let started!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const startedP = new Promise<void>((r) => (started = r));
  return {
    stub: async (input) => {
      started();
      await gate;
      return { summary: `${input.stepId} done`, changed: true, output: { from: input.stepId } };
    },
    release: () => release(),
    started: startedP,
  };
}

describe('needs and concurrency', () => {
  it('steps without needs run at once; a step starts only after everything it needs', async () => {
    const slow = latch();
    const rb = runbook([
      'detection:',
      '  - id: a',
      '    action: evidence.snapshot',
      '  - id: x',
      '    action: lockdown.status',
      '  - id: b',
      '    action: report.timeline',
      '    needs: [a]',
      '  - id: c',
      '    action: tokens.revoke',
      '    needs: [a]',
      '    with: { scope: jti, jtis: ["{{ steps.a.output.from }}"] }',
      '  - id: d',
      '    action: report.postmortem',
      '    needs: [b, c]',
    ]);
    // `a` finishes only after `x` has started: they run concurrently or this hangs.
    const x: Stub = async () => {
      slow.release();
      return { summary: 'x done', changed: false };
    };
    await withIncident({ runbook: rb, stubs: { evidenceSnapshot: slow.stub, lockdownStatus: x } }, async (inc) => {
      const s = await inc.result();
      expect(s.state).toBe('completed');
      const order = inc.calls.map((c) => c.step);
      expect(order.slice(0, 2).sort()).toEqual(['a', 'x']);
      expect(order.slice(2, 4).sort()).toEqual(['b', 'c']);
      expect(order[4]).toBe('d');
      expect(inc.calls.find((c) => c.step === 'c')?.args).toEqual({ scope: 'jti', jtis: ['a'] });
      expect(s.steps.every((st) => st.state === 'succeeded')).toBe(true);
    });
  });

  it('`when` skips a step (with why), and a skipped step satisfies needs', async () => {
    const rb = runbook(
      ['containment:', '  - id: ban', '    action: network.ban_ips', '    when: params.ips', '    with: { addresses: "{{ params.ips }}" }', '  - id: after', '    action: lockdown.status', '    needs: [ban]'],
      ['params:', '  ips: { type: "string[]", default: [] }'],
    );
    await withIncident({ runbook: rb }, async (inc) => {
      const s = await inc.result();
      expect(s.steps.map((x) => [x.id, x.state])).toEqual([['ban', 'skipped'], ['after', 'succeeded']]);
      expect(s.steps[0]?.summary).toBe('skipped: condition `params.ips` does not hold');
      expect(inc.calls.map((c) => c.step)).toEqual(['after']);
    });
  });
});

describe('failures', () => {
  const failing = (type?: string): Stub => () => {
    throw ApplicationFailure.create({ message: 'target said no', type: type ?? 'FirebreakRefused', nonRetryable: true });
  };

  it('continue_on_error: the failure is recorded, needs are satisfied, the incident goes on', async () => {
    const rb = runbook(['detection:', '  - id: shaky', '    action: evidence.snapshot', '    continue_on_error: true', '  - id: next', '    action: lockdown.status', '    needs: [shaky]']);
    await withIncident({ runbook: rb, stubs: { evidenceSnapshot: failing() } }, async (inc) => {
      const s = await inc.result();
      expect(s.state).toBe('completed');
      expect(s.steps.map((x) => [x.id, x.state])).toEqual([['shaky', 'failed'], ['next', 'succeeded']]);
      expect(s.steps[0]?.error).toBe('FirebreakRefused: target said no');
    });
  });

  it('a failure blocks the phase; its dependants are cancelled; retry runs only what did not succeed', async () => {
    let attempts = 0;
    const flaky: Stub = () => {
      attempts += 1;
      if (attempts === 1) throw ApplicationFailure.create({ message: 'bad jti list', type: 'FirebreakBadInput', nonRetryable: true });
      return { summary: 'revoked', changed: true };
    };
    const rb = runbook([
      'containment:',
      '  - id: ok',
      '    action: lockdown.status',
      '  - id: revoke',
      '    action: tokens.revoke',
      '    with: { scope: all }',
      '  - id: after',
      '    action: tokens.disable_users',
      '    needs: [revoke]',
      '    with: { user_ids: ["7"] }',
      'postmortem:',
      '  - id: timeline',
      '    action: report.timeline',
    ]);
    await withIncident({ runbook: rb, stubs: { tokensRevoke: flaky } }, async (inc) => {
      let s = await inc.until((x) => x.state === 'blocked', 'the block');
      expect(s.steps.map((x) => [x.id, x.state])).toEqual([['ok', 'succeeded'], ['revoke', 'failed'], ['after', 'cancelled'], ['timeline', 'pending']]);
      expect(s.steps[1]?.error).toBe('FirebreakBadInput: bad jti list');
      expect(s.steps[2]?.error).toBe('not run: it needs revoke');
      expect(s.timeline.at(-1)?.message).toBe('II. Containment blocked: revoke, after did not succeed; retry or abort');
      expect(await refusal(inc.retry('mallory'))).toBe('mallory is neither the declarer nor an approver, so cannot retry steps of this incident');
      expect(await refusal(inc.override('revoke', 'alice', 'x'))).toBe('a failure of tokens.revoke cannot be overridden (retry it or abort)');
      expect(await inc.retry(DECLARER)).toEqual(['revoke', 'after']);
      s = await inc.result();
      expect(s.state).toBe('completed');
      expect(inc.calls.filter((c) => c.step === 'ok')).toHaveLength(1);
      expect(inc.calls.map((c) => c.step).slice(2)).toEqual(['revoke', 'after', 'timeline']);
      // Undone only on abort: the all-clear does not lift disabled users.
      expect(s.activeContainment).toEqual(['after']);
    });
  });

  it('an approver may override an overridable failure; the declarer may not; then dependants run', async () => {
    const rb = runbook(['recovery:', '  - id: probe', '    action: deploy.probe', '  - id: after', '    action: lockdown.status', '    needs: [probe]']);
    await withIncident({ runbook: rb, stubs: { deployProbe: failing('FirebreakVerificationFailed') } }, async (inc) => {
      await inc.until((x) => x.state === 'blocked', 'the block');
      expect(await refusal(inc.override('probe', DECLARER, 'fine'))).toBe('two-person rule: olga declared this incident and cannot override failed steps');
      expect(await refusal(inc.override('probe', 'mallory', 'fine'))).toBe('mallory is not an approver, so cannot override failed steps (configure approvers.groups.<group> in /etc/firebreak/test.yaml)');
      expect(await refusal(inc.override('probe', 'alice', ' '))).toBe('an override needs a reason');
      expect(await refusal(inc.override('after', 'alice', 'x'))).toBe('step after is cancelled; only a failed step can be overridden');
      expect(await refusal(inc.override('nope', 'alice', 'x'))).toBe('no step "nope"');
      const st = (await inc.override('probe', 'alice', 'HSTS is set at the CDN')) as { state: string };
      expect(st.state).toBe('overridden');
      const s = await inc.result();
      expect(s.steps.map((x) => [x.id, x.state])).toEqual([['probe', 'overridden'], ['after', 'succeeded']]);
      expect(s.steps[0]?.summary).toBe('overridden by alice: HSTS is set at the CDN');
      expect(inc.calls.map((c) => c.step)).toEqual(['probe', 'after']);
    });
  });

  it('abort from a blocked phase undoes what is in force and skips the remaining phases', async () => {
    const rb = runbook(['containment:', '  - id: lock', '    action: lockdown.enable', '  - id: bad', '    action: tokens.revoke', '    with: { scope: all }', 'postmortem:', '  - id: timeline', '    action: report.timeline']);
    await withIncident({ runbook: rb, stubs: { tokensRevoke: failing() } }, async (inc) => {
      await inc.until((x) => x.state === 'blocked', 'the block');
      await inc.abort('alice', 'stop');
      const s = await inc.result();
      expect(s.state).toBe('aborted');
      expect(inc.calls.map((c) => c.step).slice(0, 2).sort()).toEqual(['bad', 'lock']);
      expect(inc.calls.map((c) => c.step)[2]).toBe('lock.undo');
      expect(s.steps.find((x) => x.id === 'timeline')?.state).toBe('pending');
    });
  });

  it('a reference that cannot resolve fails the step with the reason', async () => {
    const rb = runbook(['detection:', '  - id: a', '    action: evidence.snapshot', '  - id: b', '    action: tokens.revoke', '    needs: [a]', '    with: { scope: jti, jtis: "{{ steps.a.output.missing }}" }']);
    await withIncident({ runbook: rb }, async (inc) => {
      const s = await inc.until((x) => x.state === 'blocked', 'the block');
      expect(s.steps[1]?.state).toBe('failed');
      expect(s.steps[1]?.error).toMatch(/^cannot resolve \{\{ steps\.a\.output\.missing \}\}/);
      await inc.abort(DECLARER, 'done');
      expect((await inc.result()).state).toBe('aborted');
    });
  });
});
