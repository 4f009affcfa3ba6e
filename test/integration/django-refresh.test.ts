/**
 * Refresh-token revocation with real djangorestframework-simplejwt (examples/django/jwtproject:
 * TokenObtainPairView, TokenRefreshView with firebreak_guard.simplejwt's serializer, a
 * protected DRF view behind FirebreakGuardMiddleware), over real HTTP, revoked through the
 * real `tokens.revoke` activity into the real Redis, in two configurations: without
 * simplejwt's token_blacklist app, and with it (rotation + blacklist after rotation).
 * Also the middleware's reader heartbeat (`fb:reader:<hostname>:<pid>`) in the namespace
 * the app reads.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TargetClients } from '../../activities/deps.js';
import { createTokenActivities } from '../../activities/tokens/index.js';
import { loadConfig } from '../../lib/config.js';
import { createLogger } from '../../lib/logger.js';
import { djangoKey, type KeySpace } from '../../lib/redis-keys.js';
import type { ActionInput } from '../../workflows/definitions.js';
import { DJANGO_EXAMPLE, ensureDjangoTools, httpJson, pythonEnv, run, startDjango, type DjangoServer } from '../helpers/django.js';
import { redisClient, type TestRedis } from '../helpers/services.js';

const PASSWORD = 'correct horse battery staple';
const USERS = ['alice', 'bob', 'carol', 'dave'] as const;
type User = (typeof USERS)[number];

interface Pair {
  access: string;
  refresh: string;
}

interface App {
  server: DjangoServer;
  target: string;
  space: KeySpace;
  ids: Record<User, string>;
}

let r: TestRedis;
let dir: string;
let clients: TargetClients;
let acts: ReturnType<typeof createTokenActivities>;
const servers: DjangoServer[] = [];
const apps: Record<'plain' | 'blacklist', App> = {} as Record<'plain' | 'blacklist', App>;
let heartbeatApp: DjangoServer;
let heartbeatSpace: KeySpace;
let firstBeatAt = 0;

let n = 0;
const revokeInput = (target: string, args: Record<string, unknown>): ActionInput => ({
  incidentId: `INC-REFRESH-${++n}`,
  stepId: 'revoke',
  action: 'tokens.revoke',
  target,
  mode: 'live',
  args,
  requestedAt: new Date().toISOString(),
});

function claims(jwt: string): { jti: string; user_id: string; iat: number; token_type: string } {
  const part = jwt.split('.')[1] ?? '';
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as { jti: string; user_id: string; iat: number; token_type: string };
}

async function obtain(app: App, user: User): Promise<Pair> {
  const reply = await httpJson(app.server.port, { path: '/api/token/', json: { username: user, password: PASSWORD } });
  expect(reply.status, reply.body).toBe(200);
  return JSON.parse(reply.body) as Pair;
}

async function refresh(app: App, token: string): Promise<{ status: number; body: Record<string, string> }> {
  const reply = await httpJson(app.server.port, { path: '/api/token/refresh/', json: { refresh: token } });
  return { status: reply.status, body: JSON.parse(reply.body) as Record<string, string> };
}

async function me(app: App, access: string): Promise<number> {
  return (await httpJson(app.server.port, { path: '/api/me/', headers: { Authorization: `Bearer ${access}` } })).status;
}

/** A refresh that works: 200, and the access token it returns is accepted by the protected view. */
async function expectRefreshes(app: App, token: string): Promise<void> {
  const res = await refresh(app, token);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  expect(await me(app, res.body.access ?? '')).toBe(200);
}

async function expectRevoked(app: App, token: string): Promise<void> {
  const res = await refresh(app, token);
  expect(res.status).toBe(401);
  // Firebreak's refusal, not simplejwt's blacklist or expiry.
  expect(res.body).toEqual({ detail: 'Token revoked.', code: 'token_not_valid' });
}

/** JWT times are whole seconds: a token issued in the epoch's second is revoked too. */
async function nextSecond(epoch: number): Promise<void> {
  const wait = (epoch + 1) * 1000 - Date.now();
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait + 20));
}

async function startApp(name: 'plain' | 'blacklist', prefix: string): Promise<App> {
  const env = {
    FIREBREAK_TEST_KEY_PREFIX: prefix,
    FIREBREAK_TEST_DB: join(dir, `${name}.sqlite3`),
    FIREBREAK_TEST_BLACKLIST: name === 'blacklist' ? '1' : '0',
  };
  const { stdout } = await run('python3', [join(DJANGO_EXAMPLE, 'jwtproject', 'seed_users.py'), ...USERS.map((u) => `${u}:${PASSWORD}`)], {
    env: pythonEnv('jwtproject', env),
    timeout: 120_000,
  });
  const ids = Object.fromEntries(Object.entries(JSON.parse(stdout) as Record<string, number>).map(([u, id]) => [u, String(id)])) as Record<User, string>;
  const server = await startDjango('jwtproject', env);
  servers.push(server);
  return { server, target: name, space: { keyPrefix: prefix, keyVersion: 1 }, ids };
}

