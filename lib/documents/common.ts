/**
 * Shared pieces of the phase IV documents: the facts a notice needs, UTC time
 * formatting, Markdown escaping, and the rules that keep secrets out. Pure: no
 * I/O and no clock; every time comes from the status or the facts.
 */
import { JWT_PATTERN, PROVIDER_TOKEN_PATTERN } from '../redact.js';
import type { IncidentStatus, StepStatus } from '../../workflows/definitions.js';
import { GDPR_DEADLINE_HOURS } from '../gdpr.js';

/** Placeholder a human must replace before a document leaves the team. */
export const TODO = '_TODO_';

/** What the notices need beyond the incident's status. */
export interface NoticeFacts {
  /** Personal data affected: a GDPR Art. 33 notice is needed. */
  personalData: boolean;
  /** High risk to data subjects: an Art. 34 notice too. */
  highRisk: boolean;
  /** ISO: the moment of awareness (default: declaredAt); the 72 h clock starts here. */
  awareAt: string;
  /** ISO: when the document is generated (decides "late"). */
  generatedAt: string;
  noticeSentAt?: string;
  noticeSentBy?: string;
  dataCategories?: string[];
  subjectsApprox?: number;
  recordsApprox?: number;
  dpoContact?: string;
  organisation?: string;
  delayReasons?: string;
}

/** One generated document: a stable name (output key), its file name and text. */
export interface GeneratedDocument {
  name: 'postmortem' | 'gdpr-art33' | 'gdpr-art34' | 'ccpa';
  file: string;
  content: string;
}

/** The GDPR Art. 33(1) window. */
export { GDPR_DEADLINE_HOURS } from '../gdpr.js';

const HOUR_MS = 3_600_000;

/** Parse an ISO time; throws a one-line error naming the field when it is not one. */
export function parseTime(value: string, field: string): number {
  const ms = typeof value === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(ms)) throw new Error(`${field} must be an ISO 8601 time (e.g. 2026-03-14T02:47:12Z), got ${JSON.stringify(String(value).slice(0, 60))}`);
  return ms;
}

