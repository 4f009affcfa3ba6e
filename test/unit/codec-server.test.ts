import { request } from 'node:http';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { AesGcmCodec } from '../../lib/codec.js';
import { CodecServerExposedError, createCodecServer, isLoopbackHost, startCodecServer, MAX_BODY_BYTES } from '../../lib/codec-server.js';
import type { CodecServerOptions } from '../../lib/codec-server.js';

const KEY = Buffer.alloc(32, 0x5c);
const ALLOWED = 'http://localhost:8233';
const TOKEN = 'codec-test-token';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const plainPayload = { metadata: { encoding: b64('json/plain'), extra: b64('x') }, data: b64('{"ip":"10.1.2.3"}') };

async function withServer(opts: Partial<CodecServerOptions>, fn: (url: string) => Promise<void>): Promise<void> {
  const codec = new AesGcmCodec({ keys: new Map([['k1', KEY]]), currentKeyId: 'k1' });
  const server = createCodecServer({ codec, corsOrigins: [ALLOWED], ...opts });
  const { url, close } = await startCodecServer(server, 0);
  try {
    await fn(url);
  } finally {
    await close();
  }
}

function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** Raw request that reports the status even if the server stops reading the upload. */
function rawPost(url: string, body: Buffer, chunked: boolean): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: chunked ? { 'Content-Type': 'application/json' } : { 'Content-Length': body.length } });
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    if (chunked) {
      // Stream in pieces without a declared length so only the running count can catch it.
      const piece = 256 * 1024;
      let off = 0;
      const pump = () => {
        while (off < body.length) {
          const ok = req.write(body.subarray(off, off + piece));
          off += piece;
          if (!ok) return void req.once('drain', pump);
        }
        req.end();
      };
      req.on('error', () => {});
      pump();
    } else {
      req.end(body);
    }
  });
}

