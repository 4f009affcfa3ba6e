/**
 * One step end to end: arguments checked before anything acts, effective
 * arguments behind a gate, results, expiry timers, settling undos, notes.
 */
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DECLARER, refusal, runbook, startEngine, stopEngine, withIncident } from './engine-harness.js';

beforeAll(startEngine, 120_000);
afterAll(stopEngine);

describe('before anything acts', () => {
  it('arguments the worker refuses reject the incident: nothing runs', async () => {
    const rb = runbook(['containment:', '  - id: ban', '    action: network.ban_ips', '    with: { addresses: [127.0.0.1] }']);
    const stubs = { validateIncidentArgs: () => ({ problems: [{ step: 'ban', action: 'network.ban_ips', message: 'addresses: 127.0.0.1 is loopback' }] }) } as never;
    await withIncident({ runbook: rb, stubs }, async (inc) => {
      const s = await inc.result();
      expect(s).toMatchObject({ state: 'rejected', phase: 'done', rejection: [{ step: 'ban', message: 'addresses: 127.0.0.1 is loopback' }] });
      expect(s.steps[0]).toMatchObject({ state: 'pending', error: 'addresses: 127.0.0.1 is loopback' });
      expect(s.timeline.map((t) => t.kind)).toEqual(['declared', 'completed']);
      expect(inc.calls).toEqual([]);
    });
  });

  it('a worker that cannot validate rejects too', async () => {
    const rb = runbook(['detection:', '  - id: look', '    action: lockdown.status']);
    const stubs = {
      validateIncidentArgs: () => {
        throw ApplicationFailure.create({ message: 'no target "local"', type: 'FirebreakBadInput', nonRetryable: true });
      },
    } as never;
    await withIncident({ runbook: rb, stubs }, async (inc) => {
      const s = await inc.result();
      expect(s.state).toBe('rejected');
      expect(s.rejection).toEqual([{ step: '-', action: '-', message: 'the worker could not validate the arguments: FirebreakBadInput: no target "local"' }]);
    });
  });
});

