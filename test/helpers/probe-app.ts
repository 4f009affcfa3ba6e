/**
 * A stand-in for the protected app, for deploy.probe: a real HTTPS server (self-signed
 * certificate made with openssl into a temp folder) and a plain-HTTP redirector in front
 * of it. Tests change `state` to break one header at a time; `reset()` restores a
 * configuration that passes every check.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type Headers = Record<string, string | undefined>;

export interface AppState {
  /** Sent on every HTTPS answer; undefined = not sent. */
  headers: Headers;
  /** Per path, on top of `headers` (undefined removes one). */
  routeHeaders: Record<string, Headers>;
  /** Set-Cookie headers on `/`. */
  cookies: string[];
  /** Answer to an unknown path. */
  notFound: { status: number; body: string };
  /** Answer of the plain-HTTP server: a redirect (`{https}` in location = the HTTPS origin) or a page. */
  plain: { status: number; location?: string };
  cors: CorsBehaviour;
}

/**
 * How the app answers a cross-origin request: `none` (no CORS headers), `star` (`*`), `reflect`
 * (echoes any Origin), `allowlist` (echoes only `allowed`), `prefix`/`suffix` (the classic
 * broken allowlist: startsWith / endsWith on the hostname), `fixed` (always `allowed[0]`).
 */
export interface CorsBehaviour {
  mode: 'none' | 'star' | 'reflect' | 'allowlist' | 'prefix' | 'suffix' | 'fixed';
  credentials: boolean;
  allowed: string[];
  /** Only answer preflights with CORS headers (a custom middleware that forgets simple requests does the opposite). */
  preflightOnly?: boolean;
}

function allowOrigin(c: CorsBehaviour, origin: string | undefined): string | undefined {
  if (origin === undefined) return undefined;
  const host = (o: string) => (URL.canParse(o) ? new URL(o).hostname : o);
  switch (c.mode) {
    case 'none':
      return undefined;
    case 'star':
      return '*';
    case 'reflect':
      return origin;
    case 'allowlist':
      return c.allowed.includes(origin) ? origin : undefined;
    case 'prefix':
      return c.allowed.some((a) => host(origin).startsWith(host(a))) ? origin : undefined;
    case 'suffix':
      return c.allowed.some((a) => host(origin).endsWith(host(a))) ? origin : undefined;
    case 'fixed':
      return c.allowed[0];
  }
}

export const GOOD_CSP = "default-src 'self'; script-src 'self' 'nonce-r4nd0m'; object-src 'none'; frame-ancestors 'none'";

export function goodState(): AppState {
  return {
    headers: {
      'strict-transport-security': 'max-age=31536000; includeSubDomains',
      'content-security-policy': GOOD_CSP,
      'x-frame-options': 'DENY',
      'x-content-type-options': 'nosniff',
      'permissions-policy': 'camera=(), microphone=(), geolocation=()',
    },
    routeHeaders: {},
    cookies: ['csrftoken=c5rf; Path=/; Secure; SameSite=Lax', 'sessionid=s3ss; Path=/; Secure; HttpOnly; SameSite=Strict'],
    notFound: { status: 404, body: '<!doctype html><title>Not Found</title><h1>Not Found</h1>' },
    plain: { status: 308, location: '{https}/' },
    cors: { mode: 'none', credentials: false, allowed: [] },
  };
}

export interface ProbeApp {
  state: AppState;
  reset(): void;
  /** https://127.0.0.1:PORT */
  httpsOrigin: string;
  /** http://127.0.0.1:PORT (the redirector) */
  httpOrigin: string;
  /** The self-signed certificate (PEM file), to trust as app.caFile. */
  caFile: string;
  dir: string;
  /** Requests the HTTPS server received (paths), newest last. */
  seen: string[];
  /** Stop the HTTPS server (a real outage: connections refused), and start it again on the same port. */
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
}

