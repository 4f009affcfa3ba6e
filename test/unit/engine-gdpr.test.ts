/**
 * When the GDPR Art. 33 clock starts: from the runbook's `notice.gdpr` trigger,
 * from the legacy parameter names (`personal_data`, `aware_at`, `high_risk`),
 * or by a participant marking personal data during the incident.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { noticeStatusQuery } from '../../workflows/notice-definitions.js';
import { DECLARER, refusal, runbook, startEngine, stopEngine, withIncident, type Incident } from './engine-harness.js';

beforeAll(startEngine, 120_000);
afterAll(stopEngine);

const HOUR = 3600_000;
// Awaiting a result lets the test server skip time, and a clock with nothing left to wait for
// would run out; so these tests poll (time stands still) while a clock runs.
const done = (inc: Incident) => inc.until((x) => x.state === 'completed', 'completion');
const STEPS = ['detection:', '  - id: look', '    action: lockdown.status'];
const LEGACY = runbook(STEPS, [
  'params:',
  '  personal_data: { type: boolean, default: false }',
  '  high_risk: { type: boolean, default: false }',
  '  aware_at: { type: string, default: "" }',
]);

async function clockOf(inc: Incident) {
  return inc.env.client.workflow.getHandle(`firebreak-${inc.id}-gdpr`);
}

/** Stop the clock (its own behaviour is gdpr-clock.test.ts's) so nothing is left running. */
async function stopClock(inc: Incident): Promise<void> {
  await (await clockOf(inc)).terminate('test done');
}

describe('legacy parameter names', () => {
  it('personal_data: true starts the clock at aware_at, with high_risk', async () => {
    const awareAt = '2026-03-14T05:00:00.000Z';
    await withIncident({ runbook: LEGACY, params: { personal_data: true, aware_at: awareAt, high_risk: true } }, async (inc) => {
      const s = await done(inc);
      expect(s.notice).toEqual({ workflowId: `firebreak-${inc.id}-gdpr`, awareAt, deadline: '2026-03-17T05:00:00.000Z', highRisk: true, markedBy: DECLARER });
      expect(s.timeline[0]?.message).toBe(`personal data affected: GDPR Art. 33 notice due by 2026-03-17T05:00:00.000Z (high risk: Art. 34 notice to data subjects too); clock firebreak-${inc.id}-gdpr`);
      const notice = await (await clockOf(inc)).query(noticeStatusQuery);
      expect(notice).toMatchObject({ incidentId: inc.id, awareAt, highRisk: true, missed: true });
      await stopClock(inc);
    });
  });

  it('without aware_at the clock starts at the declaration; false starts nothing', async () => {
    const declaredAt = new Date(Date.now() - HOUR).toISOString();
    await withIncident({ runbook: LEGACY, params: { personal_data: true }, declaredAt }, async (inc) => {
      const s = await done(inc);
      expect(s.notice).toMatchObject({ awareAt: declaredAt, highRisk: false });
      await stopClock(inc);
    });
    await withIncident({ runbook: LEGACY, params: { high_risk: true } }, async (inc) => {
      const s = await inc.result();
      expect(s.notice).toBeUndefined();
    });
  });

  it('an aware_at that is not a time rejects the incident (it used to fail the workflow task)', async () => {
    await withIncident({ runbook: LEGACY, params: { personal_data: true, aware_at: 'yesterday' } }, async (inc) => {
      const s = await inc.result();
      expect(s.state).toBe('rejected');
      expect(s.rejection?.map((p) => p.message)).toEqual(['aware_at "yesterday" is not an ISO time']);
    });
  });

  it('a dry-run only says when the notice would be due', async () => {
    const awareAt = '2026-03-14T05:00:00.000Z';
    await withIncident({ runbook: LEGACY, params: { personal_data: true, aware_at: awareAt }, mode: 'dry-run' }, async (inc) => {
      const s = await inc.result();
      expect(s.notice?.deadline).toBe('2026-03-17T05:00:00.000Z');
      expect(s.timeline[0]?.message).toBe('personal data affected: the GDPR Art. 33 notice would be due by 2026-03-17T05:00:00.000Z (dry-run: no clock started)');
      await expect((await clockOf(inc)).describe()).rejects.toThrow();
    });
  });
});

