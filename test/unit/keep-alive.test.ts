/** worker/keep-alive.ts: beats for an attempt until it beats itself, with the previous attempt's details, and none after. */
import type { Context } from '@temporalio/activity';
import type { ActivityExecuteInput } from '@temporalio/worker';
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { keepAlive } from '../../worker/keep-alive.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

function contextWith(info: { heartbeatTimeoutMs?: number; heartbeatDetails?: unknown }) {
  const sent: unknown[] = [];
  const ctx = { info, heartbeat: (d?: unknown) => void sent.push(d) } as unknown as Context;
  return { ctx, sent };
}

const input = { args: [], headers: {} } as ActivityExecuteInput;

it('beats every quarter of the heartbeat timeout with the previous attempt’s details, until the activity beats itself', async () => {
  const { ctx, sent } = contextWith({ heartbeatTimeoutMs: 8_000, heartbeatDetails: { resumeAt: 40 } });
  let finish!: (v: string) => void;
  const running = keepAlive(ctx).inbound?.execute?.(input, () => new Promise((res) => (finish = res)));
  await vi.advanceTimersByTimeAsync(4_000);
  // The progress a retry resumes from is what goes out, never an empty beat over it.
  expect(sent).toEqual([{ resumeAt: 40 }, { resumeAt: 40 }]);
  // From its own first beat on, the activity's beats are its liveness: a stalled step is noticed again.
  ctx.heartbeat({ resumeAt: 90 });
  await vi.advanceTimersByTimeAsync(20_000);
  expect(sent).toEqual([{ resumeAt: 40 }, { resumeAt: 40 }, { resumeAt: 90 }]);
  ctx.heartbeat({ resumeAt: 120 });
  expect(sent).toHaveLength(4);
  finish('done');
  await expect(running).resolves.toBe('done');
});

it('stops beating when the activity ends, succeeded or failed, and passes the failure on', async () => {
  const { ctx, sent } = contextWith({ heartbeatTimeoutMs: 2_000 });
  const running = keepAlive(ctx).inbound?.execute?.(input, async () => {
    await new Promise((res) => setTimeout(res, 1_100));
    throw new Error('redis went away');
  });
  const failed = expect(running).rejects.toThrow('redis went away');
  await vi.advanceTimersByTimeAsync(1_100);
  await failed;
  expect(sent).toEqual([undefined, undefined]);
  await vi.advanceTimersByTimeAsync(10_000);
  expect(sent).toHaveLength(2);
});

it('leaves an activity without a heartbeat timeout alone (it must not heartbeat)', async () => {
  const { ctx, sent } = contextWith({});
  const running = keepAlive(ctx).inbound?.execute?.(input, async () => {
    await new Promise((res) => setTimeout(res, 30_000));
    return 1;
  });
  await vi.advanceTimersByTimeAsync(30_000);
  await expect(running).resolves.toBe(1);
  expect(sent).toEqual([]);
});
