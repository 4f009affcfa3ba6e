/**
 * The incident workflow's public API: its input, the status it reports, and
 * the queries and updates front doors (CLI, Slack) send. Shared by workflow
 * code and clients, so it stays free of I/O.
 */
import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { SignedStatement } from '../lib/identity/verify.js';
import type { Declarer } from '../lib/policy/types.js';
import type { EdgeSet } from './edge-definitions.js';
import type { PhaseName, RunbookSnapshot, Severity, ParamValue } from '../lib/runbook/types.js';

export const INCIDENT_WORKFLOW = 'IncidentWorkflow';
/** The refusal of an update that came before the worker's policy: front doors try again shortly. */
export const POLICY_LOADING = "the incident is still loading the worker's policy";
export const MODES = ['live', 'dry-run', 'drill'] as const;
export type Mode = (typeof MODES)[number];

/** Who did something and through which front door. */
export interface Actor {
  user: string;
  host: string;
  via: 'cli' | 'slack' | 'schedule' | 'api' | 'demo';
}

export interface IncidentInput {
  incidentId: string;
  runbook: RunbookSnapshot;
  params: Record<string, ParamValue>;
  severity: Severity;
  mode: Mode;
  target: string;
  declaredBy: Actor;
  declaredAt: string;
  summary?: string;
  dedupKey?: string;
  /** What the target has configured (`redis`, `postgres`, `github`, `nginx`, `secrets`, `app`), snapshotted. */
  capabilities?: string[];
  /** The declaration statement, signed by the declarer (or a service): verified by the worker. */
  declaration?: SignedStatement;
  /**
   * Approver groups as the client's config had them. Histories from before the worker's
   * policy used them; incidents now take the worker's (lib/policy) and ignore these.
   */
  approvers?: Record<string, string[]>;
  /** The config file the approver groups came from (or `defaults`), for refusals that say where to configure them. */
  approversSource?: string;
}

export type StepState =
  | 'pending'
  | 'skipped'
  | 'awaiting-approval'
  | 'running'
  | 'succeeded'
  | 'failed'
  | 'planned'
  | 'cancelled'
  | 'undone'
  /** Failed, then an approver chose to go on without it (recorded). */
  | 'overridden';

/** Result every action returns. Never holds secret values. */
export interface ActionResult {
  /** One line for humans. */
  summary: string;
  /** Did the action change anything (false when already in the desired state). */
  changed: boolean;
  /** Read-back evidence that the effect holds. */
  proof?: Record<string, unknown>;
  /** Step output, referenced as `steps.<id>.output`. */
  output?: Record<string, unknown>;
  /** How to undo: an action and the exact arguments restoring the prior state. */
  undo?: { action: string; args: Record<string, unknown> };
  /** In dry-run: what would be done. */
  plan?: string[];
  /** A ban change the workflow fans out to the target's nginx edge hosts (workflows/edges.ts). */
  edges?: EdgeSet;
}

export interface StepStatus {
  id: string;
  phase: PhaseName;
  action: string;
  state: StepState;
  startedAt?: string;
  endedAt?: string;
  /** For an undone step, what its undo did; otherwise what the step did. */
  summary?: string;
  /** For an undone step: what the step itself had done (its summary before the undo). */
  effect?: string;
  error?: string;
  proof?: Record<string, unknown>;
  plan?: string[];
  /** Why a running step has not finished yet, e.g. "waiting for edge edge-b: …". */
  waiting?: string;
}

export interface Vote {
  by: string;
  host: string;
  at: string;
  /** How the vote was signed (absent on unauthenticated incidents). */
  keyId?: string;
  via?: string;
  /** The signed statement itself: the worker's activities re-check it before acting. */
  signed?: SignedStatement;
}

export interface GateStatus {
  /** Step id, or `resolve` for the all-clear. */
  id: string;
  group: string;
  required: number;
  approvals: Vote[];
  /** SHA-256 of the canonical JSON of the resolved step arguments; an approval must name it. */
  argsHash: string;
  args: Record<string, unknown>;
  openedAt: string;
  escalations: number;
  state: 'open' | 'approved' | 'cancelled';
}

export type IncidentState =
  | 'running'
  | 'awaiting-approval'
  | 'blocked'
  | 'awaiting-resolve'
  | 'resolving'
  | 'aborting'
  /** Aborted with approved containment in force: waits for the all-clear's approval to roll it back. */
  | 'rolling-back'
  | 'aborted'
  /** Step arguments found invalid before anything ran (listed in `rejection`); nothing was done. */
  | 'rejected'
  | 'completed';

export interface TimelineEntry {
  at: string;
  kind: 'declared' | 'phase' | 'step' | 'gate' | 'approval' | 'escalation' | 'note' | 'abort' | 'resolve' | 'undo' | 'retry' | 'completed' | 'notify';
  message: string;
  by?: string;
  step?: string;
}

