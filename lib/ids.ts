/**
 * Temporal ids Firebreak derives from an incident id, defined once. Pure (used in the
 * workflow sandbox and by every front door).
 */
export const WORKFLOW_ID_PREFIX = 'firebreak-';

/** Workflow id of an incident. */
export function workflowIdFor(incidentId: string): string {
  return `${WORKFLOW_ID_PREFIX}${incidentId}`;
}

/** Incident id of an incident's workflow id (a bare incident id is returned as it is). */
export function incidentIdOf(workflowId: string): string {
  return workflowId.startsWith(WORKFLOW_ID_PREFIX) ? workflowId.slice(WORKFLOW_ID_PREFIX.length) : workflowId;
}

/** Workflow id of an incident's GDPR 72-hour clock. */
export function gdprWorkflowId(incidentId: string): string {
  return `${workflowIdFor(incidentId)}-gdpr`;
}

/** Workflow id of a read-only look at a target (unique per call). */
export function inspectWorkflowId(kind: string, target: string, nonce: string): string {
  return `${WORKFLOW_ID_PREFIX}inspect-${kind}-${target}-${nonce}`;
}
