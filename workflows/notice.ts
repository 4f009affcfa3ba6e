/**
 * GdprDeadlineWorkflow: the GDPR Art. 33 clock. A personal-data breach must be
 * notified to the supervisory authority within 72 hours of awareness. Started
 * by the incident (ParentClosePolicy ABANDON) so the clock outlives it; reminds
 * on durable timers before the deadline and stops when `noticeSent` arrives.
 */
import * as wf from '@temporalio/workflow';
import { GDPR_DEADLINE_HOURS } from '../lib/gdpr.js';
import { textProblem } from '../lib/limits.js';
import { participantProblem, refuse } from './incident/authz.js';
import { takeSigned, verifySigned } from './incident/identity.js';
import { DEFAULT_REMIND_HOURS_BEFORE, noticeSentUpdate, noticeStatusQuery, type GdprDeadlineInput, type NoticeSentInput, type NoticeStatus } from './notice-definitions.js';

// Its API lives in ./notice-definitions.ts (clients import that); re-exported for existing importers.
export * from './notice-definitions.js';

export async function GdprDeadlineWorkflow(input: GdprDeadlineInput): Promise<NoticeStatus> {
  const awareMs = Date.parse(input.awareAt);
  const deadlineMs = awareMs + GDPR_DEADLINE_HOURS * 3600_000;
  const state: NoticeStatus = {
    incidentId: input.incidentId,
    awareAt: input.awareAt,
    deadline: new Date(deadlineMs).toISOString(),
    highRisk: input.highRisk,
    reminders: [],
    missed: false,
  };
  const nonces = new Set<string>();
  wf.setHandler(noticeStatusQuery, () => state);
  wf.setHandler(
    noticeSentUpdate,
    (req: NoticeSentInput) => {
      state.sentAt = req.at ?? new Date().toISOString();
      state.sentBy = takeSigned(input.trust, nonces, req).actor.user;
      state.reference = req.reference;
      return state;
    },
    {
      validator: (req: NoticeSentInput) => {
        if (state.sentAt) throw new Error(`the notice was already recorded as sent by ${state.sentBy} at ${state.sentAt}`);
        refuse(textProblem('reference', req.reference, 'a notice reference'));
        const { actor, via } = verifySigned({ incidentId: input.incidentId, mode: input.mode ?? 'live', trust: input.trust, nonces }, req, { kind: 'notice-sent', at: req.at, reference: req.reference });
        if (via !== 'drill-robot') refuse(participantProblem(input, actor));
        if (req.at !== undefined && Number.isNaN(Date.parse(req.at))) throw new Error(`"${req.at}" is not an ISO time`);
      },
    },
  );

  const offsets = [...(input.remindHoursBefore ?? DEFAULT_REMIND_HOURS_BEFORE)].filter((h) => h > 0 && h < GDPR_DEADLINE_HOURS).sort((a, b) => b - a);
  for (const hours of offsets) {
    const at = deadlineMs - hours * 3600_000;
    const wait = at - Date.now();
    if (wait > 0 && (await wf.condition(() => state.sentAt !== undefined, wait))) break;
    if (state.sentAt) break;
    if (wait <= 0) continue; // declared late: reminders already past are not replayed
    state.reminders.push({ at: new Date().toISOString(), hoursBeforeDeadline: hours });
    wf.log.warn('GDPR Art. 33 notice not sent yet', { incidentId: input.incidentId, hoursBeforeDeadline: hours, deadline: state.deadline });
  }
  if (!state.sentAt) {
    const wait = deadlineMs - Date.now();
    if (!(wait > 0 && (await wf.condition(() => state.sentAt !== undefined, wait)))) {
      if (!state.sentAt) {
        state.missed = true;
        wf.log.error('GDPR Art. 33 deadline passed without a notice: the late notice must give the reasons for the delay', { incidentId: input.incidentId, deadline: state.deadline });
      }
    }
  }
  await wf.condition(() => state.sentAt !== undefined);
  await wf.condition(wf.allHandlersFinished);
  return state;
}
