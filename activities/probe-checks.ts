/**
 * Pure half of `deploy.probe`: header parsers and `evaluate(observations)`, which turns what
 * the probe saw into one row per check of the guide's production checklist (HTTPS redirect,
 * HSTS ≥ 1 year, enforcing CSP per route, frame denial, nosniff, Permissions-Policy, cookie
 * flags, no debug page, CORS restricted to an explicit allowlist). No I/O here, so every rule
 * is unit-testable.
 */

export interface ProbeRow {
  check: string;
  route?: string;
  passed: boolean;
  detail: string;
}

/** One response after the redirects were followed; header names lower-case, every value kept. */
export interface ProbeResponse {
  url: string;
  finalUrl: string;
  status: number;
  headers: Record<string, string[]>;
  body: string;
  /** Redirects followed (at most `MAX_REDIRECTS`); `truncated` when the chain went on. */
  redirects: number;
  truncated: boolean;
}

/** The single, unfollowed request to the plain-HTTP endpoint. */
export interface RedirectProbe {
  url: string;
  /** Host the redirect must stay on. */
  expectHost: string;
  status?: number;
  location?: string;
  error?: string;
}

export interface TlsInfo {
  url: string;
  trusted: boolean;
  error?: string;
  protocol?: string;
  validTo?: string;
}

export interface SeenCookie {
  url: string;
  header: string;
}

export interface Observations {
  redirect: RedirectProbe;
  /** Absent when no HTTPS URL was reached (plain HTTP without a redirect). */
  tls?: TlsInfo;
  /** Absent when the certificate was refused: nothing else could be checked. */
  base?: ProbeResponse;
  routes: Array<{ route: string; response: ProbeResponse }>;
  notFound?: ProbeResponse;
  cookies: SeenCookie[];
  sessionCookies: string[];
  /** Per route, what the app answered to cross-origin requests. */
  cors: CorsProbe[];
  /** app.corsAllowedOrigins: the only origins the app may admit. */
  corsAllowedOrigins: string[];
}

/** One cross-origin request and the CORS headers of its answer. */
export interface CorsAnswer {
  method: 'GET' | 'preflight';
  /** The Origin header sent. */
  origin: string;
  /** Access-Control-Allow-Origin values (several = browsers refuse). */
  allowOrigin: string[];
  allowCredentials: boolean;
}

export interface CorsProbe {
  route: string;
  /** Origins that must not be admitted, with what each one stands for. */
  foreign: Record<string, string>;
  answers: CorsAnswer[];
}

export const MAX_REDIRECTS = 5;
export const HSTS_MIN_MAX_AGE = 31_536_000;
/** The guide wants the CSRF cookie readable by JS (CSRF_COOKIE_HTTPONLY = False). */
export const CSRF_COOKIE = 'csrftoken';
export const REDIRECT_STATUSES = [301, 302, 307, 308];

const first = (headers: Record<string, string[]>, name: string): string[] => headers[name] ?? [];

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

// ─── Cookies ───────────────────────────────────────────────────────────────

export interface SetCookie {
  name: string;
  secure: boolean;
  httpOnly: boolean;
  sameSite?: string;
}

export function parseSetCookie(header: string): SetCookie {
  const [pair = '', ...attrs] = header.split(';');
  const eq = pair.indexOf('=');
  const out: SetCookie = { name: (eq < 0 ? '' : pair.slice(0, eq)).trim(), secure: false, httpOnly: false };
  for (const attr of attrs) {
    const i = attr.indexOf('=');
    const name = (i < 0 ? attr : attr.slice(0, i)).trim().toLowerCase();
    if (name === 'secure') out.secure = true;
    else if (name === 'httponly') out.httpOnly = true;
    else if (name === 'samesite') out.sameSite = i < 0 ? '' : attr.slice(i + 1).trim();
  }
  return out;
}

