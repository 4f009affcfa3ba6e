/**
 * The probe's HTTP client: one request at a time through our own agents (no
 * keep-alive, the target's CA), redirects followed by hand so every hop's
 * Set-Cookie is seen, and the cross-origin requests of the CORS check.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import { foreignOrigins } from './probe-checks.js';
import { MAX_REDIRECTS, REDIRECT_STATUSES, type CorsAnswer, type CorsProbe, type ProbeResponse, type SeenCookie } from './probe-types.js';

export const REQUEST_TIMEOUT_MS = 10_000;
/** Enough of a body to recognise a debug page; the rest is not read. */
const MAX_BODY_BYTES = 512 * 1024;
/** Requests in flight at once. */
export const CONCURRENCY = 4;
const USER_AGENT = 'firebreak-probe/1';

export interface Hop {
  url: URL;
  status: number;
  headers: Record<string, string[]>;
  location?: string;
  body: string;
  tls?: { protocol?: string; validTo?: string };
}

export interface Agents {
  http: http.Agent;
  https: https.Agent;
}

/** A request that got no HTTP answer (refused, reset, DNS, timeout, TLS). */
export class NoAnswer extends Error {
  constructor(
    readonly url: string,
    readonly code: string,
    cause: unknown,
  ) {
    super(`GET ${url}: ${code}`, { cause });
  }
  /** The server answered TLS with a certificate we do not trust: a finding, not an outage. */
  get untrustedCertificate(): boolean {
    return /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER/.test(this.code);
  }
}

interface RequestOptions {
  method?: 'GET' | 'OPTIONS';
  headers?: Record<string, string>;
}

export function get(url: URL, agents: Agents, opts: RequestOptions = {}): Promise<Hop> {
  const secure = url.protocol === 'https:';
  return new Promise<Hop>((resolve, reject) => {
    const req = (secure ? https : http).request(
      url,
      {
        method: opts.method ?? 'GET',
        agent: secure ? agents.https : agents.http,
        headers: { 'user-agent': USER_AGENT, accept: 'text/html,*/*;q=0.8', ...opts.headers },
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      },
      (res) => {
        let tls: Hop['tls'];
        if (secure) {
          const socket = res.socket as TLSSocket;
          tls = { protocol: socket.getProtocol?.() ?? undefined, validTo: socket.getPeerCertificate?.()?.valid_to || undefined };
        }
        const chunks: Buffer[] = [];
        let size = 0;
        let settled = false;
        const finish = () => {
          if (settled) return;
          settled = true;
          const location = res.headers.location;
          resolve({
            url,
            status: res.statusCode ?? 0,
            headers: res.headersDistinct as Record<string, string[]>,
            location: typeof location === 'string' ? location : undefined,
            body: Buffer.concat(chunks).toString('utf8'),
            tls,
          });
        };
        res.on('data', (chunk: Buffer) => {
          chunks.push(chunk);
          size += chunk.length;
          if (size >= MAX_BODY_BYTES) {
            finish();
            res.destroy();
          }
        });
        res.on('end', finish);
        res.on('error', (err) => {
          if (!settled) reject(noAnswer(url, err));
          settled = true;
        });
      },
    );
    req.on('error', (err) => reject(noAnswer(url, err)));
    req.end();
  });
}

function noAnswer(url: URL, err: unknown): NoAnswer {
  const e = err as NodeJS.ErrnoException;
  const code = e.name === 'AbortError' || e.name === 'TimeoutError' ? `no answer within ${REQUEST_TIMEOUT_MS / 1000} s` : (e.code ?? e.message ?? 'error');
  return new NoAnswer(url.href, code, err);
}

/** GET, following redirects ourselves (at most MAX_REDIRECTS); every Set-Cookie on the way is kept. */
export async function follow(start: URL, agents: Agents, cookies: SeenCookie[], headers?: Record<string, string>): Promise<{ response: ProbeResponse; first: Hop }> {
  let url = start;
  let first: Hop | undefined;
  for (let redirects = 0; ; redirects++) {
    const hop = await get(url, agents, { headers });
    first ??= hop;
    for (const header of hop.headers['set-cookie'] ?? []) cookies.push({ url: url.href, header });
    // An unparseable Location ends the chain there: the headers of that answer are what a browser saw last.
    const next = REDIRECT_STATUSES.includes(hop.status) || hop.status === 303 ? resolveLocation(hop.location, url) : undefined;
    const done = next === undefined || redirects === MAX_REDIRECTS;
    if (done) {
      return {
        first,
        response: {
          url: start.href,
          finalUrl: url.href,
          status: hop.status,
          headers: hop.headers,
          body: hop.body,
          redirects,
          truncated: next !== undefined,
        },
      };
    }
    url = next;
  }
}

export async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

export function resolveLocation(location: string | undefined, base: URL): URL | undefined {
  if (location === undefined) return undefined;
  try {
    return new URL(location, base);
  } catch {
    return undefined;
  }
}

/**
 * What the route answers to cross-origin requests: a simple GET per foreign origin (redirects
 * followed, as browsers do), one preflight, and a GET from the first listed origin.
 */
export async function probeCors(url: URL, agents: Agents, allowed: string[]): Promise<CorsProbe> {
  const foreign = foreignOrigins(randomBytes(4).toString('hex'), new URL(allowed[0] ?? url.origin));
  const requests: Array<{ method: CorsAnswer['method']; origin: string }> = [
    ...Object.keys(foreign).map((origin) => ({ method: 'GET' as const, origin })),
    { method: 'preflight', origin: Object.keys(foreign)[0] as string },
    ...allowed.slice(0, 1).map((origin) => ({ method: 'GET' as const, origin })),
  ];
  const answers = await mapLimit(requests, CONCURRENCY, async ({ method, origin }): Promise<CorsAnswer> => {
    const headers: Record<string, string> =
      method === 'preflight'
        ? { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' }
        : { origin };
    const hop = method === 'preflight' ? await get(url, agents, { method: 'OPTIONS', headers }) : (await follow(url, agents, [], headers)).response;
    return {
      method,
      origin,
      allowOrigin: hop.headers['access-control-allow-origin'] ?? [],
      allowCredentials: (hop.headers['access-control-allow-credentials'] ?? []).some((v) => v.trim().toLowerCase() === 'true'),
    };
  });
  return { route: url.pathname, foreign, answers };
}