describe('running', () => {
  it('approvers see the effective arguments; the activity gets the hash they approved', async () => {
    const rb = runbook(['containment:', '  - id: ban', '    action: network.ban_ips', '    with: { addresses: [203.0.113.7] }', '    approval: { count: 1, group: responders }']);
    const stubs = { effectiveStepArgs: ({ args }: { args: Record<string, unknown> }) => ({ ...args, ttl_seconds: 259200 }) } as never;
    await withIncident({ runbook: rb, stubs }, async (inc) => {
      const s = await inc.until((x) => x.state === 'awaiting-approval', 'the gate');
      expect(s.gates[0]?.args).toEqual({ addresses: ['203.0.113.7'], ttl_seconds: 259200 });
      await inc.approve('ban', 'alice');
      await inc.result();
      const call = inc.calls.find((c) => c.step === 'ban');
      // The step acts with its own arguments; the worker re-derives the effective ones and compares hashes.
      expect(call).toEqual({ activity: 'networkBanIps', step: 'ban', args: { addresses: ['203.0.113.7'] }, approvedHash: s.gates[0]?.argsHash });
    });
  });

  it('results, proofs and outputs are recorded; report actions get the status', async () => {
    let seen: unknown;
    const rb = runbook(['detection:', '  - id: snap', '    action: evidence.snapshot', 'postmortem:', '  - id: timeline', '    action: report.timeline']);
    const stubs = {
      evidenceSnapshot: () => ({ summary: 'bundle written', changed: true, proof: { sha256: 'ab' }, output: { sha256: 'ab' } }),
      reportTimeline: (input: { status?: unknown }) => {
        seen = input.status;
        return { summary: 'timeline written', changed: true };
      },
    } as never;
    await withIncident({ runbook: rb, stubs }, async (inc) => {
      const s = await inc.result();
      expect(s.steps[0]).toMatchObject({ state: 'succeeded', summary: 'bundle written', proof: { sha256: 'ab' } });
      expect(s.steps[0]?.startedAt).toBeTruthy();
      expect(s.steps[0]?.endedAt).toBeTruthy();
      expect(seen).toMatchObject({ id: inc.id, phase: 'postmortem' });
      expect(s.timeline.map((t) => t.message)).toContain('snap succeeded: bundle written');
    });
  });

  it('a dry-run plans every step and keeps nothing in force', async () => {
    const rb = runbook(['containment:', '  - id: lock', '    action: lockdown.enable']);
    const stubs = { lockdownEnable: () => ({ summary: 'would set the flag', changed: false, plan: ['SET :1:EMERGENCY_LOCKDOWN 1'], undo: { action: 'lockdown.disable', args: {} } }) } as never;
    await withIncident({ runbook: rb, mode: 'dry-run', stubs }, async (inc) => {
      const s = await inc.result();
      expect(s).toMatchObject({ state: 'completed', mode: 'dry-run', activeContainment: [] });
      expect(s.steps[0]).toMatchObject({ state: 'planned', plan: ['SET :1:EMERGENCY_LOCKDOWN 1'] });
      expect(s.timeline.map((t) => t.message)).toContain('no containment to lift');
    });
  });

  it('a ban schedules its expiry on a durable timer that outlives the incident', async () => {
    const rb = runbook(['containment:', '  - id: ban', '    action: network.ban_ips', '    with: { addresses: [203.0.113.7] }']);
    let expiresAt = '';
    const stubs = {
      networkBanIps: (input: { requestedAt: string }) => {
        expiresAt = new Date(Date.parse(input.requestedAt) + 3600_000).toISOString();
        return { summary: 'banned', changed: true, output: { expiresAt }, undo: { action: 'network.unban_ips', args: { addresses: ['203.0.113.7'] } } };
      },
      networkExpireBans: () => ({ summary: 'expired', changed: true }),
    } as never;
    await withIncident({ runbook: rb, stubs }, async (inc) => {
      const s = await inc.result();
      expect(s.state).toBe('completed');
      const note = s.timeline.find((t) => t.message.startsWith('ban: expiry timer '));
      expect(note?.message).toMatch(new RegExp(`^ban: expiry timer firebreak-${inc.id}-ban-expiry-\\d+ fires at ${expiresAt.replace(/[.]/g, '\\.')}$`));
      const childId = /expiry timer (\S+)/.exec(note?.message ?? '')?.[1] ?? '';
      expect(inc.calls.map((c) => c.activity)).toEqual(['networkBanIps']);
      await inc.env.client.workflow.getHandle(childId).result();
      expect(inc.calls.map((c) => `${c.activity}:${c.step}`)).toEqual(['networkBanIps:ban', 'networkExpireBans:ban.expiry']);
    });
  });

  it('a step that runs an undo action itself settles what it lifts', async () => {
    const rb = runbook(['containment:', '  - id: lock', '    action: lockdown.enable', 'recovery:', '  - id: unlock', '    action: lockdown.disable']);
    await withIncident({ runbook: rb }, async (inc) => {
      const s = await inc.result();
      expect(s).toMatchObject({ state: 'completed', activeContainment: [] });
      expect(s.gates).toEqual([]);
      expect(s.timeline.map((t) => t.message)).toContain('unlock (lockdown.disable) lifted what lock had put in force');
      expect(inc.calls.map((c) => c.step)).toEqual(['lock', 'unlock']);
    });
  });
});

describe('notes', () => {
  it('participants add notes; empty and oversized notes are refused', async () => {
    const rb = runbook(['containment:', '  - id: lock', '    action: lockdown.enable']);
    await withIncident({ runbook: rb }, async (inc) => {
      await inc.until((x) => x.state === 'awaiting-resolve', 'the all-clear');
      expect(await refusal(inc.note('mallory', 'hi'))).toBe('mallory is neither the declarer nor an approver, so cannot add notes to this incident');
      expect(await refusal(inc.note(DECLARER, '   '))).toBe('a note needs text');
      expect(await refusal(inc.note(DECLARER, 'x'.repeat(4001)))).toBe('a note is limited to 4000 characters (got 4001)');
      const n = await inc.note('alice', 'attacker gone');
      const s = await inc.status();
      expect(n).toBe(s.timeline.length);
      expect(s.timeline.at(-1)).toMatchObject({ kind: 'note', by: 'alice', message: 'attacker gone' });
      await inc.resolve('bob');
      await inc.result();
    });
  });
});