const PAGES: Record<string, string> = {
  '/': '<!doctype html><title>Home</title><h1>Home</h1>',
  '/admin': '<!doctype html><title>Admin</title><h1>Admin</h1>',
};

/** Middleware run on every HTTPS request once the security headers are set (e.g. the shipped firebreakGuard): it answers, or calls `next`. */
export type AppGuard = (req: http.IncomingMessage, res: http.ServerResponse, next: (err?: unknown) => void) => void;

export async function startProbeApp(opts: { guard?: AppGuard } = {}): Promise<ProbeApp> {
  const dir = mkdtempSync(join(tmpdir(), 'fbt-probe-'));
  const key = join(dir, 'key.pem');
  const cert = join(dir, 'cert.pem');
  execFileSync(
    'openssl',
    [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=127.0.0.1',
      '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
    ],
    { stdio: 'pipe' },
  );

  const app = { state: goodState(), seen: [] as string[] };

  const secure = https.createServer({ key: readFileSync(key), cert: readFileSync(cert) }, (req, res) => {
    const path = new URL(req.url ?? '/', 'https://x').pathname;
    app.seen.push(path);
    const s = app.state;
    const headers: Headers = { ...s.headers, ...(s.routeHeaders[path] ?? {}) };
    for (const [name, value] of Object.entries(headers)) if (value !== undefined) res.setHeader(name, value);
    if (opts.guard) {
      opts.guard(req, res, (err) => {
        if (err) res.writeHead(500, { 'content-type': 'text/plain' }).end('guard error');
        else serve();
      });
    } else serve();
    function serve(): void {
      const preflight = req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined;
      const acao = preflight || !s.cors.preflightOnly ? allowOrigin(s.cors, req.headers.origin) : undefined;
      if (acao !== undefined) {
        res.setHeader('access-control-allow-origin', acao);
        res.setHeader('vary', 'Origin');
        if (s.cors.credentials) res.setHeader('access-control-allow-credentials', 'true');
      }
      if (preflight) {
        if (acao !== undefined) res.setHeader('access-control-allow-methods', 'GET, POST, PUT, DELETE');
        res.writeHead(acao === undefined ? 200 : 204).end();
        return;
      }
      if (path === '/old-admin') {
        res.writeHead(301, { location: '/admin' }).end();
        return;
      }
      const page = PAGES[path];
      if (page === undefined) {
        res.writeHead(s.notFound.status, { 'content-type': 'text/html' }).end(s.notFound.body);
        return;
      }
      if (path === '/' && s.cookies.length) res.setHeader('set-cookie', s.cookies);
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page);
    }
  });
  const httpsPort = await listen(secure);
  const httpsOrigin = `https://127.0.0.1:${httpsPort}`;

  const plain = http.createServer((_req, res) => {
    const { status, location } = app.state.plain;
    if (location !== undefined) res.setHeader('location', location.replace('{https}', httpsOrigin));
    res.writeHead(status, { 'content-type': 'text/plain' }).end(location ? '' : 'plain http page');
  });
  const httpPort = await listen(plain);

  return {
    get state() {
      return app.state;
    },
    set state(s: AppState) {
      app.state = s;
    },
    reset() {
      app.state = goodState();
      app.seen.length = 0;
    },
    httpsOrigin,
    httpOrigin: `http://127.0.0.1:${httpPort}`,
    caFile: cert,
    dir,
    seen: app.seen,
    async down() {
      secure.closeAllConnections();
      await new Promise<void>((resolve) => secure.close(() => resolve()));
    },
    async up() {
      await new Promise<void>((resolve, reject) => {
        secure.once('error', reject);
        secure.listen(httpsPort, '127.0.0.1', () => resolve());
      });
    },
    async close() {
      await Promise.all([secure, plain].filter((s) => s.listening).map((s) => new Promise<void>((resolve) => {
        s.closeAllConnections();
        s.close(() => resolve());
      })));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function listen(server: http.Server | https.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}
