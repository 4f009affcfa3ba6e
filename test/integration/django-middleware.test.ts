/**
 * examples/django/firebreak_guard against real Django (`manage.py runserver` of
 * examples/django/testproject) and the real Redis, over real HTTP from loopback addresses:
 * lockdown 503 with the guide's body, bans 403 by REMOTE_ADDR, token revocation 401,
 * fail-closed/fail-open, one Redis command per request, and Firebreak's raw integer values
 * read by Django's RedisCache as ints. Django comes from .tools/django (scripts/setup-django.mjs).
 */
import type { IncomingHttpHeaders } from 'node:http';
import { join } from 'node:path';
import { httpGet } from '../helpers/http.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../lib/dev-server.js';
import { PROJECT_ROOT } from '../../lib/config.js';
import { DJANGO_EXAMPLE as EXAMPLE, ensureDjangoTools, pythonEnv as projectEnv, run, startDjango as startProject, type DjangoServer } from '../helpers/django.js';
import { coveringNetworks } from '../../lib/ip.js';
import { contractKeys, djangoKey, LOCKDOWN_KEY, type KeySpace } from '../../lib/redis-keys.js';
import { redisClient, type TestRedis } from '../helpers/services.js';

const LOCKDOWN_JSON = '{"error": "System under maintenance for security updates."}';

interface Reply {
  status: number;
  body: string;
  headers: IncomingHttpHeaders;
}

let r: TestRedis;
let space: KeySpace;
const servers: DjangoServer[] = [];
let main: DjangoServer;
let closedPort: number;

async function startDjango(env: Record<string, string>): Promise<DjangoServer> {
  const server = await startProject('testproject', env);
  servers.push(server);
  return server;
}

function get(port: number, opts: { from?: string; claims?: Record<string, unknown> } = {}): Promise<Reply> {
  return httpGet(port, { localAddress: opts.from ?? '127.0.0.1', headers: opts.claims ? { 'X-Test-Claims': JSON.stringify(opts.claims) } : {} });
}

const key = (k: string) => djangoKey(space, k);
const now = () => Math.floor(Date.now() / 1000);

beforeAll(async () => {
  await ensureDjangoTools();
  r = redisClient('django-guard');
  space = { keyPrefix: r.prefix, keyVersion: 1 };
  closedPort = await freePort();
  main = await startDjango({ FIREBREAK_TEST_KEY_PREFIX: r.prefix });
}, 360_000);

afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  await r?.cleanup();
});

afterEach(() => r.clear());

