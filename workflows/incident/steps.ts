/**
 * One step, start to finish: its `when:` condition, its arguments resolved from
 * params and earlier outputs, its gate, then the activity (or the checklist of a
 * human step), and what the result leaves behind: output, undo, expiry timer.
 *
 * The order of awaits here is part of the workflow's history: steps of a phase run
 * concurrently, so an extra await would reorder their commands on replay.
 */
import * as wf from '@temporalio/workflow';
import { actionSpec, type ActionSpec } from '../../lib/actions.js';
import { evalExpr, parseExpr } from '../../lib/runbook/expr.js';
import { resolveRefs } from '../../lib/runbook/refs.js';
import type { StepSpec } from '../../lib/runbook/types.js';
import type { ActionResult } from '../definitions.js';
import { stepHooks, syncEdges, withEdges } from '../edges.js';
import { ExpiryWorkflow, type ExpiryInput } from '../expiry.js';
import { actionActivity, engineChecks, failureMessage } from './proxies.js';
import { runChecklist } from './checklists.js';
import { hashFor, stepGate } from './gates.js';
import type { IncidentRun } from './state.js';
import { recordUndo, settle } from './undo.js';

/** True when the step succeeded, was skipped or planned; false when it failed or was cancelled. */
export async function runStep(run: IncidentRun, spec: StepSpec): Promise<boolean> {
  const { input, status } = run;
  const st = run.step(spec.id);
  st.error = undefined;
  if (run.aborting) {
    st.state = 'cancelled';
    return false;
  }
  const fail = (message: string): boolean => {
    st.state = 'failed';
    st.error = message;
    st.endedAt = run.now();
    run.note({ kind: 'step', step: spec.id, message: `${spec.id} failed: ${message}` });
    run.event('step-failed', `${spec.id} (${spec.action}) failed: ${message}`);
    return false;
  };
  let args: Record<string, unknown>;
  try {
    if (spec.when && !evalExpr(parseExpr(spec.when), run.refContext())) {
      st.state = 'skipped';
      st.summary = `skipped: condition \`${spec.when}\` does not hold`;
      run.note({ kind: 'step', step: spec.id, message: `${spec.id} skipped: condition \`${spec.when}\` does not hold` });
      return true;
    }
    args = resolveRefs(spec.with, run.refContext()) as Record<string, unknown>;
    run.stepArgs.set(spec.id, args);
  } catch (err) {
    return fail((err as Error).message);
  }
  const action = actionSpec(spec.action) as ActionSpec;
  const gateNotes: string[] = [];
  let approvedHash: string | undefined;
  if (spec.approval && input.mode === 'dry-run') {
    gateNotes.push(`would wait for ${spec.approval.count} approval(s) from group ${spec.approval.group}`);
  } else if (spec.approval && !action.human && wf.patched('effective-args')) {
    // Approvers see (and approve) what the step will act with, config-derived values included.
    let effective: Record<string, unknown>;
    try {
      effective = await engineChecks.effectiveStepArgs({ target: input.target, action: spec.action, args });
    } catch (err) {
      return fail(failureMessage(err));
    }
    if (!(await stepGate(run, spec, effective))) {
      st.state = 'cancelled';
      return false;
    }
    approvedHash = hashFor(run, spec.action, effective);
  } else if (!(await stepGate(run, spec, args))) {
    st.state = 'cancelled';
    return false;
  }
  if (action.human) return runChecklist(run, spec, st, args, action.checklist);
  st.state = 'running';
  st.startedAt = run.now();
  run.note({ kind: 'step', step: spec.id, message: `${spec.id} started (${spec.action})` });
  try {
    let result = await actionActivity(spec, action)({
      incidentId: input.incidentId,
      stepId: spec.id,
      action: spec.action,
      target: input.target,
      mode: input.mode,
      args,
      requestedAt: st.startedAt,
      // Documents get the whole timeline, sensitive values as fingerprints.
      status: action.wantsStatus ? run.shown(status) : undefined,
      ...(approvedHash ? { approvedHash } : {}),
      ...(run.policy?.authenticated && { authz: run.authz(spec.approval ? spec.id : undefined) }),
    });
    if (result.edges && wf.patched('edge-fanout')) {
      const note = (message: string) => run.note({ kind: 'step', step: spec.id, message: `${spec.id}: ${message}` });
      result = withEdges(result, await syncEdges(result.edges, stepHooks((w) => (st.waiting = w), note, () => run.aborting)));
    }
    st.state = input.mode === 'dry-run' ? 'planned' : 'succeeded';
    st.summary = result.summary;
    st.proof = result.proof;
    st.plan = result.plan ? [...gateNotes, ...result.plan] : gateNotes.length ? gateNotes : undefined;
    st.endedAt = run.now();
    run.outputs[spec.id] = { output: result.output ?? {} };
    if (input.mode !== 'dry-run') {
      settle(run, spec);
      await scheduleExpiry(run, spec, action, result);
    }
    recordUndo(run, spec, action, result);
    run.note({ kind: 'step', step: spec.id, message: `${spec.id} ${st.state}: ${result.summary}` });
    return true;
  } catch (err) {
    return fail(failureMessage(err));
  }
}

/** Things with an end date (bans) get a durable timer that outlives the incident. */
async function scheduleExpiry(run: IncidentRun, spec: StepSpec, action: ActionSpec, result: ActionResult): Promise<void> {
  const at = result.output?.expiresAt;
  if (!action.onExpiry || typeof at !== 'string') return;
  const input = run.input;
  const authz = run.authz();
  const expiry: ExpiryInput = { incidentId: input.incidentId, stepId: spec.id, target: input.target, mode: input.mode, action: action.onExpiry, args: {}, at, ...(authz && { authz }) };
  const child = await wf.startChild(ExpiryWorkflow, {
    workflowId: `${wf.workflowInfo().workflowId}-${spec.id}-expiry-${run.status.timeline.length}`,
    args: [expiry],
    parentClosePolicy: 'ABANDON',
  });
  run.children.push(child.workflowId);
  run.note({ kind: 'step', step: spec.id, message: `${spec.id}: expiry timer ${child.workflowId} fires at ${at}` });
}
