/**
 * The GDPR Art. 33 clock: started at declaration when the runbook's trigger says
 * personal data is affected (lib/runbook/gdpr.ts), or later by a participant
 * marking it. Live incidents start GdprDeadlineWorkflow, which outlives them;
 * drills and dry-runs only say when the notice would be due.
 */
import * as wf from '@temporalio/workflow';
import { GDPR_DEADLINE_HOURS } from '../../lib/gdpr.js';
import { gdprClockStart } from '../../lib/runbook/gdpr.js';
import { gdprWorkflowId } from '../../lib/ids.js';
import type { IncidentStatus, PersonalDataInput } from '../definitions.js';
import { GdprDeadlineWorkflow } from '../notice.js';
import { participantProblem, refuse } from './authz.js';
import { checkDecision, takeDecision, trustOf } from './identity.js';
import type { IncidentRun } from './state.js';

type Notice = NonNullable<IncidentStatus['notice']>;

export async function startGdprClock(run: IncidentRun, awareAt: string, highRisk: boolean, by: string): Promise<Notice> {
  const input = run.input;
  const deadline = new Date(Date.parse(awareAt) + GDPR_DEADLINE_HOURS * 3600_000).toISOString();
  const workflowId = gdprWorkflowId(input.incidentId);
  run.status.notice = { workflowId, awareAt, deadline, highRisk, markedBy: by };
  if (input.mode !== 'live') {
    run.note({ kind: 'note', message: `personal data affected: the GDPR Art. 33 notice would be due by ${deadline} (${input.mode}: no clock started)` });
    return run.status.notice;
  }
  await wf.startChild(GdprDeadlineWorkflow, {
    workflowId,
    args: [{ incidentId: input.incidentId, awareAt, highRisk, declaredBy: run.status.declaredBy, approvers: run.roster().approvers, mode: input.mode, ...(trustOf(run) && { trust: trustOf(run) }) }],
    parentClosePolicy: 'ABANDON',
  });
  run.note({ kind: 'note', by, message: `personal data affected: GDPR Art. 33 notice due by ${deadline}${highRisk ? ' (high risk: Art. 34 notice to data subjects too)' : ''}; clock ${workflowId}` });
  return run.status.notice;
}

/** At declaration: start the clock if the runbook's trigger (or, without one, the legacy params) says so. */
export async function startClockIfDeclared(run: IncidentRun): Promise<void> {
  const { incident } = run.refContext();
  const start = gdprClockStart(run.doc, { params: run.input.params, incident }, run.input.declaredAt);
  if (start) await startGdprClock(run, start.awareAt, start.highRisk, run.status.declaredBy.user);
}

// ---- the markPersonalData update --------------------------------------------

export function validateMarkPersonalData(run: IncidentRun, req: PersonalDataInput): void {
  const { actor, via } = checkDecision(run, req, { kind: 'personal-data', awareAt: req.awareAt, highRisk: req.highRisk });
  if (via !== 'drill-robot') refuse(participantProblem(run.roster(), actor, 'mark personal data on'));
  if (run.status.notice) throw new Error(`personal data is already marked; the notice is due by ${run.status.notice.deadline}`);
  if (req.awareAt !== undefined && Number.isNaN(Date.parse(req.awareAt))) throw new Error(`"${req.awareAt}" is not an ISO time`);
  // Awareness is a past moment: a future one would move the 72-hour deadline as far as anyone liked.
  if (req.awareAt !== undefined && Date.parse(req.awareAt) > Date.now() + AWARE_AT_SKEW_MS) {
    throw new Error(`awareness at ${req.awareAt} is in the future (the workflow's time is ${new Date(Date.now()).toISOString()}): give the moment the team became aware`);
  }
}

/** Clock skew tolerated between a front door and the workflow for the awareness time. */
const AWARE_AT_SKEW_MS = 5 * 60_000;

export function markPersonalData(run: IncidentRun, req: PersonalDataInput): Promise<Notice> {
  const { actor } = takeDecision(run, req, 'personal-data');
  return startGdprClock(run, req.awareAt ?? run.input.declaredAt, Boolean(req.highRisk), actor.user);
}
