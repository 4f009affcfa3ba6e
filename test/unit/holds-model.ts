/**
 * A pure model of one target's shared containment, the rule of issue 11 §2: each incident's
 * hold is recorded with the effect; the effect stays while anyone holds it and the last
 * release restores what was there before the first take; take and release are idempotent
 * per incident; a ban's hold also ends at its expiry. The engine matrix backs its stubbed
 * activities with it, so what the workflow calls can be judged against the rule.
 */
import { otherHolders, type HoldKind, type Holder, type HoldView, type ReleaseOutcome } from '../../lib/holds.js';

interface Held {
  /** The effect before the first holder took it. */
  prior: boolean;
  holders: Holder[];
}

/** One model event, for the message of a failed assertion. */
export interface ModelEvent {
  op: 'take' | 'release' | 'expire';
  kind: HoldKind;
  subject: string;
  incidentId: string;
  changed: boolean;
  effect: boolean;
}

const keyOf = (kind: HoldKind, subject: string): string => `${kind}\u0000${subject}`;
const split = (key: string): [HoldKind, string] => key.split('\u0000') as [HoldKind, string];

export class HoldsModel {
  private readonly effects = new Map<string, boolean>();
  private readonly initial: ReadonlyMap<string, boolean>;
  private readonly held = new Map<string, Held>();
  readonly events: ModelEvent[] = [];

  /** `preexisting`: effects already in force before any incident (an operator's own lockdown, an older ban). */
  constructor(preexisting: readonly (readonly [HoldKind, string])[] = []) {
    for (const [kind, subject] of preexisting) this.effects.set(keyOf(kind, subject), true);
    this.initial = new Map(this.effects);
  }

  effect(kind: HoldKind, subject: string): boolean {
    return this.effects.get(keyOf(kind, subject)) ?? false;
  }

  holders(kind: HoldKind, subject: string): Holder[] {
    return [...(this.held.get(keyOf(kind, subject))?.holders ?? [])];
  }

  /** Incident ids holding the effect, sorted. */
  holderIds(kind: HoldKind, subject: string): string[] {
    return otherHolders(this.holders(kind, subject), '');
  }

  /** Take `holder`'s hold; a second take by the same incident changes nothing (an expiry may only move later). */
  take(kind: HoldKind, subject: string, holder: Holder): { changed: boolean; others: string[] } {
    const key = keyOf(kind, subject);
    let entry = this.held.get(key);
    const mine = entry?.holders.find((h) => h.incidentId === holder.incidentId);
    if (mine) {
      if (holder.until && mine.until && Date.parse(holder.until) > Date.parse(mine.until)) mine.until = holder.until;
      return this.record('take', kind, subject, holder.incidentId, false, { changed: false, others: otherHolders(entry?.holders ?? [], holder.incidentId) });
    }
    if (!entry) {
      entry = { prior: this.effect(kind, subject), holders: [] };
      this.held.set(key, entry);
    }
    entry.holders.push({ ...holder });
    this.effects.set(key, true);
    return this.record('take', kind, subject, holder.incidentId, true, { changed: true, others: otherHolders(entry.holders, holder.incidentId) });
  }

  /** Release `incidentId`'s hold: idempotent; the last holder's release restores the prior effect. */
  release(kind: HoldKind, subject: string, incidentId: string): ReleaseOutcome & { changed: boolean } {
    const key = keyOf(kind, subject);
    const entry = this.held.get(key);
    if (!entry?.holders.some((h) => h.incidentId === incidentId)) {
      return this.record('release', kind, subject, incidentId, false, { lifted: false, stillHeldBy: otherHolders(entry?.holders ?? [], incidentId), changed: false });
    }
    entry.holders = entry.holders.filter((h) => h.incidentId !== incidentId);
    if (entry.holders.length) return this.record('release', kind, subject, incidentId, false, { lifted: false, stillHeldBy: otherHolders(entry.holders, incidentId), changed: false });
    return this.record('release', kind, subject, incidentId, true, this.restore(key, entry));
  }

  /** Every hold whose `until` is at or before `nowMs` ends (a ban's durable timer). */
  expire(nowMs: number): { ended: number; lifted: number } {
    let ended = 0;
    let lifted = 0;
    for (const [key, entry] of [...this.held]) {
      const [kind, subject] = split(key);
      const gone = entry.holders.filter((h) => h.until !== undefined && Date.parse(h.until) <= nowMs);
      if (!gone.length) continue;
      ended += gone.length;
      entry.holders = entry.holders.filter((h) => !gone.includes(h));
      const last = !entry.holders.length;
      if (last && this.restore(key, entry).lifted) lifted += 1;
      for (const h of gone) this.record('expire', kind, subject, h.incidentId, last, undefined);
    }
    return { ended, lifted };
  }

  /** Everything held now, as `firebreak target check` would list it. */
  views(): HoldView[] {
    return [...this.held].map(([key, entry]) => {
      const [kind, subject] = split(key);
      return { kind, subject, holders: entry.holders.map((h) => ({ ...h })) };
    });
  }

  /** Where the rule is broken now: an effect without a holder (not there before), or a holder without its effect. */
  violations(): string[] {
    const keys = new Set([...this.effects.keys(), ...this.held.keys(), ...this.initial.keys()]);
    const out: string[] = [];
    for (const key of keys) {
      const [kind, subject] = split(key);
      const holders = this.held.get(key)?.holders.length ?? 0;
      const should = holders > 0 || (this.initial.get(key) ?? false);
      if ((this.effects.get(key) ?? false) !== should) out.push(`${kind} ${subject}: effect ${this.effects.get(key) ? 'on' : 'off'} with ${holders} holder(s), ${this.initial.get(key) ? '' : 'not '}in force before`);
    }
    return out;
  }

  /** Back where it started: every effect as before and no hold record left. */
  atInitial(): boolean {
    if (this.held.size) return false;
    const keys = new Set([...this.effects.keys(), ...this.initial.keys()]);
    return [...keys].every((k) => (this.effects.get(k) ?? false) === (this.initial.get(k) ?? false));
  }

  private restore(key: string, entry: Held): ReleaseOutcome & { changed: boolean } {
    this.held.delete(key);
    this.effects.set(key, entry.prior);
    return { lifted: !entry.prior, stillHeldBy: [], changed: !entry.prior };
  }

  private record<T>(op: ModelEvent['op'], kind: HoldKind, subject: string, incidentId: string, changed: boolean, result: T): T {
    this.events.push({ op, kind, subject, incidentId, changed, effect: this.effect(kind, subject) });
    return result;
  }
}
