/**
 * deploy.probe against a real local HTTPS app (self-signed certificate made with openssl,
 * trusted through app.caFile) behind a real plain-HTTP redirector: a good configuration
 * passes every row, then each missing or weak control fails its row with the right detail.
 */
import { writeFileSync } from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { TargetClients } from '../../activities/deps.js';
import { createActivities } from '../../activities/index.js';
import { cookieProblems, debugSignature, parseSetCookie } from '../../activities/deploy/probe-checks.js';
import { framingRow, parseCsp, parseHsts, scriptWeakness } from '../../activities/deploy/probe-headers.js';
import type { ProbeResponse, ProbeRow } from '../../activities/deploy/probe-types.js';
import { loadConfig } from '../../lib/config.js';
import { createLogger } from '../../lib/logger.js';
import { FailureTypes, type ActionInput, type Mode } from '../../workflows/definitions.js';
import { GOOD_CSP, startProbeApp, type AppState, type ProbeApp } from '../helpers/probe-app.js';

/** The front end the `cors` target lists in app.corsAllowedOrigins. */
const FRONT_END = 'https://shop.example';
let app: ProbeApp;
/** Accepts connections and never answers (not even the TLS handshake). */
let silent: net.Server;
const held: net.Socket[] = [];
let clients: TargetClients;
// Through createActivities: every argument is judged by the action's schema at the activity's entry, as in the worker.
let acts: ReturnType<typeof createActivities>;

beforeAll(async () => {
  app = await startProbeApp();
  silent = net.createServer((socket) => void held.push(socket));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const silentPort = (silent.address() as AddressInfo).port;
  const file = join(app.dir, 'firebreak.yaml');
  const appSection = (extra: string) => `{ routes: ["/", "/admin"], ${extra} }`;
  writeFileSync(
    file,
    [
      'targets:',
      `  local: { development: true, app: ${appSection(`url: "${app.httpsOrigin}/", httpUrl: "${app.httpOrigin}/", caFile: "${app.caFile}"`)} }`,
      // The configured URL is plain HTTP: the probe follows its redirect to HTTPS for the header checks.
      `  plain: { development: true, app: ${appSection(`url: "${app.httpOrigin}/", caFile: "${app.caFile}"`)} }`,
      `  untrusted: { development: true, app: ${appSection(`url: "${app.httpsOrigin}/", httpUrl: "${app.httpOrigin}/"`)} }`,
      `  nohttp: { development: true, app: ${appSection(`url: "${app.httpsOrigin}/", httpUrl: "http://127.0.0.1:1/", caFile: "${app.caFile}"`)} }`,
      `  down: { development: true, app: ${appSection('url: "https://127.0.0.1:1/"')} }`,
      `  badca: { development: true, app: ${appSection(`url: "${app.httpsOrigin}/", caFile: "${file}"`)} }`,
      `  silent: { development: true, app: ${appSection(`url: "https://127.0.0.1:${silentPort}/"`)} }`,
      `  cors: { development: true, app: ${appSection(`url: "${app.httpsOrigin}/", httpUrl: "${app.httpOrigin}/", caFile: "${app.caFile}", corsAllowedOrigins: ["${FRONT_END}", "http://localhost:3000"]`)} }`,
      '  noapp: { development: true, }',
    ].join('\n'),
  );
  const config = loadConfig({ file, env: {} });
  clients = new TargetClients(config);
  acts = createActivities({ config, logger: createLogger({ level: 'silent', pretty: false }), clients });
});
afterAll(async () => {
  await clients?.close();
  await app?.close();
  held.forEach((s) => s.destroy());
  await new Promise((resolve) => silent?.close(resolve));
});
beforeEach(() => app.reset());

const probe = (i: ActionInput) => acts.deployProbe(i);

let n = 0;
const input = (args: Record<string, unknown> = {}, opts: { mode?: Mode; target?: string } = {}): ActionInput => ({
  incidentId: `INC-PROBE-${++n}`,
  stepId: 'probe',
  action: 'deploy.probe',
  target: opts.target ?? 'local',
  mode: opts.mode ?? 'live',
  args,
  requestedAt: new Date().toISOString(),
});

