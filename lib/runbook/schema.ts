/**
 * The zod schemas for one runbook YAML document (snake_case) and their
 * transforms into the normalized, camelCase types of ./types.ts. Structure
 * only; cross-references (actions, refs, needs) are checked in ./checks.ts.
 */
import { z } from 'zod';
import { SEVERITIES } from './types.js';
import type { ApprovalSpec, GdprTrigger, ParamSpec, ParamType, ParamValue, StepSpec } from './types.js';

export const PARAM_TYPES = ['string', 'integer', 'number', 'boolean', 'string[]'] as const satisfies readonly ParamType[];

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `500ms`, `30s`, `15m`, `2h`, `3d` (or compounds like `1h30m`) → milliseconds; undefined if malformed or zero. */
export function parseDuration(text: string): number | undefined {
  if (!/^(?:\d+(?:ms|s|m|h|d))+$/.test(text)) return undefined;
  let ms = 0;
  for (const [, n, unit] of text.matchAll(/(\d+)(ms|s|m|h|d)/g)) ms += Number(n) * (UNIT_MS[unit as string] ?? 0);
  return ms > 0 && Number.isSafeInteger(ms) ? ms : undefined;
}

const duration = z.unknown().transform((v, ctx) => {
  const ms = typeof v === 'string' ? parseDuration(v.trim()) : undefined;
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: `invalid duration ${JSON.stringify(v)}: use e.g. 500ms, 30s, 15m, 2h, 3d` });
    return z.NEVER;
  }
  return ms;
});

/**
 * Shortest timers a runbook may set: each firing writes history events (and an escalation a
 * warning), so `escalate_after: 1ms` would flood the incident's history.
 */
export const MIN_TIMER_MS = { escalate_after: 60_000, timeout: 1_000, initial_interval: 100, maximum_interval: 100 } as const;

/** A duration of at least `min` for the key `key` of MIN_TIMER_MS. */
function atLeast(key: keyof typeof MIN_TIMER_MS) {
  const min = MIN_TIMER_MS[key];
  return duration.refine((ms) => ms >= min, { message: `${key} must be at least ${min % 60_000 === 0 ? `${min / 60_000}m` : min % 1_000 === 0 ? `${min / 1_000}s` : `${min}ms`} (each firing writes to the incident's history)` });
}

/** Does `v` have the param/argument type `type`? */
export function matchesType(type: ParamType | 'object', v: unknown): boolean {
  switch (type) {
    case 'string':
      return typeof v === 'string';
    case 'integer':
      return typeof v === 'number' && Number.isSafeInteger(v);
    case 'number':
      return typeof v === 'number' && Number.isFinite(v);
    case 'boolean':
      return typeof v === 'boolean';
    case 'string[]':
      return Array.isArray(v) && v.every((x) => typeof x === 'string');
    case 'object':
      return typeof v === 'object' && v !== null && !Array.isArray(v);
  }
}

/** A short type name for messages ("got integer"). */
export function describeType(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (Array.isArray(v)) return 'list';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  if (typeof v === 'object') return 'mapping';
  return typeof v;
}

/** A condition in the `when:` language; `true`/`false` as YAML booleans too. */
const condition = z.unknown().transform((v, ctx) => {
  if (typeof v === 'boolean') return String(v);
  if (typeof v === 'string' && v.trim()) return v;
  ctx.addIssue({ code: 'custom', message: v === undefined ? 'is required' : `expected a condition (e.g. params.personal_data) or true/false, got ${describeType(v)}` });
  return z.NEVER;
});

const gdprTriggerSchema = z
  .strictObject({ personal_data: condition, high_risk: condition.optional(), aware_at: z.string().optional() })
  .transform(
    (g): GdprTrigger => ({
      personalData: g.personal_data,
      ...(g.high_risk !== undefined && { highRisk: g.high_risk }),
      ...(g.aware_at !== undefined && { awareAt: g.aware_at }),
    }),
  );

function approval(defaultEscalateMs: number) {
  return z
    .strictObject({
      count: z.number().int().min(1).default(1),
      group: z.string().min(1).default('responders'),
      escalate_after: atLeast('escalate_after').default(defaultEscalateMs),
    })
    .transform((a): ApprovalSpec => ({ count: a.count, group: a.group, escalateAfterMs: a.escalate_after }));
}



export const RESOLVE_ESCALATE_MS = 30 * 60_000;
export const STEP_ESCALATE_MS = 15 * 60_000;

/** Top level; params and phase entries are parsed one by one so every problem surfaces. */
export const rootSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9-]+$/, 'must be lowercase letters, digits and dashes'),
  title: z.string().min(1),
  description: z.string().optional(),
  severity: z.enum(SEVERITIES),
  params: z.record(z.string(), z.unknown()).nullish(),
  resolve: z
    .strictObject({ approval: approval(RESOLVE_ESCALATE_MS).default({ count: 1, group: 'responders', escalateAfterMs: RESOLVE_ESCALATE_MS }) })
    .default({ approval: { count: 1, group: 'responders', escalateAfterMs: RESOLVE_ESCALATE_MS } }),
  notice: z.strictObject({ gdpr: gdprTriggerSchema.optional() }).optional(),
  phases: z
    .strictObject({
      detection: z.array(z.unknown()).nullish(),
      containment: z.array(z.unknown()).nullish(),
      recovery: z.array(z.unknown()).nullish(),
      postmortem: z.array(z.unknown()).nullish(),
    })
    .nullish(),
});
export type RootOutput = z.output<typeof rootSchema>;

