/**
 * The live status messages, kept by the Slack app (never by the workflow): each open
 * incident's pinned status message is redrawn from the `status` query — a query never adds
 * an event to the incident's history, however often it runs — with `chat.update`:
 *
 * - at most one update per message per `minIntervalMs` (Slack: about one per second);
 *   pokes and polls in between coalesce, and the status is read when the refresh runs, so
 *   the latest state wins;
 * - an unchanged render (same hash) is not sent; the topic is set when it changes (state,
 *   severity, phase) and the channel does not already show it (the worker's notify activity
 *   sets it too); every update sends the message's metadata again;
 * - a 429 holds every call of that method until Slack's Retry-After has passed; any other
 *   failure is logged (Slack's error name, never the token) and retried with backoff;
 * - incidents are found by listing the open ones (lib/incidents), on start too: after a
 *   restart every open incident, and every one closed in the last `catchUpClosedMs`, is
 *   refreshed once; an incident is dropped once its final state is drawn.
 */
import type { webApi } from '@slack/bolt';
import type { Client } from '@temporalio/client';
import { OperationError } from '../../lib/errors.js';
import { getStatus, isTerminal, listIncidents, NEEDS_HUMAN } from '../../lib/incidents/queries.js';
import type { FrontDoor } from '../../lib/incidents/types.js';
import type { Logger } from '../../lib/logger.js';
import type { IncidentStatus, SlackChannelRef } from '../../workflows/definitions.js';
import { statusMetadata } from '../../workflows/notify-definitions.js';
import { renderLive } from './render.js';
import { slackFailure } from './slack-errors.js';

export interface LiveOptions {
  /** Least time between two updates of one message (default 1,000 ms). */
  minIntervalMs?: number;
  /** Poll of an incident that is running (default 1,000 ms). */
  activePollMs?: number;
  /** Poll of an incident waiting for a person, or without a channel yet (default 5,000 ms). */
  idlePollMs?: number;
  /** How often the open incidents are listed (default 5,000 ms). */
  listMs?: number;
  /** On start, incidents closed this long ago or less are redrawn once too (default 6 h). */
  catchUpClosedMs?: number;
  /** One status query's deadline (default 10,000 ms). */
  queryTimeoutMs?: number;
  /** Longest wait after failures (default 60,000 ms). */
  maxBackoffMs?: number;
  /** Refreshes running at once (default 16). */
  concurrency?: number;
  /** Where an incident's status message is (default: `status.slack`, set by the worker's notify activities). */
  channelOf?: (status: IncidentStatus) => SlackChannelRef | undefined;
}

export interface LiveDeps {
  door: FrontDoor;
  /** A web client built with `rejectRateLimitedCalls` and no retries of its own. */
  web: webApi.WebClient;
  logger: Logger;
  /** The slash command named in the message's hints. */
  command: string;
  /** Only incidents of this task queue (this deployment's). */
  taskQueue: string;
}

interface Entry {
  id: string;
  timer?: NodeJS.Timeout;
  dueAt?: number;
  running: boolean;
  /** A poke came while a refresh ran: refresh again after it (throttled). */
  again: boolean;
  lastUpdateAt: number;
  /** `channel/ts` of the message the hash and topic belong to. */
  where?: string;
  hash?: string;
  topic?: string;
  failures: number;
  /** When an open listing last named it (or it was first tracked). */
  seenOpenAt: number;
  /** No longer listed open (ended, terminated, timed out): drawn once more, then dropped. */
  final: boolean;
}

const D = { minIntervalMs: 1_000, activePollMs: 1_000, idlePollMs: 5_000, listMs: 5_000, catchUpClosedMs: 6 * 3_600_000, queryTimeoutMs: 10_000, maxBackoffMs: 60_000, concurrency: 16 };

/** What a refresh decided: when the next one is due, or that the incident is done with. */
type Outcome = { next: number } | 'drop';

