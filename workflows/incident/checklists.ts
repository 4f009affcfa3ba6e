/**
 * Human steps: a checklist the workflow keeps itself, shaped by the action's
 * catalog entry (`checklist`: which argument lists the items, the reminder
 * interval, the wording). Each item is confirmed by a participant or waived by
 * an approver; reminders go out on a durable timer until every item is done.
 */
import * as wf from '@temporalio/workflow';
import { actionSpec, type ChecklistSpec } from '../../lib/actions.js';
import type { StepSpec } from '../../lib/runbook/types.js';
import type { ChecklistInput, ChecklistItem, ChecklistStatus, StepStatus } from '../definitions.js';
import { textProblem } from '../../lib/limits.js';
import { approverProblem, participantProblem, refuse } from './authz.js';
import { awaitHumans } from './gates.js';
import { checkDecision, takeDecision } from './identity.js';
import type { IncidentRun } from './state.js';

/** Run a human step; resolves true when every item is confirmed or waived, false when it cannot run or the incident aborts. */
export function runChecklist(run: IncidentRun, spec: StepSpec, st: StepStatus, args: Record<string, unknown>, checklist: ChecklistSpec | undefined): Promise<boolean> {
  const raw = checklist ? args[checklist.items] : undefined;
  const names = Array.isArray(raw) ? raw.map(String) : [];
  if (!checklist || !names.length) {
    st.state = 'failed';
    st.error = `${spec.action} needs at least one item`;
    return Promise.resolve(false);
  }
  const { task, taskDone } = checklist.wording;
  st.startedAt = run.now();
  if (run.input.mode === 'dry-run') {
    st.state = 'planned';
    st.plan = names.map((n) => `would wait for ${n} to be ${taskDone} and confirmed (or waived by an approver)`);
    st.endedAt = run.now();
    return Promise.resolve(true);
  }
  const every = args[checklist.remindEvery.arg];
  const minutes = typeof every === 'number' && every > 0 ? every : checklist.remindEvery.defaultMinutes;
  const status = run.status;
  status.checklists = status.checklists.filter((c) => c.step !== spec.id);
  const list: ChecklistStatus = { step: spec.id, items: names.map((name) => ({ name, state: 'open' })), remindEveryMs: minutes * 60_000, reminders: 0 };
  status.checklists.push(list);
  st.state = 'running';
  st.summary = `waiting for ${names.length} item(s) to be ${taskDone}: ${names.join(', ')}`;
  run.note({ kind: 'step', step: spec.id, message: `${spec.id}: ${task} and confirm: ${names.join(', ')}` });
  const open = (): ChecklistItem[] => list.items.filter((i) => i.state === 'open');
  const remind = (): void => {
    list.reminders += 1;
    const message = `${spec.id}: still to ${task}: ${open().map((i) => i.name).join(', ')} (reminder ${list.reminders})`;
    run.note({ kind: 'escalation', step: spec.id, message });
    wf.log.warn(message, { incidentId: run.input.incidentId, step: spec.id });
  };
  return awaitHumans(run, () => !open().length, list.remindEveryMs, remind, () => {
    st.endedAt = run.now();
    if (run.aborting) {
      st.state = 'cancelled';
      return false;
    }
    const waived = list.items.filter((i) => i.state === 'waived');
    st.state = 'succeeded';
    st.summary = `${list.items.length - waived.length} confirmed${waived.length ? `, ${waived.length} waived (${waived.map((i) => `${i.name} by ${i.by}`).join(', ')})` : ''}`;
    run.outputs[spec.id] = { output: { items: list.items } };
    run.note({ kind: 'step', step: spec.id, message: `${spec.id} succeeded: ${st.summary}` });
    return true;
  });
}

function itemOf(run: IncidentRun, req: ChecklistInput): { list: ChecklistStatus; item: ChecklistItem } {
  const lists = run.status.checklists;
  const list = lists.find((c) => c.step === req.step);
  if (!list) throw new Error(`no checklist on step "${req.step}" (checklists: ${lists.map((c) => c.step).join(', ') || 'none'})`);
  const item = list.items.find((i) => i.name === req.item);
  if (!item) throw new Error(`checklist ${req.step} has no item "${req.item}" (items: ${list.items.map((i) => i.name).join(', ')})`);
  if (item.state !== 'open') throw new Error(`${req.item} is already ${item.state} by ${item.by ?? '?'}`);
  return { list, item };
}

/** How the step's action words a confirmation ("X rotated"). */
function confirmedWord(run: IncidentRun, step: string): string {
  const spec = actionSpec(run.spec(step).action);
  return (spec?.human ? spec.checklist.wording.confirmed : undefined) ?? 'done';
}

// ---- the confirmItem and waiveItem updates ---------------------------------

export function validateConfirm(run: IncidentRun, req: ChecklistInput): void {
  itemOf(run, req);
  refuse(textProblem('comment', req.note, 'a confirmation note'));
  const { actor, via } = checkDecision(run, req, { kind: 'confirm', step: req.step, item: req.item, note: req.note });
  if (via !== 'drill-robot') refuse(participantProblem(run.roster(), actor, 'confirm checklist items of'));
}

export function confirm(run: IncidentRun, req: ChecklistInput): ChecklistStatus {
  const { list, item } = itemOf(run, req);
  const { actor } = takeDecision(run, req, 'confirm');
  Object.assign(item, { state: 'confirmed', by: actor.user, at: run.now(), note: req.note });
  run.note({ kind: 'approval', by: actor.user, step: req.step, message: `${actor.user} confirmed ${req.item} ${confirmedWord(run, req.step)}${req.note ? `: ${req.note}` : ''}` });
  return list;
}

export function validateWaive(run: IncidentRun, req: ChecklistInput): void {
  itemOf(run, req);
  if (!req.note?.trim()) throw new Error('a waiver needs a reason');
  refuse(textProblem('reason', req.note, 'a waiver reason'));
  const { actor, via } = checkDecision(run, req, { kind: 'waive', step: req.step, item: req.item, note: req.note });
  if (via !== 'drill-robot') refuse(approverProblem(run.roster(), actor, 'waive checklist items'));
}

export function waive(run: IncidentRun, req: ChecklistInput): ChecklistStatus {
  const { list, item } = itemOf(run, req);
  const { actor } = takeDecision(run, req, 'waive');
  Object.assign(item, { state: 'waived', by: actor.user, at: run.now(), note: req.note });
  run.note({ kind: 'approval', by: actor.user, step: req.step, message: `${actor.user} WAIVED ${req.item}: ${req.note ?? ''}` });
  return list;
}
