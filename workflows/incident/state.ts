/**
 * The incident's shared mutable state as one object: the status it reports, step
 * outputs, the undo stack and the flags handlers set for the main flow. The
 * rooms beside it (gates, scheduler, undo, checklists, gdpr) take it as their
 * first argument; the abort and note updates live here because they only touch it.
 */
import * as wf from '@temporalio/workflow';
import type { RefContext } from '../../lib/runbook/refs.js';
import { PHASES, type RunbookDoc, type StepSpec } from '../../lib/runbook/types.js';
import { SA, type AbortInput, type IncidentInput, type IncidentState, type IncidentStatus, type NoteInput, type StepStatus, type TimelineEntry } from '../definitions.js';
import { participantProblem, refuse } from './authz.js';

/** What undoes a step's effect, kept until it runs (abort, all-clear) or a later step lifts it. */
export interface UndoEntry {
  stepId: string;
  action: string;
  args: Record<string, unknown>;
  liftOnResolve: boolean;
}

const CLOSED: readonly IncidentState[] = ['aborted', 'completed', 'rejected'];

export class IncidentRun {
  readonly doc: RunbookDoc;
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
  /** A state the main flow pins (blocked, awaiting-resolve…); otherwise derived from gates. */
  pinned: IncidentState | undefined;
  private lastSearchState = '';

  constructor(readonly input: IncidentInput) {
    this.doc = input.runbook.doc;
    const steps: StepStatus[] = [];
    for (const phase of PHASES) {
      for (const spec of this.doc.phases[phase]) {
        this.specs.set(spec.id, spec);
        steps.push({ id: spec.id, phase, action: spec.action, state: 'pending' });
      }
    }
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

  /** Workflow time (deterministic), ISO. */
  now(): string {
    return new Date().toISOString();
  }

  note(entry: Omit<TimelineEntry, 'at'>): void {
    this.status.timeline.push({ at: this.now(), ...entry });
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
    if (pinned && CLOSED.includes(pinned)) status.state = pinned;
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
      incident: { id: input.incidentId, target: input.target, mode: input.mode, severity: input.severity, declaredBy: input.declaredBy.user, capabilities: input.capabilities ?? [] },
    };
  }

  /** Containment still in force, as the status lists it. */
  syncContainment(): void {
    this.status.activeContainment = this.undoStack.map((u) => u.stepId);
  }

  declaredNote(): void {
    const { declaredBy, severity, mode, target } = this.input;
    this.note({ kind: 'declared', by: declaredBy.user, message: `${declaredBy.user}@${declaredBy.host} declared a ${severity} ${this.doc.name} incident (${mode}, target ${target}) via ${declaredBy.via}` });
  }

  // ---- the abort and note updates -------------------------------------------

  validateAbort(req: AbortInput): void {
    if (this.aborting || CLOSED.includes(this.status.state)) throw new Error(`incident is already ${this.status.state}`);
    refuse(participantProblem(this.input, req.actor, 'abort'));
    if (!req.reason.trim()) throw new Error('abort needs a reason');
  }

  abort(req: AbortInput): IncidentState {
    this.aborting = true;
    this.status.abortReason = req.reason;
    this.note({ kind: 'abort', by: req.actor.user, message: `abort requested by ${req.actor.user}: ${req.reason}` });
    this.refresh();
    return this.status.state;
  }

  validateNote(req: NoteInput): void {
    refuse(participantProblem(this.input, req.actor, 'add notes to'));
    if (!req.text.trim()) throw new Error('a note needs text');
    if (req.text.length > 4000) throw new Error('a note is limited to 4000 characters');
  }

  addNote(req: NoteInput): number {
    this.note({ kind: 'note', by: req.actor.user, message: req.text });
    return this.status.timeline.length;
  }
}
