/**
 * examples/express/firebreak-middleware.ts behind a real Node HTTP server on loopback, against
 * the real Redis: lockdown 503, IPv4/IPv6 network bans 403, token revocation 401 (jti, user,
 * global epochs), expiry, fail-closed/fail-open, exactly one Redis command per request
 * (counted with MONITOR), and the reader heartbeat (`fb:reader:<hostname>:<pid>`).
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { hostname } from 'node:os';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { httpGet } from '../helpers/http.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  banKey,
  BANNED_BODY,
  firebreakGuard,
  lockdownKey,
  LOCKDOWN_BODY,
  readerKey,
  revokedBeforeAllKey,
  revokedBeforeUserKey,
  revokedJtiKey,
  REVOKED_BODY,
  UNAVAILABLE_BODY,
  type FirebreakGuard,
  type FirebreakGuardOptions,
  type TokenClaims,
} from '../../examples/express/firebreak-middleware.js';
import { freePort } from '../../lib/dev-server.js';
import type { KeySpace } from '../../lib/redis-keys.js';
import { REDIS_URL, redisClient, type TestRedis } from '../helpers/services.js';

interface Reply {
  status: number;
  body: string;
  headers: IncomingHttpHeaders;
}

interface TestServer {
  port: number;
  close(): Promise<void>;
}

let r: TestRedis;
let space: KeySpace;
/** The guard's own connection, so MONITOR can tell its commands from everyone else's. */
let guardRedis: Redis;
const servers: TestServer[] = [];

// TEST ONLY: the "already verified" claims come from a header. An app returns the claims of a
// token its JWT library verified (see examples/express/README.md).
const claimsFromHeader = (req: IncomingMessage): TokenClaims | undefined => {
  const raw = req.headers['x-test-claims'];
  return typeof raw === 'string' ? (JSON.parse(raw) as TokenClaims) : undefined;
};

async function serve(guard: FirebreakGuard): Promise<TestServer> {
  const server = createServer((req, res) =>
    guard(req, res, (err?: unknown) => {
      res.statusCode = err ? 500 : 200;
      res.end(err ? `app error: ${err instanceof Error ? err.message : 'non-Error'}` : 'ok');
    }),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const s: TestServer = {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  servers.push(s);
  return s;
}

function get(port: number, opts: { from?: string; claims?: TokenClaims | Record<string, unknown> } = {}): Promise<Reply> {
  return httpGet(port, { localAddress: opts.from ?? '127.0.0.1', headers: opts.claims ? { 'x-test-claims': JSON.stringify(opts.claims) } : {} });
}

const guardOptions = (extra: Partial<FirebreakGuardOptions> = {}): FirebreakGuardOptions => ({
  redis: guardRedis,
  keyPrefix: r.prefix,
  token: claimsFromHeader,
  onError: () => undefined,
  ...extra,
});

let port: number;
const now = () => Math.floor(Date.now() / 1000);
/** A guard whose first heartbeat is written in beforeAll, for the "not again within 10 s" checks. */
let beatPort: number;
let beatSpace: KeySpace;
let firstBeatAt = 0;

beforeAll(async () => {
  r = redisClient('express-guard');
  space = { keyPrefix: r.prefix, keyVersion: 1 };
  guardRedis = new Redis(REDIS_URL, { maxRetriesPerRequest: 2 });
  port = (await serve(firebreakGuard(guardOptions()))).port;
  beatSpace = { keyPrefix: `${r.prefix}-hb`, keyVersion: 1 };
  beatPort = (await serve(firebreakGuard(guardOptions({ keyPrefix: beatSpace.keyPrefix })))).port;
  expect((await get(beatPort)).status).toBe(200);
  firstBeatAt = Date.now();
});

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await guardRedis.quit();
  await r.cleanup();
});

/** A SET of a reader heartbeat key, as MONITOR shows it. */
const isBeat = (cmd: string[]) => cmd[0]?.toLowerCase() === 'set' && /:fb:reader:/.test(cmd[1] ?? '');

