/**
 * Determinism guard: recorded token-leak incidents (approvals, note,
 * all-clear) must replay cleanly against the current workflow code — the
 * newest recording and every older one kept beside it, because incidents
 * started by older code are still running when a worker is upgraded.
 * Record a new one after an intentional change (keep the old file under a
 * dated name): npx tsx scripts/record-history.ts
 * `continue-on-error-needs.json` was recorded with the interpreter before the
 * `continue-on-error-needs` patch (a same-phase dependant of a failed
 * continue_on_error step was cancelled, then run on retry): it proves the patch
 * keeps such incidents replaying.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils.js';
import { Worker } from '@temporalio/worker';
import { expect, inject, it } from 'vitest';
import { PROJECT_ROOT } from '../../lib/config.js';

const file = join(PROJECT_ROOT, 'test', 'histories', 'token-leak.json');

const recordings = readdirSync(join(PROJECT_ROOT, 'test', 'histories')).filter((f) => f.endsWith('.json'));

it('keeps the current recording and at least one older one', () => {
  expect(recordings).toContain('token-leak.json');
  expect(recordings.length).toBeGreaterThanOrEqual(2);
});

it.each(recordings)('%s replays without nondeterminism', async (name) => {
  const json = JSON.parse(readFileSync(join(PROJECT_ROOT, 'test', 'histories', name), 'utf8')) as { events: Array<{ eventType: string; workflowExecutionStartedEventAttributes?: { workflowId?: string } }> };
  // The recorded id: child workflow ids (a ban's expiry timer) are derived from it.
  const workflowId = json.events[0]?.workflowExecutionStartedEventAttributes?.workflowId;
  const history = historyFromJSON(json);
  const types = json.events.map((e) => e.eventType);
  // The recording covers the whole lifecycle, so replay exercises gates, updates and undo.
  expect(types.filter((t) => t === 'EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED').length).toBeGreaterThanOrEqual(4);
  expect(types[types.length - 1]).toBe('EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED');
  await expect(
    Worker.runReplayHistory({ workflowBundle: { codePath: inject('workflowBundle') }, replayName: name }, history, workflowId),
  ).resolves.toBeUndefined();
});

it('a history from different workflow code is detected as nondeterministic', async () => {
  const json = JSON.parse(readFileSync(file, 'utf8')) as { events: Array<Record<string, Record<string, unknown>>> };
  // Rename the first scheduled activity: the current code schedules lockdownStatus, so replay must fail.
  const scheduled = json.events.find((e) => e.activityTaskScheduledEventAttributes);
  (scheduled!.activityTaskScheduledEventAttributes!.activityType as { name: string }).name = 'somethingElse';
  await expect(
    Worker.runReplayHistory({ workflowBundle: { codePath: inject('workflowBundle') }, replayName: 'tampered' }, historyFromJSON(json)),
  ).rejects.toThrow(/[Nn]ondetermin/);
});