async function failure(p: Promise<unknown>): Promise<ApplicationFailure> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ApplicationFailure) return err;
    throw err;
  }
  throw new Error('expected the probe to fail');
}

const ALL = ['https-redirect', 'tls', 'hsts', 'csp /', 'csp /admin', 'framing', 'nosniff', 'permissions-policy', 'cookie:sessionid', 'cookie:csrftoken', 'cors /', 'cors /admin', 'debug-page'];
const label = (r: ProbeRow) => (r.route === undefined ? r.check : `${r.check} ${r.route}`);

describe('deploy.probe: a good configuration', () => {
  it('passes every row', async () => {
    const res = await probe(input());
    const table = res.output?.table as ProbeRow[];
    expect(table.map(label)).toEqual(ALL);
    expect(table.filter((r) => !r.passed)).toEqual([]);
    expect(res).toMatchObject({ changed: false, summary: 'probe: 13/13 checks passed', output: { passed: true, failed: [], url: `${app.httpsOrigin}/` } });
    const row = (l: string) => table.find((r) => label(r) === l)?.detail;
    expect(row('https-redirect')).toBe(`${app.httpOrigin}/ → 308 ${app.httpsOrigin}/`);
    expect(row('tls')).toMatch(/^certificate trusted, TLSv1\.[23], valid until /);
    expect(row('hsts')).toBe('max-age=31536000; includeSubDomains');
    expect(row('csp /admin')).toBe("enforcing; scripts: 'self' 'nonce-r4nd0m'");
    expect(row('framing')).toBe("CSP frame-ancestors 'none'");
    expect(row('cookie:sessionid')).toBe('Secure; HttpOnly; SameSite=Strict');
    // csrftoken without HttpOnly passes: the guide wants it readable by JS (CSRF_COOKIE_HTTPONLY = False).
    expect(row('cookie:csrftoken')).toBe('Secure; readable by JS (CSRF double-submit); SameSite=Lax');
    expect(row('cors /')).toBe('no cross-origin access: foreign origins get no Access-Control-Allow-Origin');
    expect(row('debug-page')).toMatch(/^\/firebreak-probe-[0-9a-f]{16} answered 404 without debug output$/);
    expect(app.seen.filter((p) => p.startsWith('/firebreak-probe-'))).toHaveLength(1);
  });

  it('with a plain-HTTP app.url, checks the redirect there and the headers on the HTTPS URL it redirects to', async () => {
    const res = await probe(input({}, { target: 'plain' }));
    expect(res.output).toMatchObject({ passed: true, url: `${app.httpsOrigin}/` });
    expect((res.output?.table as ProbeRow[]).map(label)).toEqual(ALL);
  });

  it('takes url and routes from the arguments, and reads headers after following redirects itself', async () => {
    const res = await probe(input({ url: `${app.httpsOrigin}/`, routes: ['/old-admin'] }));
    const table = res.output?.table as ProbeRow[];
    expect(table.map(label)).toContain('csp /old-admin');
    expect(table.find((r) => r.route === '/old-admin')?.detail).toBe(
      `enforcing; scripts: 'self' 'nonce-r4nd0m' (at ${app.httpsOrigin}/admin after 1 redirect)`,
    );
  });

  it('cookies not set on the probed pages are "not seen", not failures', async () => {
    app.state.cookies = [];
    const res = await probe(input());
    const table = res.output?.table as ProbeRow[];
    expect(table.find((r) => r.check === 'cookie:sessionid')).toEqual({
      check: 'cookie:sessionid',
      passed: true,
      detail: 'not seen (not set on the probed pages without a login)',
    });
  });

  it('X-Frame-Options alone is enough when the CSP has no frame-ancestors', async () => {
    app.state.headers['content-security-policy'] = "default-src 'self'";
    app.state.headers['x-frame-options'] = 'SAMEORIGIN';
    const res = await probe(input());
    expect((res.output?.table as ProbeRow[]).find((r) => r.check === 'framing')).toMatchObject({ passed: true, detail: 'X-Frame-Options SAMEORIGIN' });
  });
});

