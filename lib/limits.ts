/**
 * Limits on what people type into an incident. Each text is kept in the workflow's state
 * (status, timeline), which Temporal caps at 2 MB per payload: one 1.5 MB reason would make
 * every later workflow task fail. Pure: the workflow's validators and the front doors share it.
 */
export const TEXT_LIMITS = {
  note: 4000,
  reason: 1000,
  comment: 1000,
  summary: 1000,
  reference: 200,
} as const;

export type TextKind = keyof typeof TEXT_LIMITS;

/** Why `value` is refused as a `kind` text (named `what` in the message), or undefined. */
export function textProblem(kind: TextKind, value: unknown, what: string = kind): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') return `${what} must be text`;
  const max = TEXT_LIMITS[kind];
  return value.length > max ? `${what} is limited to ${max} characters (got ${value.length})` : undefined;
}

/**
 * Bounds on what an incident keeps and records, whatever people send: notes are the one
 * thing anyone can add without limit of kind, so they have a count and a size budget, per
 * person and per incident (UTF-8 bytes of the JSON-encoded text, what the payload carries).
 */
export const NOTE_LIMITS = {
  perPerson: 100,
  perPersonBytes: 64 * 1024,
  total: 400,
  totalBytes: 256 * 1024,
} as const;

/** Retries per incident: each runs the failed steps again (about a dozen history events). */
export const RETRY_LIMIT = 100;

/** Timeline entries the status answer carries (the newest); documents get the whole timeline. */
export const RECENT_TIMELINE = 200;

/**
 * Escalations and reminders back off: each waits twice as long as the one before, up to
 * this, so a gate open for a month adds a few hundred timer events, not tens of thousands.
 */
export const MAX_REMINDER_INTERVAL_MS = 4 * 60 * 60 * 1000;

/**
 * Temporal ends a workflow at 51,200 history events. Past this many, an incident stops
 * escalating and reminding (the gates stay open) and refuses notes and retries; decisions
 * (approve, abort, resolve, override) are always taken.
 */
export const HISTORY_GUARD_EVENTS = 40_000;

/** How long the wait before reminder number `n` (0-based) is, from the runbook's interval. */
export function reminderIntervalMs(everyMs: number, n: number): number {
  const cap = Math.max(everyMs, MAX_REMINDER_INTERVAL_MS);
  return Math.min(cap, everyMs * 2 ** Math.min(n, 30));
}

/** UTF-8 bytes of `text` as a JSON string (quotes and escapes included). Pure, no Buffer: the workflow sandbox uses it. */
export function jsonUtf8Bytes(text: string): number {
  let bytes = 2;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 || c === 0x5c || c === 0x08 || c === 0x0c || c === 0x0a || c === 0x0d || c === 0x09) bytes += 2;
    else if (c < 0x20) bytes += 6;
    else if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 4;
      i++;
    } else bytes += c >= 0xd800 && c <= 0xdfff ? 6 : 3;
  }
  return bytes;
}

export interface NoteTally {
  count: number;
  bytes: number;
}

/** Why another note of `bytes` by this person is refused, given what they and everyone have added; or undefined. */
export function noteBudgetProblem(mine: NoteTally, all: NoteTally, bytes: number): string | undefined {
  const L = NOTE_LIMITS;
  const kib = (n: number): string => `${Math.round(n / 1024)} KiB`;
  const where = 'put longer write-ups in the post-mortem document';
  if (mine.count >= L.perPerson) return `you have added ${mine.count} notes to this incident, the most one person may (${L.perPerson}); ${where}`;
  if (mine.bytes + bytes > L.perPersonBytes) return `this note would take your notes on this incident past ${kib(L.perPersonBytes)} (${kib(mine.bytes)} so far); ${where}`;
  if (all.count >= L.total) return `this incident has ${all.count} notes, the most it keeps (${L.total}); ${where}`;
  if (all.bytes + bytes > L.totalBytes) return `this note would take the incident's notes past ${kib(L.totalBytes)} (${kib(all.bytes)} so far); ${where}`;
  return undefined;
}