// First: runs before afterEach first clears the key space, within 10 s of the first beat.
describe('reader heartbeat', () => {
  it('after a request: <prefix>:<version>:fb:reader:<hostname>:<pid> = unix seconds, TTL ≤ 60; not rewritten within 10 s', async () => {
    const k = readerKey(beatSpace);
    expect(k).toBe(`${r.prefix}-hb:1:fb:reader:${hostname()}:${process.pid}`);
    await expect.poll(() => r.redis.exists(k), { timeout: 2_000, interval: 20 }).toBe(1); // fire-and-forget: may land just after the answer
    const value = await r.redis.get(k);
    expect(value).toMatch(/^\d+$/);
    expect(Math.abs(Number(value) - Math.floor(firstBeatAt / 1000))).toBeLessThanOrEqual(2);
    const ttl = await r.redis.ttl(k);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60);
    expect(Date.now() - firstBeatAt).toBeLessThan(8_000);
    await r.redis.set(k, 'marker', 'EX', 30);
    for (let i = 0; i < 3; i++) expect((await get(beatPort)).status).toBe(200);
    await guardRedis.ping(); // same connection: a SET those requests sent has been executed by now
    expect(await r.redis.get(k)).toBe('marker');
    expect(await r.redis.ttl(k)).toBeLessThanOrEqual(30);
  });

  it('a mismatched keyVersion or keyPrefix writes into the other namespace, so Firebreak’s has none', async () => {
    const firebreak: KeySpace = { keyPrefix: `${r.prefix}-mm`, keyVersion: 1 };
    const v2 = await serve(firebreakGuard(guardOptions({ keyPrefix: firebreak.keyPrefix, keyVersion: 2 })));
    const other = await serve(firebreakGuard(guardOptions({ keyPrefix: `${r.prefix}-mx` })));
    expect((await get(v2.port)).status).toBe(200);
    expect((await get(other.port)).status).toBe(200);
    await expect.poll(() => r.redis.exists(readerKey({ keyPrefix: firebreak.keyPrefix, keyVersion: 2 })), { timeout: 2_000, interval: 20 }).toBe(1);
    await expect.poll(() => r.redis.exists(readerKey({ keyPrefix: `${r.prefix}-mx`, keyVersion: 1 })), { timeout: 2_000, interval: 20 }).toBe(1);
    expect(await r.redis.exists(readerKey(firebreak))).toBe(0);
  });

  it('Redis refusing the heartbeat does not fail the request', async () => {
    const failing = {
      mget: guardRedis.mget.bind(guardRedis),
      set: () => Promise.reject(new Error('READONLY You can’t write against a read only replica.')),
    } as unknown as Redis;
    const s = await serve(firebreakGuard(guardOptions({ redis: failing, keyPrefix: `${r.prefix}-ro` })));
    expect(await get(s.port)).toMatchObject({ status: 200, body: 'ok' });
    await r.redis.set(lockdownKey({ keyPrefix: `${r.prefix}-ro`, keyVersion: 1 }), 1);
    expect((await get(s.port)).status).toBe(503);
  });
});

// Every test starts from an empty key space (SCAN, not KEYS: the Redis is shared).
afterEach(() => r.clear());

describe('lockdown', () => {
  it('nothing set: requests pass, with or without a token', async () => {
    expect(await get(port)).toMatchObject({ status: 200, body: 'ok' });
    expect(await get(port, { claims: { jti: 'j-1', sub: '42', iat: now() } })).toMatchObject({ status: 200, body: 'ok' });
  });

  it('EMERGENCY_LOCKDOWN = 1 answers 503 with the guide’s exact JSON body, before bans and tokens', async () => {
    expect(lockdownKey(space)).toBe(`${r.prefix}:1:EMERGENCY_LOCKDOWN`);
    await r.redis.set(lockdownKey(space), 1);
    await r.redis.set(banKey(space, '127.0.0.2/32'), now() + 3600);
    await r.redis.set(revokedJtiKey(space, 'j-1'), 1);
    for (const reply of [await get(port), await get(port, { from: '127.0.0.2' }), await get(port, { claims: { jti: 'j-1' } })]) {
      expect(reply.status).toBe(503);
      expect(reply.body).toBe('{"error": "System under maintenance for security updates."}');
      expect(reply.body).toBe(LOCKDOWN_BODY);
      expect(JSON.parse(reply.body)).toEqual({ error: 'System under maintenance for security updates.' });
      expect(reply.headers['content-type']).toBe('application/json');
      expect(reply.headers['cache-control']).toBe('no-store');
    }
  });

  it('reads the flag as Django does: 0 is off, a pickled True (non-integer) is on', async () => {
    await r.redis.set(lockdownKey(space), 0);
    expect((await get(port)).status).toBe(200);
    // pickle.dumps(True, 5) — what `cache.set("EMERGENCY_LOCKDOWN", True)` stores.
    await r.redis.set(lockdownKey(space), Buffer.from('8005882e', 'hex'));
    expect((await get(port)).status).toBe(503);
  });
});