describe('codec server', () => {
  let url: string;
  let close: () => Promise<void>;
  const logged: unknown[][] = [];

  beforeAll(async () => {
    const codec = new AesGcmCodec({ keys: new Map([['k1', KEY]]), currentKeyId: 'k1' });
    const server = createCodecServer({ codec, corsOrigins: [ALLOWED], logger: { info: (...a) => logged.push(a) } });
    ({ url, close } = await startCodecServer(server, 0));
  });
  afterAll(async () => {
    await close();
  });

  it('listens on 127.0.0.1', () => {
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('round trips /encode then /decode', async () => {
    const encRes = await post(`${url}/encode`, { payloads: [plainPayload] });
    expect(encRes.status).toBe(200);
    expect(encRes.headers.get('content-type')).toMatch(/application\/json/);
    expect(encRes.headers.get('cache-control')).toBe('no-store');
    const encoded = (await encRes.json()) as { payloads: Array<{ metadata: Record<string, string>; data: string }> };
    expect(encoded.payloads).toHaveLength(1);
    const e = encoded.payloads[0]!;
    expect(Buffer.from(e.metadata.encoding!, 'base64').toString()).toBe('binary/encrypted');
    expect(Buffer.from(e.metadata['encryption-key-id']!, 'base64').toString()).toBe('k1');
    expect(Buffer.from(e.data, 'base64').toString('latin1')).not.toContain('10.1.2.3');

    const decRes = await post(`${url}/decode`, encoded);
    expect(decRes.status).toBe(200);
    expect(await decRes.json()).toEqual({ payloads: [plainPayload] });
  });

  it('passes unencrypted payloads through /decode', async () => {
    const res = await post(`${url}/decode`, { payloads: [plainPayload] });
    expect(await res.json()).toEqual({ payloads: [plainPayload] });
  });

  it('accepts a prefixed path, a trailing slash and a query string', async () => {
    const encoded = await (await post(`${url}/default/encode`, { payloads: [plainPayload] })).json();
    for (const path of ['/default/decode', '/codec/ns/decode/', '/decode?ns=default']) {
      const res = await post(`${url}${path}`, encoded, { 'X-Namespace': 'default' });
      expect(res.status, path).toBe(200);
      expect(await res.json()).toEqual({ payloads: [plainPayload] });
    }
  });

  it('answers CORS preflight for an allowed origin', async () => {
    const res = await fetch(`${url}/default/decode`, {
      method: 'OPTIONS',
      headers: { Origin: ALLOWED, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type,x-namespace' },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe(ALLOWED);
    expect(res.headers.get('access-control-allow-credentials')).toBe('true');
    expect(res.headers.get('access-control-allow-headers')).toBe('Content-Type, Authorization, X-Namespace');
    expect(res.headers.get('access-control-allow-methods')).toContain('POST');

    const post1 = await post(`${url}/decode`, { payloads: [] }, { Origin: ALLOWED });
    expect(post1.status).toBe(200);
    expect(post1.headers.get('access-control-allow-origin')).toBe(ALLOWED);
  });

  it('refuses a disallowed origin without CORS headers', async () => {
    const pre = await fetch(`${url}/decode`, { method: 'OPTIONS', headers: { Origin: 'https://evil.example', 'Access-Control-Request-Method': 'POST' } });
    expect(pre.status).toBe(403);
    expect(pre.headers.get('access-control-allow-origin')).toBeNull();
    const res = await post(`${url}/decode`, { payloads: [] }, { Origin: 'https://evil.example' });
    expect(res.status).toBe(403);
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('rejects bad JSON and bad shapes with a JSON 400', async () => {
    for (const body of ['{not json', '[]', '{"payloads": 3}', '{"payloads": [{"data": "***"}]}', '{"payloads": [{"metadata": {"a": 1}}]}']) {
      const res = await post(`${url}/decode`, body);
      expect(res.status, body).toBe(400);
      expect(((await res.json()) as { error: string }).error).toEqual(expect.any(String));
    }
  });

  it('rejects a payload that fails to decrypt with a 400 naming only the key id', async () => {
    const encoded = (await (await post(`${url}/encode`, { payloads: [plainPayload] })).json()) as {
      payloads: Array<{ metadata: Record<string, string>; data: string }>;
    };
    const data = Buffer.from(encoded.payloads[0]!.data, 'base64');
    data[data.length - 1] = (data[data.length - 1] as number) ^ 1;
    encoded.payloads[0]!.data = data.toString('base64');
    const res = await post(`${url}/decode`, encoded);
    expect(res.status).toBe(400);
    const { error } = (await res.json()) as { error: string };
    expect(error).toMatch(/"k1".*authentication failed/);
    expect(error).not.toContain(KEY.toString('hex'));
    expect(error).not.toContain(KEY.toString('base64'));
  });

  it('rejects an oversized body with 413 (declared length or streamed)', async () => {
    const big = Buffer.alloc(MAX_BODY_BYTES + 1024, 0x20);
    expect(await rawPost(`${url}/decode`, big, false)).toBe(413);
    expect(await rawPost(`${url}/decode`, big, true)).toBe(413);
    const viaFetch = await post(`${url}/decode`, JSON.stringify({ payloads: [{ data: 'A'.repeat(MAX_BODY_BYTES) }] }));
    expect(viaFetch.status).toBe(413);
    // The server is still healthy afterwards.
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
  });

  it('404s other paths and 405s wrong methods', async () => {
    expect((await post(`${url}/nope`, { payloads: [] })).status).toBe(404);
    expect((await post(`${url}/decoder`, { payloads: [] })).status).toBe(404);
    expect((await fetch(`${url}/`)).status).toBe(404);
    expect((await fetch(`${url}/decode`)).status).toBe(405);
  });

  it('answers /healthz', async () => {
    const res = await fetch(`${url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });
  });

  it('logs requests without payload contents', async () => {
    await post(`${url}/encode`, { payloads: [plainPayload] });
    const text = JSON.stringify(logged);
    expect(text).toContain('/encode');
    expect(logged.some((a) => (a[0] as { payloads?: number }).payloads === 1)).toBe(true);
    expect(text).not.toContain(plainPayload.data);
  });
});

describe('codec server with an auth token', () => {
  it('requires the bearer token on encode/decode', async () => {
    await withServer({ authToken: TOKEN }, async (url) => {
      expect((await post(`${url}/decode`, { payloads: [] })).status).toBe(401);
      const wrong = await post(`${url}/decode`, { payloads: [] }, { Authorization: 'Bearer nope' });
      expect(wrong.status).toBe(401);
      expect(wrong.headers.get('www-authenticate')).toBe('Bearer');
      expect((await post(`${url}/decode`, { payloads: [] }, { Authorization: `Bearer ${TOKEN}x` })).status).toBe(401);
      expect((await post(`${url}/decode`, { payloads: [] }, { Authorization: TOKEN })).status).toBe(401);
      const ok = await post(`${url}/encode`, { payloads: [plainPayload] }, { Authorization: `Bearer ${TOKEN}` });
      expect(ok.status).toBe(200);
    });
  });

  it('lets preflight and /healthz through without a token, and 401s carry CORS headers', async () => {
    await withServer({ authToken: TOKEN }, async (url) => {
      const pre = await fetch(`${url}/decode`, { method: 'OPTIONS', headers: { Origin: ALLOWED, 'Access-Control-Request-Method': 'POST' } });
      expect(pre.status).toBe(204);
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      const denied = await post(`${url}/decode`, { payloads: [] }, { Origin: ALLOWED });
      expect(denied.status).toBe(401);
      expect(denied.headers.get('access-control-allow-origin')).toBe(ALLOWED);
    });
  });
});

describe('startCodecServer', () => {
  it('close() is idempotent and frees the port', async () => {
    const codec = new AesGcmCodec({ keys: new Map([['k1', KEY]]), currentKeyId: 'k1' });
    const { url, close } = await startCodecServer(createCodecServer({ codec, corsOrigins: [] }), 0);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    await Promise.all([close(), close()]);
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
  });

  it('rejects when the port is taken', async () => {
    const codec = new AesGcmCodec({ keys: new Map([['k1', KEY]]), currentKeyId: 'k1' });
    const first = await startCodecServer(createCodecServer({ codec, corsOrigins: [] }), 0);
    try {
      const port = Number(new URL(first.url).port);
      await expect(startCodecServer(createCodecServer({ codec, corsOrigins: [] }), port)).rejects.toThrow(/EADDRINUSE/);
    } finally {
      await first.close();
    }
  });

  it('refuses to listen beyond loopback without an auth token, and binds nothing', async () => {
    const codec = new AesGcmCodec({ keys: new Map([['k1', KEY]]), currentKeyId: 'k1' });
    const server = createCodecServer({ codec, corsOrigins: [] });
    await expect(startCodecServer(server, 0, '0.0.0.0')).rejects.toThrow(CodecServerExposedError);
    expect(server.listening).toBe(false);
    const withToken = await startCodecServer(createCodecServer({ codec, corsOrigins: [], authToken: TOKEN }), 0, '0.0.0.0');
    try {
      const port = new URL(withToken.url).port;
      expect((await fetch(`http://127.0.0.1:${port}/decode`, { method: 'POST', body: '{"payloads":[]}' })).status).toBe(401);
    } finally {
      await withToken.close();
    }
  });

  it.each([
    ['127.0.0.1', true],
    ['127.10.0.1', true],
    ['localhost', true],
    ['::1', true],
    ['[::1]', true],
    ['::ffff:127.0.0.1', true],
    ['0.0.0.0', false],
    ['::', false],
    ['10.0.0.5', false],
    ['128.0.0.1', false],
    ['localhost.example.com', false],
  ])('isLoopbackHost(%s) is %s', (host, loopback) => {
    expect(isLoopbackHost(host)).toBe(loopback);
  });
});
