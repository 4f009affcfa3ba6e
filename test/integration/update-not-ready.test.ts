/**
 * The incident service's update call while the workflow task is in failed state (real Temporal,
 * a real worker, a workflow whose tasks fail until a moment): it sends the same Update again with
 * a bounded backoff, keeps its id (one effect), and gives up with a clear line when the task never heals.
 */
import { randomBytes } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { OperationError } from '../../lib/errors.js';
import { workflowIdFor } from '../../lib/ids.js';
import { isWorkflowNotReady, updateIncident } from '../../lib/incidents/handles.js';
import { bumpsQuery, bumpUpdate } from '../fixtures/not-ready-workflow.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const quiet = { log: () => undefined, trace: () => undefined, debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

describe('updateIncident while the workflow task is in failed state', () => {
  let env: TestWorkflowEnvironment;
  let code: string;
  let taskQueue: string;

  beforeAll(async () => {
    [env, { code }] = await Promise.all([
      TestWorkflowEnvironment.createFromExistingServer({ address: inject('temporalAddress') }),
      bundleWorkflowCode({ workflowsPath: join(root, 'test/fixtures/not-ready-workflow.ts'), logger: quiet }),
    ]);
  });
  afterAll(async () => {
    await env?.teardown();
  });

  /** Each test on a worker and task queue of its own, so one test's retried tasks never wait behind another's. */
  async function withWorker(fn: () => Promise<void>): Promise<void> {
    taskQueue = `not-ready-${process.pid}-${randomBytes(3).toString('hex')}`;
    const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: { code } });
    await worker.runUntil(fn);
  }

  /** An incident-shaped workflow id whose tasks fail until `healInMs` from now; resolves once the server refuses Updates. */
  async function failingUntil(healInMs: number): Promise<string> {
    const incident = `INC-NOTREADY-${randomBytes(4).toString('hex')}`;
    // The worker reports only a task's first failure and lets the retries time out: a short task timeout makes them quick.
    await env.client.workflow.start('notReadyWorkflow', { taskQueue, workflowId: workflowIdFor(incident), args: [Date.now() + healInMs], workflowTaskTimeout: '1s' });
    const handle = env.client.workflow.getHandle(workflowIdFor(incident));
    const deadline = Date.now() + 30_000;
    // Two failed tasks first (an Update sent while the first attempt runs would wait for the heal instead).
    while (((await handle.describe()).raw.pendingWorkflowTask?.attempt ?? 0) < 3) {
      if (Date.now() > deadline) throw new Error(`the workflow task never reached its third attempt: ${JSON.stringify((await handle.describe()).raw.pendingWorkflowTask ?? null)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    for (;;) {
      // Straight to Temporal, no retry: the state is real and the bare call fails.
      const err = await handle.executeUpdate(bumpUpdate, { args: ['probe'] }).then(() => undefined, (e: unknown) => e);
      if (err && isWorkflowNotReady(err)) return incident;
      if (!err) throw new Error('the workflow accepted an Update before it healed: healInMs is too short for this machine');
      if (Date.now() > deadline) throw new Error(`the workflow task never reached failed state: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  it('sends the same Update again until the task heals, and it counts once', () => withWorker(async () => {
    const incident = await failingUntil(8_000);
    const updateId = `test-vote-${randomBytes(4).toString('hex')}`;
    const t0 = Date.now();
    const sent: string[] = [];
    const n = await updateIncident(
      env.client,
      incident,
      (h, id) => {
        sent.push(id);
        return h.executeUpdate(bumpUpdate, { updateId: id, args: ['vote'] });
      },
      { updateId, notReadyWaitMs: 60_000 },
    );
    expect(n).toBe(1);
    expect(sent.length).toBeGreaterThan(1);
    expect(new Set(sent)).toEqual(new Set([updateId]));
    expect(Date.now() - t0).toBeLessThan(60_000);
    // The same decision again (a double click, Slack's retry): attached to the first by id, nothing added.
    expect(await updateIncident(env.client, incident, (h, id) => h.executeUpdate(bumpUpdate, { updateId: id, args: ['vote'] }), { updateId })).toBe(1);
    expect(await env.client.workflow.getHandle(workflowIdFor(incident)).query(bumpsQuery)).toEqual(['vote']);
  }));

  it('without an id of the caller, one random id is kept across the retries', () => withWorker(async () => {
    const incident = await failingUntil(8_000);
    const sent: string[] = [];
    expect(await updateIncident(env.client, incident, (h, id) => (sent.push(id), h.executeUpdate(bumpUpdate, { updateId: id, args: ['note'] })), { notReadyWaitMs: 60_000 })).toBe(1);
    expect(sent.length).toBeGreaterThan(1);
    expect(new Set(sent).size).toBe(1);
  }));

  it('gives up after its bounded wait with a clear line when the task keeps failing', () => withWorker(async () => {
    const incident = await failingUntil(10 * 60_000);
    const t0 = Date.now();
    const err = await updateIncident(env.client, incident, (h, id) => h.executeUpdate(bumpUpdate, { updateId: id, args: ['vote'] }), { notReadyWaitMs: 3_000 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(OperationError);
    expect((err as Error).message).toMatch(new RegExp(`^incident ${incident}: its workflow task kept failing for \\d+ s`));
    expect(Date.now() - t0).toBeGreaterThanOrEqual(3_000);
    expect(Date.now() - t0).toBeLessThan(10_000);
    await env.client.workflow.getHandle(workflowIdFor(incident)).terminate('test done');
  }));
});