export interface IncidentStatus {
  id: string;
  runbook: { name: string; title: string; sha256: string; file: string };
  mode: Mode;
  severity: Severity;
  target: string;
  state: IncidentState;
  phase: PhaseName | 'done';
  declaredBy: Actor;
  declaredAt: string;
  /** Who the worker verified as the declarer; `authenticated: false` on a development target. */
  identity?: { authenticated: boolean; declarer: Declarer };
  summary?: string;
  steps: StepStatus[];
  gates: GateStatus[];
  /** The timeline; the status query carries its newest entries (lib/limits.ts RECENT_TIMELINE), documents all of it. */
  timeline: TimelineEntry[];
  /** How many entries the whole timeline has (set by the status query). */
  timelineTotal?: number;
  /** Containment still in force (undo pending on resolve). */
  activeContainment: string[];
  /** Human checklists (secrets.manual): items to confirm or waive. */
  checklists: ChecklistStatus[];
  /** The GDPR Art. 33 clock, once personal data is marked as affected (its own workflow holds the rest). */
  notice?: { workflowId: string; awareAt: string; deadline: string; highRisk: boolean; markedBy: string };
  abortReason?: string;
  /** The audit trail (when the worker keeps one): entries recorded, the newest signed checkpoint, a failing append. */
  audit?: { entries: number; checkpoint?: { size: number; head: string; at: string; signed: boolean }; problem?: string };
  /**
   * The incident's Slack channel, once the worker opened it (activities/notify): its pinned
   * status message is kept live by the Slack app from this query, events go to its thread.
   */
  slack?: SlackChannelRef;
  /**
   * The incident's Slack events (workflows/incident/notify.ts): how many reached the channel,
   * how many wait (Slack down: retried), the keys of those that never will, and why Slack is down.
   */
  notifications?: { sent: number; pending: number; missed: string[]; down?: string };
  /** Why the incident was rejected before any step ran: every problem found. */
  rejection?: Array<{ step: string; action: string; message: string }>;
}

export interface SlackChannelRef {
  channel: string;
  /** The channel name, e.g. `inc-fb-20261203-1a2b`. */
  name: string;
  /** The pinned status message (its thread holds the events). */
  statusTs: string;
}

export interface ApproveInput {
  gate: string;
  argsHash: string;
  actor: Actor;
  /** The decision's signed statement (lib/policy/decisions.ts says what it is bound to). */
  signed?: SignedStatement;
  comment?: string;
}
export interface AbortInput {
  reason: string;
  actor: Actor;
  /** The decision's signed statement (lib/policy/decisions.ts says what it is bound to). */
  signed?: SignedStatement;
}
export interface ResolveInput {
  actor: Actor;
  /** The decision's signed statement (lib/policy/decisions.ts says what it is bound to). */
  signed?: SignedStatement;
  comment?: string;
}
export interface NoteInput {
  text: string;
  actor: Actor;
  /** The decision's signed statement (lib/policy/decisions.ts says what it is bound to). */
  signed?: SignedStatement;
}
export interface ChecklistItem {
  name: string;
  state: 'open' | 'confirmed' | 'waived';
  by?: string;
  at?: string;
  /** Confirmation note or waiver reason. */
  note?: string;
}

export interface ChecklistStatus {
  step: string;
  items: ChecklistItem[];
  remindEveryMs: number;
  reminders: number;
}

export interface ChecklistInput {
  step: string;
  item: string;
  actor: Actor;
  /** The decision's signed statement (lib/policy/decisions.ts says what it is bound to). */
  signed?: SignedStatement;
  /** Required for a waiver. */
  note?: string;
}

export interface OverrideInput {
  step: string;
  reason: string;
  actor: Actor;
  /** The decision's signed statement (lib/policy/decisions.ts says what it is bound to). */
  signed?: SignedStatement;
}

export interface PersonalDataInput {
  actor: Actor;
  /** The decision's signed statement (lib/policy/decisions.ts says what it is bound to). */
  signed?: SignedStatement;
  /** ISO moment of awareness (default: when the incident was declared). */
  awareAt?: string;
  highRisk?: boolean;
}

export interface RetryInput {
  actor: Actor;
  /** The decision's signed statement (lib/policy/decisions.ts says what it is bound to). */
  signed?: SignedStatement;
}

export const statusQuery = defineQuery<IncidentStatus>('status');
export const approveUpdate = defineUpdate<GateStatus, [ApproveInput]>('approve');
export const abortUpdate = defineUpdate<IncidentState, [AbortInput]>('abort');
export const resolveUpdate = defineUpdate<GateStatus, [ResolveInput]>('resolve');
export const noteUpdate = defineUpdate<number, [NoteInput]>('note');
export const retryUpdate = defineUpdate<string[], [RetryInput]>('retry');
export const confirmItemUpdate = defineUpdate<ChecklistStatus, [ChecklistInput]>('confirmItem');
export const waiveItemUpdate = defineUpdate<ChecklistStatus, [ChecklistInput]>('waiveItem');
export const overrideUpdate = defineUpdate<StepStatus, [OverrideInput]>('override');
export const markPersonalDataUpdate = defineUpdate<NonNullable<IncidentStatus['notice']>, [PersonalDataInput]>('markPersonalData');

export { workflowIdFor } from '../lib/ids.js';

/** Typed failure types (ApplicationFailure.type) shared by activities and clients. */
export const FailureTypes = {
  BadInput: 'FirebreakBadInput',
  TargetUnavailable: 'FirebreakTargetUnavailable',
  VerificationFailed: 'FirebreakVerificationFailed',
  Refused: 'FirebreakRefused',
  /** The effective arguments of an approved step changed since the approval (e.g. the worker's config). */
  ApprovalStale: 'FirebreakApprovalStale',
} as const;

/** What every action activity receives. */
export interface ActionInput {
  incidentId: string;
  stepId: string;
  action: string;
  target: string;
  mode: Mode;
  args: Record<string, unknown>;
  /** Workflow time when the step started (ISO): the same on every retry, so epochs are idempotent. */
  requestedAt: string;
  /** Present for actions that report on the incident (`wantsStatus`). */
  status?: IncidentStatus;
  /** The argsHash of the effective arguments approvers approved: the activity refuses if they differ now. */
  approvedHash?: string;
  /** What the worker re-checks before acting (activities/authorize.ts): the declaration and the gate's votes. */
  authz?: { declaration?: SignedStatement; votes?: SignedStatement[] };
}

export { SA } from '../lib/search-attributes.js';
