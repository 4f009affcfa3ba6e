/**
 * The drill's public shapes: what a schedule starts DrillWorkflow with (ids only), what its
 * activities exchange, and the report. Shared by workflow code, activities and front doors,
 * so it stays free of I/O.
 */
import type { Actor, IncidentInput, IncidentState, StepState } from './definitions.js';
import type { PhaseName } from '../lib/runbook/types.js';

export const DRILL_WORKFLOW = 'DrillWorkflow';
/** ApplicationFailure type of a drill that ran and failed (a post-condition, a step, the stop condition). */
export const DRILL_FAILED = 'FirebreakDrillFailed';

/** What a schedule (or `drill run`) starts a drill with: names, never a runbook or a key. */
export interface DrillInput {
  runbook: string;
  target: string;
  params: Record<string, string | string[] | number | boolean>;
  /** The schedule that fired it (absent for `drill run`): reports of one schedule are compared. */
  scheduleId?: string;
  requestedBy: Actor;
}

export interface DrillSettings {
  approveAfterMs: number;
  timeBudgetMs: number;
  healthEveryMs: number;
  /** How long the workflow sleeps between looks when nothing changed. */
  pollMs: number;
  /** The robot that declared; the others approve. */
  declarer: string;
  approvers: string[];
}

export interface PreparedDrill {
  /** The incident to start as a child: the worker's runbook snapshot, declared and signed by a robot. */
  input: IncidentInput;
  settings: DrillSettings;
}

/** The state a drill must leave behind, taken before it acts. */
export interface Baseline {
  takenAt: string;
  /** Sorted ACL lines of the app role (table, column, schema, sequence privileges). */
  grants?: string[];
  /** A table and column the app role may UPDATE: the no-op write probe (`UPDATE … SET c = c WHERE false`). */
  writeProbe?: { schema: string; table: string; column: string };
  /** The app's answer to GET app.url (status code). */
  appStatus?: number;
  /** The raw value of the lockdown flag (null when unset). */
  lockdownFlag?: string | null;
  /** The drill user's fresh token (`drill.token`): its claims only (never the token), and the app's answer to it. */
  token?: { claims: DrillTokenClaims; status: number | string };
}

/** Claims of the token a drill signs for its drill user (the signature is made on the worker, never kept). */
export interface DrillTokenClaims {
  token_type: 'access';
  jti: string;
  sub: string;
  user_id: string;
  iat: number;
  exp: number;
}

export type CheckSystem = 'postgres' | 'app' | 'nginx' | 'redis';

export interface PostCondition {
  when: 'containment' | 'restore';
  system: CheckSystem;
  /** What was checked, as a sentence. */
  check: string;
  ok: boolean;
  detail: string;
}

export interface CheckRequest {
  when: PostCondition['when'];
  target: string;
  incidentId: string;
  baseline: Baseline;
  /** What the incident did: which checks apply follows from the steps that succeeded. */
  steps: Array<{ id: string; action: string; state: StepState }>;
  /** The drill's parameters (a banned client's address comes from them). */
  params: Record<string, unknown>;
}

export interface ObservedStep {
  id: string;
  phase: PhaseName;
  action: string;
  state: StepState;
  startedAt?: string;
  endedAt?: string;
  error?: string;
  summary?: string;
  attempts: number;
}

/** What the drill sees of its incident (a trimmed status). */
export interface Observation {
  state: IncidentState;
  phase: string;
  steps: ObservedStep[];
  /** Open gates: id, the argument hash to approve, approvals still needed, who voted. */
  gates: Array<{ id: string; argsHash: string; needed: number; voters: string[] }>;
  declaredAt: string;
  completedAt?: string;
  /** Changes whenever anything the drill acts on changes. */
  fingerprint: string;
}

export interface Decision {
  workflowId: string;
  incidentId: string;
  kind: 'approve' | 'resolve' | 'abort';
  robot: string;
  gate?: string;
  argsHash?: string;
  reason?: string;
}

export interface HealthResult {
  ok: boolean;
  problem?: string;
}

export type DrillOutcome = 'passed' | 'failed' | 'aborted';

export interface StepReport {
  id: string;
  phase: PhaseName;
  action: string;
  outcome: StepState;
  attempts: number;
  durationMs?: number;
  error?: string;
}

export interface DrillReport {
  v: 1;
  incidentId: string;
  scheduleId?: string;
  runbook: string;
  runbookSha256: string;
  target: string;
  outcome: DrillOutcome;
  /** Every reason the drill did not pass (a failed check, a step, the stop condition). */
  failures: string[];
  startedAt: string;
  endedAt: string;
  incidentState: IncidentState;
  steps: StepReport[];
  timeToContainmentMs?: number;
  timeToRestoreMs?: number;
  postConditions: PostCondition[];
  /** Effects that are not undone and stay on the drill target. */
  irreversible: Array<{ step: string; action: string; summary?: string }>;
  stop?: { reason: 'health' | 'time-budget' | 'step-failed'; detail: string };
  /** Against the previous drill of the same schedule, when there was one. */
  regression?: Regression;
}

export interface Regression {
  previousIncidentId: string;
  previousOutcome: DrillOutcome;
  containmentDeltaMs?: number;
  restoreDeltaMs?: number;
  /** Steps that passed last time and fail now. */
  newlyFailing: string[];
  /** Post-conditions that held last time and fail now. */
  newlyFailingChecks: string[];
  /** Steps slower than last time by more than a quarter (and 1 s). */
  slower: Array<{ step: string; deltaMs: number }>;
}

export interface ReportRequest {
  drill: DrillInput;
  incident: IncidentInput;
  observation: Observation;
  postConditions: PostCondition[];
  startedAt: string;
  endedAt: string;
  stop?: DrillReport['stop'];
  failures: string[];
  restoredAt?: string;
  containedAt?: string;
}