beforeAll(async () => {
  await ensureDjangoTools();
  r = redisClient('django-refresh');
  dir = mkdtempSync(join(tmpdir(), 'fbt-refresh-'));
  const file = join(dir, 'firebreak.yaml');
  const target = (prefix: string) => `{ redis: { url: "redis://127.0.0.1:6379/0", keyPrefix: "${prefix}" }, tokens: { maxLifetimeSeconds: 86400 } }`;
  writeFileSync(file, ['defaultTarget: plain', 'targets:', `  plain: ${target(`${r.prefix}-plain`)}`, `  blacklist: ${target(`${r.prefix}-bl`)}`, `  stock: ${target(`${r.prefix}-stock`)}`].join('\n'));
  const config = loadConfig({ file, env: {} });
  clients = new TargetClients(config);
  acts = createTokenActivities({ config, logger: createLogger({ level: 'silent', pretty: false }), clients });
  heartbeatSpace = { keyPrefix: `${r.prefix}-hb`, keyVersion: 1 };
  const [plain, blacklist, hb] = await Promise.all([
    startApp('plain', `${r.prefix}-plain`),
    startApp('blacklist', `${r.prefix}-bl`),
    startDjango('jwtproject', { FIREBREAK_TEST_KEY_PREFIX: heartbeatSpace.keyPrefix, FIREBREAK_TEST_DB: join(dir, 'hb.sqlite3') }),
  ]);
  apps.plain = plain;
  apps.blacklist = blacklist;
  heartbeatApp = hb;
  servers.push(hb);
  // The heartbeat's first beat, early: the rewrite test at the end needs 10 s to have passed.
  expect((await httpJson(hb.port, { path: '/api/me/' })).status).toBe(401);
  firstBeatAt = Date.now();
}, 240_000);

afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  await clients?.close();
  await r?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const beatKey = (space: KeySpace, pid: number) => djangoKey(space, `fb:reader:${hostname()}:${pid}`);

/** Every reader heartbeat key of a namespace (a full SCAN: the Redis is shared). */
async function readers(space: KeySpace): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await r.redis.scan(cursor, 'MATCH', `${djangoKey(space, 'fb:reader:')}*`, 'COUNT', 1000);
    cursor = next;
    found.push(...keys);
  } while (cursor !== '0');
  return found.sort();
}

// First in the file: it must run within 10 s of the server's first beat (in beforeAll).
describe('reader heartbeat (Django middleware)', () => {
  it('writes fb:reader:<hostname>:<pid> = unix seconds, TTL ≤ 60, in the namespace the app reads; not again within 10 s', async () => {
    const k = beatKey(heartbeatSpace, heartbeatApp.pid);
    expect(await readers(heartbeatSpace)).toEqual([k]);
    const value = await r.redis.get(k);
    expect(value).toMatch(/^\d+$/);
    expect(Math.abs(Number(value) - Math.floor(firstBeatAt / 1000))).toBeLessThanOrEqual(5);
    const ttl = await r.redis.ttl(k);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60);
    // Within 10 s of the beat, requests do not rewrite it: a shortened TTL and a marker value stay.
    expect(Date.now() - firstBeatAt).toBeLessThan(8_000);
    await r.redis.set(k, 'marker', 'EX', 30);
    for (let i = 0; i < 3; i++) expect((await httpJson(heartbeatApp.port, { path: '/api/me/' })).status).toBe(401);
    expect(await r.redis.get(k)).toBe('marker');
    expect(await r.redis.ttl(k)).toBeLessThanOrEqual(30);
  });

  it('a mismatched VERSION (or KEY_PREFIX) writes into the other namespace, so Firebreak’s has no reader', async () => {
    const firebreak: KeySpace = { keyPrefix: `${r.prefix}-mm`, keyVersion: 2 };
    const appV1: KeySpace = { keyPrefix: firebreak.keyPrefix, keyVersion: 1 };
    const otherPrefix: KeySpace = { keyPrefix: `${r.prefix}-other`, keyVersion: 2 };
    const [v1, other] = await Promise.all([
      startDjango('jwtproject', { FIREBREAK_TEST_KEY_PREFIX: appV1.keyPrefix, FIREBREAK_TEST_KEY_VERSION: '1', FIREBREAK_TEST_DB: join(dir, 'hb.sqlite3') }),
      startDjango('jwtproject', { FIREBREAK_TEST_KEY_PREFIX: otherPrefix.keyPrefix, FIREBREAK_TEST_KEY_VERSION: '2', FIREBREAK_TEST_DB: join(dir, 'hb.sqlite3') }),
    ]);
    servers.push(v1, other);
    await httpJson(v1.port, { path: '/api/me/' });
    await httpJson(other.port, { path: '/api/me/' });
    expect(await readers(firebreak)).toEqual([]);
    expect(await readers(appV1)).toEqual([beatKey(appV1, v1.pid)]);
    expect(await readers(otherPrefix)).toEqual([beatKey(otherPrefix, other.pid)]);
  });
});

