/**
 * The incident channel, from the workflow's side: opened at declaration and fed events
 * (gate opened, escalation, step failed, blocked, containment in force, all-clear, aborted,
 * completed) by ONE pump that runs beside the phases. Posting an event is a synchronous
 * push onto an ordered queue, so no step ever waits on Slack; the pump delivers the queue
 * oldest first through short, bounded activities. When Slack is down the queue is kept and
 * retried (on the next event, or after a backoff: 10 s doubling to 15 min), so the channel
 * catches up when Slack is back; at the end the pump gets a bounded time to drain, and what
 * it could not deliver is reported as missed (status.notifications and the timeline). A
 * Slack outage never fails, blocks or slows the incident.
 */
import * as wf from '@temporalio/workflow';
import type { createActivities } from '../../activities/index.js';
import { FailureTypes, type GateStatus } from '../definitions.js';
import type { NotifyEventInput, NotifyEventKind } from '../notify-definitions.js';
import { failureMessage } from './proxies.js';
import type { EventExtra, EventSink, IncidentRun } from './state.js';

type Activities = ReturnType<typeof createActivities>;

const NON_RETRYABLE = [FailureTypes.BadInput, FailureTypes.Refused];
// Opening makes a dozen calls (invites one by one): a minute, each call at most 5 s.
const { notifyOpenChannel } = wf.proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { maximumAttempts: 3, initialInterval: 1_000, maximumInterval: 5_000, nonRetryableErrorTypes: NON_RETRYABLE },
});
const { notifyEvent } = wf.proxyActivities<Activities>({
  startToCloseTimeout: '15 seconds',
  retry: { maximumAttempts: 3, initialInterval: 1_000, maximumInterval: 5_000, nonRetryableErrorTypes: NON_RETRYABLE },
});

const FIRST_BACKOFF_MS = 10_000;
const MAX_BACKOFF_MS = 15 * 60_000;
/** How long a closing incident waits for the last events to reach Slack. */
export const DRAIN_MS = 60_000;

interface Pending {
  key: string;
  kind: NotifyEventKind;
  text: string;
  url?: string;
  gate?: GateStatus;
}

const isRefusal = (err: unknown): boolean => err instanceof wf.ActivityFailure && err.cause instanceof wf.ApplicationFailure && err.cause.nonRetryable === true;

class Notifier implements EventSink {
  private readonly queue: Pending[] = [];
  private seq = 0;
  private closing = false;
  private done = false;
  /** Why notifications were given up (the channel could not be opened for good). */
  private gaveUp: string | undefined;
  /** Why the last delivery stopped (cleared when one succeeds). */
  private down: string | undefined;
  private sent = 0;
  private readonly missed: Pending[] = [];

  constructor(private readonly run: IncidentRun) {}

  post(kind: NotifyEventKind, text: string, extra: EventExtra = {}): void {
    if (this.done) return;
    const event: Pending = { key: `${++this.seq}-${kind}`, kind, text, ...extra };
    // Near Temporal's history limit the incident spends no more events on Slack (reported as missed).
    if (this.run.historyFull()) this.missed.push(event);
    else this.queue.push(event);
    this.sync();
  }

  private work(): boolean {
    return this.gaveUp === undefined && (!this.run.status.slack || this.queue.length > 0);
  }

  /** The one loop that talks to Slack: never awaited by the phases. */
  async pump(): Promise<void> {
    try {
      await this.loop();
    } finally {
      this.done = true;
    }
  }

  private async loop(): Promise<void> {
    let backoff = 0;
    for (;;) {
      await wf.condition(() => this.work() || this.closing);
      if (!this.work()) break;
      this.down = await this.deliver();
      this.sync();
      if (this.down === undefined) {
        backoff = 0;
        continue;
      }
      if (this.closing) break;
      backoff = backoff ? Math.min(backoff * 2, MAX_BACKOFF_MS) : FIRST_BACKOFF_MS;
      const seen = this.seq;
      await wf.condition(() => this.seq !== seen || this.closing, backoff);
    }
  }