export function cookieProblems(c: SetCookie): string[] {
  const problems: string[] = [];
  if (!c.secure) problems.push('no Secure');
  if (!c.httpOnly && c.name !== CSRF_COOKIE) problems.push('no HttpOnly');
  const sameSite = c.sameSite?.toLowerCase();
  if (sameSite === undefined || sameSite === '') problems.push('no SameSite');
  else if (sameSite === 'none') problems.push('SameSite=None');
  else if (sameSite !== 'lax' && sameSite !== 'strict') problems.push(`SameSite=${c.sameSite} (not Lax or Strict)`);
  return problems;
}

export function cookieRow(name: string, seen: SeenCookie[]): ProbeRow {
  const check = `cookie:${name}`;
  const mine = seen.map((s) => ({ ...s, cookie: parseSetCookie(s.header) })).filter((s) => s.cookie.name === name);
  if (!mine.length) return { check, passed: true, detail: 'not seen (not set on the probed pages without a login)' };
  const bad = mine.map((s) => ({ url: s.url, problems: cookieProblems(s.cookie) })).filter((s) => s.problems.length);
  if (bad.length) {
    const problems = [...new Set(bad.flatMap((b) => b.problems))];
    return { check, passed: false, detail: `${problems.join(', ')} (set by ${bad[0]?.url})` };
  }
  const c = mine[0]?.cookie;
  const flags = ['Secure', c?.httpOnly ? 'HttpOnly' : 'readable by JS (CSRF double-submit)', `SameSite=${c?.sameSite}`];
  return { check, passed: true, detail: flags.join('; ') };
}

// ─── CORS ──────────────────────────────────────────────────────────────────

/**
 * Origins to send that no allowlist should admit: an arbitrary one (reflection), `null`
 * (sandboxed iframes, file: pages) and look-alikes of the first listed origin (or the app's
 * own host) that catch prefix/suffix matching instead of exact comparison.
 */
export function foreignOrigins(token: string, like: URL): Record<string, string> {
  return {
    [`https://firebreak-probe-${token}.invalid`]: 'an arbitrary Origin',
    null: 'Origin null',
    [`${like.protocol}//${like.hostname}.firebreak-probe-${token}.invalid`]: `a look-alike of ${like.origin} (prefix match)`,
    [`${like.protocol}//firebreak-probe-${token}${like.hostname}`]: `a look-alike of ${like.origin} (suffix match)`,
  };
}

/**
 * The guide wants an explicit allowlist ("CORS is Restricted": not `*`): a route passes when
 * a foreign Origin gets no Access-Control-Allow-Origin, or only a listed one. `*` fails even
 * without credentials (any site reads the answers; the guide's audit calls it CRITICAL).
 */
export function corsRow(p: CorsProbe, allowed: string[]): ProbeRow {
  const problems = new Map<string, Set<string>>();
  const problem = (text: string, method: string) => problems.set(text, (problems.get(text) ?? new Set()).add(method));
  const admitted = new Set<string>();
  let star = false;
  for (const a of p.answers) {
    const value = a.allowOrigin.map((v) => v.trim()).filter(Boolean).join(', ');
    if (!value) continue;
    const creds = a.allowCredentials ? ' with Access-Control-Allow-Credentials: true' : '';
    if (value === '*') {
      star = true;
      problem(`Access-Control-Allow-Origin *${creds}`, a.method);
    } else if (value === a.origin && allowed.includes(value)) {
      admitted.add(value);
    } else if (value === a.origin) {
      const what = p.foreign[value];
      problem(what === 'an arbitrary Origin' ? `reflects an arbitrary Origin (${value})${creds}` : `admits ${what ?? value}${what ? ` (${value})` : ''}${creds}`, a.method);
    } else if (!allowed.includes(value)) {
      // A fixed value that is not the requesting origin: browsers refuse it, but the app admits an origin the config does not list.
      problem(`admits ${truncate(value, 100)}, which is not in app.corsAllowedOrigins`, a.method);
    }
  }
  if (problems.size) {
    const listed = [...problems].map(([text, methods]) => `${text} (${[...methods].join(', ')})`);
    const hint = star ? '; the guide wants an explicit allowlist (app.corsAllowedOrigins)' : '';
    return { check: 'cors', route: p.route, passed: false, detail: listed.join('; ') + hint };
  }
  if (admitted.size) return { check: 'cors', route: p.route, passed: true, detail: `allowlist: ${[...admitted].join(', ')} admitted; foreign, null and look-alike origins refused` };
  const unlisted = allowed.length ? `; the listed ${allowed[0]} is not admitted here either` : '';
  return { check: 'cors', route: p.route, passed: true, detail: `no cross-origin access: foreign origins get no Access-Control-Allow-Origin${unlisted}` };
}

