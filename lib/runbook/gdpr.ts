/**
 * Does a declared incident start the GDPR Art. 33 clock, from when, and is it high
 * risk? The runbook says so in `notice.gdpr`; a runbook without it keeps the old
 * rule (params named `personal_data`, `aware_at`, `high_risk`), which incidents
 * already running were started with.
 *
 * Pure: runs inside the Temporal workflow sandbox and in front doors.
 */
import { evalExpr, parseExpr } from './expr.js';
import { lookupRef, resolveRefs, soleRef, type RefContext } from './refs.js';
import type { RunbookDoc } from './types.js';

export interface GdprClockStart {
  /** ISO moment of awareness, as given (or the declaration). */
  awareAt: string;
  highRisk: boolean;
}

/** Clock skew tolerated between the awareness a person gives and the declaration. */
const AWARE_AT_SKEW_MS = 5 * 60_000;

/** An awareness time that is not a time: the incident cannot start its clock. */
export class GdprTriggerError extends Error {
  override name = 'GdprTriggerError';
}

/**
 * The clock to start at declaration, or undefined when personal data is not (yet) affected.
 * @throws GdprTriggerError when the awareness time is not a time.
 */
export function gdprClockStart(doc: RunbookDoc, ctx: Omit<RefContext, 'steps'>, declaredAt: string): GdprClockStart | undefined {
  const trigger = doc.notice?.gdpr;
  const params = ctx.params;
  let start: GdprClockStart | undefined;
  if (trigger) {
    const full: RefContext = { ...ctx, steps: {} };
    if (!evalExpr(parseExpr(trigger.personalData), full)) return undefined;
    const ref = trigger.awareAt === undefined ? undefined : soleRef(trigger.awareAt);
    const raw = trigger.awareAt === undefined ? undefined : ref ? lookupRef(ref, full) : resolveRefs(trigger.awareAt, full);
    if (raw !== undefined && typeof raw !== 'string') throw new GdprTriggerError(`notice.gdpr.aware_at must be an ISO time, got ${JSON.stringify(raw)}`);
    start = { awareAt: raw ? raw : declaredAt, highRisk: trigger.highRisk !== undefined && evalExpr(parseExpr(trigger.highRisk), full) };
  } else {
    if (params.personal_data !== true) return undefined;
    start = { awareAt: typeof params.aware_at === 'string' && params.aware_at ? params.aware_at : declaredAt, highRisk: params.high_risk === true };
  }
  if (Number.isNaN(Date.parse(start.awareAt))) throw new GdprTriggerError(`aware_at "${start.awareAt}" is not an ISO time`);
  // Awareness cannot come after the declaration: a future one would move the 72-hour deadline at will.
  if (Date.parse(start.awareAt) > Date.parse(declaredAt) + AWARE_AT_SKEW_MS) {
    throw new GdprTriggerError(`aware_at ${start.awareAt} is after the incident was declared (${declaredAt}): give the moment the team became aware`);
  }
  return start;
}
