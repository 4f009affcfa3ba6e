/**
 * After phases I–III: containment marked `liftOnResolve` stays in force until the
 * all-clear, then is lifted. Containment that failed to lift is never reported as
 * lifted: the incident blocks until retry or abort.
 */
import { allClearGate } from './gates.js';
import { untilUnblocked } from './scheduler.js';
import type { IncidentRun } from './state.js';
import { runUndo } from './undo.js';

/** False when the incident is aborting. */
export async function liftAfterAllClear(run: IncidentRun): Promise<boolean> {
  const lifting = () => run.undoStack.filter((u) => u.liftOnResolve);
  const lift = lifting();
  if (!lift.length) {
    run.note({ kind: 'phase', message: 'no containment to lift' });
    return true;
  }
  await allClearGate(run, lift);
  if (run.aborting) return false;
  run.pin('resolving');
  const lifted = await untilUnblocked(
    run,
    async () => {
      await runUndo(run, lifting(), 'resolve');
      return true;
    },
    () => (lifting().length ? `lifting ${lifting().map((u) => u.stepId).join(', ')} failed; retry or abort` : undefined),
    'resolving',
  );
  if (lifted) {
    run.pinned = undefined;
    const by = run.status.gates.findLast((g) => g.id === 'resolve' && g.state === 'approved')?.approvals.map((v) => v.by) ?? [];
    run.event('all-clear', `all-clear given by ${by.join(', ') || '?'}: lifted ${lift.map((u) => u.stepId).join(', ')}`);
  }
  return lifted;
}
