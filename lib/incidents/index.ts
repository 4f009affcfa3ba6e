/**
 * THE incident service: every front door (CLI, Slack, schedules, alert webhooks, demo)
 * declares, steers and looks at incidents through this, never through activities.
 * Front doors that care about start-up time (the CLI) import the submodule they need.
 */
export { connectClient } from './connect.js';
export { declareIncident, findOpenByDedupKey, newIncidentId, prepareDeclaration, startDeclared } from './declare.js';
export { handleFor, toWorkflowId } from './handles.js';
export { getNoticeStatus, getStatus, isTerminal, listIncidents, type ListOptions, NEEDS_HUMAN, needsHumanOrEnded, TERMINAL, waitExitCode, waitFor, type WaitOptions } from './queries.js';
export { abortIncident, addNote, approveGate, confirmItem, markPersonalData, overrideStep, recordNoticeSent, resolveIncident, retryIncident, waiveItem, type SteerOptions } from './steer.js';
export { followIntent, intentDone } from './intent.js';
export { lockdownDedupKey, lockdownOff, lockdownOn, type LockdownOffResult, type LockdownOnRequest } from './lockdown.js';
export { banLiftDedupKey, canonicalNetwork, liftBan, listBans, MAX_LIFT_REASON, showBans, type LiftOutcome, type LiftRequest } from './bans.js';
export { checkTarget, inspectBans, INSPECT_TIMEOUT_MS, runInspect, type LookRequest } from './inspect.js';
export { mergedNoticeArgs, noticeArgsFromFlags, regenerateReport, type RegeneratedReport, type ReportFlags, type ReportRequest } from './report.js';
export type * from './types.js';