/** `2026-03-14 02:47:12 UTC`. */
export function utc(iso: string): string {
  return `${new Date(parseTime(iso, 'time')).toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** `2026-03-14`. */
export function utcDate(iso: string): string {
  return new Date(parseTime(iso, 'time')).toISOString().slice(0, 10);
}

/** `3 h 12 min`, `45 s`, `2 d 4 h`. */
export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const min = Math.floor(s / 60);
  if (min < 60) return `${min} min`;
  const h = Math.floor(min / 60);
  if (h < 48) return `${h} h${min % 60 ? ` ${min % 60} min` : ''}`;
  return `${Math.floor(h / 24)} d${h % 24 ? ` ${h % 24} h` : ''}`;
}

/** The Art. 33 deadline: awareness + 72 h, as ISO. */
export function gdprDeadline(facts: NoticeFacts): string {
  return new Date(parseTime(facts.awareAt, 'awareAt') + GDPR_DEADLINE_HOURS * HOUR_MS).toISOString();
}

/** Where the Art. 33 notice stands when the document is generated. */
export interface DeadlineState {
  deadline: string;
  sent: boolean;
  /** Not sent within 72 h (sent after the deadline, or not sent and the deadline has passed). */
  late: boolean;
  /** ms left (positive) or overdue (negative), relative to sending or to generation. */
  marginMs: number;
}

export function deadlineState(facts: NoticeFacts): DeadlineState {
  const deadline = gdprDeadline(facts);
  const due = Date.parse(deadline);
  const sent = facts.noticeSentAt !== undefined;
  const reference = sent ? parseTime(facts.noticeSentAt as string, 'noticeSentAt') : parseTime(facts.generatedAt, 'generatedAt');
  return { deadline, sent, late: reference > due, marginMs: due - reference };
}

// ---- secrets ----------------------------------------------------------------

const REDACTED = '[redacted]';

/** Shannon entropy in bits per character. */
function entropy(text: string): number {
  const counts = new Map<string, number>();
  for (const ch of text) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let bits = 0;
  for (const n of counts.values()) {
    const p = n / text.length;
    bits -= p * Math.log2(p);
  }
  return bits;
}

/**
 * Defence in depth for free text (summaries, notes, reasons): activities never
 * put secrets there, but people paste tokens into notes. Redacts JWTs, URL
 * passwords, well-known token formats, `*SECRET*=value` assignments and long
 * random-looking strings (hex digests and commit ids stay: they are not secrets).
 */
export function redact(text: string): string {
  return text
    .replace(JWT_PATTERN, '[redacted JWT]')
    .replace(/\b([a-z][a-z0-9+.-]*:\/\/[^\s:@/]+):[^\s@/]+@/gi, `$1:${REDACTED}@`)
    .replace(PROVIDER_TOKEN_PATTERN, REDACTED)
    .replace(/\b([A-Za-z0-9_]*(?:PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY)[A-Za-z0-9_]*)\s*=\s*("[^"]*"|'[^']*'|[^\s,;]+)/gi, (m, key: string) =>
      // `secretName=JWT_SECRET_KEY` names a secret; it does not hold one.
      /(?:name|id|file|ref|fingerprint)$/i.test(key) ? m : `${key}=${REDACTED}`,
    )
    .replace(/[A-Za-z0-9+/_-]{16,}={0,2}/g, (m) => (randomLooking(m.replace(/[-_/]+/g, '')) || m.split(/[-_/]+/).some(randomLooking) ? REDACTED : m));
}

/** Share of neighbouring characters of different classes (lower, upper, digit): high in random strings, low in words and camelCase. */
function mixing(word: string): number {
  const cls = (c: string) => (/[a-z]/.test(c) ? 0 : /[A-Z]/.test(c) ? 1 : /\d/.test(c) ? 2 : 3);
  let changes = 0;
  for (let i = 1; i < word.length; i++) if (cls(word[i] as string) !== cls(word[i - 1] as string)) changes++;
  return changes / Math.max(1, word.length - 1);
}

/** A word that looks generated rather than written; hex digests and commit ids are not secrets and stay. */
function randomLooking(word: string): boolean {
  const w = word.replace(/=+$/, '');
  const lower = /[a-z]/.test(w);
  const upper = /[A-Z]/.test(w);
  const digit = /\d/.test(w);
  const m = mixing(w);
  if (w.length >= 16 && lower && upper && digit) return m >= 0.4 && entropy(w) >= 3.5;
  if (w.length >= 24 && lower && upper) return m >= 0.4 && entropy(w) >= 4.2;
  return w.length >= 24 && !upper && lower && digit && !/^[0-9a-f]+$/.test(w) && m >= 0.3 && entropy(w) >= 4;
}

/** One line of Markdown-safe text: no raw HTML, no line breaks, secrets redacted. */
export function inline(text: string): string {
  return redact(text)
    .replace(/[\r\n\t]+/g, ' ')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .trim();
}

/** As `inline`, for a table cell. */
export function cell(text: string): string {
  return inline(text).replace(/\|/g, '\\|');
}

/** An identifier in a code span (step ids, action names, keys). */
export function code(text: string): string {
  const t = inline(text).replace(/`/g, "'");
  return `\`${t}\``;
}

/** A code span for text already made safe (a proof summary): only backticks, breaks and pipes are touched. */
export function safeCode(text: string): string {
  return `\`${text.replace(/`/g, "'").replace(/[\r\n]+/g, ' ').replace(/\|/g, '\\|')}\``;
}

/**
 * Proof fields printed in documents, at any depth. Everything else is left out
 * (in particular anything named like `value`, `password`, `secret`, `token`):
 * only fields known to hold evidence, never a secret, are shown.
 */
