/** Incident parameters from a front door (CLI `--set k=v` strings, or typed JSON) → typed values. */
import { ParamError } from './errors.js';
import { describeType } from './schema.js';
import type { ParamSpec, ParamValue, RunbookDoc } from './types.js';

/** What a front door may hand in: strings from the command line, typed values from JSON. */
export type RawParamValue = string | string[] | number | boolean;

type Coerced = { value: ParamValue } | { error: string };

function coerce(spec: ParamSpec, v: RawParamValue): Coerced {
  // Never echo a sensitive value back into an error message.
  const show = (x: unknown): string => (spec.sensitive ? '(sensitive value hidden)' : JSON.stringify(x));
  const bad = (what: string): Coerced => ({ error: `expected ${what}, got ${typeof v === 'string' ? show(v) : describeType(v)}` });
  switch (spec.type) {
    case 'string':
      return typeof v === 'string' ? { value: v } : bad('a string');
    case 'string[]':
      if (typeof v === 'string') {
        const items = v.split(',').map((s) => s.trim()).filter((s) => s !== '');
        // Only blanks (a lone tab, ", ,") is a mistake, not "none": an empty list would silently skip the step.
        if (v !== '' && !items.length) return { error: `the list is only blanks and commas (got ${show(v)}); leave the parameter out for none` };
        return { value: items };
      }
      return Array.isArray(v) && v.every((s) => typeof s === 'string') ? { value: [...v] } : bad('a list of strings');
    case 'integer': {
      const n = typeof v === 'string' && /^\s*[-+]?\d+\s*$/.test(v) ? Number(v) : v;
      return typeof n === 'number' && Number.isSafeInteger(n) ? { value: n } : bad('an integer');
    }
    case 'number': {
      const n = typeof v === 'string' && /^\s*[-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?\s*$/i.test(v) ? Number(v) : v;
      return typeof n === 'number' && Number.isFinite(n) ? { value: n } : bad('a number');
    }
    case 'boolean': {
      const s = typeof v === 'string' ? v.trim().toLowerCase() : undefined;
      if (typeof v === 'boolean') return { value: v };
      return s === 'true' || s === 'false' ? { value: s === 'true' } : bad('true or false');
    }
  }
}

function enumProblem(spec: ParamSpec, value: ParamValue): string | undefined {
  if (!spec.enum) return undefined;
  const values = Array.isArray(value) ? value : [value];
  const outside = values.find((x) => typeof x !== 'string' || !spec.enum?.includes(x));
  if (outside === undefined) return undefined;
  const shown = spec.sensitive ? 'value' : JSON.stringify(outside);
  return `${shown} is not one of: ${spec.enum.join(', ')}`;
}

/**
 * Check and type incident parameters against the runbook: unknown names,
 * missing required ones, type coercion from strings ("true"/"false", integers,
 * comma-separated lists) and enums; defaults fill the rest.
 * @throws ParamError listing every problem.
 */
export function coerceParams(doc: RunbookDoc, raw: Record<string, RawParamValue>): Record<string, ParamValue> {
  const problems: string[] = [];
  const out: Record<string, ParamValue> = {};
  const known = Object.keys(doc.params).sort();
  const has = (o: object, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);
  for (const [name, value] of Object.entries(raw)) {
    const spec = has(doc.params, name) ? doc.params[name] : undefined;
    if (!spec) {
      problems.push(`unknown param '${name}' (runbook ${doc.name} takes: ${known.join(', ') || 'no params'})`);
      continue;
    }
    const r = coerce(spec, value);
    const problem = 'error' in r ? r.error : enumProblem(spec, r.value);
    if (problem) problems.push(`param '${name}' (${spec.type}): ${problem}`);
    else if ('value' in r) out[name] = r.value;
  }
  for (const [name, spec] of Object.entries(doc.params)) {
    if (has(raw, name)) continue;
    if (spec.default !== undefined) out[name] = Array.isArray(spec.default) ? [...spec.default] : spec.default;
    else if (spec.required) problems.push(`missing required param '${name}'${spec.description ? ` (${spec.description})` : ''}`);
  }
  if (problems.length > 0) throw new ParamError(problems);
  return out;
}
