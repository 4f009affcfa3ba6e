/**
 * IncidentWorkflow: walks one incident through phases I–IV of the runbook
 * snapshot it was started with. The workflow decides; activities act.
 *
 * This file wires handlers to the rooms in ./incident/ and runs the phases;
 * the state they share is one IncidentRun.
 */
import * as wf from '@temporalio/workflow';
import {
  abortUpdate,
  approveUpdate,
  confirmItemUpdate,
  markPersonalDataUpdate,
  noteUpdate,
  overrideUpdate,
  resolveUpdate,
  retryUpdate,
  statusQuery,
  waiveItemUpdate,
  type AbortInput,
  type ApproveInput,
  type ChecklistInput,
  type IncidentInput,
  type IncidentStatus,
  type NoteInput,
  type OverrideInput,
  type PersonalDataInput,
  type ResolveInput,
  type RetryInput,
} from './definitions.js';
import { confirm, validateConfirm, validateWaive, waive } from './incident/checklists.js';
import { approve, resolve, validateApprove, validateResolve } from './incident/gates.js';
import { markPersonalData, startClockIfDeclared, validateMarkPersonalData } from './incident/gdpr.js';
import { liftAfterAllClear } from './incident/resolve.js';
import { override, retry, runPhase, validateOverride, validateRetry } from './incident/scheduler.js';
import { closeAudit, startAudit } from './incident/audit.js';
import { IncidentRun } from './incident/state.js';
import { finishAborted } from './incident/undo.js';
import { completedEvent, containmentEvent, drainNotifications, startNotifications } from './incident/notify.js';
import { adoptPolicy } from './incident/policy.js';
import { rejectInvalidArgs } from './incident/validate.js';

export async function IncidentWorkflow(input: IncidentInput): Promise<IncidentStatus> {
  const run = new IncidentRun(input);
  // The result is read outside the encrypted payloads too (clients, the UI): sensitive values as fingerprints.
  return run.shown(await walk(run));
}

async function walk(run: IncidentRun): Promise<IncidentStatus> {
  const { status } = run;
  // Before any handler is set: no update is judged without the worker's policy.
  const underPolicy = wf.patched('worker-policy');
  run.loadingPolicy = underPolicy;

  wf.setHandler(statusQuery, () => run.view());
  wf.setHandler(approveUpdate, (req) => approve(run, req), { validator: (req: ApproveInput) => validateApprove(run, req) });
  wf.setHandler(resolveUpdate, (req) => resolve(run, req), { validator: (req: ResolveInput) => validateResolve(run, req) });
  wf.setHandler(abortUpdate, (req) => run.abort(req), { validator: (req: AbortInput) => run.validateAbort(req) });
  wf.setHandler(noteUpdate, (req) => run.addNote(req), { validator: (req: NoteInput) => run.validateNote(req) });
  wf.setHandler(retryUpdate, (req) => retry(run, req), { validator: (req: RetryInput) => validateRetry(run, req) });
  wf.setHandler(overrideUpdate, (req) => override(run, req), { validator: (req: OverrideInput) => validateOverride(run, req) });
  wf.setHandler(confirmItemUpdate, (req) => confirm(run, req), { validator: (req: ChecklistInput) => validateConfirm(run, req) });
  wf.setHandler(waiveItemUpdate, (req) => waive(run, req), { validator: (req: ChecklistInput) => validateWaive(run, req) });
  // async, as it always was: the update completes at the same point of the history.
  wf.setHandler(markPersonalDataUpdate, async (req) => markPersonalData(run, req), { validator: (req: PersonalDataInput) => validateMarkPersonalData(run, req) });

  const aborted = async (): Promise<IncidentStatus> => {
    await finishAborted(run);
    run.event('aborted', `incident aborted: ${status.abortReason ?? ''}${status.activeContainment.length ? `; still in force: ${status.activeContainment.join(', ')}` : ''}`);
    await drainNotifications(run);
    await closeAudit(run);
    return status;
  };

  if (underPolicy) {
    const refused = await adoptPolicy(run);
    if (refused) return refused;
    startAudit(run);
  }
  if (wf.patched('validate-args')) {
    const rejected = await rejectInvalidArgs(run);
    if (rejected) {
      await closeAudit(run);
      return rejected;
    }
  }
  await startClockIfDeclared(run);
  run.declaredNote();
  run.refresh();
  // The channel opens beside containment, never before it.
  startNotifications(run);

  for (const phase of ['detection', 'containment', 'recovery'] as const) {
    if (!(await runPhase(run, phase))) return aborted();
    if (phase === 'containment') containmentEvent(run);
  }
  if (!(await liftAfterAllClear(run))) return aborted();
  if (!(await runPhase(run, 'postmortem'))) return aborted();

  status.phase = 'done';
  run.pinned = 'completed';
  run.note({ kind: 'completed', message: `incident completed; active containment: ${status.activeContainment.join(', ') || 'none'}` });
  run.refresh();
  completedEvent(run);
  await drainNotifications(run);
  // Let in-flight update handlers finish before the run closes.
  await wf.condition(wf.allHandlersFinished);
  await closeAudit(run);
  return status;
}