const PROOF_FIELDS = new Set([
  'active', 'all', 'branch', 'changed', 'checked', 'conclusion', 'deniedWrite', 'documents', 'endedLeft', 'epoch', 'failed', 'inactive',
  'key', 'keys', 'keysGone', 'matchesRecord', 'minValue', 'missing', 'of', 'passed', 'privileges', 'readBack', 'readOnlyDefault', 'ref',
  'registry', 'repo', 'revoked', 'epochKey', 'role', 'runId', 'sampled', 'secretName', 'secret_name', 'sessionsEnded', 'sessionsTerminated', 'sha',
  'sha256', 'simplejwtOpen', 'sink', 'sinks', 'table', 'tables', 'ttlSeconds', 'url', 'workflow', 'wrote', 'fingerprint',
]);

/** A fingerprint is a short hex prefix of a hash (e.g. 12 hex of SHA-256); anything longer might be a value. */
const FINGERPRINT = /^(?:sha256:)?[0-9a-f]{8,16}$/i;

function proofScalar(key: string, value: unknown): string | undefined {
  if (value === null) return 'null';
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value !== 'string') return undefined;
  if (key === 'fingerprint') return FINGERPRINT.test(value) ? value : '[withheld]';
  if (key === 'sha256' || key === 'sha') return /^[0-9a-f]{7,64}$/i.test(value) ? value.slice(0, 12) : '[withheld]';
  const text = inline(value);
  return text.length > 100 ? `${text.slice(0, 97)}…` : text;
}

function proofPairs(value: Record<string, unknown>, prefix: string, depth: number, out: string[]): void {
  for (const key of Object.keys(value).sort()) {
    if (!PROOF_FIELDS.has(key)) continue;
    const v = value[key];
    const path = `${prefix}${key}`;
    if (Array.isArray(v)) {
      const items = v.slice(0, 5).map((x) => proofScalar(key, x) ?? (x && typeof x === 'object' ? proofObject(x as Record<string, unknown>) : undefined));
      const shown = items.filter((x): x is string => x !== undefined && x !== '');
      out.push(`${path}=[${shown.join(', ')}${v.length > 5 ? `, +${v.length - 5} more` : ''}]`);
    } else if (v && typeof v === 'object') {
      // Sinks keyed by description (secrets.*): the names, not the read-back details.
      if (key === 'sinks') out.push(`${path}=[${Object.keys(v).map((k) => inline(k)).join(', ')}]`);
      else if (depth < 2) proofPairs(v as Record<string, unknown>, `${path}.`, depth + 1, out);
    } else {
      const s = proofScalar(key, v);
      if (s !== undefined) out.push(`${path}=${s}`);
    }
  }
}

function proofObject(value: Record<string, unknown>): string {
  const out: string[] = [];
  proofPairs(value, '', 1, out);
  return out.length ? `{${out.join(' ')}}` : '';
}

/** `key=:1:EMERGENCY_LOCKDOWN readBack=1`: the whitelisted evidence of a step, one line. */
export function proofSummary(proof: Record<string, unknown> | undefined): string {
  if (!proof) return '';
  const out: string[] = [];
  proofPairs(proof, '', 0, out);
  return out.join(' ');
}

// ---- what the incident did --------------------------------------------------

/** A rotated secret as documents show it: names, sinks and fingerprints only. */
export interface RotatedSecret {
  step: string;
  action: string;
  state: StepStatus['state'];
  secret?: string;
  sinks: string[];
  fingerprint?: string;
}

function sinkName(s: unknown): string | undefined {
  if (typeof s === 'string') return s;
  if (s && typeof s === 'object') {
    const o = s as Record<string, unknown>;
    for (const k of ['sink', 'kind', 'name']) if (typeof o[k] === 'string') return o[k];
  }
  return undefined;
}