// ─── Debug pages ───────────────────────────────────────────────────────────

const DEBUG_SIGNATURES: Array<[RegExp, string]> = [
  [/Using the URLconf defined in/i, 'Django DEBUG 404 page ("Using the URLconf defined in …")'],
  [/You(?:'|’|&#x27;|&#39;|&rsquo;)re seeing this error because you have\s*(?:<code>)?\s*DEBUG\s*=\s*True/i, 'Django DEBUG page ("DEBUG = True")'],
  [/Werkzeug Debugger|The debugger caught an exception in your WSGI application/i, 'Werkzeug debugger'],
  [/Traceback \(most recent call last\)/, 'Python stack trace'],
  // `    at fn (/app/x.js:1:2)`, also as Express's dev error HTML (`<br> &nbsp; &nbsp;at …`).
  [/(?:^|<br>)(?:\s|&nbsp;)*at [^\n<]*\((?:file:\/\/)?\/[^)\s]*:\d+:\d+\)/m, 'Node.js stack trace'],
  [/Action Controller: Exception caught|No route matches \[/i, 'Rails development error page'],
];

/** What kind of debug output the body shows, or undefined. */
export function debugSignature(body: string): string | undefined {
  return DEBUG_SIGNATURES.find(([re]) => re.test(body))?.[1];
}

export function debugRow(res: ProbeResponse): ProbeRow {
  const path = new URL(res.url).pathname;
  const found = debugSignature(res.body);
  if (found) return { check: 'debug-page', passed: false, detail: `${path} answered ${res.status} with a ${found}: DEBUG must be False` };
  return { check: 'debug-page', passed: true, detail: `${path} answered ${res.status} without debug output` };
}

// ─── Putting it together ───────────────────────────────────────────────────

/** One row per check, in checklist order. */
export function evaluate(obs: Observations): ProbeRow[] {
  const rows: ProbeRow[] = [redirectRow(obs.redirect)];
  if (obs.tls) rows.push(tlsRow(obs.tls));
  if (!obs.base) return rows;
  rows.push(hstsRow(obs.base));
  for (const { route, response } of obs.routes) rows.push(cspRow(route, response));
  rows.push(framingRow(obs.base), nosniffRow(obs.base), permissionsPolicyRow(obs.base));
  for (const name of obs.sessionCookies) rows.push(cookieRow(name, obs.cookies));
  for (const p of obs.cors) rows.push(corsRow(p, obs.corsAllowedOrigins));
  if (obs.notFound) rows.push(debugRow(obs.notFound));
  return rows;
}

export const rowLabel = (r: ProbeRow): string => (r.route === undefined ? r.check : `${r.check} ${r.route}`);

export function summarize(rows: ProbeRow[]): { passed: boolean; failed: string[]; summary: string } {
  const failed = rows.filter((r) => !r.passed).map(rowLabel);
  const ok = rows.length - failed.length;
  return {
    passed: failed.length === 0,
    failed,
    summary: `probe: ${ok}/${rows.length} checks passed${failed.length ? `; failed: ${failed.join(', ')}` : ''}`,
  };
}

function via(res: ProbeResponse): string {
  if (res.finalUrl === res.url) return '';
  return ` (at ${res.finalUrl} after ${res.redirects} redirect${res.redirects === 1 ? '' : 's'}${res.truncated ? ', stopped there' : ''})`;
}

function truncate(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}
