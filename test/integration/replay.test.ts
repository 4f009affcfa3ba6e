/**
 * Determinism guard: a recorded token-leak incident (approvals, note,
 * all-clear) must replay cleanly against the current workflow code.
 * Re-record after an intentional change: npx tsx scripts/record-history.ts
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils.js';
import { Worker } from '@temporalio/worker';
import { expect, inject, it } from 'vitest';
import { PROJECT_ROOT } from '../../lib/config.js';

const file = join(PROJECT_ROOT, 'test', 'histories', 'token-leak.json');

it('the recorded token-leak history replays without nondeterminism', async () => {
  const json = JSON.parse(readFileSync(file, 'utf8')) as { events: Array<{ eventType: string }> };
  const history = historyFromJSON(json);
  const types = json.events.map((e) => e.eventType);
  // The recording covers the whole lifecycle, so replay exercises gates, updates and undo.
  expect(types.filter((t) => t === 'EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED').length).toBeGreaterThanOrEqual(4);
  expect(types[types.length - 1]).toBe('EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED');
  await expect(
    Worker.runReplayHistory({ workflowBundle: { codePath: inject('workflowBundle') }, replayName: 'token-leak' }, history),
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