/** Phase III secret rotations (not the human checklist), from each step's proof, else its summary. */
export function rotatedSecrets(status: IncidentStatus): RotatedSecret[] {
  return status.steps
    .filter((s) => s.phase === 'recovery' && s.action.startsWith('secrets.') && s.action !== 'secrets.manual')
    .map((s) => {
      const proof = s.proof ?? {};
      const summary = s.summary ?? '';
      // `sinks`: { description: read-back } (secrets.*), or a list of names or { sink, fingerprint }; or one `sink`.
      const rawSinks = Array.isArray(proof.sinks)
        ? (proof.sinks as unknown[])
        : proof.sinks && typeof proof.sinks === 'object'
          ? Object.keys(proof.sinks)
          : proof.sink !== undefined
            ? [proof.sink]
            : [];
      const sinks = [...new Set(rawSinks.map(sinkName).filter((x): x is string => x !== undefined).map(inline))];
      const perSink = rawSinks.map((x) => (x && typeof x === 'object' ? (x as Record<string, unknown>).fingerprint : undefined)).find((f) => typeof f === 'string');
      const candidates = [proof.fingerprint, perSink, /fingerprint[ :=]+([0-9a-f]{8,16})\b/i.exec(summary)?.[1]];
      const fingerprint = candidates.find((f): f is string => typeof f === 'string' && FINGERPRINT.test(f));
      const name = [proof.secretName, proof.secret_name].find((n): n is string => typeof n === 'string' && /^[A-Za-z_][A-Za-z0-9_.-]{0,99}$/.test(n));
      return { step: s.id, action: s.action, state: s.state, secret: name, sinks, fingerprint };
    });
}

/** Steps that did something (not skipped, pending or cancelled). */
export function actedSteps(status: IncidentStatus, phase: StepStatus['phase']): StepStatus[] {
  return status.steps.filter((s) => s.phase === phase && ['succeeded', 'undone', 'overridden', 'failed', 'running', 'planned'].includes(s.state));
}

/** Plain-language description of what an action did, for notices to people (undefined: not worth telling). */
const PLAIN_MEASURES: Record<string, string> = {
  'tokens.revoke': 'We ended the affected sign-in sessions, so the exposed access can no longer be used.',
  'tokens.disable_users': 'We temporarily disabled the affected accounts.',
  'network.ban_ips': 'We blocked the network addresses that misused the access.',
  'lockdown.enable': 'We took the service offline for a short time while we contained the incident.',
  'database.read_only': 'We stopped all changes to the affected database while we investigated.',
  'secrets.rotate_db_password': 'We replaced the passwords and keys our systems use, so the exposed ones no longer work.',
  'secrets.rotate_jwt_key': 'We replaced the passwords and keys our systems use, so the exposed ones no longer work.',
  'secrets.manual': 'We replaced the passwords and keys our systems use, so the exposed ones no longer work.',
  'deploy.verify_commit': 'We verified the integrity of the software we run.',
  'deploy.redeploy': 'We redeployed a verified version of our service.',
  'deploy.probe': 'We checked the security settings of our live service.',
};

/** Distinct plain-language measures from phases II and III, in the order they happened. */
export function plainMeasures(status: IncidentStatus): string[] {
  const done = status.steps.filter((s) => (s.phase === 'containment' || s.phase === 'recovery') && ['succeeded', 'undone', 'overridden'].includes(s.state));
  return [...new Set(done.map((s) => PLAIN_MEASURES[s.action]).filter((m): m is string => m !== undefined))];
}

/** Mode banner lines (empty for live incidents). */
export function modeBanner(status: IncidentStatus, what: string): string[] {
  if (status.mode === 'drill') return [`> **DRILL — NOT A REAL INCIDENT.** This ${what} was generated from a drill; do not send or publish it.`, ''];
  if (status.mode === 'dry-run') return [`> **DRY RUN — NOTHING WAS CHANGED.** Steps only planned their actions; this ${what} describes a rehearsal.`, ''];
  return [];
}

/** "approximately 1,850" or the placeholder. */
export function approx(n: number | undefined): string {
  return n === undefined ? TODO : `approximately ${String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',')}`;
}

/** Who vouches for the names in this report: the worker's verified signatures, or nobody (a development target). */
export function identityCell(status: Pick<IncidentStatus, 'identity'>): string {
  const id = status.identity;
  if (!id) return 'not recorded (declared before signed decisions)';
  if (!id.authenticated) return '**UNAUTHENTICATED** — a target marked for local development: names are as typed, nothing was signed';
  return `signed decisions, verified by the worker (declaration: key ${code(id.declarer.keyId ?? '?')}, ${id.declarer.via}${id.declarer.service ? ` via ${cell(id.declarer.service)}` : ''})`;
}
