/**
 * The signed statement every human decision carries, and its one byte encoding.
 *
 * Encoding: the domain prefix, then `canonicalJson` (lib/canonical.ts: keys sorted at every
 * depth, then `JSON.stringify`). RFC 8785 (JCS) adopts ECMAScript's spelling of strings and
 * numbers and sorts keys by UTF-16 code units as `Array.prototype.sort` does, so the two
 * agree on plain I-JSON data. They differ outside it: lone surrogates (JCS refuses them,
 * `JSON.stringify` escapes them), NaN and Infinity (written as null), objects with toJSON
 * or a class (Date, Map), undefined members (dropped), and a `__proto__` member (the sorter's
 * assignment loses it). Statements stay inside the common ground: strings and safe integers
 * only, member names from a fixed set or a word pattern, strings well-formed, plain objects,
 * all checked by `parseStatement` before anything is signed or verified.
 *
 * Pure and deterministic: runs in the workflow sandbox.
 */
import { utf8ToBytes } from '@noble/hashes/utils';
import { canonicalJson } from '../canonical.js';
import { parseStrictInstant } from './time.js';

/** Separates Firebreak statements from anything else the same key might sign. */
export const STATEMENT_DOMAIN = 'firebreak-statement-v1\n';

export const STATEMENT_KINDS = [
  'declare',
  'approve',
  'resolve',
  'abort',
  'override',
  'waive',
  'confirm',
  'retry',
  'note',
  'personal-data',
  'notice-sent',
] as const;
export type StatementKind = (typeof STATEMENT_KINDS)[number];

/** Decisions that stand for a person's judgement: a service may relay them for a person, never make them as itself. */
export const VOTE_KINDS: readonly StatementKind[] = ['approve', 'resolve', 'override', 'waive', 'confirm'];

export const FRONT_DOORS = ['cli', 'slack', 'schedule', 'intake', 'sentinel', 'drill'] as const;
export type FrontDoor = (typeof FRONT_DOORS)[number];

export interface SlackId {
  team: string;
  user: string;
}

/** What a service vouches for beyond its own signature (Slack: which Slack user made the choice). */
export interface Attestation {
  slack?: SlackId;
}

export interface Statement {
  v: 1;
  kind: StatementKind;
  incidentId: string;
  gate?: string;
  step?: string;
  /** The full SHA-256 (64 hex digits) of what is decided on, e.g. a gate's arguments. */
  argsHash?: string;
  /** The person (or, acting as itself, the service) the decision is by. */
  responder: string;
  /** Id of the signing key (`ed25519:` + 16 hex digits of its SHA-256). */
  keyId: string;
  frontDoor: FrontDoor;
  /** When it was signed: `Date.prototype.toISOString()` form. */
  at: string;
  /** At least 128 random bits, base64url: a statement counts once. */
  nonce: string;
  attests?: Attestation;
  /** Kind-specific fields (e.g. a reason's SHA-256): strings and safe integers only. */
  extra?: Record<string, string | number>;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; problems: string[] };

export const NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;
export const INCIDENT_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;
/** Gate and step ids: runbook step ids (`[a-z][a-z0-9_-]*`) and `resolve`. */
export const STEP_REF = /^[a-z][a-z0-9_-]{0,127}$/;
export const SHA256_HEX = /^[0-9a-f]{64}$/;
export const KEY_ID = /^ed25519:[0-9a-f]{16}$/;
/** base64url of at least 16 bytes (22 characters), at most 64. */
export const NONCE = /^[A-Za-z0-9_-]{22,86}$/;
export const SLACK_ID = /^[A-Z][A-Z0-9]{1,31}$/;
const EXTRA_KEY = /^[a-z][A-Za-z0-9]{0,31}$/;
/** In unicode mode a surrogate class only matches an unpaired surrogate. */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

export const STATEMENT_LIMITS = { bytes: 4096, extraEntries: 16, extraString: 1024 } as const;

const FIELDS = new Set(['v', 'kind', 'incidentId', 'gate', 'step', 'argsHash', 'responder', 'keyId', 'frontDoor', 'at', 'nonce', 'attests', 'extra']);

/** The exact bytes a statement's signature covers. */
export function statementBytes(st: Statement): Uint8Array {
  return utf8ToBytes(STATEMENT_DOMAIN + canonicalJson(st));
}

/**
 * A statement from untrusted input (a workflow update's payload), strictly: unknown fields,
 * wrong types, oversized or ill-formed values are problems. The result is a fresh object
 * holding only the checked fields, so what is verified is what is encoded.
 */
