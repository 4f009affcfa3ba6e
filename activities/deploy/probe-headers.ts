/**
 * The header checks of `deploy.probe`: HTTPS redirect, TLS, HSTS ≥ 1 year, an
 * enforcing CSP per route, frame denial, nosniff, Permissions-Policy. Pure.
 */
import { first, HSTS_MIN_MAX_AGE, REDIRECT_STATUSES, truncate, via, type ProbeResponse, type ProbeRow, type RedirectProbe, type TlsInfo } from './probe-types.js';

// ─── HSTS ──────────────────────────────────────────────────────────────────

export interface Hsts {
  maxAge?: number;
  includeSubDomains: boolean;
  preload: boolean;
  /** Why a browser would ignore the header. */
  problem?: string;
}

/** RFC 6797 §6.1: `;`-separated directives, names case-insensitive, values token or quoted. */
export function parseHsts(value: string): Hsts {
  const out: Hsts = { includeSubDomains: false, preload: false };
  const seen = new Set<string>();
  for (const part of value.split(';')) {
    const trimmed = part.trim();
    if (!trimmed) continue;
    const eq = trimmed.indexOf('=');
    const name = (eq < 0 ? trimmed : trimmed.slice(0, eq)).trim().toLowerCase();
    const raw = eq < 0 ? undefined : trimmed.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
    if (seen.has(name)) return { ...out, problem: `directive ${name} appears twice (browsers ignore the header)` };
    seen.add(name);
    if (name === 'max-age') {
      if (raw === undefined || !/^\d+$/.test(raw)) return { ...out, problem: `max-age "${raw ?? ''}" is not a number of seconds` };
      out.maxAge = Number(raw);
    } else if (name === 'includesubdomains') out.includeSubDomains = true;
    else if (name === 'preload') out.preload = true;
  }
  if (out.maxAge === undefined) out.problem = 'no max-age directive (browsers ignore the header)';
  return out;
}

// ─── CSP ───────────────────────────────────────────────────────────────────

/** One policy: directive name (lower-case) → source expressions, as written. */
export type CspPolicy = Map<string, string[]>;

/** A header value may hold several policies (comma-separated); a repeated directive keeps its first. */
export function parseCsp(values: string[]): CspPolicy[] {
  const policies: CspPolicy[] = [];
  for (const value of values) {
    for (const serialized of value.split(',')) {
      const policy: CspPolicy = new Map();
      for (const directive of serialized.split(';')) {
        const tokens = directive.trim().split(/\s+/).filter(Boolean);
        const name = tokens[0]?.toLowerCase();
        if (name && !policy.has(name)) policy.set(name, tokens.slice(1));
      }
      if (policy.size) policies.push(policy);
    }
  }
  return policies;
}

const HASH_OR_NONCE = /^'(nonce-|sha256-|sha384-|sha512-)/i;
const ANY_ORIGIN = new Set(['*', 'http:', 'https:', 'data:']);

/** Why this policy does not stop injected scripts, or undefined when it does. */
export function scriptWeakness(policy: CspPolicy): string | undefined {
  const directive = policy.has('script-src') ? 'script-src' : policy.has('default-src') ? 'default-src' : undefined;
  if (!directive) return 'no script-src or default-src: scripts are not restricted';
  const sources = policy.get(directive) ?? [];
  const lower = sources.map((s) => s.toLowerCase());
  const pinned = sources.some((s) => HASH_OR_NONCE.test(s));
  // With a nonce or hash, 'strict-dynamic' makes browsers ignore host and scheme sources and 'unsafe-inline'.
  if (pinned && lower.includes("'strict-dynamic'")) return undefined;
  const problems: string[] = [];
  if (lower.includes("'unsafe-inline'") && !pinned) problems.push("'unsafe-inline' without a nonce or hash");
  const broad = sources.filter((s) => ANY_ORIGIN.has(s.toLowerCase()));
  if (broad.length) problems.push(`${broad.join(' ')} allows scripts from anywhere`);
  return problems.length ? `${directive} ${problems.join('; ')}` : undefined;
}

export function cspRow(route: string, res: ProbeResponse): ProbeRow {
  const where = via(res);
  const enforcing = first(res.headers, 'content-security-policy').filter((v) => v.trim());
  const reportOnly = first(res.headers, 'content-security-policy-report-only').filter((v) => v.trim());
  if (!enforcing.length) {
    const detail = reportOnly.length
      ? 'only Content-Security-Policy-Report-Only: violations are reported, nothing is blocked'
      : 'no Content-Security-Policy header';
    return { check: 'csp', route, passed: false, detail: detail + where };
  }
  const policies = parseCsp(enforcing);
  const weaknesses = policies.map(scriptWeakness);
  // Every enforcing policy applies: one strict policy is enough to block injected scripts.
  if (weaknesses.some((w) => w === undefined)) {
    const script = policies.map((p) => p.get('script-src') ?? p.get('default-src')).find(Boolean);
    return { check: 'csp', route, passed: true, detail: `enforcing; scripts: ${script?.join(' ') || '(none)'}${where}` };
  }
  return { check: 'csp', route, passed: false, detail: `${[...new Set(weaknesses)].join('; ')}${where}` };
}

// ─── Framing, nosniff, Permissions-Policy ──────────────────────────────────