describe('IP bans', () => {
  it('a /32 ban refuses 127.0.0.2 with 403 while 127.0.0.1 gets 200', async () => {
    await r.redis.set(banKey(space, '127.0.0.2/32'), now() + 3600, 'EX', 3600);
    const banned = await get(port, { from: '127.0.0.2' });
    expect(banned).toMatchObject({ status: 403, body: BANNED_BODY });
    expect(banned.headers['content-type']).toBe('application/json');
    expect(await get(port, { from: '127.0.0.1' })).toMatchObject({ status: 200, body: 'ok' });
  });

  it('a /24 ban covers 127.0.0.2 (and 127.0.0.1) but not 127.0.1.1; a ban is checked before tokens', async () => {
    await r.redis.set(banKey(space, '127.0.0.0/24'), now() + 3600, 'EX', 3600);
    expect((await get(port, { from: '127.0.0.2' })).status).toBe(403);
    expect((await get(port, { from: '127.0.0.1', claims: { jti: 'j-ok', sub: '1', iat: now() } })).status).toBe(403);
    expect((await get(port, { from: '127.0.1.1' })).status).toBe(200);
  });

  it('the /16 at the configured minimum prefix is enforced; a broader key is not even read', async () => {
    await r.redis.set(banKey(space, '127.0.0.0/15'), now() + 3600, 'EX', 3600);
    expect((await get(port, { from: '127.0.0.2' })).status).toBe(200);
    await r.redis.set(banKey(space, '127.0.0.0/16'), now() + 3600, 'EX', 3600);
    expect((await get(port, { from: '127.0.0.2' })).status).toBe(403);
  });

  it('IPv6: a /48 and a /128 ban (RFC 5952 form) refuse an address inside; a neighbour network passes', async () => {
    let ip = '2001:db8::7';
    const v6 = await serve(firebreakGuard(guardOptions({ clientIp: () => ip })));
    await r.redis.set(banKey(space, '2001:db8::/48'), now() + 3600, 'EX', 3600);
    expect(await get(v6.port)).toMatchObject({ status: 403, body: BANNED_BODY });
    ip = '2001:db8:1::7';
    expect((await get(v6.port)).status).toBe(200);
    await r.redis.set(banKey(space, '2001:db8:1::7/128'), now() + 3600, 'EX', 3600);
    expect((await get(v6.port)).status).toBe(403);
    ip = '2001:0DB8:0001:0000:0000:0000:0000:0007'; // any spelling of the same address
    expect((await get(v6.port)).status).toBe(403);
    ip = '2001:db8:1::8';
    expect((await get(v6.port)).status).toBe(200);
  });

  it('an IPv4-mapped IPv6 client address (a server listening on ::) is matched as IPv4', async () => {
    const mapped = await serve(firebreakGuard(guardOptions({ clientIp: () => '::ffff:127.0.0.2' })));
    expect((await get(mapped.port)).status).toBe(200);
    await r.redis.set(banKey(space, '127.0.0.2/32'), now() + 3600, 'EX', 3600);
    expect((await get(mapped.port)).status).toBe(403);
  });

  it('an expired ban is gone: 200 again', async () => {
    const k = banKey(space, '127.0.0.2/32');
    await r.redis.set(k, now() + 3600, 'EX', 3600);
    expect((await get(port, { from: '127.0.0.2' })).status).toBe(403);
    // Let Redis expire it (a TTL, not a DEL), then ask again.
    await r.redis.pexpire(k, 50);
    await expect.poll(() => r.redis.exists(k), { timeout: 5_000, interval: 25 }).toBe(0);
    expect((await get(port, { from: '127.0.0.2' })).status).toBe(200);
  });
});

