/**
 * The undo stack: what a reversible step put in force and how to lift it. Abort
 * runs every entry (compensation, newest first); the all-clear runs those marked
 * `liftOnResolve`; a step that runs an undo action itself settles the entries it lifts.
 */
import * as wf from '@temporalio/workflow';
import { actionSpec, type ActionSpec, type ActivityActionSpec } from '../../lib/actions.js';
import type { StepSpec } from '../../lib/runbook/types.js';
import type { ActionResult } from '../definitions.js';
import { rollbackGate } from './gates.js';
import { actionActivity, failureMessage } from './proxies.js';
import type { IncidentRun, UndoEntry } from './state.js';

/** Marker of drill incidents whose all-clear lifts everything reversible (histories before it lift `liftOnResolve` only). */
export const DRILL_LIFTS_ALL = 'drill-all-clear-lifts-all';

/**
 * Keep what undoes a step's effect (live and drill runs of reversible actions only). A drill
 * on a drill target leaves it as it found it: its all-clear also lifts what a live all-clear
 * leaves in force (a ban runs out on its timer, disabled users stay disabled); only what
 * cannot be undone (revocations, rotated secrets) stays. Elsewhere drill mode lifts like live.
 */
export function recordUndo(run: IncidentRun, spec: StepSpec, action: ActionSpec, result: ActionResult): void {
  if (result.undo && run.input.mode !== 'dry-run' && action.reversible) {
    const liftOnResolve = action.liftOnResolve || (run.input.mode === 'drill' && run.policy?.drillTarget === true && wf.patched(DRILL_LIFTS_ALL));
    run.undoStack.push({ stepId: spec.id, action: result.undo.action, args: result.undo.args, liftOnResolve });
  }
  run.syncContainment();
}

/** A step that runs an undo action itself (e.g. lockdown.disable in phase III) settles the pending undos of that action. */
export function settle(run: IncidentRun, spec: StepSpec): void {
  const settled = run.undoStack.filter((u) => u.action === spec.action);
  if (!settled.length) return;
  for (const u of settled) run.undoStack.splice(run.undoStack.indexOf(u), 1);
  run.note({ kind: 'undo', step: spec.id, message: `${spec.id} (${spec.action}) lifted what ${settled.map((u) => u.stepId).join(', ')} had put in force` });
}

/** Run undo entries newest first; a failed undo stays listed as active containment. */
export async function runUndo(run: IncidentRun, entries: UndoEntry[], why: string): Promise<void> {
  const input = run.input;
  for (const entry of [...entries].reverse()) {
    const spec = run.spec(entry.stepId);
    const action = actionSpec(entry.action) as ActivityActionSpec; // undo actions are activities (the catalog says so)
    try {
      const result = await actionActivity({ ...spec, timeoutMs: undefined }, action)({
        incidentId: input.incidentId,
        stepId: `${entry.stepId}.undo`,
        action: entry.action,
        target: input.target,
        mode: input.mode,
        args: entry.args,
        requestedAt: run.now(),
        ...(run.policy?.authenticated && { authz: run.authz() }),
      });
      run.undoStack.splice(run.undoStack.indexOf(entry), 1);
      // The status says what the undo did; what the step had done stays in `effect` (and in the timeline).
      const st = run.step(entry.stepId);
      st.state = 'undone';
      st.effect = st.summary;
      st.summary = result.summary;
      run.note({ kind: 'undo', step: entry.stepId, message: `${why}: ${entry.action} for ${entry.stepId}: ${result.summary}` });
    } catch (err) {
      run.note({ kind: 'undo', step: entry.stepId, message: `${why}: ${entry.action} for ${entry.stepId} FAILED: ${failureMessage(err)}` });
      wf.log.error('undo failed', { incidentId: input.incidentId, step: entry.stepId, action: entry.action });
    }
  }
  run.syncContainment();
}

/**
 * Undo everything still in force. An undo that fails blocks the abort until someone runs
 * `retry`, as a failed lift blocks the all-clear: closing the incident would leave its
 * containment (and its hold on shared containment) in force with nothing left to release it.
 */
async function undoUntilLifted(run: IncidentRun): Promise<void> {
  await runUndo(run, run.undoStack, 'abort');
  if (!wf.patched('abort-blocks-on-failed-undo')) return;
  while (run.undoStack.length) {
    const ids = run.undoStack.map((u) => u.stepId).join(', ');
    run.abortBlocked = true;
    run.note({ kind: 'phase', message: `abort blocked: lifting ${ids} failed; it stays in force until firebreak retry lifts it (or abort again to close the incident with it in force)` });
    run.refresh();
    run.retryRequested = false;
    await wf.condition(() => run.retryRequested || run.gaveUpBy !== undefined);
    run.abortBlocked = false;
    run.refresh();
    if (run.gaveUpBy !== undefined) return;
    await runUndo(run, run.undoStack, 'abort');
  }
}

/**
 * Abort = compensate: undo everything in force, cancel open gates, close the incident as
 * aborted. Under the worker's policy, containment people approved is rolled back only with
 * the all-clear's approval (an abort by one person is not a way around it); a drill robot
 * on a drill target rolls back at once.
 */
export async function finishAborted(run: IncidentRun): Promise<void> {
  run.pinned = undefined;
  if (run.policy && run.abortedBy?.via !== 'drill-robot') {
    const approved = new Set(run.status.gates.filter((g) => g.state === 'approved' && g.approvals.length > 0).map((g) => g.id));
    const held = run.undoStack.filter((u) => approved.has(u.stepId));
    if (held.length) {
      await runUndo(run, run.undoStack.filter((u) => !held.includes(u)), 'abort');
      for (const g of run.status.gates) if (g.state === 'open') g.state = 'cancelled';
      await rollbackGate(run, held);
      run.pinned = undefined;
    }
  }
  await undoUntilLifted(run);
  await wf.condition(wf.allHandlersFinished);
  for (const g of run.status.gates) if (g.state === 'open') g.state = 'cancelled';
  run.pinned = 'aborted';
  run.status.phase = 'done';
  const left = run.status.activeContainment;
  run.note({ kind: 'completed', message: `incident aborted: ${run.status.abortReason ?? ''}${left.length ? `; still in force: ${left.join(', ')}` : ''}` });
  run.refresh();
}