export function framingRow(res: ProbeResponse): ProbeRow {
  const policies = parseCsp(first(res.headers, 'content-security-policy'));
  const ancestors = policies.map((p) => p.get('frame-ancestors')).filter((a): a is string[] => a !== undefined);
  const restrictive = ancestors.find((a) => a.length > 0 && a.every((s) => ["'none'", "'self'"].includes(s.toLowerCase())));
  if (restrictive) return { check: 'framing', passed: true, detail: `CSP frame-ancestors ${restrictive.join(' ')}` };
  if (ancestors.length) {
    // Browsers ignore X-Frame-Options when frame-ancestors is present.
    return { check: 'framing', passed: false, detail: `CSP frame-ancestors ${ancestors[0]?.join(' ') || '(empty)'} allows framing, and overrides X-Frame-Options` };
  }
  const xfo = [...new Set(first(res.headers, 'x-frame-options').flatMap((v) => v.split(',')).map((v) => v.trim().toUpperCase()).filter(Boolean))];
  if (!xfo.length) return { check: 'framing', passed: false, detail: 'no X-Frame-Options and no CSP frame-ancestors' };
  if (xfo.length === 1 && (xfo[0] === 'DENY' || xfo[0] === 'SAMEORIGIN')) return { check: 'framing', passed: true, detail: `X-Frame-Options ${xfo[0]}` };
  return { check: 'framing', passed: false, detail: `X-Frame-Options ${xfo.join(', ')} is not DENY or SAMEORIGIN` };
}

export function nosniffRow(res: ProbeResponse): ProbeRow {
  const values = first(res.headers, 'x-content-type-options');
  const value = values[0]?.split(',')[0]?.trim();
  if (value?.toLowerCase() === 'nosniff') return { check: 'nosniff', passed: true, detail: 'X-Content-Type-Options nosniff' };
  return { check: 'nosniff', passed: false, detail: value ? `X-Content-Type-Options "${value}" is not nosniff` : 'no X-Content-Type-Options header' };
}

export function permissionsPolicyRow(res: ProbeResponse): ProbeRow {
  const value = first(res.headers, 'permissions-policy').join(', ').trim();
  if (value) return { check: 'permissions-policy', passed: true, detail: truncate(value, 120) };
  const legacy = first(res.headers, 'feature-policy').length > 0;
  return { check: 'permissions-policy', passed: false, detail: legacy ? 'only the legacy Feature-Policy header' : 'no Permissions-Policy header' };
}

// ─── HTTPS redirect, TLS, HSTS ─────────────────────────────────────────────

export function redirectRow(p: RedirectProbe): ProbeRow {
  const row = (passed: boolean, detail: string): ProbeRow => ({ check: 'https-redirect', passed, detail });
  if (p.error) return row(false, `${p.url} did not answer (${p.error}): plain HTTP should redirect to HTTPS`);
  if (p.status === undefined || !REDIRECT_STATUSES.includes(p.status)) {
    return row(false, `${p.url} answered ${p.status ?? 'nothing'} instead of redirecting to HTTPS`);
  }
  if (!p.location) return row(false, `${p.url} answered ${p.status} without a Location header`);
  let to: URL;
  try {
    to = new URL(p.location, p.url);
  } catch {
    return row(false, `${p.url} redirects to an invalid Location "${truncate(p.location, 100)}"`);
  }
  if (to.protocol !== 'https:') return row(false, `${p.url} redirects to ${to.href}, not to HTTPS`);
  if (to.hostname !== p.expectHost) return row(false, `${p.url} redirects to another host (${to.href}; expected ${p.expectHost})`);
  return row(true, `${p.url} → ${p.status} ${to.href}`);
}

export function tlsRow(t: TlsInfo): ProbeRow {
  if (!t.trusted) {
    return {
      check: 'tls',
      passed: false,
      detail: `${t.url}: certificate not trusted (${t.error ?? 'unknown'}); the other checks could not run (a private CA goes in app.caFile)`,
    };
  }
  return { check: 'tls', passed: true, detail: `certificate trusted${t.protocol ? `, ${t.protocol}` : ''}${t.validTo ? `, valid until ${t.validTo}` : ''}` };
}

export function hstsRow(res: ProbeResponse): ProbeRow {
  const values = first(res.headers, 'strict-transport-security');
  const row = (passed: boolean, detail: string): ProbeRow => ({ check: 'hsts', passed, detail: detail + via(res) });
  if (new URL(res.finalUrl).protocol !== 'https:') {
    return row(false, values.length ? 'sent over plain HTTP, where browsers ignore it' : 'no HTTPS, so no Strict-Transport-Security');
  }
  const value = values[0]?.split(',')[0]?.trim();
  if (!value) return row(false, 'no Strict-Transport-Security header');
  const hsts = parseHsts(value);
  const extra = values.length > 1 ? ` (${values.length} headers: browsers use the first)` : '';
  if (hsts.problem) return row(false, `"${truncate(value, 100)}": ${hsts.problem}${extra}`);
  const flags = [hsts.includeSubDomains && 'includeSubDomains', hsts.preload && 'preload'].filter(Boolean).join('; ');
  const shown = `max-age=${hsts.maxAge}${flags ? `; ${flags}` : ''}${extra}`;
  if ((hsts.maxAge ?? 0) < HSTS_MIN_MAX_AGE) return row(false, `${shown}: max-age is below ${HSTS_MIN_MAX_AGE} (1 year)`);
  return row(true, shown);
}