export class LiveStatus {
  private readonly o: Required<Omit<LiveOptions, 'channelOf'>>;
  private readonly channelOf: (status: IncidentStatus) => SlackChannelRef | undefined;
  private readonly entries = new Map<string, Entry>();
  /** Per Web API method: no call before this moment (Retry-After). */
  private readonly blockedUntil = new Map<string, number>();
  private readonly waiting: Entry[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private active = 0;
  private readonly counts = { queries: 0, updates: 0, skipped: 0, topics: 0, rateLimited: 0, failed: 0 };
  private lister?: NodeJS.Timeout;
  private closed = false;

  constructor(
    private readonly deps: LiveDeps,
    options: LiveOptions = {},
  ) {
    const { channelOf, ...rest } = options;
    this.o = { ...D, ...Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined)) };
    this.channelOf = channelOf ?? ((s) => s.slack);
  }

  /** Catch up (every open incident, and the recently closed ones, once), then list the open ones every `listMs`. */
  start(): void {
    // Until one listing succeeds (Temporal may be down at start), each one includes the recently closed incidents.
    const since = new Date(Date.now() - this.o.catchUpClosedMs);
    let caughtUp = false;
    const sync = () => void this.sync(caughtUp ? undefined : since).then((ok) => (caughtUp ||= ok));
    sync();
    this.lister = setInterval(sync, this.o.listMs);
    this.lister.unref();
  }

  /** Refresh this incident's message now (still throttled): a listener changed it. */
  poke(incidentId: string): void {
    if (this.closed || !incidentId || incidentId.length > 200) return;
    this.request(this.track(incidentId), 0);
  }

  /** The incidents tracked now (for tests and logs). */
  tracked(): string[] {
    return [...this.entries.keys()];
  }

  /** What it has done since it started: status queries, updates sent, renders skipped as unchanged, topics set, 429s, other failures. */
  stats(): Readonly<typeof this.counts> {
    return { ...this.counts };
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.lister);
    for (const e of this.entries.values()) clearTimeout(e.timer);
    this.entries.clear();
    this.waiting.length = 0;
    await Promise.allSettled([...this.inFlight]);
  }

  /** Track what the listing names; true when it could list. */
  private async sync(closedAfter?: Date): Promise<boolean> {
    try {
      const client = await this.deps.door.client();
      const found = await listIncidents(client, { open: true, taskQueue: this.deps.taskQueue, limit: 1_000 });
      const now = performance.now();
      const open = new Set(found.map((s) => s.id));
      for (const e of this.entries.values()) {
        if (open.has(e.id)) e.seenOpenAt = now;
        // Visibility lags a fresh declaration: only an incident missing from two listings in a row is taken as closed.
        else if (!e.final && now - e.seenOpenAt > 2 * this.o.listMs) {
          e.final = true;
          this.request(e, 0);
        }
      }
      if (closedAfter) found.push(...(await listIncidents(client, { closedAfter, taskQueue: this.deps.taskQueue, limit: 1_000 })));
      for (const s of found) if (!this.closed && !this.entries.has(s.id)) this.request(this.track(s.id), 0);
      return true;
    } catch (err) {
      this.deps.logger.warn({ err: (err as Error).message }, 'slack live: could not list the open incidents; trying again later');
      return false;
    }
  }

  private track(id: string): Entry {
    let e = this.entries.get(id);
    if (!e) {
      e = { id, running: false, again: false, lastUpdateAt: Number.NEGATIVE_INFINITY, failures: 0, seenOpenAt: performance.now(), final: false };
      this.entries.set(id, e);
    }
    return e;
  }

  /** Schedule a refresh of `e` in `delayMs` or later: never sooner than its throttle allows; an earlier one already scheduled stands. */
  private request(e: Entry, delayMs: number): void {
    if (this.closed || this.entries.get(e.id) !== e) return;
    if (e.running) {
      if (delayMs === 0) e.again = true;
      else this.arm(e, delayMs);
      return;
    }
    this.arm(e, delayMs);
  }

  private arm(e: Entry, delayMs: number): void {
    const now = performance.now();
    const due = Math.max(now + delayMs, e.lastUpdateAt + this.o.minIntervalMs);
    if (e.timer && e.dueAt !== undefined && e.dueAt <= due) return;
    clearTimeout(e.timer);
    e.dueAt = due;
    e.timer = setTimeout(() => {
      e.timer = undefined;
      e.dueAt = undefined;
      this.enqueue(e);
    }, Math.max(0, due - now));
    e.timer.unref();
  }

  private enqueue(e: Entry): void {
    if (this.closed || this.entries.get(e.id) !== e || e.running) return;
    if (this.active >= this.o.concurrency) {
      if (!this.waiting.includes(e)) this.waiting.push(e);
      return;
    }
    this.active += 1;
    e.running = true;
    const p = this.refresh(e)
      .catch((err: unknown): Outcome => {
        this.deps.logger.error({ incident: e.id, err: (err as Error).message }, 'slack live: refresh failed');
        return { next: this.backoff(e) };
      })
      .then((outcome) => {
        e.running = false;
        this.active -= 1;
        if (outcome === 'drop') {
          if (this.entries.get(e.id) === e) this.entries.delete(e.id);
          clearTimeout(e.timer);
        } else if (e.again) {
          e.again = false;
          this.request(e, 0);
        } else {
          this.request(e, outcome.next);
        }
        const next = this.waiting.shift();
        if (next) this.enqueue(next);
      });
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  private backoff(e: Entry): number {
    e.failures += 1;
    return Math.min(this.o.maxBackoffMs, 1_000 * 2 ** Math.min(e.failures, 16));
  }

  /** Ms until `method` may be called again (0: now). */
  private heldFor(method: string): number {
    return Math.max(0, (this.blockedUntil.get(method) ?? 0) - performance.now());
  }

  private async query(id: string): Promise<IncidentStatus | undefined> {
    const client: Client = await this.deps.door.client();
    this.counts.queries += 1;
    try {
      return await client.withDeadline(Date.now() + this.o.queryTimeoutMs, () => getStatus(client, id));
    } catch (err) {
      if (err instanceof OperationError && /^no incident /.test(err.message)) return undefined;
      throw err;
    }
  }

  private async refresh(e: Entry): Promise<Outcome> {
    const log = this.deps.logger.child({ incident: e.id });
    const held = this.heldFor('chat.update');
    if (held > 0) return { next: held };
    let status: IncidentStatus | undefined;
    try {
      status = await this.query(e.id);
    } catch (err) {
      log.warn({ err: (err as Error).message.split('\n')[0] }, 'slack live: status query failed; trying again later');
      return e.final && e.failures >= 3 ? 'drop' : { next: this.backoff(e) };
    }
    if (!status) return 'drop';
    const done = isTerminal(status) || e.final;
    const poll = NEEDS_HUMAN.includes(status.state) ? this.o.idlePollMs : this.o.activePollMs;
    const ref = this.channelOf(status);
    if (!ref) return done ? 'drop' : { next: this.o.idlePollMs };
    const where = `${ref.channel}/${ref.statusTs}`;
    if (e.where !== where) Object.assign(e, { where, hash: undefined, topic: undefined });
    const r = renderLive(status, this.deps.command);
    const slack = this.deps.web;
    const call = async (method: string, fn: () => Promise<unknown>): Promise<Outcome | undefined> => {
      const held = this.heldFor(method);
      if (held > 0) return { next: held };
      try {
        await fn();
        return undefined;
      } catch (err) {
        const f = slackFailure(err);
        const l = log.child({ channel: ref.channel, ts: ref.statusTs, method });
        if (f.kind === 'rate-limited') {
          this.blockedUntil.set(method, performance.now() + f.retryAfterMs);
          this.counts.rateLimited += 1;
          l.warn({ retryAfterMs: f.retryAfterMs }, `slack live: ${method} rate-limited (${f.detail}); waiting as Slack asked`);
          return { next: f.retryAfterMs };
        }
        const next = this.backoff(e);
        this.counts.failed += 1;
        l.warn({ problem: f.detail, retryInMs: next }, `slack live: ${method} failed; trying again later`);
        return { next };
      }
    };
    if (r.hash !== e.hash) {
      // The metadata again: the message stays findable by it (notify.open_channel's retry, catch-up) whatever Slack keeps of an edit.
      const failed = await call('chat.update', () => slack.chat.update({ channel: ref.channel, ts: ref.statusTs, text: r.text, blocks: r.blocks, metadata: statusMetadata(status.id) }));
      if (failed) return failed;
      e.hash = r.hash;
      e.lastUpdateAt = performance.now();
      this.counts.updates += 1;
      log.debug({ state: status.state, phase: status.phase }, 'slack live: status message updated');
    } else {
      this.counts.skipped += 1;
    }
    if (r.topic !== e.topic) {
      // The topic as it stands (after a restart, or the worker's notify activity set it first), so an unchanged one is not set again (setting it posts a line in the channel).
      const info = (await slack.conversations.info({ channel: ref.channel }).catch(() => undefined)) as { channel?: { topic?: { value?: string } } } | undefined;
      e.topic = info?.channel?.topic?.value;
    }
    if (r.topic !== e.topic) {
      const failed = await call('conversations.setTopic', () => slack.conversations.setTopic({ channel: ref.channel, topic: r.topic }));
      if (failed) return failed;
      e.topic = r.topic;
      this.counts.topics += 1;
    }
    e.failures = 0;
    return done ? 'drop' : { next: poll };
  }
}
