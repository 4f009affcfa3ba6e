/**
 * Who holds the containment in force on a target, judged against Temporal: a hold whose
 * incident was terminated, timed out, reset past it or deleted will never be released by
 * Firebreak, so `firebreak target check` lists it as orphaned.
 */
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Holder, HoldView, JudgedHold, JudgedHolder } from '../holds.js';
import { workflowIdFor } from '../ids.js';
import { statusQuery, type IncidentStatus } from '../../workflows/definitions.js';

type Look = { found: false } | { found: true; status: string; incident?: IncidentStatus };

async function lookUp(client: Client, incidentId: string): Promise<Look> {
  const handle = client.workflow.getHandle(workflowIdFor(incidentId));
  try {
    const d = await handle.describe();
    const status = d.status.name;
    if (status !== 'RUNNING') return { found: true, status };
    return { found: true, status, incident: await handle.query(statusQuery) };
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return { found: false };
    throw err;
  }
}

function judge(h: Holder, look: Look, now: number): JudgedHolder {
  const until = h.until === undefined ? undefined : Date.parse(h.until);
  if (!look.found) {
    // A ban ends by itself: one whose incident Temporal no longer has still lasts until its end.
    if (until !== undefined && until > now) return { ...h, standing: 'expiring', why: `no such incident in Temporal now; held until ${h.until}` };
    return { ...h, standing: 'orphaned', why: 'no such incident in Temporal (deleted, or past its retention)' };
  }
  if (look.status === 'COMPLETED' && until !== undefined) {
    return until > now ? { ...h, standing: 'expiring', why: `incident completed; held until ${h.until}` } : { ...h, standing: 'orphaned', why: `incident completed and the hold ended at ${h.until}, but it is still recorded` };
  }
  if (!look.incident) return { ...h, standing: 'orphaned', why: `incident ${look.status.toLowerCase().replace(/_/g, ' ')}: nothing will release it` };
  const st = look.incident.steps.find((s) => s.id === h.stepId);
  if (look.incident.activeContainment.includes(h.stepId) || st?.state === 'running' || st?.state === 'awaiting-approval') {
    return { ...h, standing: 'live', why: `incident ${look.incident.state}` };
  }
  // A run reset past the step, or an undo that failed after releasing: the open incident no longer lists it in force.
  return { ...h, standing: 'orphaned', why: `incident ${look.incident.state}, but it does not list ${h.stepId} in force (reset?)` };
}

/** Judge every holder of every hold; each incident is looked up once. */
export async function judgeHolds(client: Client, holds: readonly HoldView[], now: number = Date.now()): Promise<JudgedHold[]> {
  const ids = [...new Set(holds.flatMap((h) => h.holders.map((x) => x.incidentId)))];
  const looks = new Map(await Promise.all(ids.map(async (id) => [id, await lookUp(client, id)] as const)));
  return holds.map((hold) => {
    const holders = hold.holders.map((h) => judge(h, looks.get(h.incidentId) as Look, now));
    return { kind: hold.kind, subject: hold.subject, holders, orphaned: holders.length > 0 && holders.every((h) => h.standing === 'orphaned') };
  });
}
