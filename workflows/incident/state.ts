/**
 * The incident's shared mutable state as one object: the status it reports, step
 * outputs, the undo stack and the flags handlers set for the main flow. The
 * rooms beside it (gates, scheduler, undo, checklists, gdpr) take it as their
 * first argument; the abort and note updates live here because they only touch it.
 */
import * as wf from '@temporalio/workflow';
import type { Registry } from '../../lib/identity/registry.js';
import type { SignedStatement } from '../../lib/identity/verify.js';
import { applyFloors } from '../../lib/policy/floors.js';
import type { IncidentPolicy } from '../../lib/policy/types.js';
import type { StepProblem } from '../../lib/runbook/plan.js';
import { maskSensitive, sensitiveValues } from '../../lib/runbook/sensitive.js';
import type { RefContext } from '../../lib/runbook/refs.js';
import { PHASES, type RunbookDoc, type StepSpec } from '../../lib/runbook/types.js';
import { SA, type AbortInput, type GateStatus, type IncidentInput, type IncidentState, type IncidentStatus, type NoteInput, type StepStatus, type TimelineEntry } from '../definitions.js';
import { HISTORY_GUARD_EVENTS, jsonUtf8Bytes, noteBudgetProblem, RECENT_TIMELINE, textProblem, type NoteTally } from '../../lib/limits.js';
import { participantProblem, refuse, type Roster } from './authz.js';
import type { AuditTrail } from './audit.js';
import { checkDecision, takeDecision, type Decider } from './identity.js';
import type { NotifyEventKind } from '../notify-definitions.js';

/** Where events for the incident channel go (./notify.ts); absent when notifications are off. */
export interface EventSink {
  post(kind: NotifyEventKind, text: string, extra?: EventExtra): void;
}

/** A link shown with an event; the gate an event is about (posted with its buttons). */
export interface EventExtra {
  url?: string;
  gate?: GateStatus;
}

/** What undoes a step's effect, kept until it runs (abort, all-clear) or a later step lifts it. */
export interface UndoEntry {
  stepId: string;
  action: string;
  args: Record<string, unknown>;
  liftOnResolve: boolean;
}

const CLOSED: readonly IncidentState[] = ['aborted', 'completed', 'rejected'];

export class IncidentRun {
  doc: RunbookDoc;
  readonly specs = new Map<string, StepSpec>();
  readonly status: IncidentStatus;
  /** Step outputs, referenced as `steps.<id>.output`. */
  readonly outputs: Record<string, { output?: unknown }> = {};
  /** What is in force and how to undo it, oldest first. */
  readonly undoStack: UndoEntry[] = [];
  /** Set by the abort update; every wait ends on it. */
  aborting = false;
  /** Set by retry and override; a blocked wait ends on it. */
  retryRequested = false;
  /** An abort whose undo failed waits for retry (the state reads blocked, not aborting). */
  abortBlocked = false;
  /** Who closed a blocked abort without lifting what is still in force (a second abort). */
  gaveUpBy: string | undefined;
  /** Retries taken (lib/limits.ts RETRY_LIMIT). */
  retries = 0;
  /** A state the main flow pins (blocked, awaiting-resolve…); otherwise derived from gates. */
  pinned: IncidentState | undefined;
  /** The worker's policy (absent in histories from before it: those replay as they ran). */
  policy: IncidentPolicy | undefined;
  /** The registry decisions are verified against: the policy's, re-read at each gate. */
  registry: Registry = { responders: [], services: [] };
  /** True until the policy is in: updates are refused, never judged without it. */
  loadingPolicy = false;
  /** The worker's argument pre-flight, when it came with the policy (else validateIncidentArgs runs). */
  preflight: StepProblem[] | undefined;
  /** Nonces of the decisions taken: a statement counts once. */
  readonly nonces = new Set<string>();
  /** Who asked to abort (a drill robot on a drill target may roll back at once). */
  abortedBy: Decider | undefined;
  /** The incident channel's event queue, when the worker's policy turned notifications on. */
  notifier: EventSink | undefined;
  /** The audit trail, under a worker that keeps one (workflows/incident/audit.ts). */
  audit: AuditTrail | undefined;
  /** Each step's resolved arguments, for the audit trail. */
  readonly stepArgs = new Map<string, Record<string, unknown>>();
  /** Child workflows started that outlive the incident (ban expiries), for the archive. */
  readonly children: string[] = [];
  private lastSearchState = '';
  /** Notes added, per person and in all: each has a budget (lib/limits.ts). */
  private readonly noteTally = new Map<string, NoteTally>();
  private readonly allNotes: NoteTally = { count: 0, bytes: 0 };