describe.each([
  { name: 'without token_blacklist', key: 'plain' as const },
  { name: 'with token_blacklist (rotation, blacklist after rotation)', key: 'blacklist' as const },
])('simplejwt $name', ({ key }) => {
  const app = () => apps[key];

  it('baseline: a pair from TokenObtainPairView works, and its refresh token mints a working access token', async () => {
    const pair = await obtain(app(), 'alice');
    expect(claims(pair.refresh)).toMatchObject({ token_type: 'refresh', user_id: app().ids.alice });
    expect(await me(app(), pair.access)).toBe(200);
    expect(await me(app(), 'not-a-token')).toBe(401);
    await expectRefreshes(app(), pair.refresh);
  });

  it('tokens.revoke scope user: the user’s refresh token is refused (and their access token); another user still refreshes', async () => {
    const alice = await obtain(app(), 'alice');
    const bob = await obtain(app(), 'bob');
    const res = await acts.tokensRevoke(revokeInput(app().target, { scope: 'user', user_ids: [app().ids.alice] }));
    expect(res.changed).toBe(true);
    await expectRevoked(app(), alice.refresh);
    expect(await me(app(), alice.access)).toBe(401);
    await expectRefreshes(app(), bob.refresh);
    expect(await me(app(), bob.access)).toBe(200);
    // A login after the revocation second is a new session: it refreshes again.
    await nextSecond(Number((res.output as { epoch: number }).epoch));
    await expectRefreshes(app(), (await obtain(app(), 'alice')).refresh);
  });

  it('tokens.revoke scope jti with the REFRESH token’s jti: that refresh token is refused; the user’s other session is not', async () => {
    const stolen = await obtain(app(), 'carol');
    const other = await obtain(app(), 'carol');
    await acts.tokensRevoke(revokeInput(app().target, { scope: 'jti', jtis: [claims(stolen.refresh).jti] }));
    await expectRevoked(app(), stolen.refresh);
    await expectRefreshes(app(), other.refresh);
  });

  it('tokens.revoke scope jti with the ACCESS token’s jti covers that access token only: its refresh token still mints new ones', async () => {
    const pair = await obtain(app(), 'dave');
    await acts.tokensRevoke(revokeInput(app().target, { scope: 'jti', jtis: [claims(pair.access).jti] }));
    expect(await me(app(), pair.access)).toBe(401);
    expect(claims(pair.refresh).jti).not.toBe(claims(pair.access).jti);
    await expectRefreshes(app(), pair.refresh); // the documented limit: use scope user to cut off refresh too
  });

  it('tokens.revoke scope all: every refresh token issued at or before the epoch is refused; a later login refreshes', async () => {
    const alice = await obtain(app(), 'alice');
    const bob = await obtain(app(), 'bob');
    const res = await acts.tokensRevoke(revokeInput(app().target, { scope: 'all', reason: 'signing key leaked' }));
    await expectRevoked(app(), alice.refresh);
    await expectRevoked(app(), bob.refresh);
    expect(await me(app(), bob.access)).toBe(401);
    await nextSecond(Number((res.output as { epoch: number }).epoch));
    await expectRefreshes(app(), (await obtain(app(), 'bob')).refresh);
    // Undo the global epoch for the next tests of this configuration.
    await r.redis.del(djangoKey(app().space, 'fb:revoked_before:all'));
  });
});

describe('sliding tokens (FirebreakTokenRefreshSlidingSerializer), in Django itself', () => {
  // Mints a sliding token for a user, or refreshes one through the serializer, in the plain app's Django.
  const SCRIPT = [
    'import json, sys, django',
    'django.setup()',
    'from django.contrib.auth import get_user_model',
    'from rest_framework_simplejwt.exceptions import TokenError',
    'from rest_framework_simplejwt.tokens import SlidingToken',
    'from firebreak_guard.simplejwt import FirebreakTokenRefreshSlidingSerializer',
    'if sys.argv[1] == "mint":',
    '    print(json.dumps({"token": str(SlidingToken.for_user(get_user_model().objects.get(username=sys.argv[2])))}))',
    'else:',
    '    s = FirebreakTokenRefreshSlidingSerializer(data={"token": sys.argv[2]})',
    '    try:',
    '        s.is_valid(raise_exception=True)',
    '        print(json.dumps({"refreshed": bool(s.validated_data["token"])}))',
    '    except TokenError as e:',
    '        print(json.dumps({"error": str(e)}))',
  ].join('\n');
  const py = async (...args: string[]) => {
    const env = { FIREBREAK_TEST_KEY_PREFIX: apps.plain.space.keyPrefix, FIREBREAK_TEST_DB: join(dir, 'plain.sqlite3') };
    return JSON.parse((await run('python3', ['-c', SCRIPT, ...args], { env: pythonEnv('jwtproject', env) })).stdout) as Record<string, unknown>;
  };

  it('a sliding token refreshes until tokens.revoke revokes its user, then TokenError "Token revoked."', async () => {
    const { token } = (await py('mint', 'carol')) as { token: string };
    expect(await py('refresh', token)).toEqual({ refreshed: true });
    await acts.tokensRevoke(revokeInput('plain', { scope: 'user', user_ids: [apps.plain.ids.carol] }));
    expect(await py('refresh', token)).toEqual({ error: 'Token revoked.' });
  });
});

