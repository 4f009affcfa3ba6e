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
