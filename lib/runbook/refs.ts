/**
 * Template references in step `with` values: `{{ params.NAME }}`,
 * `{{ steps.ID.output.PATH }}` and `{{ incident.FIELD }}`.
 *
 * Pure: runs inside the Temporal workflow sandbox (no Node built-ins, no zod).
 */

export type RefKind = 'params' | 'steps' | 'incident';

/** One parsed reference. */
export interface Ref {
  kind: RefKind;
  /** Param name, step id or incident field. */
  name: string;
  /** Keys / array indexes below `steps.ID.output` (empty for params and incident). */
  path: string[];
  /** The reference as written, without braces, e.g. `steps.snap.output.rows.0`. */
  raw: string;
}

/** What references resolve against at run time. */
export interface RefContext {
  params: Record<string, unknown>;
  steps: Record<string, { output?: unknown }>;
  incident: Record<string, unknown>;
}

/** Incident fields a runbook may reference. */
/** `capabilities`: what the target has configured (redis, postgres, github, nginx, secrets, app), for `when: "'github' in incident.capabilities"`. */
export const INCIDENT_FIELDS = ['id', 'target', 'mode', 'severity', 'declaredBy', 'capabilities'] as const;

/** A `{{ ... }}` that does not parse; `offset` is the 0-based index in the string. */
export class RefSyntaxError extends Error {
  override name = 'RefSyntaxError';
  constructor(
    message: string,
    readonly offset = 0,
  ) {
    super(message);
  }
}

/** A reference whose value is absent at run time. */
export class RefResolutionError extends Error {
  override name = 'RefResolutionError';
  constructor(
    readonly ref: string,
    reason: string,
  ) {
    super(`cannot resolve {{ ${ref} }}: ${reason}`);
  }
}

const NAME = /^[A-Za-z_][A-Za-z0-9_-]*$/;
const SEGMENT = /^[A-Za-z0-9_-]+$/;

/**
 * Parse the dotted text of one reference (`params.x`, `steps.a.output.b.0`,
 * `incident.severity`). Shared with the `when:` expression parser.
 */
export function parseRefText(text: string): Ref {
  const parts = text.split('.');
  const [kind, name, ...rest] = parts;
  if (parts.some((p) => p === '')) throw new RefSyntaxError(`malformed reference '${text}'`);
  if (kind !== 'params' && kind !== 'steps' && kind !== 'incident') {
    throw new RefSyntaxError(`unknown reference '${text}': must start with params., steps. or incident.`);
  }
  if (name === undefined || !NAME.test(name)) {
    throw new RefSyntaxError(`malformed reference '${text}': expected ${kind}.NAME`);
  }
  if (kind === 'steps') {
    const [output, ...path] = rest;
    if (output !== 'output') {
      throw new RefSyntaxError(`malformed reference '${text}': expected steps.${name}.output[.path]`);
    }
    const bad = path.find((p) => !SEGMENT.test(p));
    if (bad !== undefined) throw new RefSyntaxError(`malformed reference '${text}': bad path segment '${bad}'`);
    return { kind, name, path, raw: text };
  }
  if (rest.length > 0) {
    throw new RefSyntaxError(`malformed reference '${text}': ${kind} references take no path below ${kind}.${name}`);
  }
  return { kind, name, path: [], raw: text };
}

interface Piece {
  text?: string;
  ref?: Ref;
}

