/**
 * The incident's audit trail: every timeline entry (with the step it names), every decision
 * taken (with its signed statement and the key it verified with), the declaration and the
 * close, numbered here — deterministically — and appended by one background loop, a batch
 * at a time, in order. Steps never wait for it; a failed append is retried (its entries
 * stay queued, so nothing is skipped); the close waits until everything is in and checkpointed.
 */
import * as wf from '@temporalio/workflow';
import type { createAuditActivities } from '../../activities/audit/index.js';
import type { AuditEntry, AuditKind, Checkpoint } from '../../lib/audit/chain.js';
import { findKey } from '../../lib/identity/registry.js';
import { workflowIdFor } from '../../lib/ids.js';
import type { TimelineEntry } from '../definitions.js';
import { AuditArchiveWorkflow } from '../audit-archive.js';
import type { Decider } from './identity.js';
import type { IncidentRun } from './state.js';

type AuditActivities = ReturnType<typeof createAuditActivities>;

const { auditAppend } = wf.proxyActivities<AuditActivities>({
  // An append takes milliseconds (a few hundred at 200 incidents at once): a lost worker's is retried soon.
  startToCloseTimeout: '10 seconds',
  retry: { maximumAttempts: 5, initialInterval: 500, maximumInterval: 10_000, nonRetryableErrorTypes: ['BadInput'] },
});

/** Entries per append: one activity result stays small. */
const BATCH = 100;
/** After an append gave up its retries (the database is down): try again this much later. */
const RETRY_LATER = '30 seconds';
/** The close waits this long for the database before it gives up (the entries are in the history, which is archived). */
const CLOSE_WAIT = '24 hours';

export class AuditTrail {
  private seq = 0;
  private readonly queue: AuditEntry[] = [];
  /** A checkpoint is wanted once the chain holds this many entries (0: none wanted). */
  private checkpointAt = 0;
  private closing = false;
  private done = false;
  /** The newest signed checkpoint (also in the history, as the append's result). */
  last: Checkpoint | undefined;
  /** Why the last append failed, while it is being retried. */
  problem: string | undefined;

  constructor(private readonly run: IncidentRun) {}

  get size(): number {
    return this.seq;
  }

  record(kind: AuditKind, data: Record<string, unknown>, actor?: string): void {
    if (this.closing && kind !== 'closed') return;
    this.queue.push({ seq: this.seq++, at: this.run.now(), kind, ...(actor !== undefined && { actor }), data: this.run.shown(data) });
  }

  timeline(entry: TimelineEntry): void {
    const st = entry.step ? this.run.status.steps.find((s) => s.id === entry.step) : undefined;
    const args = entry.step ? this.run.stepArgs.get(entry.step) : undefined;
    const gate = entry.step && (entry.kind === 'gate' || entry.kind === 'approval') ? this.run.status.gates.find((g) => g.id === entry.step) : undefined;
    const step = st && { action: st.action, phase: st.phase, state: st.state, summary: st.summary, effect: st.effect, error: st.error, proof: st.proof, ...(args && { args }) };
    this.record('timeline', { ...entry, ...(step && { stepState: step }), ...(gate && { gate: { argsHash: gate.argsHash, required: gate.required, state: gate.state, approvals: gate.approvals.map((v) => ({ by: v.by, at: v.at, keyId: v.keyId, via: v.via })) } }) }, entry.by);
    if (entry.kind === 'phase') this.checkpointAt = this.seq;
  }

  decision(d: Decider, kind: string): void {
    const keyId = d.keyId ?? d.signed?.statement.keyId;
    const key = keyId ? findKey(this.run.registry, keyId)?.key.publicKey : undefined;
    this.record('decision', { kind, via: d.via, actor: d.actor, ...(keyId && { keyId }), ...(key && { publicKey: key }), ...(d.signed && { signed: d.signed }) }, d.actor.user);
  }

  /** The background loop: appends what is queued until the close is flushed. */
  async loop(): Promise<void> {
    const incidentId = this.run.input.incidentId;
    for (;;) {
      await wf.condition(() => this.queue.length > 0 || this.checkpointAt > 0 || this.closing);
      if (!this.queue.length && !this.checkpointAt) break;
      const batch = this.queue.slice(0, BATCH);
      // Entries queued while an append was in flight may carry a later request: it stays wanted.
      const upTo = batch.length ? (batch[batch.length - 1] as AuditEntry).seq + 1 : this.seq;
      const checkpoint = this.checkpointAt > 0 && upTo >= this.checkpointAt;
      try {
        const r = await auditAppend({ incidentId, entries: batch, ...(checkpoint && { checkpoint }) });
        this.queue.splice(0, batch.length);
        if (checkpoint && this.checkpointAt <= upTo) this.checkpointAt = 0;
        if (r.checkpoint) this.last = r.checkpoint;
        this.problem = undefined;
      } catch (err) {
        this.problem = err instanceof wf.ActivityFailure && err.cause ? err.cause.message : String(err);
        wf.log.warn('audit append failed; retrying later', { incidentId, problem: this.problem });
        await wf.sleep(RETRY_LATER);
      }
    }
    this.done = true;
  }

  /** Record the close, checkpoint it, and wait (bounded) until everything is in. */
  async close(data: Record<string, unknown>): Promise<void> {
    this.record('closed', data);
    this.closing = true;
    this.checkpointAt = this.seq;
    await wf.condition(() => this.done, CLOSE_WAIT);
  }
}

/** Under the worker's audit policy: a trail for this incident, its loop running. */
export function startAudit(run: IncidentRun): void {
  if (!run.policy?.audit || !wf.patched('audit-trail')) return;
  const trail = new AuditTrail(run);
  run.audit = trail;
  const { input, status } = run;
  trail.record(
    'declared',
    {
      incidentId: input.incidentId,
      workflowId: workflowIdFor(input.incidentId),
      runbook: { ...status.runbook, doc: run.doc },
      mode: input.mode,
      severity: input.severity,
      target: input.target,
      summary: input.summary,
      params: input.params,
      declaredAt: input.declaredAt,
      declaredBy: status.declaredBy,
      identity: status.identity ?? null,
      ...(run.policy.declaration && { declaration: run.policy.declaration }),
    },
    status.declaredBy.user,
  );
  void trail.loop();
}

/** The incident's close in its trail, then its history (and its children's, when they close) archived. */
export async function closeAudit(run: IncidentRun): Promise<void> {
  const trail = run.audit;
  if (!trail) return;
  const { status } = run;
  const children = [...run.children, ...(status.notice ? [status.notice.workflowId] : [])];
  await trail.close({ state: status.state, phase: status.phase, activeContainment: status.activeContainment, abortReason: status.abortReason ?? null, children });
  if (!run.policy?.audit?.archive) return;
  // From the incident id, not workflowInfo(): a replayer runs the history under another id.
  const self = workflowIdFor(run.input.incidentId);
  await wf.startChild(AuditArchiveWorkflow, {
    workflowId: `${self}-audit-archive`,
    args: [{ incidentId: run.input.incidentId, workflowIds: [self, ...children] }],
    parentClosePolicy: 'ABANDON',
  });
}