export function parseStatement(value: unknown): Parsed<Statement> {
  const problems: string[] = [];
  // Room for a few unknown fields, so they are named rather than counted.
  const obj = plainObject(value, 'statement', problems, 24);
  if (!obj) return { ok: false, problems };
  for (const key of Object.keys(obj)) if (!FIELDS.has(key)) problems.push(`unknown field ${show(key)}`);

  if (obj.v !== 1) problems.push('v: must be 1');
  const kind = oneOf(obj.kind, STATEMENT_KINDS, 'kind', problems);
  const frontDoor = oneOf(obj.frontDoor, FRONT_DOORS, 'frontDoor', problems);
  const st: Record<string, unknown> = {
    v: 1,
    kind,
    incidentId: text(obj.incidentId, INCIDENT_ID, 'incidentId', problems),
    responder: text(obj.responder, NAME, 'responder', problems),
    keyId: text(obj.keyId, KEY_ID, 'keyId', problems),
    frontDoor,
    at: instant(obj.at, problems),
    nonce: text(obj.nonce, NONCE, 'nonce', problems),
  };
  if (obj.gate !== undefined) st.gate = text(obj.gate, STEP_REF, 'gate', problems);
  if (obj.step !== undefined) st.step = text(obj.step, STEP_REF, 'step', problems);
  if (obj.argsHash !== undefined) st.argsHash = text(obj.argsHash, SHA256_HEX, 'argsHash', problems);
  if (obj.attests !== undefined) st.attests = attestation(obj.attests, problems);
  if (obj.extra !== undefined) st.extra = extra(obj.extra, problems);

  if (problems.length) return { ok: false, problems };
  const statement = st as unknown as Statement;
  if (statementBytes(statement).length > STATEMENT_LIMITS.bytes) return { ok: false, problems: [`statement: longer than ${STATEMENT_LIMITS.bytes} bytes`] };
  return { ok: true, value: statement };
}

function instant(value: unknown, problems: string[]): string | undefined {
  if (typeof value === 'string' && value.length <= 64 && parseStrictInstant(value) !== undefined) return value;
  problems.push(value === undefined ? 'at: missing' : 'at: must be an instant as toISOString() writes it (YYYY-MM-DDTHH:MM:SS.sssZ)');
  return undefined;
}

function attestation(value: unknown, problems: string[]): Attestation | undefined {
  const obj = plainObject(value, 'attests', problems, 8);
  if (!obj) return undefined;
  for (const key of Object.keys(obj)) if (key !== 'slack') problems.push(`attests: unknown field ${show(key)}`);
  const slack = parseSlackId(obj.slack, 'attests.slack', problems);
  if (!slack) {
    if (obj.slack === undefined) problems.push('attests: must name what is attested (slack)');
    return undefined;
  }
  return { slack };
}

/** A `{ team, user }` Slack id (shared with the registry). */
export function parseSlackId(value: unknown, where: string, problems: string[]): SlackId | undefined {
  if (value === undefined) return undefined;
  const obj = plainObject(value, where, problems, 8);
  if (!obj) return undefined;
  for (const key of Object.keys(obj)) if (key !== 'team' && key !== 'user') problems.push(`${where}: unknown field ${show(key)}`);
  const team = text(obj.team, SLACK_ID, `${where}.team`, problems);
  const user = text(obj.user, SLACK_ID, `${where}.user`, problems);
  return team !== undefined && user !== undefined ? { team, user } : undefined;
}

function extra(value: unknown, problems: string[]): Record<string, string | number> | undefined {
  const obj = plainObject(value, 'extra', problems, STATEMENT_LIMITS.extraEntries);
  if (!obj) return undefined;
  const out: Record<string, string | number> = {};
  for (const [key, v] of Object.entries(obj)) {
    const where = `extra.${EXTRA_KEY.test(key) ? key : show(key)}`;
    if (!EXTRA_KEY.test(key)) problems.push(`${where}: names are a lower-case letter then letters and digits (at most 32)`);
    else if (typeof v === 'string') {
      if (v.length > STATEMENT_LIMITS.extraString) problems.push(`${where}: longer than ${STATEMENT_LIMITS.extraString} characters`);
      else if (LONE_SURROGATE.test(v)) problems.push(`${where}: not well-formed unicode (lone surrogate)`);
      else out[key] = v;
    } else if (typeof v === 'number' && Number.isSafeInteger(v) && !Object.is(v, -0)) out[key] = v;
    else problems.push(`${where}: must be a string or a safe integer`);
  }
  return out;
}

/** An object straight from JSON (no class instance, array or symbol keys), with at most `maxKeys` members. */
export function plainObject(value: unknown, where: string, problems: string[], maxKeys: number): Record<string, unknown> | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    problems.push(`${where}: must be an object`);
    return undefined;
  }
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) {
    problems.push(`${where}: must be a plain object`);
    return undefined;
  }
  const keys = Reflect.ownKeys(value);
  if (keys.some((k) => typeof k !== 'string')) {
    problems.push(`${where}: has symbol keys`);
    return undefined;
  }
  if (keys.length > maxKeys) {
    problems.push(`${where}: more than ${maxKeys} members`);
    return undefined;
  }
  // Only data members: a getter could answer differently when read twice.
  for (const k of keys) {
    const d = Object.getOwnPropertyDescriptor(value, k);
    if (!d || !('value' in d) || !d.enumerable) {
      problems.push(`${where}: ${show(String(k))} is not a plain data member`);
      return undefined;
    }
  }
  return value as Record<string, unknown>;
}

/** A string field matching `pattern` (checked for type and length before the pattern). */
export function text(value: unknown, pattern: RegExp, where: string, problems: string[]): string | undefined {
  if (typeof value !== 'string') {
    problems.push(value === undefined ? `${where}: missing` : `${where}: must be a string`);
    return undefined;
  }
  if (value.length > 256 || !pattern.test(value)) {
    problems.push(`${where}: ${show(value)} does not match ${String(pattern)}`);
    return undefined;
  }
  return value;
}

function oneOf<T extends string>(value: unknown, allowed: readonly T[], where: string, problems: string[]): T | undefined {
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T;
  problems.push(`${where}: must be one of ${allowed.join(', ')}`);
  return undefined;
}

/** Untrusted text in a problem, quoted and cut short. */
export function show(value: string): string {
  return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
}
