/**
 * examples/express/firebreak-refresh.ts (`refreshRevoked`) against the real Redis, revoked
 * through the real `tokens.revoke` activity: by user, by the refresh token's jti, globally;
 * a non-revoked user still refreshes; one MGET per check (MONITOR); Redis down fails closed.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TargetClients } from '../../activities/deps.js';
import { createTokenActivities } from '../../activities/tokens/index.js';
import { GuardUnavailableError, refreshRevoked } from '../../examples/express/firebreak-refresh.js';
import { revokedBeforeAllKey, revokedJtiKey, revokedBeforeUserKey } from '../../examples/express/firebreak-middleware.js';
import { loadConfig } from '../../lib/config.js';
import { freePort } from '../../lib/dev-server.js';
import { createLogger } from '../../lib/logger.js';
import type { KeySpace } from '../../lib/redis-keys.js';
import type { ActionInput } from '../../workflows/definitions.js';
import { REDIS_URL, redisClient, type TestRedis } from '../helpers/services.js';

let r: TestRedis;
let dir: string;
let clients: TargetClients;
let acts: ReturnType<typeof createTokenActivities>;
let appRedis: Redis;
let space: KeySpace;
let revoked: ReturnType<typeof refreshRevoked>;

let n = 0;
const revoke = (args: Record<string, unknown>, requestedAt = new Date().toISOString()) => {
  const input: ActionInput = { incidentId: `INC-XREFRESH-${++n}`, stepId: 'revoke', action: 'tokens.revoke', target: 'app', mode: 'live', args, requestedAt };
  return acts.tokensRevoke(input);
};
const now = () => Math.floor(Date.now() / 1000);
const refreshOf = (sub: string, iat = now()) => ({ jti: `r-${sub}-${++n}`, sub, iat });

beforeAll(async () => {
  r = redisClient('express-refresh');
  space = { keyPrefix: r.prefix, keyVersion: 3 };
  dir = mkdtempSync(join(tmpdir(), 'fbt-xrefresh-'));
  const file = join(dir, 'firebreak.yaml');
  writeFileSync(file, `targets:\n  app: { redis: { url: "${REDIS_URL}", keyPrefix: "${r.prefix}", keyVersion: 3 }, tokens: { maxLifetimeSeconds: 86400 } }\n`);
  const config = loadConfig({ file, env: {} });
  clients = new TargetClients(config);
  acts = createTokenActivities({ config, logger: createLogger({ level: 'silent', pretty: false }), clients });
  appRedis = new Redis(REDIS_URL, { maxRetriesPerRequest: 2 });
  revoked = refreshRevoked({ redis: appRedis, keyPrefix: r.prefix, keyVersion: 3 });
});

afterAll(async () => {
  await appRedis?.quit();
  await clients?.close();
  await r?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('refreshRevoked', () => {
  it('nothing revoked: false', async () => {
    expect(await revoked(refreshOf('1'))).toBe(false);
  });

  it('tokens.revoke scope user: the user’s refresh tokens issued at or before the epoch are refused; later ones and other users pass', async () => {
    const at = new Date().toISOString();
    const epoch = Math.floor(Date.parse(at) / 1000);
    await revoke({ scope: 'user', user_ids: ['42'] }, at);
    expect(await revoked(refreshOf('42', epoch - 3600))).toBe(true);
    expect(await revoked(refreshOf('42', epoch))).toBe(true); // issued in the epoch's second
    expect(await revoked(refreshOf('42', epoch + 1))).toBe(false);
    expect(await revoked(refreshOf('43', epoch - 3600))).toBe(false);
    expect(await revoked({ jti: 'no-iat', sub: '42' })).toBe(true); // cannot prove it is newer
  });

  it('tokens.revoke scope jti with the refresh token’s jti: that token only', async () => {
    const stolen = refreshOf('7');
    const other = refreshOf('7');
    await revoke({ scope: 'jti', jtis: [stolen.jti] });
    expect(await r.redis.get(revokedJtiKey(space, stolen.jti))).toBe('1');
    expect(await revoked(stolen)).toBe(true);
    expect(await revoked(other)).toBe(false);
  });

  it('tokens.revoke scope all: every refresh token issued at or before the epoch', async () => {
    const at = new Date().toISOString();
    const epoch = Math.floor(Date.parse(at) / 1000);
    await revoke({ scope: 'all', reason: 'signing key leaked' }, at);
    expect(await r.redis.get(revokedBeforeAllKey(space))).toBe(String(epoch));
    expect(await revoked(refreshOf('8', epoch))).toBe(true);
    expect(await revoked(refreshOf('9', epoch - 60))).toBe(true);
    expect(await revoked(refreshOf('9', epoch + 1))).toBe(false);
    await r.redis.del(revokedBeforeAllKey(space));
  });

  it('one MGET per check, of the global epoch, the jti and the user epoch keys', async () => {
    const info = String(await appRedis.call('CLIENT', 'INFO'));
    const addr = /\baddr=(\S+)/.exec(info)?.[1];
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
      expect(await revoked({ jti: 'j-m', sub: '5', iat: now() })).toBe(false);
      await appRedis.echo(sentinel);
      await sentinelSeen;
    } finally {
      monitor.disconnect();
    }
    expect(seen).toEqual([['mget', revokedBeforeAllKey(space), revokedJtiKey(space, 'j-m'), revokedBeforeUserKey(space, '5')]]);
  });

  it('cannot decide (Redis unreachable, or an epoch that is not an integer): rejects with GuardUnavailableError', async () => {
    const down = new Redis(await freePort(), '127.0.0.1', { maxRetriesPerRequest: 1, retryStrategy: () => 200, lazyConnect: true });
    down.on('error', () => undefined);
    try {
      const check = refreshRevoked({ redis: down, keyPrefix: r.prefix, keyVersion: 3, timeoutMs: 300 });
      await expect(check(refreshOf('1'))).rejects.toBeInstanceOf(GuardUnavailableError);
    } finally {
      down.disconnect();
    }
    await r.redis.set(revokedBeforeUserKey(space, '11'), 'soon');
    await expect(revoked(refreshOf('11'))).rejects.toThrow(/not an integer epoch/);
    expect(() => refreshRevoked({ redis: appRedis, timeoutMs: 0 })).toThrow(/timeoutMs/);
  });
});
