/**
 * Remote codec server for the Temporal Web UI and `temporal` CLI (`--codec-endpoint`):
 * they POST `{payloads: [...]}` (proto3 JSON: bytes as base64) to `<endpoint>/encode` or
 * `<endpoint>/decode` and show what comes back, so plaintext never reaches Temporal.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { PayloadDecryptionError } from './codec.js';

/** Largest request body accepted. */
export const MAX_BODY_BYTES = 4 * 1024 * 1024;

const ALLOW_HEADERS = 'Content-Type, Authorization, X-Namespace';
const ALLOW_METHODS = 'POST, GET, OPTIONS';

/** Options for {@link createCodecServer}. */
export interface CodecServerOptions {
  codec: PayloadCodec;
  /** Browser origins allowed to call (e.g. `http://localhost:8233`); exact match. */
  corsOrigins: string[];
  /** When set, every encode/decode must carry `Authorization: Bearer <token>`. */
  authToken?: string;
  logger?: { info(...a: unknown[]): void };
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** Wire form of a payload in the codec protocol. */
interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}

/** Servers created with an auth token: only those may listen beyond loopback. */
const authenticated = new WeakSet<Server>();

/** Refused before binding: a codec server decodes every payload for whoever reaches it. */
export class CodecServerExposedError extends Error {
  constructor(host: string) {
    super(`refusing to serve /decode on ${host} without an auth token: anyone who reaches it could read every incident's payloads; bind to 127.0.0.1 or set --auth-token-env`);
    this.name = 'CodecServerExposedError';
  }
}

/** Loopback addresses: only processes on this machine reach them. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127(?:\.\d{1,3}){3}$/.test(h) || /^::ffff:127(?:\.\d{1,3}){3}$/.test(h);
}

/** Create (but do not start) the codec server; see {@link startCodecServer}. */
export function createCodecServer(opts: CodecServerOptions): Server {
  const origins = new Set(opts.corsOrigins.map((o) => o.replace(/\/+$/, '')));
  const tokenDigest = opts.authToken ? sha256(opts.authToken) : undefined;
  const log = opts.logger;

  const server = createServer((req, res) => {
    const started = Date.now();
    const stats: { payloads?: number } = {};
    res.on('finish', () => {
      // Counts and status only: payload contents never reach the log.
      log?.info(
        { method: req.method, path: pathOf(req), status: res.statusCode, payloads: stats.payloads, namespace: req.headers['x-namespace'], ms: Date.now() - started },
        'codec request',
      );
    });
    handle(req, res, stats).catch((err: unknown) => {
      const e = err instanceof HttpError ? err : new HttpError(500, 'internal error');
      sendJson(res, e.status, { error: e.message }, e.headers);
      // Unread request bytes (e.g. an oversized body) would otherwise be parsed as the next request.
      if (!req.complete) res.on('finish', () => req.destroy());
    });
  });
  // Bound slow clients: a codec call is one small JSON round trip.
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  if (opts.authToken) authenticated.add(server);
  return server;

  async function handle(req: IncomingMessage, res: ServerResponse, stats: { payloads?: number }): Promise<void> {
    const origin = req.headers.origin;
    if (origin !== undefined) {
      if (!origins.has(origin)) throw new HttpError(403, 'origin not allowed');
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Access-Control-Allow-Credentials', 'true');
    }
    res.setHeader('Vary', 'Origin');

    const path = pathOf(req).replace(/\/+$/, '') || '/';
    const action = path.endsWith('/encode') ? 'encode' : path.endsWith('/decode') ? 'decode' : undefined;

    if (req.method === 'OPTIONS') {
      res.writeHead(204, {
        'Access-Control-Allow-Methods': ALLOW_METHODS,
        'Access-Control-Allow-Headers': ALLOW_HEADERS,
        'Access-Control-Max-Age': '600',
      });
      res.end();
      return;
    }
    if (path === '/healthz') {
      if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, 'method not allowed', { Allow: 'GET, HEAD' });
      sendJson(res, 200, { ok: true });
      return;
    }
    if (!action) throw new HttpError(404, 'not found');
    if (req.method !== 'POST') throw new HttpError(405, 'method not allowed', { Allow: 'POST, OPTIONS' });
    if (tokenDigest && !authorized(req.headers.authorization, tokenDigest)) {
      throw new HttpError(401, 'unauthorized', { 'WWW-Authenticate': 'Bearer' });
    }

    const payloads = parseRequest(await readBody(req));
    stats.payloads = payloads.length;
    let out: Payload[];
    try {
      out = action === 'encode' ? await opts.codec.encode(payloads) : await opts.codec.decode(payloads);
    } catch (err) {
      if (action === 'decode') {
        // Our codec's messages name only key ids; anything else gets a generic message.
        throw new HttpError(400, err instanceof PayloadDecryptionError ? err.message : 'cannot decode payloads');
      }
      throw new HttpError(500, 'cannot encode payloads');
    }
    sendJson(res, 200, { payloads: out.map(toJson) });
  }
}