describe('token revocation', () => {
  it('a revoked jti answers 401 with a Bearer invalid_token challenge; other tokens pass', async () => {
    await r.redis.set(revokedJtiKey(space, 'leaked-jti'), 1, 'EX', 900);
    const refused = await get(port, { claims: { jti: 'leaked-jti', sub: '7', iat: now() } });
    expect(refused).toMatchObject({ status: 401, body: REVOKED_BODY });
    expect(refused.headers['www-authenticate']).toMatch(/^Bearer error="invalid_token"/);
    expect((await get(port, { claims: { jti: 'other-jti', sub: '7', iat: now() } })).status).toBe(200);
    expect((await get(port)).status).toBe(200); // no token: token checks do not apply
  });

  it('a user epoch revokes that user’s tokens issued at or before it, not later ones or other users’', async () => {
    const epoch = now() - 60;
    await r.redis.set(revokedBeforeUserKey(space, '42'), epoch);
    expect((await get(port, { claims: { jti: 'a', sub: '42', iat: epoch - 100 } })).status).toBe(401);
    expect((await get(port, { claims: { jti: 'b', sub: '42', iat: epoch } })).status).toBe(401);
    expect((await get(port, { claims: { jti: 'c', sub: '42', iat: epoch + 1 } })).status).toBe(200);
    expect((await get(port, { claims: { jti: 'd', sub: '43', iat: epoch - 100 } })).status).toBe(200);
  });

  it('the global epoch revokes every token issued at or before it; requests without a token pass', async () => {
    const epoch = now() - 60;
    await r.redis.set(revokedBeforeAllKey(space), epoch);
    expect((await get(port, { claims: { jti: 'a', sub: '1', iat: epoch } })).status).toBe(401);
    expect((await get(port, { claims: { sub: '2', iat: epoch - 1 } })).status).toBe(401);
    expect((await get(port, { claims: { jti: 'b', sub: '1', iat: epoch + 5 } })).status).toBe(200);
    expect((await get(port)).status).toBe(200);
  });

  it('a token without a usable iat is refused while an epoch applies to it, and passes otherwise', async () => {
    expect((await get(port, { claims: { jti: 'x', sub: '9' } })).status).toBe(200);
    await r.redis.set(revokedBeforeUserKey(space, '9'), now());
    expect((await get(port, { claims: { jti: 'x', sub: '9' } })).status).toBe(401);
    expect((await get(port, { claims: { jti: 'x', sub: '9', iat: 'yesterday' } })).status).toBe(401);
  });

  it('a malformed epoch cannot be decided: 503 fail-closed', async () => {
    await r.redis.set(revokedBeforeAllKey(space), 'not-a-number');
    expect(await get(port, { claims: { jti: 'x', sub: '1', iat: now() } })).toMatchObject({ status: 503, body: UNAVAILABLE_BODY });
  });
});

describe('failure handling', () => {
  it('Redis unreachable: 503 fail-closed by default, 200 with failOpen, both within the timeout; each failure reported', async () => {
    const closedPort = await freePort();
    const down = new Redis(closedPort, '127.0.0.1', { maxRetriesPerRequest: 1, retryStrategy: () => 200, lazyConnect: true });
    down.on('error', () => undefined);
    const errors: string[] = [];
    try {
      const onError = (err: Error) => errors.push(err.message);
      const closed = await serve(firebreakGuard(guardOptions({ redis: down, timeoutMs: 400, onError })));
      const open = await serve(firebreakGuard(guardOptions({ redis: down, timeoutMs: 400, onError, failOpen: true })));
      const started = Date.now();
      const [c, o] = await Promise.all([get(closed.port, { claims: { jti: 'x' } }), get(open.port)]);
      expect(Date.now() - started).toBeLessThan(2_000);
      expect(c).toMatchObject({ status: 503, body: UNAVAILABLE_BODY });
      expect(c.body).not.toBe(LOCKDOWN_BODY); // monitoring can tell an outage from a lockdown
      expect(o).toMatchObject({ status: 200, body: 'ok' });
      expect(errors).toHaveLength(2);
    } finally {
      down.disconnect();
    }
  });

  it('an unusable client address is a failure to decide, not a free pass', async () => {
    const s = await serve(firebreakGuard(guardOptions({ clientIp: () => 'not-an-ip' })));
    expect((await get(s.port)).status).toBe(503);
    const open = await serve(firebreakGuard(guardOptions({ clientIp: () => undefined, failOpen: true })));
    expect((await get(open.port)).status).toBe(200);
  });

  it('an exception in the app’s token callable goes to next(err), not into a guard verdict', async () => {
    const s = await serve(
      firebreakGuard(
        guardOptions({
          token: () => {
            throw new Error('bad token parser');
          },
        }),
      ),
    );
    expect(await get(s.port)).toMatchObject({ status: 500, body: 'app error: bad token parser' });
  });

  it('rejects impossible options when the middleware is built', () => {
    expect(() => firebreakGuard(guardOptions({ minPrefixV4: 33 }))).toThrow(/minPrefixV4/);
    expect(() => firebreakGuard(guardOptions({ minPrefixV6: -1 }))).toThrow(/minPrefixV6/);
  });
});