  constructor(readonly input: IncidentInput) {
    this.doc = input.runbook.doc;
    const steps = this.loadSteps();
    this.status = {
      id: input.incidentId,
      runbook: { name: this.doc.name, title: this.doc.title, sha256: input.runbook.sha256, file: input.runbook.file },
      mode: input.mode,
      severity: input.severity,
      target: input.target,
      state: 'running',
      phase: 'detection',
      declaredBy: input.declaredBy,
      declaredAt: input.declaredAt,
      summary: input.summary,
      steps,
      gates: [],
      timeline: [],
      activeContainment: [],
      checklists: [],
    };
  }

  private loadSteps(): StepStatus[] {
    const steps: StepStatus[] = [];
    this.specs.clear();
    for (const phase of PHASES) {
      for (const spec of this.doc.phases[phase]) {
        this.specs.set(spec.id, spec);
        steps.push({ id: spec.id, phase, action: spec.action, state: 'pending' });
      }
    }
    return steps;
  }

  /**
   * Run under the worker's policy: its runbook (with the target's gate floors, and one more
   * human at every gate of an incident a service declared), its approver groups and registry,
   * and the declarer it verified.
   */
  adopt(policy: IncidentPolicy): void {
    this.policy = policy;
    this.registry = policy.registry;
    this.doc = applyFloors(policy.runbook.doc, policy.gates, policy.declarer.via === 'service');
    const status = this.status;
    status.steps = this.loadSteps();
    status.runbook = { name: this.doc.name, title: this.doc.title, sha256: policy.runbook.sha256, file: policy.runbook.file };
    status.declaredBy = { ...this.input.declaredBy, user: policy.declarer.responder };
    status.identity = { authenticated: policy.authenticated, declarer: policy.declarer };
    if (policy.declaration) this.nonces.add(policy.declaration.statement.nonce);
  }

  /** The people of the incident: the worker's (policy) or, replaying an older history, its input's. */
  roster(): Roster {
    const p = this.policy;
    if (p) return { declaredBy: this.status.declaredBy, approvers: p.approvers, approversSource: p.approversSource };
    return { declaredBy: this.input.declaredBy, approvers: this.input.approvers ?? {}, approversSource: this.input.approversSource };
  }

  /** What a mutating activity re-checks on the worker: the declaration and, for a gate, its signed votes. */
  authz(gateId?: string): { declaration?: SignedStatement; votes?: SignedStatement[] } | undefined {
    if (!this.policy?.authenticated) return undefined;
    const gate = gateId === undefined ? undefined : this.status.gates.find((g) => g.id === gateId && g.state === 'approved');
    const votes = gate?.approvals.flatMap((v) => (v.signed ? [v.signed] : []));
    return { declaration: this.policy.declaration, ...(votes && { votes }) };
  }

  /** What the status query answers: everything but the timeline, of which the newest entries (and how many there are). */
  view(): IncidentStatus {
    const { timeline } = this.status;
    const recent = timeline.length <= RECENT_TIMELINE ? timeline : timeline.slice(-RECENT_TIMELINE);
    const a = this.audit;
    const audit = a && { entries: a.size, ...(a.last && { checkpoint: { size: a.last.size, head: a.last.head, at: a.last.at, signed: a.last.signature !== null } }), ...(a.problem && { problem: a.problem }) };
    return this.shown({ ...this.status, timeline: recent, timelineTotal: timeline.length, ...(audit && { audit }) });
  }

  /** `value` as shown outside the encrypted payloads Firebreak acts with: sensitive parameter values as fingerprints. */
  shown<T>(value: T): T {
    return maskSensitive(value, sensitiveValues(this.doc, this.input.params));
  }

  /** Near Temporal's history limit: escalations, reminders, notes and retries stop; decisions still count. */
  historyFull(): boolean {
    return wf.workflowInfo().historyLength >= HISTORY_GUARD_EVENTS;
  }

  /** Workflow time (deterministic), ISO. */
  now(): string {
    return new Date().toISOString();
  }

  note(entry: Omit<TimelineEntry, 'at'>): void {
    const full = { at: this.now(), ...entry };
    this.status.timeline.push(full);
    this.audit?.timeline(full);
  }

  /** An event for the incident channel (never waits: queued for ./notify.ts). */
  event(kind: NotifyEventKind, text: string, extra?: EventExtra): void {
    this.notifier?.post(kind, text, extra);
  }

  step(id: string): StepStatus {
    return this.status.steps.find((s) => s.id === id) as StepStatus;
  }

  spec(id: string): StepSpec {
    return this.specs.get(id) as StepSpec;
  }