/** Start listening; resolves once bound (use port 0 for any free port). */
export function startCodecServer(
  server: Server,
  port: number,
  host = '127.0.0.1',
): Promise<{ url: string; close: () => Promise<void> }> {
  if (!isLoopbackHost(host) && !authenticated.has(server)) return Promise.reject(new CodecServerExposedError(host));
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      const addr = server.address() as AddressInfo;
      const shownHost = addr.address.includes(':') ? `[${addr.address}]` : addr.address;
      let closing: Promise<void> | undefined;
      resolve({
        url: `http://${shownHost}:${addr.port}`,
        close: () => {
          closing ??= new Promise<void>((done, fail) => {
            server.close((err) => (err ? fail(err) : done()));
            // Keep-alive sockets (fetch keeps them) would otherwise hold close() open.
            server.closeAllConnections();
          });
          return closing;
        },
      });
    });
  });
}

function pathOf(req: IncomingMessage): string {
  const raw = req.url ?? '/';
  const q = raw.indexOf('?');
  return q === -1 ? raw : raw.slice(0, q);
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/** Compare digests so neither the token's bytes nor its length leak through timing. */
function authorized(header: string | undefined, expected: Buffer): boolean {
  const m = /^Bearer\s+(.+)$/i.exec(header ?? '');
  if (!m) return false;
  return timingSafeEqual(sha256((m[1] as string).trim()), expected);
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > MAX_BODY_BYTES) {
    return Promise.reject(new HttpError(413, `request body over ${MAX_BODY_BYTES} bytes`, { Connection: 'close' }));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        cleanup();
        req.pause();
        reject(new HttpError(413, `request body over ${MAX_BODY_BYTES} bytes`, { Connection: 'close' }));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(Buffer.concat(chunks));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}

const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

function parseRequest(body: Buffer): Payload[] {
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch {
    throw new HttpError(400, 'request body is not valid JSON');
  }
  if (!isObject(doc) || !Array.isArray(doc.payloads)) throw new HttpError(400, 'expected {"payloads": [...]}');
  return doc.payloads.map((p: unknown, i: number) => {
    if (!isObject(p)) throw new HttpError(400, `payloads[${i}] must be an object`);
    const out: Payload = { metadata: {} };
    if (p.metadata !== undefined && p.metadata !== null) {
      if (!isObject(p.metadata)) throw new HttpError(400, `payloads[${i}].metadata must be an object`);
      // fromEntries defines own properties, so a "__proto__" key cannot reach the prototype.
      out.metadata = Object.fromEntries(
        Object.entries(p.metadata).map(([k, v]) => [k, fromBase64(v, `payloads[${i}].metadata.${JSON.stringify(k)}`)]),
      );
    }
    if (p.data !== undefined && p.data !== null) out.data = fromBase64(p.data, `payloads[${i}].data`);
    return out;
  });
}

function fromBase64(v: unknown, where: string): Uint8Array {
  if (typeof v !== 'string' || !BASE64.test(v)) throw new HttpError(400, `${where} must be a base64 string`);
  return new Uint8Array(Buffer.from(v, 'base64'));
}

function toJson(p: Payload): JsonPayload {
  const out: JsonPayload = {
    metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, b64(v)])),
  };
  if (p.data !== undefined && p.data !== null) out.data = b64(p.data);
  return out;
}

function b64(u: Uint8Array): string {
  return Buffer.from(u.buffer, u.byteOffset, u.byteLength).toString('base64');
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    // Decoded payloads are sensitive: keep them out of caches.
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
  });
  res.end(text);
}
