/**
 * InspectWorkflow: a short read-only look at a target from the worker
 * (`firebreak bans list|show`, `firebreak target check`). A workflow, not a
 * direct call, so front doors never touch targets and every look is in
 * history with who asked.
 */
import * as wf from '@temporalio/workflow';
import type { createInspectionActivities } from '../activities/index.js';
import type { BansResult, TargetCheckResult } from '../lib/incidents/types.js';
import type { Actor } from './definitions.js';

type Activities = ReturnType<typeof createInspectionActivities>;

export const INSPECT_WORKFLOW = 'InspectWorkflow';

export type InspectInput =
  | { kind: 'bans'; target: string; network?: string; requestedBy: Actor }
  | { kind: 'target-check'; target: string; requestedBy: Actor };

export type InspectResult = { kind: 'bans'; bans: BansResult } | { kind: 'target-check'; check: TargetCheckResult };

const acts = wf.proxyActivities<Activities>({
  startToCloseTimeout: '45s',
  // A look that fails is reported to the person waiting, not retried for long.
  retry: { maximumAttempts: 2, initialInterval: '500ms' },
});

export async function InspectWorkflow(input: InspectInput): Promise<InspectResult> {
  if (input.kind === 'bans') return { kind: 'bans', bans: await acts.inspectBans({ target: input.target, network: input.network }) };
  return { kind: 'target-check', check: await acts.inspectTarget({ target: input.target }) };
}