describe('one round trip', () => {
  it('sends exactly ONE Redis command (an MGET of every key) per request, seen by MONITOR', async () => {
    const info = String(await guardRedis.call('CLIENT', 'INFO'));
    const addr = /\baddr=(\S+)/.exec(info)?.[1];
    expect(addr).toBeTruthy();
    const monitor = await r.redis.monitor();
    const seen: string[][] = [];
    const sentinel = `sentinel-${r.prefix}`;
    let sawSentinel!: () => void;
    const sentinelSeen = new Promise<void>((resolve) => (sawSentinel = resolve));
    monitor.on('monitor', (_time: string, args: string[], source: string) => {
      if (source !== addr) return;
      if (args[0]?.toLowerCase() === 'echo' && args[1] === sentinel) sawSentinel();
      else seen.push(args);
    });
    try {
      await r.redis.set(revokedBeforeAllKey(space), now() - 3600);
      const replies = [
        await get(port),
        await get(port, { from: '127.0.0.2' }),
        await get(port, { claims: { jti: 'j-1', sub: '42', iat: now() } }),
        await get(port, { claims: { jti: 'j-2', sub: '43', iat: now() - 7200 } }),
      ];
      expect(replies.map((x) => x.status)).toEqual([200, 200, 200, 401]);
      // Ordered after the requests' commands on the same connection: once MONITOR shows it, it showed them.
      await guardRedis.echo(sentinel);
      await sentinelSeen;
    } finally {
      monitor.disconnect();
    }
    // The heartbeat (at most one SET per 10 s, not awaited) is not part of a request's check.
    expect(seen.filter(isBeat).length).toBeLessThanOrEqual(1);
    const checks = seen.filter((cmd) => !isBeat(cmd));
    expect(checks).toHaveLength(4);
    for (const cmd of checks) expect(cmd[0]?.toLowerCase()).toBe('mget');
    // lockdown + bans /32 down to /16 (17 networks), then + global, jti and user keys with a token
    expect(checks.map((cmd) => cmd.length - 1)).toEqual([18, 18, 21, 21]);
    expect(checks[2]).toEqual(
      expect.arrayContaining([
        lockdownKey(space),
        banKey(space, '127.0.0.1/32'),
        banKey(space, '127.0.0.0/16'),
        revokedBeforeAllKey(space),
        revokedJtiKey(space, 'j-1'),
        revokedBeforeUserKey(space, '42'),
      ]),
    );
  });
});

// Last: by now the beat guard's first beat is (nearly) 10 s old.
describe('reader heartbeat, later', () => {
  it('a request 10 s after the last beat rewrites it: value = now, TTL back to 60', async () => {
    const k = readerKey(beatSpace);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, firstBeatAt + 10_200 - Date.now())));
    expect((await get(beatPort)).status).toBe(200);
    await expect.poll(() => r.redis.exists(k), { timeout: 2_000, interval: 20 }).toBe(1);
    expect(Math.abs(Number(await r.redis.get(k)) - now())).toBeLessThanOrEqual(2);
    expect(await r.redis.ttl(k)).toBeGreaterThan(55);
  }, 20_000);
});
