/** What the worker bundles: workflow functions only. */
export { IncidentWorkflow } from './incident.js';
export { ExpiryWorkflow } from './expiry.js';
export { GdprDeadlineWorkflow } from './notice.js';
export { InspectWorkflow } from './inspect.js';
export { DrillWorkflow } from './drill.js';
export { AuditArchiveWorkflow } from './audit-archive.js';
