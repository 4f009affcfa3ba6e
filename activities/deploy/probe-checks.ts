/**
 * Pure half of `deploy.probe`: `evaluate(observations)` turns what the probe saw into one row
 * per check of the guide's production checklist (the header rules in `probe-headers.ts`, and
 * here cookie flags, no debug page, CORS restricted to an explicit allowlist). No I/O here, so
 * every rule is unit-testable.
 */
import { cspRow, framingRow, hstsRow, nosniffRow, permissionsPolicyRow, redirectRow, tlsRow } from './probe-headers.js';
import { CSRF_COOKIE, truncate, type CorsProbe, type Observations, type ProbeResponse, type ProbeRow, type SeenCookie } from './probe-types.js';

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
