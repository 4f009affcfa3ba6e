/** Before anything acts: every step's known arguments checked on the worker; any problem rejects the incident. */
import * as wf from '@temporalio/workflow';
import { planSteps } from '../../lib/runbook/plan.js';
import type { IncidentStatus } from '../definitions.js';
import { engineChecks, failureMessage } from './proxies.js';
import type { IncidentRun } from './state.js';

/** The rejected status, or undefined to go on. */
export async function rejectInvalidArgs(run: IncidentRun): Promise<IncidentStatus | undefined> {
  const { input } = run;
  // Histories from before this rule did not judge a future awareness: they replay as they ran.
  const declaredAt = wf.patched('aware-at-not-future') ? input.declaredAt : undefined;
  const plan = planSteps(run.doc, { params: input.params, incident: run.refContext().incident, declaredAt });
  const problems = [...plan.problems];
  try {
    problems.push(...(run.preflight ?? (await engineChecks.validateIncidentArgs({ incidentId: input.incidentId, target: input.target, mode: input.mode, steps: plan.steps })).problems));
  } catch (err) {
    problems.push({ step: '-', action: '-', message: `the worker could not validate the arguments: ${failureMessage(err)}` });
  }
  if (!problems.length) return undefined;
  return rejectWith(run, problems);
}

/** Close the incident as rejected: nothing ran, every problem is listed. */
export async function rejectWith(run: IncidentRun, problems: Array<{ step: string; action: string; message: string }>): Promise<IncidentStatus> {
  const status = run.status;
  status.rejection = problems;
  for (const p of problems) {
    const st = status.steps.find((s) => s.id === p.step);
    if (st) st.error = st.error ? `${st.error}; ${p.message}` : p.message;
  }
  run.declaredNote();
  run.note({ kind: 'completed', message: `incident rejected before any step ran, nothing was done: ${problems.length} problem(s): ${problems.map((p) => `${p.step}: ${p.message}`).join('; ')}` });
  status.phase = 'done';
  run.pin('rejected');
  await wf.condition(wf.allHandlersFinished);
  return status;
}
