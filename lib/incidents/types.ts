/**
 * The shapes front doors exchange with the incident service and the worker's read-only
 * looks. Types only: a front door imports them without importing activities, and the
 * activities that produce them import them from here.
 */
import type { Client } from '@temporalio/client';
import type { Config } from '../config.js';
import type { Signer } from '../identity/signer.js';
import type { HoldView, JudgedHold } from '../holds.js';
import type { Actor, IncidentInput, IncidentStatus, Mode, StepStatus } from '../../workflows/definitions.js';
import type { Holder } from '../holds.js';

/**
 * What the service needs from a front door: its config, and a Temporal client it connects on
 * first use, so input is refused before Temporal is contacted (exit 2 even when it is down).
 */
export interface FrontDoor {
  readonly config: Readonly<Config>;
  client(): Promise<Client>;
}

/**
 * Who is acting, as a front door knows them: the display identity (user, host, door) and,
 * where they have one, the signer that makes their decisions' statements. The workflow
 * believes the signature, never the name.
 */
export interface Principal extends Actor {
  signer?: Signer;
}

export interface DeclareRequest {
  runbook: string;
  params?: Record<string, string | string[] | number | boolean>;
  severity?: string;
  mode?: string;
  target?: string;
  dedupKey?: string;
  summary?: string;
  actor: Principal;
}

export interface DeclareResult {
  id: string;
  workflowId: string;
  runId?: string;
  /** True when --dedup-key matched an incident that was already open. */
  existing: boolean;
  runbook: string;
  runbookSha256: string;
  mode: Mode;
  target: string;
}

/** A validated declaration, ready to start: nothing has touched Temporal yet. */
export interface PreparedDeclaration {
  input: IncidentInput;
  dedupKey?: string;
  taskQueue: string;
  /** Who declares: their signer makes the declaration statement when the incident starts. */
  declarer: Principal;
  /** The target is marked for local development (nothing is signed). */
  development: boolean;
}

export interface IncidentSummary {
  id: string;
  workflowId: string;
  status: string;
  runbook?: string;
  severity?: string;
  mode?: string;
  phase?: string;
  state?: string;
  startTime: string;
  closeTime: string | null;
}

/** Who reads the namespace Firebreak writes to (the app middleware's heartbeat keys). */
export interface ReaderInfo {
  /** `<prefix>:<version>`. */
  namespace: string;
  count: number;
  /** ISO times of the most and least recent heartbeat (null without readers). */
  newest: string | null;
  oldest: string | null;
  /** Up to 10 `host:pid` of the readers, newest first. */
  processes: string[];
  /** The loud warning when nobody reads the namespace. */
  warning?: string;
}

export interface BanAttribution {
  incident: string;
  step: string;
  reason?: string;
  at?: string;
  expiresAt?: string;
}

export interface BanView {
  network: string;
  /** End recorded in the registry (ISO), null when the registry has no entry. */
  until: string | null;
  /** The app's ban key: its value as an ISO time and seconds to live; null when absent. */
  key: string;
  keyUntil: string | null;
  ttlSeconds: number | null;
  /** Incident steps that banned it first (their hold, or an older worker's undo record). */
  bannedBy: BanAttribution[];
  /** Everyone holding it now, each until its own end (lib/holds.ts); `unknown` for an older worker's ban. */
  holders: Holder[];
  /** For `show`: how the network relates to the one asked about. */
  relation?: 'exact' | 'covers' | 'inside';
}

export interface BansResult {
  target: string;
  namespace: string;
  registry: string;
  at: string;
  /** Active bans in the registry (all of them, even when `bans` is cut). */
  total: number;
  bans: BanView[];
  truncated: boolean;
  /** `show`: the canonical network asked about. */
  query?: string;
}

export type CheckState = 'ok' | 'warn' | 'fail' | 'skip';

export interface CheckRow {
  check: string;
  state: CheckState;
  detail: string;
}

export interface TargetCheckResult {
  target: string;
  /** Host name of the worker that ran the checks. */
  worker: string;
  at: string;
  /** Every check ok or skipped (a warning is not ok: see README, `target check`). */
  ok: boolean;
  checks: CheckRow[];
  readers?: ReaderInfo;
  /** Shared containment in force and its holders, as the worker read them (absent from older workers). */
  holds?: HoldView[];
  /** The holds judged against Temporal by the front door: orphaned ones will never be released. */
  judgedHolds?: JudgedHold[];
}

/** Progress callbacks of an intent that declares an incident and follows it. */
export interface FollowOptions {
  /** Called once the incident is started, or found open by its dedup key. */
  onDeclared?: (declared: DeclareResult) => void;
  onChange?: (s: IncidentStatus) => void;
  timeoutMs?: number;
}

/** Where a followed intent stopped: the incident, its status, and the step doing the intent's action. */
export interface IntentOutcome {
  declared: DeclareResult;
  status: IncidentStatus;
  step: StepStatus | undefined;
}
