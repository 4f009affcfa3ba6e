/**
 * An incident stays bounded whatever its participants send (issue 11 §1): notes have a
 * budget per person and per incident, retries a count, escalations back off, and the
 * status answer carries the newest timeline entries. Flooded to the limits, the incident
 * still answers status, aborts and completes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApplicationFailure } from '@temporalio/common';
import { NOTE_LIMITS, RECENT_TIMELINE, RETRY_LIMIT, TEXT_LIMITS } from '../../lib/limits.js';
import { DECLARER, MINUTE, refusal, runbook, startEngine, stopEngine, withIncident } from './engine-harness.js';

beforeAll(startEngine, 120_000);
afterAll(stopEngine);

const GATED = runbook([
  'containment:',
  '  - id: lock',
  '    action: lockdown.enable',
  '    approval: { count: 2, group: responders, escalate_after: 1m }',
]);

const bytesOf = (value: unknown): number => Buffer.byteLength(JSON.stringify(value), 'utf8');

describe('escalations', () => {
  it('back off, doubling from escalate_after up to four hours', async () => {
    await withIncident({ runbook: GATED }, async (inc) => {
      await inc.until((x) => x.state === 'awaiting-approval', 'the gate');
      const escalationsAt = async (minutes: number): Promise<number> => {
        await inc.env.sleep(minutes * MINUTE);
        return (await inc.status()).gates[0]?.escalations ?? -1;
      };
      // Waits of 1, 2, 4, … 128 minutes, then 240: escalations at 1, 3, 7, 15, 31, 63, 127, 255, 495, 735 minutes.
      expect(await escalationsAt(1.5)).toBe(1);
      expect(await escalationsAt(2)).toBe(2); // 3.5 min
      expect(await escalationsAt(128 - 3.5)).toBe(7); // 128 min
      expect(await escalationsAt(256 - 128)).toBe(8); // 256 min
      expect(await escalationsAt(494 - 256)).toBe(8);
      expect(await escalationsAt(736 - 494)).toBe(10);
      await inc.abort(DECLARER, 'enough');
      expect((await inc.result()).state).toBe('aborted');
    });
  });
});

describe('notes', () => {
  const QUIET = runbook(['containment:', '  - id: lock', '    action: lockdown.enable'], ['resolve:', '  approval: { count: 1, group: responders }']);

  it('have a budget per person and per incident; flooded to it, the incident answers status, aborts and rolls back', async () => {
    await withIncident({ runbook: QUIET }, async (inc) => {
      await inc.until((x) => x.state === 'awaiting-resolve', 'containment in force');
      const big = 'n'.repeat(TEXT_LIMITS.note); // 4,002 bytes as JSON
      const perPerson = Math.floor(NOTE_LIMITS.perPersonBytes / (big.length + 2)); // 16
      const people = [DECLARER, 'alice', 'bob', 'carol'];
      for (const who of people) for (let i = 0; i < perPerson; i++) await inc.note(who, big);
      expect(await refusal(inc.note('alice', big))).toBe('this note would take your notes on this incident past 64 KiB (63 KiB so far); put longer write-ups in the post-mortem document');
      // A fifth participant (dora, an approver of another group) still has room of her own, until the incident's budget is spent.
      await inc.note('dora', big);
      expect(await refusal(inc.note('dora', big))).toBe("this note would take the incident's notes past 256 KiB (254 KiB so far); put longer write-ups in the post-mortem document");
      await inc.note('dora', 'short ones still fit');
      expect(await refusal(inc.note('mallory', 'hi'))).toBe('mallory is neither the declarer nor an approver, so cannot add notes to this incident');

      // The longest comment and abort reason allowed, on top.
      const reason = 'r'.repeat(TEXT_LIMITS.reason);
      await inc.abort('alice', reason);
      const s = await inc.until((x) => x.state === 'rolling-back' || x.state === 'aborted', 'the abort');
      expect(s.timelineTotal).toBe(s.timeline.length);
      expect(s.timeline.at(-1)?.message).toContain(reason.slice(0, 50));
      // The status answer stays far under Temporal's 2 MB payload limit.
      expect(bytesOf(s)).toBeLessThan(1024 * 1024);
      if (s.state === 'rolling-back') await inc.resolve('bob');
      const done = await inc.result();
      expect(done.state).toBe('aborted');
      expect(done.activeContainment).toEqual([]);
      // The result keeps the whole timeline (documents are built from it), and is bounded too.
      expect(done.timeline.filter((t) => t.kind === 'note')).toHaveLength(people.length * perPerson + 2);
      expect(bytesOf(done)).toBeLessThan(NOTE_LIMITS.totalBytes + 256 * 1024);
    });
  }, 120_000);

  it('count per person and per incident', async () => {
    await withIncident({ runbook: QUIET }, async (inc) => {
      await inc.until((x) => x.state === 'awaiting-resolve', 'containment in force');
      const people = [DECLARER, 'alice', 'bob', 'carol'];
      for (let i = 0; i < NOTE_LIMITS.perPerson; i++) await Promise.all(people.map((who) => inc.note(who, `${who} ${i}`)));
      expect(await refusal(inc.note('bob', 'one more'))).toBe('you have added 100 notes to this incident, the most one person may (100); put longer write-ups in the post-mortem document');
      expect(await refusal(inc.note('dora', 'mine'))).toBe('this incident has 400 notes, the most it keeps (400); put longer write-ups in the post-mortem document');
      const s = await inc.status();
      expect(s.timeline).toHaveLength(RECENT_TIMELINE);
      expect(s.timeline.slice(-people.length).map((t) => t.message).sort()).toEqual(people.map((who) => `${who} ${NOTE_LIMITS.perPerson - 1}`).sort());
      expect(s.timelineTotal).toBeGreaterThan(NOTE_LIMITS.total);
      await inc.resolve('alice');
      expect((await inc.result()).state).toBe('completed');
    });
  }, 120_000);
});

describe('retries', () => {
  it(`stop after ${RETRY_LIMIT}: then override or abort`, async () => {
    const rb = runbook(['containment:', '  - id: lock', '    action: lockdown.enable']);
    const stubs = { lockdownEnable: () => { throw ApplicationFailure.nonRetryable('redis unreachable', 'FirebreakTargetUnavailable'); } };
    await withIncident({ runbook: rb, stubs }, async (inc) => {
      await inc.until((x) => x.state === 'blocked', 'blocked');
      for (let i = 0; i < RETRY_LIMIT; i++) {
        await inc.retry('alice');
        await inc.until((x) => x.state === 'blocked', `blocked again (${i + 1})`);
      }
      expect(await refusal(inc.retry('alice'))).toBe(`this incident has been retried ${RETRY_LIMIT} times, the most it takes (${RETRY_LIMIT}): override the failed step or abort`);
      expect(inc.calls.filter((c) => c.activity === 'lockdownEnable')).toHaveLength(RETRY_LIMIT + 1);
      await inc.abort(DECLARER, 'give up');
      expect((await inc.result()).state).toBe('aborted');
    });
  }, 180_000);
});
