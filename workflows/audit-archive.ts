/**
 * AuditArchiveWorkflow: archives an incident's history and its children's (ban expiries, the
 * GDPR clock) into Firebreak's database, each once it has closed. Started by the incident at
 * its close with ParentClosePolicy ABANDON; it outlives the incident (a ban may expire days
 * later) and checks back with a growing pause.
 */
import * as wf from '@temporalio/workflow';
import type { createAuditActivities } from '../activities/audit/index.js';

type AuditActivities = ReturnType<typeof createAuditActivities>;

const { auditArchive } = wf.proxyActivities<AuditActivities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: 1_000, maximumInterval: 60_000, backoffCoefficient: 2 },
});

export interface AuditArchiveInput {
  incidentId: string;
  workflowIds: string[];
}

export interface AuditArchiveResult {
  archived: Array<{ workflowId: string; runId: string; events: number; sha256: string }>;
}

const FIRST_PAUSE_MS = 1_000;
const LONGEST_PAUSE_MS = 60 * 60_000;

export async function AuditArchiveWorkflow(input: AuditArchiveInput): Promise<AuditArchiveResult> {
  const archived: AuditArchiveResult['archived'] = [];
  const open = [...input.workflowIds];
  let pause = FIRST_PAUSE_MS;
  while (open.length) {
    for (const workflowId of [...open]) {
      const r = await auditArchive({ workflowId, incidentId: input.incidentId });
      if (!r.archived && r.open) continue;
      if (!r.archived) {
        wf.log.warn('audit: a workflow was gone from Temporal before it could be archived', { workflowId });
        open.splice(open.indexOf(workflowId), 1);
        continue;
      }
      archived.push({ workflowId, runId: r.runId, events: r.events, sha256: r.sha256 });
      open.splice(open.indexOf(workflowId), 1);
    }
    if (!open.length) break;
    await wf.sleep(pause);
    pause = Math.min(pause * 2, LONGEST_PAUSE_MS);
  }
  return { archived };
}