describe('Django FirebreakGuardMiddleware (runserver, real HTTP)', () => {
  it('nothing set: 200 "ok" with and without token claims', async () => {
    expect(await get(main.port)).toMatchObject({ status: 200, body: 'ok' });
    expect(await get(main.port, { claims: { jti: 'j', user_id: 1, iat: now() } })).toMatchObject({ status: 200, body: 'ok' });
  });

  it('lockdown: 503 with exactly the guide’s JsonResponse body, before bans and tokens', async () => {
    await r.redis.set(key(LOCKDOWN_KEY), 1);
    await r.redis.set(key(contractKeys.ban('127.0.0.2/32')), now() + 3600);
    for (const reply of [await get(main.port), await get(main.port, { from: '127.0.0.2' }), await get(main.port, { claims: { jti: 'x', iat: now() } })]) {
      expect(reply.status).toBe(503);
      expect(reply.body).toBe(LOCKDOWN_JSON);
      expect(reply.headers['content-type']).toBe('application/json');
    }
    await r.redis.set(key(LOCKDOWN_KEY), 0);
    expect((await get(main.port)).status).toBe(200);
  });

  it('a /32 ban: 403 for 127.0.0.2, 200 for 127.0.0.1', async () => {
    await r.redis.set(key(contractKeys.ban('127.0.0.2/32')), now() + 3600, 'EX', 3600);
    expect(await get(main.port, { from: '127.0.0.2' })).toMatchObject({ status: 403, body: '{"error": "Forbidden."}' });
    expect(await get(main.port, { from: '127.0.0.1' })).toMatchObject({ status: 200, body: 'ok' });
  });

  it('a /24 ban covers 127.0.0.2, not 127.0.1.1; an expired ban no longer applies', async () => {
    const k = key(contractKeys.ban('127.0.0.0/24'));
    await r.redis.set(k, now() + 3600, 'EX', 3600);
    expect((await get(main.port, { from: '127.0.0.2' })).status).toBe(403);
    expect((await get(main.port, { from: '127.0.1.1' })).status).toBe(200);
    // Let Redis expire it (a TTL, not a DEL), then ask again.
    await r.redis.pexpire(k, 50);
    await expect.poll(() => r.redis.exists(k), { timeout: 5_000, interval: 25 }).toBe(0);
    expect((await get(main.port, { from: '127.0.0.2' })).status).toBe(200);
  });

  it('revoked jti → 401; other tokens and requests without a token pass', async () => {
    await r.redis.set(key(contractKeys.revokedJti('leaked')), 1, 'EX', 900);
    const refused = await get(main.port, { claims: { jti: 'leaked', user_id: 5, iat: now() } });
    expect(refused).toMatchObject({ status: 401, body: '{"error": "Token revoked."}' });
    expect(refused.headers['www-authenticate']).toMatch(/^Bearer error="invalid_token"/);
    expect((await get(main.port, { claims: { jti: 'fine', user_id: 5, iat: now() } })).status).toBe(200);
    expect((await get(main.port)).status).toBe(200);
  });

  it('user epoch: iat at or before it → 401, after it → 200, other users unaffected', async () => {
    const epoch = now() - 60;
    await r.redis.set(key(contractKeys.revokedBeforeUser('42')), epoch);
    expect((await get(main.port, { claims: { jti: 'a', user_id: 42, iat: epoch - 10 } })).status).toBe(401);
    expect((await get(main.port, { claims: { jti: 'b', user_id: '42', iat: epoch } })).status).toBe(401);
    expect((await get(main.port, { claims: { jti: 'c', user_id: 42, iat: epoch + 1 } })).status).toBe(200);
    expect((await get(main.port, { claims: { jti: 'd', user_id: 43, iat: epoch - 10 } })).status).toBe(200);
    expect((await get(main.port, { claims: { jti: 'e', user_id: 42 } })).status).toBe(401); // no iat: cannot prove it is newer
  });

  it('global epoch: every token issued at or before it → 401; later tokens and anonymous requests → 200', async () => {
    const epoch = now() - 60;
    await r.redis.set(key(contractKeys.revokedBeforeAll()), epoch);
    expect((await get(main.port, { claims: { jti: 'a', user_id: 1, iat: epoch } })).status).toBe(401);
    expect((await get(main.port, { claims: { user_id: 2, iat: epoch - 3600 } })).status).toBe(401);
    expect((await get(main.port, { claims: { jti: 'b', user_id: 1, iat: epoch + 30 } })).status).toBe(200);
    expect((await get(main.port)).status).toBe(200);
  });

  it('one Redis command per request: a single MGET of lockdown, bans /32–/16 and the token keys', async () => {
    const monitor = await r.redis.monitor();
    const seen: string[][] = [];
    const sentinel = `${r.prefix}:sentinel`;
    let sawSentinel!: () => void;
    const sentinelSeen = new Promise<void>((resolve) => (sawSentinel = resolve));
    monitor.on('monitor', (_time: string, args: string[]) => {
      if (args[1] === sentinel) sawSentinel();
      else if (args.some((a) => a.startsWith(`${r.prefix}:1:`))) seen.push(args);
    });
    // The reader heartbeat (at most one SET per 10 s per process) is not part of a request's check.
    const isBeat = (cmd: string[]) => cmd[0]?.toLowerCase() === 'set' && (cmd[1] ?? '').startsWith(`${r.prefix}:1:fb:reader:`);
    try {
      expect((await get(main.port)).status).toBe(200);
      expect((await get(main.port, { from: '127.0.0.2', claims: { jti: 'j', user_id: 7, iat: now() } })).status).toBe(200);
      // Executed after both requests' commands (their responses are in), so MONITOR has shown them.
      await r.redis.echo(sentinel);
      await sentinelSeen;
    } finally {
      monitor.disconnect();
    }
    expect(seen.filter(isBeat).length).toBeLessThanOrEqual(1);
    const checks = seen.filter((cmd) => !isBeat(cmd));
    expect(checks.map((cmd) => [cmd[0]?.toLowerCase(), cmd.length - 1])).toEqual([
      ['mget', 18],
      ['mget', 21],
    ]);
    expect(checks[1]).toEqual(
      expect.arrayContaining([
        key(LOCKDOWN_KEY),
        key(contractKeys.ban('127.0.0.2/32')),
        key(contractKeys.ban('127.0.0.0/16')),
        key(contractKeys.revokedJti('j')),
        key(contractKeys.revokedBeforeUser('7')),
        key(contractKeys.revokedBeforeAll()),
      ]),
    );
  });

  it('Redis unreachable: 503 fail-closed by default, 200 with FIREBREAK_FAIL_OPEN', async () => {
    const redisUrl = `redis://127.0.0.1:${closedPort}/0`;
    const [closed, open] = await Promise.all([
      startDjango({ FIREBREAK_TEST_KEY_PREFIX: r.prefix, FIREBREAK_TEST_REDIS_URL: redisUrl }),
      startDjango({ FIREBREAK_TEST_KEY_PREFIX: r.prefix, FIREBREAK_TEST_REDIS_URL: redisUrl, FIREBREAK_TEST_FAIL_OPEN: '1' }),
    ]);
    const c = await get(closed.port);
    expect(c).toMatchObject({ status: 503, body: '{"error": "Service temporarily unavailable."}' });
    expect(closed.output()).toContain('failing closed (503)');
    expect(await get(open.port)).toMatchObject({ status: 200, body: 'ok' });
    expect(open.output()).toContain('failing open');
  });
});

