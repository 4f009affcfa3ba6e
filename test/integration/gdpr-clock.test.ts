/**
 * The GDPR Art. 33 clock on the time-skipping test server: reminders at 66 h,
 * 48 h and 24 h before the 72-hour deadline, `noticeSent` stops them, and a
 * missed deadline is flagged (the late draft must give reasons for the delay).
 */
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { findTestServer } from '../../lib/temporal-bin.js';
import { GdprDeadlineWorkflow } from '../../workflows/notice.js';
import { noticeSentUpdate, noticeStatusQuery, type GdprDeadlineInput } from '../../workflows/notice-definitions.js';

let env: TestWorkflowEnvironment;
let n = 0;
const HOUR = 3600_000;

beforeAll(async () => {
  env = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: findTestServer() } } });
}, 120_000);
afterAll(async () => {
  await env?.teardown();
});

async function withClock<T>(fn: (start: (extra?: Partial<GdprDeadlineInput>) => Promise<{ handle: Awaited<ReturnType<typeof env.client.workflow.start<typeof GdprDeadlineWorkflow>>>; t0: number }>) => Promise<T>): Promise<T> {
  const taskQueue = `gdpr-${++n}`;
  const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: { codePath: inject('workflowBundle') } });
  return worker.runUntil(
    fn(async (extra = {}) => {
      const t0 = await env.currentTimeMs();
      const handle = await env.client.workflow.start(GdprDeadlineWorkflow, {
        taskQueue,
        workflowId: `gdpr-test-${n}-${t0}`,
        args: [{ incidentId: `INC-T-${n}`, awareAt: new Date(t0).toISOString(), highRisk: false, declaredBy: { user: 'olga', host: 'h', via: 'api' }, approvers: { dpo: ['dana'] }, ...extra }],
      });
      return { handle, t0 };
    }),
  );
}

describe('GdprDeadlineWorkflow', () => {
  it('reminds at 66, 48 and 24 hours before the deadline, flags the missed deadline, and ends when the notice is sent', async () => {
    await withClock(async (start) => {
      const { handle, t0 } = await start();
      let s = await handle.query(noticeStatusQuery);
      expect(s.deadline).toBe(new Date(t0 + 72 * HOUR).toISOString());
      await env.sleep(5 * HOUR);
      expect((await handle.query(noticeStatusQuery)).reminders).toEqual([]);
      await env.sleep(2 * HOUR); // 7 h after awareness: the 66-h-remaining reminder fired at 6 h
      s = await handle.query(noticeStatusQuery);
      expect(s.reminders.map((r) => r.hoursBeforeDeadline)).toEqual([66]);
      expect(Date.parse(s.reminders[0]?.at ?? '') - t0).toBeGreaterThanOrEqual(6 * HOUR);
      expect(Date.parse(s.reminders[0]?.at ?? '') - t0).toBeLessThan(6 * HOUR + 60_000);
      await env.sleep(42 * HOUR); // 49 h: 48 and 24 hours before have passed too
      s = await handle.query(noticeStatusQuery);
      expect(s.reminders.map((r) => r.hoursBeforeDeadline)).toEqual([66, 48, 24]);
      expect(s.missed).toBe(false);
      await env.sleep(24 * HOUR); // 73 h: past the deadline
      s = await handle.query(noticeStatusQuery);
      expect(s.missed).toBe(true);
      await expect(handle.executeUpdate(noticeSentUpdate, { args: [{ actor: { user: 'mallory', host: 'h', via: 'api' } }] })).rejects.toThrow();
      await handle.executeUpdate(noticeSentUpdate, { args: [{ actor: { user: 'dana', host: 'h', via: 'api' }, reference: 'CNIL-2026-0042' }] });
      const done = await handle.result();
      expect(done).toMatchObject({ missed: true, sentBy: 'dana', reference: 'CNIL-2026-0042' });
    });
  });

  it('a notice sent in time stops the reminders', async () => {
    await withClock(async (start) => {
      const { handle } = await start();
      await env.sleep(10 * HOUR);
      await handle.executeUpdate(noticeSentUpdate, { args: [{ actor: { user: 'olga', host: 'h', via: 'api' } }] });
      const done = await handle.result();
      expect(done.reminders.map((r) => r.hoursBeforeDeadline)).toEqual([66]);
      expect(done.missed).toBe(false);
      expect(done.sentBy).toBe('olga');
    });
  });

  it('awareness before the declaration counts: reminders already past are not replayed', async () => {
    await withClock(async (start) => {
      const t = await env.currentTimeMs();
      const { handle } = await start({ awareAt: new Date(t - 60 * HOUR).toISOString() });
      await env.sleep(1 * HOUR); // 61 h after awareness: every reminder time (6, 24, 48 h) is already past
      let s = await handle.query(noticeStatusQuery);
      expect(s.reminders).toEqual([]);
      await env.sleep(12 * HOUR); // 73 h
      s = await handle.query(noticeStatusQuery);
      expect(s.missed).toBe(true);
      await handle.executeUpdate(noticeSentUpdate, { args: [{ actor: { user: 'dana', host: 'h', via: 'api' } }] });
      await handle.result();
    });
  });
});