describe('the runbook trigger (notice.gdpr)', () => {
  const EXPLICIT = runbook(STEPS, [
    'params:',
    '  customer_rows: { type: boolean, default: false }',
    '  noticed: { type: string, default: "" }',
    '  personal_data: { type: boolean, default: true }',
    'notice:',
    '  gdpr: { personal_data: "params.customer_rows and incident.mode != \'drill\'", high_risk: "\'redis\' in incident.capabilities", aware_at: "{{ params.noticed }}" }',
  ]);

  it('starts the clock from its own conditions and awareness time', async () => {
    const awareAt = '2026-03-14T05:00:00.000Z';
    await withIncident({ runbook: EXPLICIT, params: { customer_rows: true, noticed: awareAt } }, async (inc) => {
      const s = await done(inc);
      expect(s.notice).toEqual({ workflowId: `firebreak-${inc.id}-gdpr`, awareAt, deadline: '2026-03-17T05:00:00.000Z', highRisk: true, markedBy: DECLARER });
      expect((await (await clockOf(inc)).query(noticeStatusQuery)).highRisk).toBe(true);
      await stopClock(inc);
    });
  });

  it('decides alone: a param named personal_data no longer starts anything', async () => {
    await withIncident({ runbook: EXPLICIT, params: { personal_data: true } }, async (inc) => {
      const s = await inc.result();
      expect(s.state).toBe('completed');
      expect(s.notice).toBeUndefined();
    });
  });

  it('an awareness time that is not a time rejects the incident before anything acts', async () => {
    await withIncident({ runbook: EXPLICIT, params: { customer_rows: true, noticed: 'this morning' } }, async (inc) => {
      const s = await inc.result();
      expect(s).toMatchObject({ state: 'rejected', rejection: [{ step: 'notice.gdpr', action: 'notice', message: 'aware_at "this morning" is not an ISO time' }] });
      expect(s.notice).toBeUndefined();
      expect(inc.calls).toEqual([]);
    });
  });
});

describe('marking personal data during the incident', () => {
  it('participants mark it once, with an optional awareness time', async () => {
    const rb = runbook(['containment:', '  - id: lock', '    action: lockdown.enable']);
    await withIncident({ runbook: rb }, async (inc) => {
      await inc.until((x) => x.state === 'awaiting-resolve', 'the all-clear');
      expect(await refusal(inc.markPersonalData('mallory'))).toBe('mallory is neither the declarer nor an approver, so cannot mark personal data on this incident');
      expect(await refusal(inc.markPersonalData('alice', { awareAt: 'yesterday' }))).toBe('"yesterday" is not an ISO time');
      const future = new Date(Date.now() + 100 * 365 * 86_400_000).toISOString(); // far beyond any time the server skips to
      expect(await refusal(inc.markPersonalData('alice', { awareAt: future }))).toMatch(new RegExp(`^awareness at ${future.replace(/[.]/g, '\\.')} is in the future \\(the workflow's time is `));
      const notice = (await inc.markPersonalData('alice', { awareAt: '2026-03-14T05:00:00Z', highRisk: true })) as { deadline: string; markedBy: string };
      expect(notice).toMatchObject({ deadline: '2026-03-17T05:00:00.000Z', markedBy: 'alice', highRisk: true });
      expect(await refusal(inc.markPersonalData(DECLARER))).toBe('personal data is already marked; the notice is due by 2026-03-17T05:00:00.000Z');
      expect((await (await clockOf(inc)).query(noticeStatusQuery)).highRisk).toBe(true);
      await inc.resolve('bob');
      expect((await done(inc)).notice?.markedBy).toBe('alice');
      await stopClock(inc);
    });
  });
});
