/**
 * Shared containment: an effect several incidents can hold at once (the lockdown flag, a
 * network's ban, a database's read-only, a user's disable). Each incident's hold is recorded
 * on the target atomically with the effect; the effect is lifted only when its last holder
 * releases it. Pure: activities, the inspection and the front doors share these shapes.
 */

export const HOLD_KINDS = ['lockdown', 'ban', 'read-only', 'user-disable'] as const;
export type HoldKind = (typeof HOLD_KINDS)[number];

/** One incident's hold on one effect. */
export interface Holder {
  incidentId: string;
  /** The step that took the hold. */
  stepId: string;
  /** ISO time the hold was taken. */
  since: string;
  /** ISO time the hold ends by itself (a ban's expiry); absent: until released. */
  until?: string;
}

/** One held effect on a target, with everyone holding it. */
export interface HoldView {
  kind: HoldKind;
  /** What is held: `lockdown`, a canonical network, `<database>/<role>`, a user id. */
  subject: string;
  holders: Holder[];
}

/** A holder as judged: `live` (its incident keeps it in force), `expiring` (a completed incident's ban, until its end), or `orphaned`. */
export interface JudgedHolder extends Holder {
  standing: 'live' | 'expiring' | 'orphaned';
  /** Why, in words (the incident's state, or what is wrong). */
  why: string;
}

export interface JudgedHold {
  kind: HoldKind;
  subject: string;
  holders: JudgedHolder[];
  /** Every holder is orphaned: nothing will ever lift it. */
  orphaned: boolean;
}

/** What a release found: whether the effect was lifted, and who still holds it. */
export interface ReleaseOutcome {
  lifted: boolean;
  stillHeldBy: string[];
}

/** Everyone but `incidentId`, as incident ids (sorted, unique). */
export function otherHolders(holders: readonly Pick<Holder, 'incidentId'>[], incidentId: string): string[] {
  return [...new Set(holders.map((h) => h.incidentId).filter((id) => id !== incidentId))].sort();
}

/** ` (also held by a, b)` for a summary line, or '' when nobody else holds it. */
export function alsoHeldBy(others: readonly string[]): string {
  return others.length ? ` (also held by ${listIds(others)})` : '';
}

/** `still held by a, b` or undefined when the effect was lifted. */
export function stillHeldLine(outcome: ReleaseOutcome): string | undefined {
  return outcome.lifted || !outcome.stillHeldBy.length ? undefined : `still held by ${listIds(outcome.stillHeldBy)}`;
}

function listIds(ids: readonly string[]): string {
  const shown = ids.slice(0, 5).join(', ');
  return ids.length > 5 ? `${shown} and ${ids.length - 5} more` : shown;
}