describe('the contract as Django reads it', () => {
  it('Firebreak’s raw integer values (SET key 1, epochs) come back from cache.get / get_many as int', async () => {
    const epoch = now();
    await r.redis.set(key(LOCKDOWN_KEY), 1);
    await r.redis.set(key(contractKeys.revokedBeforeAll()), epoch);
    await r.redis.set(key(contractKeys.revokedJti('j1')), 1, 'EX', 60);
    await r.redis.set(key(contractKeys.ban('2001:db8::/48')), epoch + 3600, 'EX', 3600);
    const keys = [LOCKDOWN_KEY, contractKeys.revokedBeforeAll(), contractKeys.revokedJti('j1'), contractKeys.ban('2001:db8::/48'), 'fb:revoked_before:user:nobody'];
    const { stdout } = await run('python3', [join(EXAMPLE, 'testproject', 'check_contract.py'), ...keys], {
      cwd: PROJECT_ROOT,
      env: projectEnv('testproject', { FIREBREAK_TEST_KEY_PREFIX: r.prefix }),
    });
    const out = JSON.parse(stdout) as {
      get: Record<string, { type: string; value: unknown }>;
      get_many: Record<string, { type: string; value: unknown }>;
      made_key: Record<string, string>;
    };
    expect(out.get[LOCKDOWN_KEY]).toEqual({ type: 'int', value: 1 });
    expect(out.get[contractKeys.revokedBeforeAll()]).toEqual({ type: 'int', value: epoch });
    expect(out.get[contractKeys.revokedJti('j1')]).toEqual({ type: 'int', value: 1 });
    expect(out.get[contractKeys.ban('2001:db8::/48')]).toEqual({ type: 'int', value: epoch + 3600 });
    expect(out.get['fb:revoked_before:user:nobody']).toEqual({ type: 'NoneType', value: null });
    expect(Object.keys(out.get_many).sort()).toEqual(keys.slice(0, 4).sort());
    for (const k of keys) expect(out.made_key[k]).toBe(key(k)); // Django's key function = lib/redis-keys djangoKey
  });

  it('the Python covering_networks() gives the same ban keys as lib/ip.ts coveringNetworks()', async () => {
    const ips = ['203.0.113.7', '127.0.0.2', '::ffff:10.1.2.3', '2001:db8::7', '2001:DB8:0:0:1:0:0:1', '::1', 'fe80::1'];
    const script = [
      'import json, sys',
      'from firebreak_guard.middleware import covering_networks',
      'print(json.dumps([sorted(covering_networks(ip, 16, 48)) for ip in sys.argv[1:]]))',
    ].join('\n');
    const { stdout } = await run('python3', ['-c', script, ...ips], { cwd: PROJECT_ROOT, env: projectEnv('testproject', {}) });
    expect(JSON.parse(stdout)).toEqual(ips.map((ip) => coveringNetworks(ip, 16, 48).sort()));
  });
});
