/**
 * Sensitive parameter values (`sensitive: true`) shown as fingerprints wherever Firebreak
 * displays incident data outside the encrypted payloads it acts with (the status answer and
 * the workflow's result: gate arguments, step summaries, the timeline; the documents). The hash approvers sign covers the real
 * values; only the display changes. Pure: the workflow applies it.
 */
import { sha256Hex } from '../canonical.js';
import type { ParamValue, RunbookDoc } from './types.js';

/** `sensitive:sha256:<12 hex>`: enough to tell two values apart, nothing to recover one. */
export const fingerprint = (value: string): string => `sensitive:sha256:${sha256Hex(value).slice(0, 12)}`;

/** The values of this incident's sensitive parameters (each entry of a list counts). */
export function sensitiveValues(doc: RunbookDoc, params: Record<string, ParamValue>): string[] {
  const out: string[] = [];
  for (const [name, spec] of Object.entries(doc.params)) {
    if (!spec.sensitive) continue;
    const v = params[name];
    for (const x of Array.isArray(v) ? v : [v]) if (typeof x === 'string' && x !== '') out.push(x);
  }
  return out;
}

/** `value` with every occurrence of a sensitive value, in every string, replaced by the value's fingerprint. */
export function maskSensitive<T>(value: T, secrets: readonly string[]): T {
  if (!secrets.length) return value;
  // Longest first: a value that contains another is replaced whole.
  const ordered = [...new Set(secrets)].sort((a, b) => b.length - a.length);
  const mask = (v: unknown): unknown => {
    if (typeof v === 'string') return ordered.reduce((text, s) => (text.includes(s) ? text.split(s).join(fingerprint(s)) : text), v);
    if (Array.isArray(v)) return v.map(mask);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, mask(x)]));
    return v;
  };
  return mask(value) as T;
}