  /** Derive the state from the pin, the abort flag and the gates; upsert the search attributes when it changed. */
  refresh(): void {
    const status = this.status;
    const pinned = this.pinned;
    if (pinned && (CLOSED.includes(pinned) || pinned === 'rolling-back')) status.state = pinned;
    else if (this.abortBlocked) status.state = 'blocked';
    else if (this.aborting) status.state = 'aborting';
    else if (pinned) status.state = pinned;
    else status.state = status.gates.some((g) => g.state === 'open') ? 'awaiting-approval' : 'running';
    const key = `${status.phase}|${status.state}`;
    if (key !== this.lastSearchState) {
      this.lastSearchState = key;
      wf.upsertSearchAttributes([
        { key: SA.phase, value: status.phase },
        { key: SA.state, value: status.state },
      ]);
    }
  }

  pin(state: IncidentState | undefined): void {
    this.pinned = state;
    this.refresh();
  }

  /** What `{{ }}` references and `when:` conditions resolve against now. */
  refContext(): RefContext {
    const input = this.input;
    return {
      params: input.params,
      steps: this.outputs,
      incident: { id: input.incidentId, target: input.target, mode: input.mode, severity: input.severity, declaredBy: this.status.declaredBy.user, capabilities: input.capabilities ?? [] },
    };
  }

  /** Containment still in force, as the status lists it. */
  syncContainment(): void {
    this.status.activeContainment = this.undoStack.map((u) => u.stepId);
  }

  declaredNote(): void {
    const { severity, mode, target } = this.input;
    const declaredBy = this.status.declaredBy;
    const identity = this.status.identity;
    const how = !identity ? '' : identity.authenticated ? `, signed with ${identity.declarer.keyId ?? '?'} (${identity.declarer.via})` : ' — UNAUTHENTICATED: development target, nothing is signed';
    this.note({ kind: 'declared', by: declaredBy.user, message: `${declaredBy.user}@${declaredBy.host} declared a ${severity} ${this.doc.name} incident (${mode}, target ${target}) via ${declaredBy.via}${how}` });
  }

  // ---- the abort and note updates -------------------------------------------

  validateAbort(req: AbortInput): void {
    // A second abort while the first is blocked on a failed undo gives up on lifting (recorded).
    if (!this.abortBlocked && (this.aborting || CLOSED.includes(this.status.state))) throw new Error(`incident is already ${this.status.state}`);
    if (typeof req.reason !== 'string' || !req.reason.trim()) throw new Error('abort needs a reason');
    refuse(textProblem('reason', req.reason, 'an abort reason'));
    const { actor, via } = checkDecision(this, req, { kind: 'abort', reason: req.reason });
    if (via !== 'drill-robot') refuse(participantProblem(this.roster(), actor, 'abort'));
  }

  abort(req: AbortInput): IncidentState {
    const decider = takeDecision(this, req, 'abort');
    if (this.abortBlocked) {
      this.gaveUpBy = decider.actor.user;
      this.note({ kind: 'abort', by: decider.actor.user, message: `${decider.actor.user} gave up lifting ${this.undoStack.map((u) => u.stepId).join(', ')}: ${req.reason}` });
      return this.status.state;
    }
    this.abortedBy = decider;
    this.aborting = true;
    this.status.abortReason = req.reason;
    this.note({ kind: 'abort', by: decider.actor.user, message: `abort requested by ${decider.actor.user}: ${req.reason}` });
    this.refresh();
    return this.status.state;
  }

  validateNote(req: NoteInput): void {
    if (typeof req.text !== 'string' || !req.text.trim()) throw new Error('a note needs text');
    refuse(textProblem('note', req.text, 'a note'));
    if (this.historyFull()) refuse(`this incident's history is near Temporal's limit (${HISTORY_GUARD_EVENTS} events): notes are no longer taken; decisions still are`);
    const { actor, via } = checkDecision(this, req, { kind: 'note', text: req.text });
    if (via !== 'drill-robot') refuse(participantProblem(this.roster(), actor, 'add notes to'));
    refuse(noteBudgetProblem(this.tallyOf(actor.user), this.allNotes, jsonUtf8Bytes(req.text)));
  }

  addNote(req: NoteInput): number {
    const { actor } = takeDecision(this, req, 'note');
    const bytes = jsonUtf8Bytes(req.text);
    const mine = this.tallyOf(actor.user);
    this.noteTally.set(actor.user, { count: mine.count + 1, bytes: mine.bytes + bytes });
    this.allNotes.count += 1;
    this.allNotes.bytes += bytes;
    this.note({ kind: 'note', by: actor.user, message: req.text });
    return this.status.timeline.length;
  }

  private tallyOf(user: string): NoteTally {
    return this.noteTally.get(user) ?? { count: 0, bytes: 0 };
  }
}