/** Split a string into literal text and references; throws RefSyntaxError. */
function splitTemplate(s: string): Piece[] {
  const pieces: Piece[] = [];
  let i = 0;
  while (i < s.length) {
    const open = s.indexOf('{{', i);
    if (open < 0) {
      pieces.push({ text: s.slice(i) });
      break;
    }
    if (open > i) pieces.push({ text: s.slice(i, open) });
    const close = s.indexOf('}}', open + 2);
    if (close < 0) throw new RefSyntaxError(`unclosed '{{' at offset ${open}`, open);
    const inner = s.slice(open + 2, close);
    if (inner.includes('{{')) throw new RefSyntaxError(`nested '{{' at offset ${open}`, open);
    const text = inner.trim();
    if (text === '') throw new RefSyntaxError(`empty '{{ }}' at offset ${open}`, open);
    try {
      pieces.push({ ref: parseRefText(text) });
    } catch (e) {
      if (e instanceof RefSyntaxError) throw new RefSyntaxError(e.message, open);
      throw e;
    }
    i = close + 2;
  }
  return pieces;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Every reference inside `value` (objects, arrays and strings, depth-first, in
 * order). Throws RefSyntaxError for a malformed `{{ ... }}`.
 */
export function findRefs(value: unknown): Ref[] {
  if (typeof value === 'string') return splitTemplate(value).flatMap((p) => (p.ref ? [p.ref] : []));
  if (Array.isArray(value)) return value.flatMap((v) => findRefs(v));
  if (isRecord(value)) return Object.values(value).flatMap((v) => findRefs(v));
  return [];
}

/**
 * If `s` is exactly one reference (whitespace around allowed), that reference;
 * otherwise undefined. Throws RefSyntaxError for a malformed `{{ ... }}`.
 */
export function soleRef(s: string): Ref | undefined {
  const pieces = splitTemplate(s).filter((p) => p.ref || (p.text ?? '').trim() !== '');
  return pieces.length === 1 ? pieces[0]?.ref : undefined;
}

const hasOwn = (o: object, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);

/** Look one reference up; undefined when any part is missing. Own properties only. */
export function lookupRef(ref: Ref, ctx: RefContext): unknown {
  let cur: unknown;
  if (ref.kind === 'steps') {
    const step = hasOwn(ctx.steps, ref.name) ? ctx.steps[ref.name] : undefined;
    cur = step?.output;
  } else {
    const bag = ref.kind === 'params' ? ctx.params : ctx.incident;
    cur = hasOwn(bag, ref.name) ? bag[ref.name] : undefined;
  }
  for (const key of ref.path) {
    if (Array.isArray(cur) && /^\d+$/.test(key)) cur = cur[Number(key)];
    else if (isRecord(cur) && hasOwn(cur, key)) cur = cur[key];
    else return undefined;
  }
  return cur;
}

function mustLookup(ref: Ref, ctx: RefContext): unknown {
  const v = lookupRef(ref, ctx);
  if (v !== undefined) return v;
  if (ref.kind === 'steps' && !hasOwn(ctx.steps, ref.name)) throw new RefResolutionError(ref.raw, `step '${ref.name}' has not run`);
  throw new RefResolutionError(ref.raw, 'no such value');
}

function resolveString(s: string, ctx: RefContext): unknown {
  const pieces = splitTemplate(s);
  const sole = soleRef(s);
  if (sole) return mustLookup(sole, ctx);
  if (!pieces.some((p) => p.ref)) return s;
  return pieces
    .map((p) => {
      if (!p.ref) return p.text ?? '';
      const v = mustLookup(p.ref, ctx);
      return typeof v === 'string' ? v : JSON.stringify(v);
    })
    .join('');
}

/**
 * A copy of `value` with references replaced. A string that is exactly one
 * reference becomes the referenced value with its type; a string mixing text and
 * references is interpolated (non-strings JSON-encoded). A missing value throws
 * RefResolutionError naming the reference.
 */
export function resolveRefs(value: unknown, ctx: RefContext): unknown {
  if (typeof value === 'string') return resolveString(value, ctx);
  if (Array.isArray(value)) return value.map((v) => resolveRefs(v, ctx));
  if (isRecord(value)) {
    const out: Record<string, unknown> = {};
    // defineProperty: a `__proto__` key stays a plain key.
    for (const [k, v] of Object.entries(value)) {
      Object.defineProperty(out, k, { value: resolveRefs(v, ctx), enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  return value;
}