type Case = [name: string, change: (s: AppState, app: ProbeApp) => void, failed: string[], detail: RegExp];

const CASES: Case[] = [
  ['no redirect', (s) => (s.plain = { status: 200 }), ['https-redirect'], /http:\/\/127\.0\.0\.1:\d+\/ answered 200 instead of redirecting to HTTPS/],
  ['a redirect to http', (s, a) => (s.plain = { status: 301, location: `${a.httpOrigin}/login` }), ['https-redirect'], /redirects to http:\/\/127\.0\.0\.1:\d+\/login, not to HTTPS/],
  ['a redirect to another host', (s, a) => (s.plain = { status: 301, location: a.httpsOrigin.replace('127.0.0.1', 'localhost') }), ['https-redirect'], /redirects to another host \(https:\/\/localhost:\d+\/; expected 127\.0\.0\.1\)/],
  ['HSTS missing', (s) => (s.headers['strict-transport-security'] = undefined), ['hsts'], /hsts: no Strict-Transport-Security header/],
  ['HSTS max-age 300', (s) => (s.headers['strict-transport-security'] = 'max-age=300'), ['hsts'], /hsts: max-age=300: max-age is below 31536000 \(1 year\)/],
  ['CSP missing', (s) => (s.headers['content-security-policy'] = undefined), ['csp /', 'csp /admin'], /csp \/: no Content-Security-Policy header; csp \/admin: no Content-Security-Policy header/],
  [
    'CSP report-only only',
    (s) => {
      s.headers['content-security-policy-report-only'] = s.headers['content-security-policy'];
      s.headers['content-security-policy'] = undefined;
    },
    ['csp /', 'csp /admin'],
    /csp \/: only Content-Security-Policy-Report-Only: violations are reported, nothing is blocked/,
  ],
  [
    "CSP with 'unsafe-inline'",
    (s) => (s.headers['content-security-policy'] = "default-src 'self'; script-src 'self' 'unsafe-inline'; frame-ancestors 'none'"),
    ['csp /', 'csp /admin'],
    /csp \/: script-src 'unsafe-inline' without a nonce or hash/,
  ],
  ['CSP with * in script-src', (s) => (s.headers['content-security-policy'] = "script-src * ; frame-ancestors 'self'"), ['csp /', 'csp /admin'], /script-src \* allows scripts from anywhere/],
  ['CSP missing on one configured route only', (s) => (s.routeHeaders['/admin'] = { 'content-security-policy': undefined }), ['csp /admin'], /csp \/admin: no Content-Security-Policy header/],
  [
    'no X-Frame-Options and no frame-ancestors',
    (s) => {
      s.headers['x-frame-options'] = undefined;
      s.headers['content-security-policy'] = "default-src 'self'";
    },
    ['framing'],
    /framing: no X-Frame-Options and no CSP frame-ancestors/,
  ],
  ['frame-ancestors * (which overrides X-Frame-Options DENY)', (s) => (s.headers['content-security-policy'] = "default-src 'self'; frame-ancestors *"), ['framing'], /frame-ancestors \* allows framing, and overrides X-Frame-Options/],
  ['nosniff missing', (s) => (s.headers['x-content-type-options'] = undefined), ['nosniff'], /nosniff: no X-Content-Type-Options header/],
  ['Permissions-Policy missing', (s) => (s.headers['permissions-policy'] = undefined), ['permissions-policy'], /permissions-policy: no Permissions-Policy header/],
  ['a session cookie without Secure, HttpOnly and SameSite', (s) => (s.cookies = ['sessionid=s3ss; Path=/', 'csrftoken=c5rf; Secure; SameSite=Lax']), ['cookie:sessionid'], /cookie:sessionid: no Secure, no HttpOnly, no SameSite \(set by https:\/\/127\.0\.0\.1:\d+\/\)/],
  ['a session cookie with SameSite=None', (s) => (s.cookies = ['sessionid=s3ss; Secure; HttpOnly; SameSite=None']), ['cookie:sessionid'], /cookie:sessionid: SameSite=None/],
  ['csrftoken without Secure', (s) => (s.cookies = ['csrftoken=c5rf; SameSite=Lax']), ['cookie:csrftoken'], /cookie:csrftoken: no Secure \(/],
  [
    'a Django DEBUG 404 page',
    (s) => (s.notFound = { status: 404, body: '<h1>Page not found</h1><p>Using the URLconf defined in <code>shop.urls</code>, Django tried these URL patterns…</p>' }),
    ['debug-page'],
    /debug-page: \/firebreak-probe-[0-9a-f]+ answered 404 with a Django DEBUG 404 page .*: DEBUG must be False/,
  ],
  ['a Werkzeug debugger', (s) => (s.notFound = { status: 500, body: '<title>Werkzeug Debugger</title>' }), ['debug-page'], /answered 500 with a Werkzeug debugger/],
];

describe('deploy.probe: each missing or weak control fails its row (non-retryable, overridable)', () => {
  it.each(CASES)('%s', async (_name, change, failed, detail) => {
    change(app.state, app);
    const err = await failure(probe(input()));
    expect(err.type).toBe(FailureTypes.VerificationFailed);
    expect(err.nonRetryable).toBe(true);
    expect(err.message).toMatch(new RegExp(`^probe: ${ALL.length - failed.length}/${ALL.length} checks passed; failed: ${escape(failed.join(', '))} at https://`));
    expect(err.message).toMatch(detail);
    const table = err.details?.[0] as ProbeRow[];
    expect(table.filter((r) => !r.passed).map(label)).toEqual(failed);
    expect(table).toHaveLength(ALL.length);
  });

  it('lists every failed check with its detail in one message', async () => {
    app.state.headers['strict-transport-security'] = 'max-age=300';
    app.state.headers['x-content-type-options'] = undefined;
    const err = await failure(probe(input()));
    expect(err.message).toBe(
      `probe: 11/13 checks passed; failed: hsts, nosniff at ${app.httpsOrigin}/ — hsts: max-age=300: max-age is below 31536000 (1 year); nosniff: no X-Content-Type-Options header`,
    );
  });
});

type CorsCase = [name: string, target: 'local' | 'cors', cors: AppState['cors'], passed: boolean, detail: RegExp];

const TOKEN = '[0-9a-f]{8}';
const CORS_CASES: CorsCase[] = [
  ['no CORS headers, nothing listed', 'local', { mode: 'none', credentials: false, allowed: [] }, true, /^no cross-origin access: foreign origins get no Access-Control-Allow-Origin$/],
  ['no CORS headers, origins listed', 'cors', { mode: 'none', credentials: false, allowed: [] }, true, /^no cross-origin access: .*; the listed https:\/\/shop\.example is not admitted here either$/],
  ['an exact allowlist with credentials', 'cors', { mode: 'allowlist', credentials: true, allowed: [FRONT_END] }, true, /^allowlist: https:\/\/shop\.example admitted; foreign, null and look-alike origins refused$/],
  ['one fixed listed origin on every answer', 'cors', { mode: 'fixed', credentials: true, allowed: [FRONT_END] }, true, /^allowlist: https:\/\/shop\.example admitted/],
  ['* without credentials', 'local', { mode: 'star', credentials: false, allowed: [] }, false, /^Access-Control-Allow-Origin \* \(GET, preflight\); the guide wants an explicit allowlist \(app\.corsAllowedOrigins\)$/],
  ['* with credentials', 'cors', { mode: 'star', credentials: true, allowed: [] }, false, /^Access-Control-Allow-Origin \* with Access-Control-Allow-Credentials: true \(GET, preflight\); the guide wants/],
  [
    'reflecting any Origin with credentials',
    'local',
    { mode: 'reflect', credentials: true, allowed: [] },
    false,
    new RegExp(`^reflects an arbitrary Origin \\(https://firebreak-probe-${TOKEN}\\.invalid\\) with Access-Control-Allow-Credentials: true \\(GET, preflight\\); admits Origin null \\(null\\) with .*; admits a look-alike of https://127\\.0\\.0\\.1:\\d+ \\(prefix match\\) .*\\(suffix match\\)`),
  ],
  ['reflecting on preflights only', 'local', { mode: 'reflect', credentials: false, allowed: [], preflightOnly: true }, false, new RegExp(`^reflects an arbitrary Origin \\(https://firebreak-probe-${TOKEN}\\.invalid\\) \\(preflight\\)$`)],
  ['an allowlist that admits null', 'cors', { mode: 'allowlist', credentials: true, allowed: [FRONT_END, 'null'] }, false, /^admits Origin null \(null\) with Access-Control-Allow-Credentials: true \(GET\)$/],
  [
    'an allowlist matched by prefix',
    'cors',
    { mode: 'prefix', credentials: true, allowed: [FRONT_END] },
    false,
    new RegExp(`^admits a look-alike of https://shop\\.example \\(prefix match\\) \\(https://shop\\.example\\.firebreak-probe-${TOKEN}\\.invalid\\) with .* \\(GET\\)$`),
  ],
  ['an allowlist matched by suffix', 'cors', { mode: 'suffix', credentials: false, allowed: [FRONT_END] }, false, new RegExp(`^admits a look-alike of https://shop\\.example \\(suffix match\\) \\(https://firebreak-probe-${TOKEN}shop\\.example\\) \\(GET\\)$`)],
  ['a fixed origin the config does not list', 'cors', { mode: 'fixed', credentials: false, allowed: ['https://other.example'] }, false, /^admits https:\/\/other\.example, which is not in app\.corsAllowedOrigins \(GET, preflight\)$/],
];

describe('deploy.probe: CORS, from outside with foreign Origins and a preflight', () => {
  it.each(CORS_CASES)('%s (target %s)', async (_name, target, cors, passed, detail) => {
    app.state.cors = cors;
    const table = passed
      ? ((await probe(input({}, { target }))).output?.table as ProbeRow[])
      : ((await failure(probe(input({}, { target })))).details?.[0] as ProbeRow[]);
    const rows = table.filter((r) => r.check === 'cors');
    expect(rows.map(label)).toEqual(['cors /', 'cors /admin']);
    for (const row of rows) {
      expect(row.passed).toBe(passed);
      expect(row.detail).toMatch(detail);
    }
    expect(table.filter((r) => !r.passed).map(label)).toEqual(passed ? [] : ['cors /', 'cors /admin']);
  });

  it('refuses a corsAllowedOrigins entry that is not an origin when the config loads', () => {
    for (const bad of ['https://shop.example/', 'https://shop.example/app', '*', 'null', 'https://shop.example:443']) {
      const file = join(app.dir, 'cors-bad.yaml');
      writeFileSync(file, `targets:\n  t: { app: { url: "https://shop.example/", corsAllowedOrigins: ["${bad}"] } }\n`);
      expect(() => loadConfig({ file, env: {} }), bad).toThrow(/corsAllowedOrigins.*must be an origin: scheme:\/\/host\[:port\]/s);
    }
  });
});

describe('deploy.probe: transport problems', () => {
  it('an unreachable app is a retryable TargetUnavailable', async () => {
    const err = await failure(probe(input({}, { target: 'down' })));
    expect(err.type).toBe(FailureTypes.TargetUnavailable);
    expect(err.nonRetryable).toBe(false);
    expect(err.message).toBe('app (GET https://127.0.0.1:1/) unavailable: ECONNREFUSED');
  });

  it('a request without an answer gives up after 10 s, retryably', async () => {
    const started = Date.now();
    const err = await failure(probe(input({}, { target: 'silent' })));
    expect(err).toMatchObject({ type: FailureTypes.TargetUnavailable, nonRetryable: false });
    expect(err.message).toMatch(/^app \(GET https:\/\/127\.0\.0\.1:\d+\/\) unavailable: no answer within 10 s$/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(9_900);
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it('HTTPS answering but plain HTTP refused fails the redirect row (a finding, not an outage)', async () => {
    const err = await failure(probe(input({}, { target: 'nohttp' })));
    expect(err.type).toBe(FailureTypes.VerificationFailed);
    expect(err.message).toContain('https-redirect: http://127.0.0.1:1/ did not answer (ECONNREFUSED): plain HTTP should redirect to HTTPS');
  });

  it('a certificate the worker does not trust fails the tls row and stops there', async () => {
    const err = await failure(probe(input({}, { target: 'untrusted' })));
    expect(err.type).toBe(FailureTypes.VerificationFailed);
    expect(err.nonRetryable).toBe(true);
    const table = err.details?.[0] as ProbeRow[];
    expect(table.map(label)).toEqual(['https-redirect', 'tls']);
    expect(table[1]).toMatchObject({ passed: false, detail: expect.stringMatching(/certificate not trusted \((DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN)\).*app\.caFile/) });
  });
});

describe('deploy.probe: dry-run and input', () => {
  it('dry-run runs the read-only probe and reports failures without failing', async () => {
    app.state.headers['strict-transport-security'] = undefined;
    const res = await probe(input({}, { mode: 'dry-run' }));
    expect(res).toMatchObject({ changed: false, summary: 'probe: 12/13 checks passed; failed: hsts', output: { passed: false, failed: ['hsts'] } });
    expect(res.plan?.[0]).toContain('read-only probe of');
    expect(app.seen.length).toBeGreaterThan(0);
  });

  it.each([
    ['no url and no app section', {}, 'noapp', /no url argument and target "noapp" has no app\.url/],
    ['a url that is not http(s)', { url: 'ftp://example.com/' }, 'local', /url must be http:\/\/ or https:\/\//],
    ['a route leaving the origin', { routes: ['//evil.example/'] }, 'local', /"\/\/evil\.example\/" is not a path starting with a single \//],
    ['credentials in the url', { url: 'https://u:p@example.com/' }, 'local', /must not contain credentials/],
    ['an app.caFile that is not a certificate', {}, 'badca', /app\.caFile .*firebreak\.yaml is not a PEM certificate/],
  ])('refuses %s as BadInput, before any request', async (_name, args, target, message) => {
    const err = await failure(probe(input(args, { target })));
    expect(err.type).toBe(FailureTypes.BadInput);
    expect(err.nonRetryable).toBe(true);
    expect(err.message).toMatch(message);
    expect(app.seen).toEqual([]);
  });
});

describe('header parsers (pure)', () => {
  it.each([
    ['max-age=31536000; includeSubDomains; preload', { maxAge: 31536000, includeSubDomains: true, preload: true }],
    ['MAX-AGE="63072000"', { maxAge: 63072000, includeSubDomains: false }],
    ['includeSubDomains', { problem: 'no max-age directive (browsers ignore the header)' }],
    ['max-age=1y', { problem: 'max-age "1y" is not a number of seconds' }],
    ['max-age=10; max-age=31536000', { problem: 'directive max-age appears twice (browsers ignore the header)' }],
  ])('HSTS %s', (value, expected) => {
    expect(parseHsts(value)).toMatchObject(expected);
  });

  it.each([
    [GOOD_CSP, undefined],
    ["default-src 'self'", undefined],
    ["script-src 'nonce-abc' 'strict-dynamic' https: 'unsafe-inline'", undefined],
    ["script-src 'self' 'unsafe-inline' 'sha256-abc='", undefined],
    ["script-src 'self' 'unsafe-inline'", "script-src 'unsafe-inline' without a nonce or hash"],
    ["default-src 'self' 'UNSAFE-INLINE'", "default-src 'unsafe-inline' without a nonce or hash"],
    ['script-src https: data:', 'script-src https: data: allows scripts from anywhere'],
    ["img-src 'self'; frame-ancestors 'none'", 'no script-src or default-src: scripts are not restricted'],
  ])('CSP script sources of %s', (value, weakness) => {
    const [policy] = parseCsp([value]);
    expect(policy && scriptWeakness(policy)).toBe(weakness);
  });

  it('CSP: several policies (comma or repeated header) all apply, and a repeated directive keeps its first', () => {
    const policies = parseCsp(["script-src 'unsafe-inline', default-src 'self'", "img-src a; img-src b"]);
    expect(policies.map((p) => Object.fromEntries(p))).toEqual([{ 'script-src': ["'unsafe-inline'"] }, { 'default-src': ["'self'"] }, { 'img-src': ['a'] }]);
  });

  const res = (headers: Record<string, string[]>): ProbeResponse => ({ url: 'https://x/', finalUrl: 'https://x/', status: 200, headers, body: '', redirects: 0, truncated: false });
  it.each([
    [{ 'x-frame-options': ['deny'] }, true, 'X-Frame-Options DENY'],
    [{ 'x-frame-options': ['DENY', 'SAMEORIGIN'] }, false, 'X-Frame-Options DENY, SAMEORIGIN is not DENY or SAMEORIGIN'],
    [{ 'x-frame-options': ['ALLOW-FROM https://a'] }, false, 'X-Frame-Options ALLOW-FROM HTTPS://A is not DENY or SAMEORIGIN'],
    [{ 'content-security-policy': ["frame-ancestors 'self'"] }, true, "CSP frame-ancestors 'self'"],
    [{ 'content-security-policy': ['frame-ancestors https://partner.example'], 'x-frame-options': ['DENY'] }, false, 'CSP frame-ancestors https://partner.example allows framing, and overrides X-Frame-Options'],
  ])('framing %j', (headers, passed, detail) => {
    expect(framingRow(res(headers))).toEqual({ check: 'framing', passed, detail });
  });

  it.each([
    ['sessionid=a; Secure; HttpOnly; SameSite=Lax', []],
    ['sessionid=a; secure; httponly; samesite=strict; Path=/', []],
    ['sessionid=a', ['no Secure', 'no HttpOnly', 'no SameSite']],
    ['sessionid=a; Secure; HttpOnly; SameSite=None', ['SameSite=None']],
    ['sessionid=a; Secure; HttpOnly; SameSite=Loose', ['SameSite=Loose (not Lax or Strict)']],
    ['csrftoken=a; Secure; SameSite=Lax', []],
    ['csrftoken=a; SameSite=Strict', ['no Secure']],
  ])('Set-Cookie %s', (header, problems) => {
    expect(cookieProblems(parseSetCookie(header))).toEqual(problems);
  });

  it.each([
    ['<p>You&#x27;re seeing this error because you have <code>DEBUG = True</code> in your Django settings file.</p>', 'Django DEBUG page ("DEBUG = True")'],
    ['You’re seeing this error because you have DEBUG = True', 'Django DEBUG page ("DEBUG = True")'],
    ['Traceback (most recent call last):\n  File "app.py", line 3', 'Python stack trace'],
    ['Error: boom\n    at handler (/srv/app/server.js:12:9)\n', 'Node.js stack trace'],
    ['<pre>Error: boom<br> &nbsp; &nbsp;at Layer.handle [as handle_request] (/app/node_modules/express/lib/router/layer.js:95:5)', 'Node.js stack trace'],
    ['<h1>Not Found</h1><p>The requested resource was not found on this server.</p>', undefined],
    ['Debugging at our company: see /docs (page 3:4)', undefined],
  ])('debug page %#', (body, found) => {
    expect(debugSignature(body)).toBe(found);
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