  /** Open the channel if it is not, then post the queue in order; what stopped it, or undefined. */
  private async deliver(): Promise<string | undefined> {
    const { run } = this;
    if (!run.status.slack) {
      try {
        run.status.slack = await notifyOpenChannel({ incidentId: run.input.incidentId, declarer: run.status.declaredBy.user, status: run.view() });
        run.note({ kind: 'notify', message: `Slack channel #${run.status.slack.name} opened (${run.status.slack.channel}); events go to its status message's thread` });
      } catch (err) {
        const why = failureMessage(err);
        if (isRefusal(err)) {
          this.gaveUp = why;
          run.note({ kind: 'notify', message: `no Slack channel: ${why}` });
        }
        return why;
      }
    }
    const channel = run.status.slack;
    while (this.queue.length) {
      const e = this.queue[0] as Pending;
      try {
        const { id, state, severity, phase, mode } = run.status;
        await notifyEvent({ incidentId: run.input.incidentId, channel, key: e.key, kind: e.kind, text: e.text, status: { id, state, severity, phase, mode }, ...(e.url && { url: e.url }), ...(e.gate && { gate: this.gateNow(e.gate) }) });
        this.sent += 1;
      } catch (err) {
        if (!isRefusal(err)) return failureMessage(err);
        // Slack refuses this one for good (say, the channel was archived): it is missed, the rest still go.
        this.missed.push(e);
      }
      this.queue.shift();
      this.sync();
    }
    return undefined;
  }

  /** The gate as it stands when its message goes out (votes cast meanwhile shown, no signed statements). */
  private gateNow(gate: GateStatus): NonNullable<NotifyEventInput['gate']> {
    const { status } = this.run;
    const steps = status.steps.filter((s) => s.id === gate.id).map((s) => ({ id: s.id, phase: s.phase, action: s.action, state: s.state }));
    const approvals = gate.approvals.map(({ signed: _signed, ...vote }) => vote);
    return { incident: { id: status.id, state: status.state, mode: status.mode, steps }, gate: { ...gate, approvals } };
  }

  private sync(): void {
    const down = this.gaveUp ?? this.down;
    this.run.status.notifications = { sent: this.sent, pending: this.queue.length, missed: this.missed.map((e) => e.key), ...(down && { down }) };
  }

  /** Let the pump finish what it can within DRAIN_MS; report what never reached Slack. */
  async drain(): Promise<void> {
    this.closing = true;
    await wf.condition(() => this.done, DRAIN_MS);
    this.missed.push(...this.queue.splice(0));
    this.sync();
    const { run } = this;
    const down = this.gaveUp ?? this.down;
    if (this.missed.length) {
      run.note({ kind: 'notify', message: `${this.missed.length} event(s) never reached Slack (${this.missed.map((e) => e.key).join(', ')})${down ? `: ${down}` : ''}; the timeline has them all` });
    }
  }
}

/**
 * Under the worker's policy, when its config gives the target a channel: start the pump
 * (it opens the channel first) without waiting for it.
 */
export function startNotifications(run: IncidentRun): void {
  if (!run.policy?.notify?.slack || !wf.patched('slack-notify')) return;
  const n = new Notifier(run);
  run.notifier = n;
  run.status.notifications = { sent: 0, pending: 0, missed: [] };
  // The pump catches what Slack does; anything else ends it, never the incident.
  void n.pump().catch((err: unknown) => wf.log.warn('slack notifications stopped', { incidentId: run.input.incidentId, error: failureMessage(err) }));
  drains.set(run, n);
}

const drains = new WeakMap<IncidentRun, Notifier>();

/** At the end of the incident: a bounded wait for the last events. */
export async function drainNotifications(run: IncidentRun): Promise<void> {
  await drains.get(run)?.drain();
}

/** After phase II: what is in force now, if anything. */
export function containmentEvent(run: IncidentRun): void {
  const held = run.status.activeContainment;
  if (held.length) run.event('containment', `containment in force: ${held.join(', ')}`);
}

/** The completed incident, with where its post-mortem is (the issue when one was opened, else the file). */
export function completedEvent(run: IncidentRun): void {
  const step = run.status.steps.find((s) => s.action === 'report.postmortem' && s.state === 'succeeded');
  const output = step ? (run.outputs[step.id]?.output as { issue?: { url?: unknown }; files?: { postmortem?: unknown } } | undefined) : undefined;
  const url = typeof output?.issue?.url === 'string' ? output.issue.url : undefined;
  const file = typeof output?.files?.postmortem === 'string' ? output.files.postmortem : undefined;
  const where = url ? `post-mortem: ${url}` : file ? `post-mortem: ${file}` : 'no post-mortem step ran';
  run.event('completed', `incident completed; active containment: ${run.status.activeContainment.join(', ') || 'none'}; ${where}`, url ? { url } : {});
}
