/**
 * IncidentWorkflow: walks one incident through phases I–IV of the runbook
 * snapshot it was started with. The workflow decides; activities act.
 */
import * as wf from '@temporalio/workflow';
import type { createActivities } from '../activities/index.js';
import { actionSpec, type ActionSpec, type ActivityActionSpec } from '../lib/actions.js';
import { argsHash } from '../lib/canonical.js';
import { evalExpr, parseExpr } from '../lib/runbook/expr.js';
import { planSteps } from '../lib/runbook/plan.js';
import { resolveRefs } from '../lib/runbook/refs.js';
import { PHASES, PHASE_TITLES, type PhaseName, type StepSpec } from '../lib/runbook/types.js';
import {
  abortUpdate,
  approveUpdate,
  confirmItemUpdate,
  FailureTypes,
  markPersonalDataUpdate,
  overrideUpdate,
  waiveItemUpdate,
  noteUpdate,
  resolveUpdate,
  retryUpdate,
  SA,
  statusQuery,
  type AbortInput,
  type ActionInput,
  type ActionResult,
  type Actor,
  type ApproveInput,
  type ChecklistInput,
  type ChecklistStatus,
  type GateStatus,
  type OverrideInput,
  type PersonalDataInput,
  type IncidentInput,
  type IncidentState,
  type IncidentStatus,
  type NoteInput,
  type ResolveInput,
  type RetryInput,
  type StepStatus,
  type TimelineEntry,
} from './definitions.js';
import { addVote, isParticipant, voteProblem } from './gates.js';
import { ExpiryWorkflow, type ExpiryInput } from './expiry.js';
import { GDPR_DEADLINE_HOURS, GdprDeadlineWorkflow, gdprWorkflowId } from './notice.js';

type Activities = ReturnType<typeof createActivities>;
type ActionFn = (input: ActionInput) => Promise<ActionResult>;

interface UndoEntry {
  stepId: string;
  action: string;
  args: Record<string, unknown>;
  liftOnResolve: boolean;
}

const DEFAULT_ATTEMPTS = 5;