export const PARAM_NAME = /^[a-z][a-z0-9_]*$/;

export const paramSchema = z
  .strictObject({
    type: z.enum(PARAM_TYPES),
    description: z.string().optional(),
    required: z.boolean().default(false),
    default: z.unknown().optional(),
    enum: z.array(z.string()).min(1).optional(),
    sensitive: z.boolean().default(false),
  })
  .superRefine((p, ctx) => {
    const listy = p.type === 'string' || p.type === 'string[]';
    if (p.enum && !listy) ctx.addIssue({ code: 'custom', path: ['enum'], message: `enum is only allowed for string and string[] params, not ${p.type}` });
    if (p.default === undefined) return;
    if (p.required) ctx.addIssue({ code: 'custom', path: ['default'], message: 'a required param cannot have a default' });
    if (!matchesType(p.type, p.default)) {
      ctx.addIssue({ code: 'custom', path: ['default'], message: `default must be ${p.type}, got ${describeType(p.default)}` });
    } else if (p.enum && listy) {
      const values = Array.isArray(p.default) ? (p.default as string[]) : [p.default as string];
      const bad = values.filter((v) => !p.enum?.includes(v));
      if (bad.length > 0) ctx.addIssue({ code: 'custom', path: ['default'], message: `default ${JSON.stringify(bad[0])} is not one of: ${p.enum.join(', ')}` });
    }
  })
  .transform(
    (p): ParamSpec => ({
      type: p.type,
      ...(p.description !== undefined && { description: p.description }),
      required: p.required,
      ...(p.default !== undefined && { default: p.default as ParamValue }),
      ...(p.enum && { enum: p.enum }),
      sensitive: p.sensitive,
    }),
  );

export const STEP_ID = /^[a-z][a-z0-9_-]*$/;

export const stepSchema = z
  .strictObject({
    id: z.string().regex(STEP_ID, 'must match [a-z][a-z0-9_-]*'),
    action: z.string().min(1),
    description: z.string().optional(),
    with: z.record(z.string(), z.unknown()).nullish(),
    needs: z.array(z.string()).nullish(),
    approval: approval(STEP_ESCALATE_MS).optional(),
    when: z.string().min(1).optional(),
    retry: z
      .strictObject({
        maximum_attempts: z.number().int().min(1).optional(),
        initial_interval: atLeast('initial_interval').optional(),
        maximum_interval: atLeast('maximum_interval').optional(),
        backoff_coefficient: z.number().min(1).optional(),
      })
      .optional(),
    timeout: atLeast('timeout').optional(),
    continue_on_error: z.boolean().default(false),
  })
  .transform((s): StepSpec => {
    const r = s.retry;
    return {
      id: s.id,
      action: s.action,
      with: s.with ?? {},
      needs: s.needs ?? [],
      ...(s.approval && { approval: s.approval }),
      ...(s.when !== undefined && { when: s.when }),
      ...(r && {
        retry: {
          ...(r.maximum_attempts !== undefined && { maximumAttempts: r.maximum_attempts }),
          ...(r.initial_interval !== undefined && { initialIntervalMs: r.initial_interval }),
          ...(r.maximum_interval !== undefined && { maximumIntervalMs: r.maximum_interval }),
          ...(r.backoff_coefficient !== undefined && { backoffCoefficient: r.backoff_coefficient }),
        },
      }),
      ...(s.timeout !== undefined && { timeoutMs: s.timeout }),
      continueOnError: s.continue_on_error,
      ...(s.description !== undefined && { description: s.description }),
    };
  });

/** Document path: keys and sequence indexes. */
export type DocPath = Array<string | number>;

/** A problem before it is placed on a line. `at: 'key'` points at the mapping key rather than its value. */
export interface RawProblem {
  path: DocPath;
  message: string;
  at?: 'key';
}

/** Parse `input` with `schema`; issues become problems under `base`. */
export function parseWith<T>(schema: z.ZodType<T>, input: unknown, base: DocPath, problems: RawProblem[]): T | undefined {
  const r = schema.safeParse(input, {
    error: (iss) => (iss.code === 'invalid_type' && iss.input === undefined ? 'is required' : undefined),
  });
  if (r.success) return r.data;
  for (const iss of r.error.issues) {
    const path = [...base, ...(iss.path as Array<string | number>)];
    if (iss.code === 'unrecognized_keys') {
      for (const key of iss.keys) problems.push({ path: [...path, key], message: `unknown key '${key}'`, at: 'key' });
    } else {
      problems.push({ path, message: iss.message });
    }
  }
  return undefined;
}