describe('simplejwt’s stock refresh serializer (the gap), without token_blacklist', () => {
  it('after tokens.revoke by user the access token is refused by the middleware, but the refresh token still mints a working one', async () => {
    const env = { FIREBREAK_TEST_KEY_PREFIX: `${r.prefix}-stock`, FIREBREAK_TEST_DB: join(dir, 'plain.sqlite3'), FIREBREAK_TEST_STOCK_REFRESH: '1' };
    const server = await startDjango('jwtproject', env);
    servers.push(server);
    const stock: App = { ...apps.plain, server, target: 'stock', space: { keyPrefix: env.FIREBREAK_TEST_KEY_PREFIX, keyVersion: 1 } };
    const pair = await obtain(stock, 'alice');
    const res = await acts.tokensRevoke(revokeInput('stock', { scope: 'user', user_ids: [stock.ids.alice] }));
    expect(await me(stock, pair.access)).toBe(401);
    // An access token minted in the epoch's own second would be refused (iat = epoch); one second on, it is not.
    await nextSecond(Number((res.output as { epoch: number }).epoch));
    await expectRefreshes(stock, pair.refresh); // what firebreak_guard.simplejwt's serializer stops
  });
});

describe('with token_blacklist, simplejwt’s own checks still apply', () => {
  it('a rotated (blacklisted) refresh token is refused by simplejwt itself', async () => {
    const app = apps.blacklist;
    const pair = await obtain(app, 'bob');
    const rotated = await refresh(app, pair.refresh);
    expect(rotated.status).toBe(200);
    expect(rotated.body.refresh).toBeTruthy(); // ROTATE_REFRESH_TOKENS
    expect(await refresh(app, pair.refresh)).toEqual({ status: 401, body: { detail: 'Token is blacklisted', code: 'token_not_valid' } });
    await expectRefreshes(app, rotated.body.refresh ?? '');
  });
});

describe('Redis unreachable on refresh (the serializer alone, without the middleware)', () => {
  it('fails closed: 503, no fresh access token; with FIREBREAK_FAIL_OPEN the refresh goes through', async () => {
    // The plain app's database (its users), a Redis port nobody listens on.
    const env = { FIREBREAK_TEST_KEY_PREFIX: `${r.prefix}-down`, FIREBREAK_TEST_DB: join(dir, 'plain.sqlite3'), FIREBREAK_TEST_REDIS_URL: 'redis://127.0.0.1:1/0', FIREBREAK_TEST_MIDDLEWARE: '0' };
    const [closed, open] = await Promise.all([startDjango('jwtproject', env), startDjango('jwtproject', { ...env, FIREBREAK_TEST_FAIL_OPEN: '1' })]);
    servers.push(closed, open);
    const pair = await obtain(apps.plain, 'alice');
    const c = await httpJson(closed.port, { path: '/api/token/refresh/', json: { refresh: pair.refresh } });
    expect(c.status).toBe(503);
    expect(JSON.parse(c.body)).toEqual({ detail: 'Service temporarily unavailable.' });
    expect(closed.output()).toContain('failing closed (503)');
    const o = await httpJson(open.port, { path: '/api/token/refresh/', json: { refresh: pair.refresh } });
    expect(o.status).toBe(200);
    expect(open.output()).toContain('failing open');
  });
});

// Last in the file: by now the first beat is (nearly) 10 s old.
describe('reader heartbeat, later', () => {
  it('a request 10 s after the last beat rewrites it: value = now, TTL back to 60', async () => {
    const k = beatKey(heartbeatSpace, heartbeatApp.pid);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, firstBeatAt + 10_500 - Date.now())));
    await httpJson(heartbeatApp.port, { path: '/api/me/' });
    expect(Math.abs(Number(await r.redis.get(k)) - Math.floor(Date.now() / 1000))).toBeLessThanOrEqual(5);
    expect(await r.redis.ttl(k)).toBeGreaterThan(50);
  }, 20_000);
});