export async function IncidentWorkflow(input: IncidentInput): Promise<IncidentStatus> {
  const doc = input.runbook.doc;
  const now = (): string => new Date().toISOString();
  const specs = new Map<string, StepSpec>();
  const steps: StepStatus[] = [];
  for (const phase of PHASES) {
    for (const spec of doc.phases[phase]) {
      specs.set(spec.id, spec);
      steps.push({ id: spec.id, phase, action: spec.action, state: 'pending' });
    }
  }
  const status: IncidentStatus = {
    id: input.incidentId,
    runbook: { name: doc.name, title: doc.title, sha256: input.runbook.sha256, file: input.runbook.file },
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
  const outputs: Record<string, { output?: unknown }> = {};
  const undoStack: UndoEntry[] = [];
  let aborting = false;
  let retryRequested = false;
  /** A state the main flow pins (blocked, awaiting-resolve…); otherwise derived from gates. */
  let pinned: IncidentState | undefined;
  let lastSearchState = '';

  const stepOf = (id: string): StepStatus => steps.find((s) => s.id === id) as StepStatus;
  const note = (entry: Omit<TimelineEntry, 'at'>): void => {
    status.timeline.push({ at: now(), ...entry });
  };

  function refreshState(): void {
    if (pinned === 'aborted' || pinned === 'completed' || pinned === 'rejected') status.state = pinned;
    else if (aborting) status.state = 'aborting';
    else if (pinned) status.state = pinned;
    else status.state = status.gates.some((g) => g.state === 'open') ? 'awaiting-approval' : 'running';
    const key = `${status.phase}|${status.state}`;
    if (key !== lastSearchState) {
      lastSearchState = key;
      wf.upsertSearchAttributes([
        { key: SA.phase, value: status.phase },
        { key: SA.state, value: status.state },
      ]);
    }
  }

  // ---- queries and updates -------------------------------------------------
  wf.setHandler(statusQuery, () => status);

  wf.setHandler(
    approveUpdate,
    (req) => {
      const gate = status.gates.find((g) => g.id === req.gate && g.state === 'open');
      addVote(gate as GateStatus, req.actor, now());
      note({ kind: 'approval', by: req.actor.user, step: req.gate, message: `${req.actor.user}@${req.actor.host} approved ${req.gate}${req.comment ? `: ${req.comment}` : ''}` });
      refreshState();
      return gate as GateStatus;
    },
    {
      validator: (req: ApproveInput) => {
        const gate = status.gates.find((g) => g.id === req.gate && g.state === 'open');
        const problem = voteProblem(input, gate, req.gate, req.actor, req.argsHash);
        if (problem) throw new Error(problem);
      },
    },
  );

  wf.setHandler(
    resolveUpdate,
    (req) => {
      const gate = status.gates.find((g) => g.id === 'resolve' && g.state === 'open') as GateStatus;
      addVote(gate, req.actor, now());
      note({ kind: 'resolve', by: req.actor.user, message: `${req.actor.user} gave the all-clear${req.comment ? `: ${req.comment}` : ''}` });
      refreshState();
      return gate;
    },
    {
      validator: (req: ResolveInput) => {
        if (status.state !== 'awaiting-resolve') {
          throw new Error(`resolve is accepted once phases I–III are done and containment is in force (now: phase ${status.phase}, state ${status.state}); use abort to roll back instead`);
        }
        const gate = status.gates.find((g) => g.id === 'resolve' && g.state === 'open');
        const problem = voteProblem(input, gate, 'resolve', req.actor);
        if (problem) throw new Error(problem);
      },
    },
  );

  wf.setHandler(
    abortUpdate,
    (req) => {
      aborting = true;
      status.abortReason = req.reason;
      note({ kind: 'abort', by: req.actor.user, message: `abort requested by ${req.actor.user}: ${req.reason}` });
      refreshState();
      return status.state;
    },
    {
      validator: (req: AbortInput) => {
        if (aborting || status.state === 'aborted' || status.state === 'completed' || status.state === 'rejected') throw new Error(`incident is already ${status.state}`);
        requireParticipant(req.actor, 'abort');
        if (!req.reason.trim()) throw new Error('abort needs a reason');
      },
    },
  );

  wf.setHandler(
    noteUpdate,
    (req) => {
      note({ kind: 'note', by: req.actor.user, message: req.text });
      return status.timeline.length;
    },
    {
      validator: (req: NoteInput) => {
        requireParticipant(req.actor, 'add notes to');
        if (!req.text.trim()) throw new Error('a note needs text');
        if (req.text.length > 4000) throw new Error('a note is limited to 4000 characters');
      },
    },
  );

  wf.setHandler(
    retryUpdate,
    (req) => {
      retryRequested = true;
      note({ kind: 'retry', by: req.actor.user, message: `${req.actor.user} asked to retry the failed steps` });
      return steps.filter((s) => s.state === 'failed' || s.state === 'cancelled').map((s) => s.id);
    },
    {
      validator: (req: RetryInput) => {
        if (status.state !== 'blocked') throw new Error(`nothing to retry: the incident is ${status.state}`);
        requireParticipant(req.actor, 'retry steps of');
      },
    },
  );

  const checklistItem = (req: ChecklistInput) => {
    const list = status.checklists.find((c) => c.step === req.step);
    if (!list) throw new Error(`no checklist on step "${req.step}" (checklists: ${status.checklists.map((c) => c.step).join(', ') || 'none'})`);
    const item = list.items.find((i) => i.name === req.item);
    if (!item) throw new Error(`checklist ${req.step} has no item "${req.item}" (items: ${list.items.map((i) => i.name).join(', ')})`);
    if (item.state !== 'open') throw new Error(`${req.item} is already ${item.state} by ${item.by ?? '?'}`);
    return { list, item };
  };
  const requireApprover = (actor: Actor, what: string): void => {
    if (actor.user === input.declaredBy.user) throw new Error(`two-person rule: ${actor.user} declared this incident and cannot ${what}`);
    if (!Object.values(input.approvers).some((m) => m.includes(actor.user))) throw new Error(`${actor.user} is not an approver, so cannot ${what} (configure approvers.groups.<group> in ${input.approversSource && input.approversSource !== 'defaults' ? input.approversSource : 'firebreak.yaml'})`);
  };

  wf.setHandler(
    confirmItemUpdate,
    (req: ChecklistInput) => {
      const { list, item } = checklistItem(req);
      Object.assign(item, { state: 'confirmed', by: req.actor.user, at: now(), note: req.note });
      note({ kind: 'approval', by: req.actor.user, step: req.step, message: `${req.actor.user} confirmed ${req.item} rotated${req.note ? `: ${req.note}` : ''}` });
      return list;
    },
    {
      validator: (req: ChecklistInput) => {
        checklistItem(req);
        requireParticipant(req.actor, 'confirm checklist items of');
      },
    },
  );

  wf.setHandler(
    waiveItemUpdate,
    (req: ChecklistInput) => {
      const { list, item } = checklistItem(req);
      Object.assign(item, { state: 'waived', by: req.actor.user, at: now(), note: req.note });
      note({ kind: 'approval', by: req.actor.user, step: req.step, message: `${req.actor.user} WAIVED ${req.item}: ${req.note ?? ''}` });
      return list;
    },
    {
      validator: (req: ChecklistInput) => {
        checklistItem(req);
        requireApprover(req.actor, 'waive checklist items');
        if (!req.note?.trim()) throw new Error('a waiver needs a reason');
      },
    },
  );

  wf.setHandler(
    overrideUpdate,
    (req: OverrideInput) => {
      const st = stepOf(req.step);
      st.state = 'overridden';
      st.summary = `overridden by ${req.actor.user}: ${req.reason}`;
      note({ kind: 'approval', by: req.actor.user, step: req.step, message: `${req.actor.user} OVERRODE the failure of ${req.step} (${st.error ?? ''}): ${req.reason}` });
      retryRequested = true;
      return st;
    },
    {
      validator: (req: OverrideInput) => {
        const st = steps.find((x) => x.id === req.step);
        if (!st) throw new Error(`no step "${req.step}"`);
        if (st.state !== 'failed') throw new Error(`step ${req.step} is ${st.state}; only a failed step can be overridden`);
        if (!actionSpec(st.action)?.overridable) throw new Error(`a failure of ${st.action} cannot be overridden (retry it or abort)`);
        requireApprover(req.actor, 'override failed steps');
        if (!req.reason.trim()) throw new Error('an override needs a reason');
      },
    },
  );

  /** Start the GDPR clock (live mode); drills and dry-runs only say when it would end. */
  async function startGdprClock(awareAt: string, highRisk: boolean, by: string): Promise<NonNullable<IncidentStatus['notice']>> {
    const deadline = new Date(Date.parse(awareAt) + GDPR_DEADLINE_HOURS * 3600_000).toISOString();
    const workflowId = gdprWorkflowId(input.incidentId);
    status.notice = { workflowId, awareAt, deadline, highRisk, markedBy: by };
    if (input.mode !== 'live') {
      note({ kind: 'note', message: `personal data affected: the GDPR Art. 33 notice would be due by ${deadline} (${input.mode}: no clock started)` });
      return status.notice;
    }
    await wf.startChild(GdprDeadlineWorkflow, {
      workflowId,
      args: [{ incidentId: input.incidentId, awareAt, highRisk, declaredBy: input.declaredBy, approvers: input.approvers }],
      parentClosePolicy: 'ABANDON',
    });
    note({ kind: 'note', by, message: `personal data affected: GDPR Art. 33 notice due by ${deadline}${highRisk ? ' (high risk: Art. 34 notice to data subjects too)' : ''}; clock ${workflowId}` });
    return status.notice;
  }

  wf.setHandler(
    markPersonalDataUpdate,
    async (req: PersonalDataInput) => startGdprClock(req.awareAt ?? input.declaredAt, Boolean(req.highRisk), req.actor.user),
    {
      validator: (req: PersonalDataInput) => {
        requireParticipant(req.actor, 'mark personal data on');
        if (status.notice) throw new Error(`personal data is already marked; the notice is due by ${status.notice.deadline}`);
        if (req.awareAt !== undefined && Number.isNaN(Date.parse(req.awareAt))) throw new Error(`"${req.awareAt}" is not an ISO time`);
      },
    },
  );

  function requireParticipant(actor: Actor, what: string): void {
    if (!isParticipant(input, actor)) throw new Error(`${actor.user} is neither the declarer nor an approver, so cannot ${what} this incident`);
  }

  // ---- steps ---------------------------------------------------------------
  function activityFor(spec: StepSpec, action: ActivityActionSpec): ActionFn {
    const acts = wf.proxyActivities<Activities>({
      startToCloseTimeout: spec.timeoutMs ?? action.timeoutMs,
      heartbeatTimeout: action.heartbeatTimeoutMs,
      retry: {
        maximumAttempts: spec.retry?.maximumAttempts ?? DEFAULT_ATTEMPTS,
        initialInterval: spec.retry?.initialIntervalMs ?? 500,
        maximumInterval: spec.retry?.maximumIntervalMs ?? 10_000,
        backoffCoefficient: spec.retry?.backoffCoefficient ?? 2,
        nonRetryableErrorTypes: [FailureTypes.BadInput, FailureTypes.Refused],
      },
    });
    return (acts as unknown as Record<string, ActionFn>)[action.activity] as ActionFn;
  }

  const checkActs = wf.proxyActivities<Activities>({
    startToCloseTimeout: '2 minutes',
    retry: { maximumAttempts: 5, initialInterval: 500, maximumInterval: 10_000, nonRetryableErrorTypes: [FailureTypes.BadInput, FailureTypes.Refused] },
  });

  /** Every step's known arguments checked on the worker before anything acts; the rejected status, or undefined to go on. */
  async function rejectInvalidArgs(): Promise<IncidentStatus | undefined> {
    const incident = refContext().incident;
    const plan = planSteps(doc, { params: input.params, incident });
    const problems = [...plan.problems];
    try {
      problems.push(...(await checkActs.validateIncidentArgs({ incidentId: input.incidentId, target: input.target, mode: input.mode, steps: plan.steps })).problems);
    } catch (err) {
      problems.push({ step: '-', action: '-', message: `the worker could not validate the arguments: ${failureMessage(err)}` });
    }
    if (!problems.length) return undefined;
    status.rejection = problems;
    for (const p of problems) {
      const st = steps.find((s) => s.id === p.step);
      if (st) st.error = st.error ? `${st.error}; ${p.message}` : p.message;
    }
    note({ kind: 'declared', by: input.declaredBy.user, message: `${input.declaredBy.user}@${input.declaredBy.host} declared a ${input.severity} ${doc.name} incident (${input.mode}, target ${input.target}) via ${input.declaredBy.via}` });
    note({ kind: 'completed', message: `incident rejected before any step ran, nothing was done: ${problems.length} problem(s): ${problems.map((p) => `${p.step}: ${p.message}`).join('; ')}` });
    status.phase = 'done';
    pinned = 'rejected';
    refreshState();
    await wf.condition(wf.allHandlersFinished);
    return status;
  }

  function refContext() {
    return {
      params: input.params,
      steps: outputs,
      incident: { id: input.incidentId, target: input.target, mode: input.mode, severity: input.severity, declaredBy: input.declaredBy.user, capabilities: input.capabilities ?? [] },
    };
  }

  async function waitForGate(spec: StepSpec, args: Record<string, unknown>): Promise<boolean> {
    const approval = spec.approval;
    if (!approval) return true;
    const hash = argsHash(spec.action, args);
    const earlier = status.gates.find((g) => g.id === spec.id && g.state === 'approved' && g.argsHash === hash);
    if (earlier) return true; // a retried step keeps the approval of identical arguments
    status.gates = status.gates.filter((g) => !(g.id === spec.id && g.state === 'open'));
    const gate: GateStatus = { id: spec.id, group: approval.group, required: approval.count, approvals: [], argsHash: hash, args, openedAt: now(), escalations: 0, state: 'open' };
    status.gates.push(gate);
    stepOf(spec.id).state = 'awaiting-approval';
    note({ kind: 'gate', step: spec.id, message: `${spec.id} waits for ${approval.count} approval(s) from group ${approval.group}` });
    refreshState();
    while (gate.state === 'open' && !aborting) {
      const decided = await wf.condition(() => gate.state !== 'open' || aborting, approval.escalateAfterMs);
      if (!decided) escalate(gate);
    }
    if (gate.state !== 'approved') {
      gate.state = 'cancelled';
      refreshState();
      return false;
    }
    note({ kind: 'gate', step: spec.id, message: `${spec.id} approved by ${gate.approvals.map((v) => v.by).join(', ')}` });
    refreshState();
    return true;
  }

  function escalate(gate: GateStatus): void {
    gate.escalations += 1;
    const waiting = gate.required - gate.approvals.length;
    const message = `gate ${gate.id} still needs ${waiting} approval(s) from ${gate.group} (escalation ${gate.escalations})`;
    note({ kind: 'escalation', step: gate.id, message });
    wf.log.warn(message, { incidentId: input.incidentId, gate: gate.id, escalations: gate.escalations });
  }

  async function runStep(spec: StepSpec): Promise<boolean> {
    const st = stepOf(spec.id);
    st.error = undefined;
    if (aborting) {
      st.state = 'cancelled';
      return false;
    }
    const fail = (message: string): boolean => {
      st.state = 'failed';
      st.error = message;
      st.endedAt = now();
      note({ kind: 'step', step: spec.id, message: `${spec.id} failed: ${message}` });
      return false;
    };
    let args: Record<string, unknown>;
    try {
      if (spec.when && !evalExpr(parseExpr(spec.when), refContext())) {
        st.state = 'skipped';
        st.summary = `skipped: condition \`${spec.when}\` does not hold`;
        note({ kind: 'step', step: spec.id, message: `${spec.id} skipped: condition \`${spec.when}\` does not hold` });
        return true;
      }
      args = resolveRefs(spec.with, refContext()) as Record<string, unknown>;
    } catch (err) {
      return fail((err as Error).message);
    }
    const action = actionSpec(spec.action) as ActionSpec;
    const gateNotes: string[] = [];
    let approvedHash: string | undefined;
    if (spec.approval && input.mode === 'dry-run') {
      gateNotes.push(`would wait for ${spec.approval.count} approval(s) from group ${spec.approval.group}`);
    } else if (spec.approval && !action.human && wf.patched('effective-args')) {
      // Approvers see (and approve) what the step will act with, config-derived values included.
      let effective: Record<string, unknown>;
      try {
        effective = await checkActs.effectiveStepArgs({ target: input.target, action: spec.action, args });
      } catch (err) {
        return fail(failureMessage(err));
      }
      if (!(await waitForGate(spec, effective))) {
        st.state = 'cancelled';
        return false;
      }
      approvedHash = argsHash(spec.action, effective);
    } else if (!(await waitForGate(spec, args))) {
      st.state = 'cancelled';
      return false;
    }
    if (action.human) return runChecklist(spec, st, args);
    st.state = 'running';
    st.startedAt = now();
    note({ kind: 'step', step: spec.id, message: `${spec.id} started (${spec.action})` });
    try {
      const result = await activityFor(spec, action)({
        incidentId: input.incidentId,
        stepId: spec.id,
        action: spec.action,
        target: input.target,
        mode: input.mode,
        args,
        requestedAt: st.startedAt,
        status: action.wantsStatus ? status : undefined,
        ...(approvedHash ? { approvedHash } : {}),
      });
      st.state = input.mode === 'dry-run' ? 'planned' : 'succeeded';
      st.summary = result.summary;
      st.proof = result.proof;
      st.plan = result.plan ? [...gateNotes, ...result.plan] : gateNotes.length ? gateNotes : undefined;
      st.endedAt = now();
      outputs[spec.id] = { output: result.output ?? {} };
      if (input.mode !== 'dry-run') {
        settle(spec);
        await scheduleExpiry(spec, action, result);
      }
      if (result.undo && input.mode !== 'dry-run' && action.reversible) {
        undoStack.push({ stepId: spec.id, action: result.undo.action, args: result.undo.args, liftOnResolve: action.liftOnResolve });
      }
      status.activeContainment = undoStack.map((u) => u.stepId);
      note({ kind: 'step', step: spec.id, message: `${spec.id} ${st.state}: ${result.summary}` });
      return true;
    } catch (err) {
      return fail(failureMessage(err));
    }
  }

  /** A human step: every item confirmed or waived; reminders on a durable timer meanwhile. */
  async function runChecklist(spec: StepSpec, st: StepStatus, args: Record<string, unknown>): Promise<boolean> {
    const names = Array.isArray(args.items) ? args.items.map(String) : [];
    if (!names.length) {
      st.state = 'failed';
      st.error = 'secrets.manual needs at least one item';
      return false;
    }
    st.startedAt = now();
    if (input.mode === 'dry-run') {
      st.state = 'planned';
      st.plan = names.map((n) => `would wait for ${n} to be rotated by hand and confirmed (or waived by an approver)`);
      st.endedAt = now();
      return true;
    }
    const minutes = typeof args.remind_every_minutes === 'number' && args.remind_every_minutes > 0 ? args.remind_every_minutes : 240;
    status.checklists = status.checklists.filter((c) => c.step !== spec.id);
    const list: ChecklistStatus = { step: spec.id, items: names.map((name) => ({ name, state: 'open' })), remindEveryMs: minutes * 60_000, reminders: 0 };
    status.checklists.push(list);
    st.state = 'running';
    st.summary = `waiting for ${names.length} item(s) to be rotated by hand: ${names.join(', ')}`;
    note({ kind: 'step', step: spec.id, message: `${spec.id}: rotate by hand and confirm: ${names.join(', ')}` });
    const open = () => list.items.filter((i) => i.state === 'open');
    while (open().length && !aborting) {
      if (!(await wf.condition(() => !open().length || aborting, list.remindEveryMs))) {
        list.reminders += 1;
        const message = `${spec.id}: still to rotate by hand: ${open().map((i) => i.name).join(', ')} (reminder ${list.reminders})`;
        note({ kind: 'escalation', step: spec.id, message });
        wf.log.warn(message, { incidentId: input.incidentId, step: spec.id });
      }
    }
    st.endedAt = now();
    if (aborting) {
      st.state = 'cancelled';
      return false;
    }
    const waived = list.items.filter((i) => i.state === 'waived');
    st.state = 'succeeded';
    st.summary = `${list.items.length - waived.length} confirmed${waived.length ? `, ${waived.length} waived (${waived.map((i) => `${i.name} by ${i.by}`).join(', ')})` : ''}`;
    outputs[spec.id] = { output: { items: list.items } };
    note({ kind: 'step', step: spec.id, message: `${spec.id} succeeded: ${st.summary}` });
    return true;
  }

  /** Things with an end date (bans) get a durable timer that outlives the incident. */
  async function scheduleExpiry(spec: StepSpec, action: ActionSpec, result: ActionResult): Promise<void> {
    const at = result.output?.expiresAt;
    if (!action.onExpiry || typeof at !== 'string') return;
    const expiry: ExpiryInput = { incidentId: input.incidentId, stepId: spec.id, target: input.target, mode: input.mode, action: action.onExpiry, args: {}, at };
    const child = await wf.startChild(ExpiryWorkflow, {
      workflowId: `${wf.workflowInfo().workflowId}-${spec.id}-expiry-${status.timeline.length}`,
      args: [expiry],
      parentClosePolicy: 'ABANDON',
    });
    note({ kind: 'step', step: spec.id, message: `${spec.id}: expiry timer ${child.workflowId} fires at ${at}` });
  }

  /** A step that runs an undo action itself (e.g. lockdown.disable in phase III) settles the pending undos of that action. */
  function settle(spec: StepSpec): void {
    const settled = undoStack.filter((u) => u.action === spec.action);
    if (!settled.length) return;
    for (const u of settled) undoStack.splice(undoStack.indexOf(u), 1);
    note({ kind: 'undo', step: spec.id, message: `${spec.id} (${spec.action}) lifted what ${settled.map((u) => u.stepId).join(', ')} had put in force` });
  }

  function needSatisfied(id: string): boolean {
    const st = stepOf(id);
    if (st.state === 'succeeded' || st.state === 'skipped' || st.state === 'planned' || st.state === 'overridden') return true;
    return st.state === 'failed' && Boolean(specs.get(id)?.continueOnError);
  }

  /** Run the given steps of a phase: concurrently, each after its `needs`. */
  async function runSteps(phase: PhaseName, ids: string[]): Promise<void> {
    const running = new Map<string, Promise<boolean>>();
    const run = (id: string): Promise<boolean> => {
      let p = running.get(id);
      if (!p) {
        const spec = specs.get(id) as StepSpec;
        p = (async () => {
          const needs = await Promise.all(spec.needs.map(async (n) => (ids.includes(n) ? (await run(n)) && needSatisfied(n) : needSatisfied(n))));
          if (!needs.every(Boolean)) {
            const st = stepOf(id);
            st.state = 'cancelled';
            st.error = `not run: it needs ${spec.needs.filter((n) => !needSatisfied(n)).join(', ')}`;
            return false;
          }
          return runStep(spec);
        })();
        running.set(id, p);
      }
      return p;
    };
    await Promise.all(ids.filter((id) => stepOf(id).phase === phase).map(run));
  }

  async function runPhase(phase: PhaseName): Promise<void> {
    status.phase = phase;
    note({ kind: 'phase', message: `${PHASE_TITLES[phase]} started` });
    refreshState();
    let ids = doc.phases[phase].map((s) => s.id);
    for (;;) {
      await runSteps(phase, ids);
      if (aborting) return;
      const blocking = doc.phases[phase].filter((s) => {
        const st = stepOf(s.id).state;
        return (st === 'failed' && !s.continueOnError) || st === 'cancelled';
      });
      if (!blocking.length) break;
      pinned = 'blocked';
      note({ kind: 'phase', message: `${PHASE_TITLES[phase]} blocked: ${blocking.map((s) => s.id).join(', ')} did not succeed; retry or abort` });
      refreshState();
      retryRequested = false;
      await wf.condition(() => retryRequested || aborting);
      pinned = undefined;
      refreshState();
      if (aborting) return;
      // Overridden steps are done; everything else that did not succeed runs again.
      ids = blocking.filter((s) => stepOf(s.id).state !== 'overridden').map((s) => s.id);
    }
    note({ kind: 'phase', message: `${PHASE_TITLES[phase]} done` });
  }

  /** Run undo entries newest first; a failed undo stays listed as active containment. */
  async function undo(entries: UndoEntry[], why: string): Promise<void> {
    for (const entry of [...entries].reverse()) {
      const spec = specs.get(entry.stepId) as StepSpec;
      const action = actionSpec(entry.action) as ActivityActionSpec;
      try {
        const result = await activityFor({ ...spec, timeoutMs: undefined }, action)({
          incidentId: input.incidentId,
          stepId: `${entry.stepId}.undo`,
          action: entry.action,
          target: input.target,
          mode: input.mode,
          args: entry.args,
          requestedAt: now(),
        });
        undoStack.splice(undoStack.indexOf(entry), 1);
        // The status says what the undo did; what the step had done stays in `effect` (and in the timeline).
        const st = stepOf(entry.stepId);
        st.state = 'undone';
        st.effect = st.summary;
        st.summary = result.summary;
        note({ kind: 'undo', step: entry.stepId, message: `${why}: ${entry.action} for ${entry.stepId}: ${result.summary}` });
      } catch (err) {
        note({ kind: 'undo', step: entry.stepId, message: `${why}: ${entry.action} for ${entry.stepId} FAILED: ${failureMessage(err)}` });
        wf.log.error('undo failed', { incidentId: input.incidentId, step: entry.stepId, action: entry.action });
      }
    }
    status.activeContainment = undoStack.map((u) => u.stepId);
  }

  async function finishAborted(): Promise<IncidentStatus> {
    pinned = undefined;
    await undo(undoStack, 'abort');
    await wf.condition(wf.allHandlersFinished);
    for (const g of status.gates) if (g.state === 'open') g.state = 'cancelled';
    pinned = 'aborted';
    status.phase = 'done';
    note({ kind: 'completed', message: `incident aborted: ${status.abortReason ?? ''}` });
    refreshState();
    return status;
  }

  // ---- the incident --------------------------------------------------------
  if (wf.patched('validate-args')) {
    const rejected = await rejectInvalidArgs();
    if (rejected) return rejected;
  }
  if (input.params.personal_data === true) {
    const awareAt = typeof input.params.aware_at === 'string' && input.params.aware_at ? input.params.aware_at : input.declaredAt;
    await startGdprClock(awareAt, input.params.high_risk === true, input.declaredBy.user);
  }
  note({ kind: 'declared', by: input.declaredBy.user, message: `${input.declaredBy.user}@${input.declaredBy.host} declared a ${input.severity} ${doc.name} incident (${input.mode}, target ${input.target}) via ${input.declaredBy.via}` });
  refreshState();

  for (const phase of ['detection', 'containment', 'recovery'] as const) {
    await runPhase(phase);
    if (aborting) return finishAborted();
  }

  if (undoStack.some((u) => u.liftOnResolve)) {
    const lift = undoStack.filter((u) => u.liftOnResolve);
    const r = doc.resolve.approval;
    const gate: GateStatus = {
      id: 'resolve',
      group: r.group,
      required: r.count,
      approvals: [],
      args: { lift: lift.map((u) => ({ step: u.stepId, action: u.action })) },
      argsHash: argsHash('resolve', { lift: lift.map((u) => u.stepId) }),
      openedAt: now(),
      escalations: 0,
      state: 'open',
    };
    status.gates.push(gate);
    pinned = 'awaiting-resolve';
    note({ kind: 'gate', step: 'resolve', message: `containment in force (${lift.map((u) => u.stepId).join(', ')}): waiting for the all-clear from ${r.count} of ${r.group}` });
    refreshState();
    while (gate.state === 'open' && !aborting) {
      if (!(await wf.condition(() => gate.state !== 'open' || aborting, r.escalateAfterMs))) escalate(gate);
    }
    if (aborting) return finishAborted();
    pinned = 'resolving';
    refreshState();
    await undo(lift, 'resolve');
    // Containment that failed to lift is never reported as lifted: wait for retry or abort.
    while (undoStack.some((u) => u.liftOnResolve)) {
      pinned = 'blocked';
      note({ kind: 'phase', message: `lifting ${undoStack.filter((u) => u.liftOnResolve).map((u) => u.stepId).join(', ')} failed; retry or abort` });
      refreshState();
      retryRequested = false;
      await wf.condition(() => retryRequested || aborting);
      if (aborting) return finishAborted();
      pinned = 'resolving';
      refreshState();
      await undo(undoStack.filter((u) => u.liftOnResolve), 'resolve');
    }
    pinned = undefined;
  } else {
    note({ kind: 'phase', message: 'no containment to lift' });
  }

  await runPhase('postmortem');
  if (aborting) return finishAborted();
  status.phase = 'done';
  pinned = 'completed';
  note({ kind: 'completed', message: `incident completed; active containment: ${status.activeContainment.join(', ') || 'none'}` });
  refreshState();
  // Let in-flight update handlers finish before the run closes.
  await wf.condition(wf.allHandlersFinished);
  return status;
}

function failureMessage(err: unknown): string {
  if (err instanceof wf.ActivityFailure && err.cause) {
    const cause = err.cause;
    const type = cause instanceof wf.ApplicationFailure && cause.type ? `${cause.type}: ` : '';
    return `${type}${cause.message}`;
  }
  return err instanceof Error ? err.message : String(err);
}
