/**
 * The IP-ban activities against real Redis and a real deny file (nginx's test
 * and reload commands are `true` here; test/integration/nginx-ban.test.ts runs
 * a real nginx): effect, read-back, TTL, idempotence, never shortening a ban,
 * exact undo, dry-run, expiry, and a table of refused inputs with no effect.
 * Holds shared by several incidents: test/integration/ban-holds.test.ts.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities/index.js';
import { TargetClients } from '../../activities/index.js';
import { banHoldsKey, parseHoldList } from '../../activities/network/holds.js';
import { loadConfig } from '../../lib/config.js';
import { createLogger } from '../../lib/logger.js';
import { BAN_REGISTRY, contractKeys, djangoKey, ownKey, type KeySpace } from '../../lib/redis-keys.js';
import type { ActionInput, Mode } from '../../workflows/definitions.js';
import { redisClient, type TestRedis } from '../helpers/services.js';

let r: TestRedis;
let dir: string;
let clients: TargetClients;
// Through createActivities: every argument is judged by the action's schema at the activity's entry, as in the worker.
let acts: ReturnType<typeof createActivities>;

/** Per target: its key space and deny file. */
const T = {} as Record<'local' | 'bad' | 'plain' | 'bulk' | 'picky' | 'broken', { space: KeySpace; denyFile: string }>;

beforeAll(() => {
  r = redisClient('network');
  dir = mkdtempSync(join(tmpdir(), 'fbt-network-'));
  mkdirSync(join(dir, 'nginx'));
  const space = (suffix: string): KeySpace => ({ keyPrefix: `${r.prefix}${suffix}`, keyVersion: 1 });
  const deny = (name: string) => join(dir, 'nginx', `${name}.conf`);
  for (const [name, suffix] of [['local', ''], ['bad', '-bad'], ['plain', '-plain'], ['bulk', '-bulk'], ['picky', '-picky'], ['broken', '-broken']] as const) {
    T[name] = { space: space(suffix), denyFile: deny(name) };
  }
  writeFileSync(T.bad.denyFile, '# before\ndeny 192.0.2.200/32;\n');
  writeFileSync(T.broken.denyFile, '# before\n');
  const network = 'network: { neverBan: ["10.8.0.0/16", "198.51.100.10", "2001:db8:ad::/48"] }';
  const nginx = (name: keyof typeof T, test = '["true"]') => `nginx: { denyFile: ${JSON.stringify(T[name].denyFile)}, testCommand: ${test}, reloadCommand: ["true"] }`;
  // A test command that passes until the deny file bans 192.0.2.66: exercises "test failed after the write".
  const picky = JSON.stringify(['sh', '-c', `if grep -q 192.0.2.66 "$0"; then echo "nginx: [emerg] invalid deny rule in $0:4" >&2; exit 1; fi`, T.picky.denyFile]);
  const file = join(dir, 'firebreak.yaml');
  writeFileSync(
    file,
    [
      `inputsDir: ${JSON.stringify(dir)}`,
      'targets:',
      ...(['local', 'bad', 'bulk'] as const).map((n) => `  ${n}: { development: true, redis: { keyPrefix: "${T[n].space.keyPrefix}" }, ${network}, ${nginx(n)} }`),
      `  plain: { development: true, redis: { keyPrefix: "${T.plain.space.keyPrefix}" }, ${network} }`,
      `  picky: { development: true, redis: { keyPrefix: "${T.picky.space.keyPrefix}" }, ${network}, ${nginx('picky', picky)} }`,
      `  broken: { development: true, redis: { keyPrefix: "${T.broken.space.keyPrefix}" }, ${network}, ${nginx('broken', '["false"]')} }`,
      `  prod: { production: true, redis: { keyPrefix: "${r.prefix}-prod" } }`,
    ].join('\n'),
  );
  const config = loadConfig({ file, env: {} });
  clients = new TargetClients(config);
  acts = createActivities({ config, logger: createLogger({ level: 'silent', pretty: false }), clients });
});
afterAll(async () => {
  await clients.close();
  await r.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

let n = 0;
function input(args: Record<string, unknown>, opts: { mode?: Mode; target?: string; requestedAt?: string; incidentId?: string; stepId?: string } = {}): ActionInput {
  return {
    incidentId: opts.incidentId ?? `INC-T-${++n}`,
    stepId: opts.stepId ?? 'ban',
    action: 'network.ban_ips',
    target: opts.target ?? 'local',
    mode: opts.mode ?? 'live',
    args,
    requestedAt: opts.requestedAt ?? new Date().toISOString(),
  };
}

/** The undo of a ban step, as the workflow runs it: same incident, step `<step>.undo`. */
function undoOf(req: ActionInput, res: { undo?: { args: Record<string, unknown> } }): ActionInput {
  return { ...req, stepId: `${req.stepId}.undo`, action: 'network.unban_ips', args: res.undo?.args ?? {}, requestedAt: new Date().toISOString() };
}

const banKey = (t: keyof typeof T, net: string) => djangoKey(T[t].space, contractKeys.ban(net));
const registry = (t: keyof typeof T) => ownKey(T[t].space, BAN_REGISTRY);
const endOf = (requestedAt: string, ttl: number) => Math.floor(Date.parse(requestedAt) / 1000) + ttl;
const denyLines = (t: keyof typeof T) =>
  readFileSync(T[t].denyFile, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('deny '));

/** Every key under a prefix (SCAN), for "nothing changed" checks. */
async function keysUnder(prefix: string): Promise<string[]> {
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await r.redis.scan(cursor, 'MATCH', `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`, 'COUNT', 10_000);
    cursor = next;
    out.push(...keys);
  } while (cursor !== '0');
  return out.sort();
}

async function dump(prefix: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const k of await keysUnder(prefix)) {
    const type = await r.redis.type(k);
    out[k] =
      type === 'string'
        ? `${await r.redis.get(k)}`
        : type === 'zset'
          ? JSON.stringify(await r.redis.zrange(k, 0, -1, 'WITHSCORES'))
          : type === 'hash'
            ? JSON.stringify(await r.redis.hgetall(k))
            : JSON.stringify((await r.redis.smembers(k)).sort());
  }
  return out;
}

describe('network.ban_ips', () => {
  it('bans canonical networks with the end as value and TTL, registers them, renders the deny file, and reads it all back', async () => {
    const req = input({ addresses: ['203.0.113.7', '2001:DB8:1::/48', '198.51.100.128/25', '::ffff:192.0.2.1', '203.0.113.7/32', ' 203.0.113.8 '], ttl_seconds: 3600, reason: 'scanner' });
    const end = endOf(req.requestedAt, 3600);
    const res = await acts.networkBanIps(req);
    const nets = ['192.0.2.1/32', '198.51.100.128/25', '203.0.113.7/32', '203.0.113.8/32', '2001:db8:1::/48'];
    expect(res.output).toEqual({ banned: 5, newlyBanned: 5, expiresAt: new Date(end * 1000).toISOString(), denyFile: T.local.denyFile });
    expect(res.changed).toBe(true);
    expect(res.summary).toMatch(/^banned 5 networks until .*Z \(5 new, 0 already banned\); nginx deny file .*local\.conf: 5 lines, reloaded$/);
    for (const net of nets) {
      expect(await r.redis.get(banKey('local', net))).toBe(String(end));
      const ttl = await r.redis.ttl(banKey('local', net));
      expect(ttl).toBeGreaterThan(3590);
      expect(ttl).toBeLessThanOrEqual(3600);
      expect(await r.redis.zscore(registry('local'), net)).toBe(String(end));
    }
    expect(banKey('local', '203.0.113.7/32')).toBe(`${r.prefix}:1:fb:ban:203.0.113.7/32`);
    expect(registry('local')).toBe(`${r.prefix}:firebreak:bans`);
    expect(denyLines('local')).toEqual(nets.map((x) => `deny ${x};`));
    expect(readFileSync(T.local.denyFile, 'utf8')).toMatch(/^# Firebreak IP bans.*\n# Rendered from the ban registry .*\n# active bans: 5\n/);
    expect(res.undo).toEqual({ action: 'network.unban_ips', args: { addresses: nets, holder: `${req.incidentId}/ban` } });
    expect(res.proof).toMatchObject({ keys: { checked: 5, of: 5, all: true }, denyFile: { path: T.local.denyFile, lines: 5, reloaded: true } });
    const meta = JSON.parse((await r.redis.get(`${ownKey(T.local.space, 'undo', req.incidentId, 'ban')}:meta`)) ?? '{}') as Record<string, unknown>;
    // The reason is free text: only its fingerprint is written to the target.
    expect(meta).toMatchObject({ reasonSha256: createHash('sha256').update('scanner').digest('hex').slice(0, 12), networks: 5, expiresAt: res.output?.expiresAt });
    expect(JSON.stringify(meta)).not.toContain('scanner');
    expect(await r.redis.ttl(ownKey(T.local.space, 'undo', req.incidentId, 'ban'))).toBeGreaterThan(29 * 24 * 3600);

    // Idempotent: a retry of the same step (same requestedAt) changes nothing and returns the same undo.
    const again = await acts.networkBanIps(req);
    expect(again.output).toEqual(res.output);
    expect(again.undo).toEqual(res.undo);
    expect(again.summary).toMatch(/5 lines, unchanged$/);
    for (const net of nets) expect(await r.redis.get(banKey('local', net))).toBe(String(end));
    expect(await r.redis.zcard(registry('local'))).toBe(5);

    // The undo lifts exactly these, keys, registry and deny file; lifting again is a no-op.
    const lifted = await acts.networkUnbanIps(undoOf(req, res));
    expect(lifted.output).toEqual({ lifted: true, stillHeldBy: [], unbanned: 5, requested: 5, released: `${req.incidentId}/ban`, stillHeld: 0, notHeld: 0, denyFile: T.local.denyFile });
    expect(lifted.changed).toBe(true);
    for (const net of nets) expect(await r.redis.exists(banKey('local', net))).toBe(0);
    expect(await r.redis.zcard(registry('local'))).toBe(0);
    expect(denyLines('local')).toEqual([]);
    for (const net of nets) expect(await r.redis.hexists(banHoldsKey(T.local.space), net)).toBe(0);
    const twice = await acts.networkUnbanIps(undoOf(req, res));
    expect(twice).toMatchObject({ changed: false, output: { lifted: false, unbanned: 0, requested: 5, notHeld: 5 } });
  });

  it('never shortens a longer ban, extends a shorter one, and the undo lifts only what no other incident holds', async () => {
    const earlier = input({ addresses: ['203.0.113.20', '203.0.113.21'], ttl_seconds: 7200 });
    await acts.networkBanIps(earlier);
    const shortOne = input({ addresses: ['203.0.113.22'], ttl_seconds: 60 });
    await acts.networkBanIps(shortOne);
    const longEnd = endOf(earlier.requestedAt, 7200);

    const req = input({ addresses: ['203.0.113.20', '203.0.113.22', '203.0.113.23'], ttl_seconds: 3600 });
    const end = endOf(req.requestedAt, 3600);
    const res = await acts.networkBanIps(req);
    expect(res.summary).toMatch(/\(1 new, 2 already banned, 1 until later\)/);
    expect(res.output).toMatchObject({ banned: 3, newlyBanned: 1 });
    expect(await r.redis.get(banKey('local', '203.0.113.20/32'))).toBe(String(longEnd)); // kept
    expect(await r.redis.ttl(banKey('local', '203.0.113.20/32'))).toBeGreaterThan(7000);
    expect(await r.redis.zscore(registry('local'), '203.0.113.20/32')).toBe(String(longEnd));
    expect(await r.redis.get(banKey('local', '203.0.113.22/32'))).toBe(String(end)); // extended
    expect(await r.redis.zscore(registry('local'), '203.0.113.22/32')).toBe(String(end));
    expect(res.summary).toMatch(new RegExp(` \\(also held by ${earlier.incidentId}, ${shortOne.incidentId}\\)$`));
    expect(res.output).toMatchObject({ alsoHeldBy: [earlier.incidentId, shortOne.incidentId] });
    expect(res.undo).toEqual({ action: 'network.unban_ips', args: { addresses: ['203.0.113.20/32', '203.0.113.22/32', '203.0.113.23/32'], holder: `${req.incidentId}/ban` } });

    const released = await acts.networkUnbanIps(undoOf(req, res));
    expect(released.output).toMatchObject({ lifted: false, stillHeldBy: [earlier.incidentId, shortOne.incidentId], unbanned: 1, stillHeld: 2 });
    expect(released.summary).toMatch(new RegExp(`^released ${req.incidentId}/ban's hold on 3 networks: 1 lifted, 2 still held by ${earlier.incidentId}, ${shortOne.incidentId};`));
    expect(await r.redis.exists(banKey('local', '203.0.113.23/32'))).toBe(0);
    expect(await r.redis.get(banKey('local', '203.0.113.20/32'))).toBe(String(longEnd));
    expect(await r.redis.get(banKey('local', '203.0.113.21/32'))).toBe(String(longEnd));
    // The extension was this incident's: the ban goes back to the end of the hold that remains (60 s).
    const shortEnd = endOf(shortOne.requestedAt, 60);
    expect(await r.redis.get(banKey('local', '203.0.113.22/32'))).toBe(String(shortEnd));
    expect(await r.redis.zscore(registry('local'), '203.0.113.22/32')).toBe(String(shortEnd));
    expect(await r.redis.ttl(banKey('local', '203.0.113.22/32'))).toBeLessThanOrEqual(60);
    expect(denyLines('local')).toEqual(['deny 203.0.113.20/32;', 'deny 203.0.113.21/32;', 'deny 203.0.113.22/32;']);
    await acts.networkUnbanIps(input({ addresses: ['203.0.113.20', '203.0.113.21', '203.0.113.22'] }));
    expect(denyLines('local')).toEqual([]);
  });

  it('a retry after a crash mid-way still counts the first attempt’s bans as the step’s own', async () => {
    // The first attempt got through one chunk (here: one network) before the worker died.
    const first = input({ addresses: ['203.0.113.100'], ttl_seconds: 600 });
    await acts.networkBanIps(first);
    const retry = await acts.networkBanIps({ ...first, args: { addresses: ['203.0.113.100', '203.0.113.101'], ttl_seconds: 600 } });
    expect(retry.summary).toMatch(/\(2 new, 0 already banned\)/);
    expect(retry.undo).toEqual({ action: 'network.unban_ips', args: { addresses: ['203.0.113.100/32', '203.0.113.101/32'], holder: `${first.incidentId}/ban` } });
    expect(Object.keys(parseHoldList(await r.redis.hget(banHoldsKey(T.local.space), '203.0.113.100/32')))).toEqual([`${first.incidentId}/ban`]);
    await acts.networkUnbanIps(undoOf(first, retry));
    expect(await r.redis.exists(banKey('local', '203.0.113.100/32'), banKey('local', '203.0.113.101/32'))).toBe(0);
  });

  it('a ban that banned nothing new still holds it, and its undo releases only that hold', async () => {
    const a = input({ addresses: ['203.0.113.30'], ttl_seconds: 600 });
    const b = input({ addresses: ['203.0.113.30'], ttl_seconds: 300 });
    const first = await acts.networkBanIps(a);
    const second = await acts.networkBanIps(b);
    expect(second.undo).toEqual({ action: 'network.unban_ips', args: { addresses: ['203.0.113.30/32'], holder: `${b.incidentId}/ban` } });
    expect(second.output).toMatchObject({ banned: 1, newlyBanned: 0, alsoHeldBy: [a.incidentId] });
    const keptOn = await acts.networkUnbanIps(undoOf(b, second));
    expect(keptOn).toMatchObject({ changed: false, output: { lifted: false, stillHeldBy: [a.incidentId], unbanned: 0 } });
    expect(await r.redis.get(banKey('local', '203.0.113.30/32'))).toBe(String(endOf(a.requestedAt, 600)));
    const gone = await acts.networkUnbanIps(undoOf(a, first));
    expect(gone).toMatchObject({ changed: true, output: { lifted: true, stillHeldBy: [], unbanned: 1 } });
  });

  it('dry-run validates, plans and changes nothing', async () => {
    await acts.networkBanIps(input({ addresses: ['203.0.113.40'], ttl_seconds: 7200 }));
    const before = await dump(T.local.space.keyPrefix);
    const file = readFileSync(T.local.denyFile, 'utf8');
    const dry = input({ addresses: ['203.0.113.40', '203.0.113.41', '2001:db8:2::/64'], ttl_seconds: 3600 }, { mode: 'dry-run' });
    const res = await acts.networkBanIps(dry);
    expect(res.changed).toBe(false);
    expect(res.undo).toBeUndefined();
    expect(res.plan?.[0]).toMatch(/^would ban 3 networks for 3600 s, until .*Z: 2 new, 1 already banned \(1 until later, kept\)$/);
    const end = Date.parse(res.output?.expiresAt as string) / 1000;
    expect(res.output).toEqual({ planned: 3, expiresAt: expect.any(String) });
    expect(res.plan?.[1]).toBe(
      `HSET ${banHoldsKey(T.local.space)} 203.0.113.40/32 ${dry.incidentId}/ban=… (this step's hold until ${end}), SET ${banKey('local', '203.0.113.40/32')} ${end} EXAT ${end} (keeps a later end) and ZADD ${registry('local')} ${end} 203.0.113.40/32`,
    );
    expect(res.plan?.at(-1)).toBe(`deny file ${T.local.denyFile}: 1 deny lines → 3 deny lines (atomic write), then true and true`);
    await expect(acts.networkBanIps(input({ addresses: ['127.0.0.1'] }, { mode: 'dry-run' }))).rejects.toMatchObject({ type: 'FirebreakBadInput' });
    const unban = await acts.networkUnbanIps(input({ addresses: ['203.0.113.40'] }, { mode: 'dry-run' }));
    expect(unban.summary).toMatch(/^would release every hold on 1 network: 1 lifted, 0 still held \(1 banned now\)$/);
    const expire = await acts.networkExpireBans(input({}, { mode: 'dry-run' }));
    expect(expire.plan?.[0]).toMatch(new RegExp(`^ZREMRANGEBYSCORE ${registry('local')} -inf \\d+ \\(0 entries\\)$`));
    expect(await dump(T.local.space.keyPrefix)).toEqual(before);
    expect(readFileSync(T.local.denyFile, 'utf8')).toBe(file);
    await acts.networkUnbanIps(input({ addresses: ['203.0.113.40'] }));
  });

  it('expire drops only the bans that have ended, from the registry and the deny file; idempotent', async () => {
    const now = Date.now();
    const short = input({ addresses: ['203.0.113.50', '203.0.113.51'], ttl_seconds: 60 });
    await acts.networkBanIps(short);
    await acts.networkBanIps(input({ addresses: ['203.0.113.52'], ttl_seconds: 3600 }));
    // The short ban's timer fired two minutes from now: the 60 s bans have ended by then, the 1 h one has not.
    const fired = new Date(now + 120_000).toISOString();
    const res = await acts.networkExpireBans(input({}, { requestedAt: fired, incidentId: short.incidentId, stepId: 'ban.expiry' }));
    expect(res.output).toEqual({ removed: 2, active: 1, holdsDropped: 2, denyFile: T.local.denyFile });
    expect(await r.redis.zrange(registry('local'), 0, -1)).toEqual(['203.0.113.52/32']);
    expect(denyLines('local')).toEqual(['deny 203.0.113.52/32;']);
    const again = await acts.networkExpireBans(input({}, { requestedAt: fired, incidentId: short.incidentId, stepId: 'ban.expiry' }));
    expect(again).toMatchObject({ changed: false, output: { removed: 0, active: 1, holdsDropped: 0 } });
    expect(again.summary).toMatch(/1 lines, unchanged$/);
    // Now (not two minutes ahead) nothing has ended.
    expect((await acts.networkExpireBans(input({}))).output).toMatchObject({ removed: 0 });
    for (const net of ['203.0.113.50/32', '203.0.113.51/32']) expect([await r.redis.exists(banKey('local', net)), await r.redis.hexists(banHoldsKey(T.local.space), net)]).toEqual([0, 0]);
    await acts.networkUnbanIps(input({ addresses: ['203.0.113.50', '203.0.113.51', '203.0.113.52'] }));
  });

  it('a retry long after the step started, when the ban window is over, bans nothing', async () => {
    const res = await acts.networkBanIps(input({ addresses: ['203.0.113.60'], ttl_seconds: 60 }, { target: 'plain', requestedAt: new Date(Date.now() - 120_000).toISOString() }));
    expect(res).toMatchObject({ changed: false, output: { banned: 0 } });
    expect(res.undo).toBeUndefined();
    expect(await keysUnder(T.plain.space.keyPrefix)).toEqual([]);
  });

  it('works without nginx on the target (Redis only)', async () => {
    const req = input({ addresses: ['203.0.113.61'], ttl_seconds: 600 }, { target: 'plain' });
    const res = await acts.networkBanIps(req);
    expect(res.output).not.toHaveProperty('denyFile');
    expect(res.summary).not.toMatch(/nginx/);
    expect(await r.redis.get(banKey('plain', '203.0.113.61/32'))).toBe(res.output?.expiresAt ? String(Date.parse(res.output.expiresAt as string) / 1000) : 'x');
    await acts.networkUnbanIps(undoOf(req, res));
    expect(await r.redis.exists(banKey('plain', '203.0.113.61/32'))).toBe(0);
  });

  it('a registry member that is not a network never reaches the deny file', async () => {
    await r.redis.zadd(registry('local'), String(Math.floor(Date.now() / 1000) + 600), '1.2.3.4/32; include /etc/passwd');
    await acts.networkBanIps(input({ addresses: ['203.0.113.70'], ttl_seconds: 600 }));
    expect(denyLines('local')).toEqual(['deny 203.0.113.70/32;']);
    expect(readFileSync(T.local.denyFile, 'utf8')).not.toContain('passwd');
    await r.redis.zrem(registry('local'), '1.2.3.4/32; include /etc/passwd');
    await acts.networkUnbanIps(input({ addresses: ['203.0.113.70'] }));
  });

  it('nginx refusing the new file puts the previous file back and fails retryably with its message', async () => {
    await acts.networkBanIps(input({ addresses: ['203.0.113.80'], ttl_seconds: 600 }, { target: 'picky' }));
    const before = readFileSync(T.picky.denyFile, 'utf8');
    await expect(acts.networkBanIps(input({ addresses: ['192.0.2.66'], ttl_seconds: 600 }, { target: 'picky' }))).rejects.toMatchObject({
      type: 'FirebreakVerificationFailed',
      nonRetryable: false,
      message: expect.stringMatching(/nginx configuration test failed .*the previous deny file was put back: exit 1: nginx: \[emerg\] invalid deny rule/),
    });
    expect(readFileSync(T.picky.denyFile, 'utf8')).toBe(before);
    // A directory listing has no leftover temp files.
    expect(readFileSync(T.picky.denyFile, 'utf8')).not.toContain('192.0.2.66');
  });

  it('a configuration nginx already refuses stops the ban before any change', async () => {
    await expect(acts.networkBanIps(input({ addresses: ['203.0.113.90'] }, { target: 'broken' }))).rejects.toMatchObject({
      type: 'FirebreakVerificationFailed',
      message: expect.stringMatching(/nginx configuration test fails before any change \(false\), nothing was changed: exit 1/),
    });
    expect(await keysUnder(T.broken.space.keyPrefix)).toEqual([]);
    expect(readFileSync(T.broken.denyFile, 'utf8')).toBe('# before\n');
  });

  it('drills refuse production targets', async () => {
    await expect(acts.networkBanIps(input({ addresses: ['203.0.113.91'] }, { mode: 'drill', target: 'prod' }))).rejects.toMatchObject({ type: 'FirebreakRefused', nonRetryable: true });
    expect(await keysUnder(`${r.prefix}-prod`)).toEqual([]);
  });
});

describe('refused input: a clear message and no effect anywhere', () => {
  const badFile = () => {
    const f = join(dir, 'bad-line.txt');
    writeFileSync(f, '# attackers\n203.0.113.5\n\n203.0.113.6 # second\n1.2.3\n');
    return f;
  };
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['malformed IPv4 (3 parts)', { addresses: ['1.2.3'] }, /addresses\[0\]: "1\.2\.3" is not an IPv4 address \(needs 4 dot-separated parts/],
    ['IPv4 part over 255', { addresses: ['256.0.0.1'] }, /part 256 is over 255/],
    ['IPv4 with 5 parts', { addresses: ['1.2.3.4.5'] }, /needs 4 dot-separated parts, has 5/],
    ['IPv4 leading zero', { addresses: ['010.1.1.1'] }, /leading zero \(octal\?\)/],
    ['IPv6 bad hex', { addresses: ['::gg'] }, /"::gg" is not an IP address \(unexpected characters\)/],
    ['IPv6 two ::', { addresses: ['1::2::3'] }, /"::" may appear only once/],
    ['IPv6 group too long', { addresses: ['12345::'] }, /group "12345" is not 1-4 hex digits/],
    ['IPv6 zone id', { addresses: ['fe80::1%eth0'] }, /zone ids/],
    ['everything, IPv4', { addresses: ['0.0.0.0/0'] }, /0\.0\.0\.0\/0 is broader than \/16, the broadest IPv4 ban allowed on target "bad" \(network\.minPrefixV4\)/],
    ['everything, IPv6', { addresses: ['::/0'] }, /::\/0 is broader than \/48, the broadest IPv6 ban allowed/],
    ['a /8 with the default minimum /16', { addresses: ['10.0.0.0/8'] }, /10\.0\.0\.0\/8 is broader than \/16/],
    ['an IPv6 /32 with the default minimum /48', { addresses: ['2001:db8::/32'] }, /2001:db8::\/32 is broader than \/48/],
    ['loopback 127.0.0.1', { addresses: ['127.0.0.1'] }, /127\.0\.0\.1\/32 overlaps 127\.0\.0\.0\/8 \(loopback\), which is never banned/],
    ['loopback 127.0.0.2', { addresses: ['127.0.0.2'] }, /overlaps 127\.0\.0\.0\/8 \(loopback\)/],
    ['loopback ::1', { addresses: ['::1'] }, /::1\/128 overlaps ::1\/128 \(loopback\)/],
    ['mapped loopback', { addresses: ['::ffff:127.0.0.1'] }, /127\.0\.0\.1\/32 overlaps 127\.0\.0\.0\/8 \(loopback\)/],
    ['unspecified 0.0.0.0', { addresses: ['0.0.0.0'] }, /0\.0\.0\.0\/32 overlaps 0\.0\.0\.0\/32 \(the unspecified address\)/],
    ['unspecified ::', { addresses: ['::'] }, /::\/128 overlaps ::\/128 \(the unspecified address\)/],
    ['the configured admin range', { addresses: ['10.8.0.0/16'] }, /10\.8\.0\.0\/16 overlaps 10\.8\.0\.0\/16 \(target network\.neverBan\)/],
    ['an address inside the admin range', { addresses: ['10.8.3.4'] }, /10\.8\.3\.4\/32 overlaps 10\.8\.0\.0\/16 \(target network\.neverBan\)/],
    ['a network containing an admin address', { addresses: ['198.51.100.0/24'] }, /198\.51\.100\.0\/24 overlaps 198\.51\.100\.10\/32 \(target network\.neverBan\)/],
    ['an IPv6 network inside the admin range', { addresses: ['2001:db8:ad:1::/64'] }, /overlaps 2001:db8:ad::\/48 \(target network\.neverBan\)/],
    ['host bits set', { addresses: ['10.1.2.3/16'] }, /"10\.1\.2\.3\/16" has host bits set \(did you mean 10\.1\.0\.0\/16\?\)/],
    ['empty list', { addresses: [] }, /no addresses to ban \(give addresses or addresses_file\)/],
    ['no arguments', {}, /no addresses to ban/],
    ['prefix /33', { addresses: ['1.2.3.4/33'] }, /prefix \/33 is longer than 32 bits \(IPv4\)/],
    ['negative prefix', { addresses: ['1.2.3.4/-1'] }, /prefix "\/-1" is not a number of bits/],
    ['shell injection', { addresses: ['1.2.3.4; rm -rf /'] }, /"1\.2\.3\.4; rm -rf \/"/],
    ['nginx directive injection', { addresses: ['1.2.3.4\n deny all'] }, /"1\.2\.3\.4\\n deny all" is not an IP address/],
    ['a very long string', { addresses: ['1'.repeat(100_000)] }, /is too long \(100000 characters\) to be an address or CIDR/],
    ['whitespace only', { addresses: ['   \t '] }, /addresses\[0\]: empty entry/],
    ['a host name', { addresses: ['evil.example.com'] }, /"evil\.example\.com" is not an IP address/],
    ['not a list', { addresses: '203.0.113.1' }, /addresses must be a list of strings/],
    ['a number in the list', { addresses: [203] }, /addresses\[0\] is not a string/],
    ['too many inline', { addresses: Array.from({ length: 10_001 }, (_, i) => `203.0.${i >> 8}.${i & 255}`) }, /addresses has 10001 entries, at most 10000 inline: use addresses_file/],
    ['a relative name that is not in the inputs folder', { addresses_file: 'bans.txt' }, /addresses_file bans\.txt does not exist in the worker's inputs folder/],
    ['a path climbing out of the inputs folder', { addresses_file: '../bans.txt' }, /addresses_file must name a file in the worker's inputs folder, without "\.\."/],
    ['a file outside the inputs folder', { addresses_file: '/nonexistent/firebreak/bans.txt' }, /addresses_file \/nonexistent\/firebreak\/bans\.txt is outside the worker's inputs folder/],
    ['a directory as file', { addresses_file: 'nginx' }, /addresses_file nginx is not a regular file/],
    ['a bad line in the file (its number, never its text)', { addresses_file: 'BAD_FILE' }, /bad-line\.txt:5: not an IP address or CIDR network \(the line is not shown\)$/],
    ['ttl 0', { addresses: ['203.0.113.1'], ttl_seconds: 0 }, /ttl_seconds must be a whole number of seconds from 60 to 2592000 \(30 days\), got 0$/],
    ['ttl 59', { addresses: ['203.0.113.1'], ttl_seconds: 59 }, /ttl_seconds must be .* got 59$/],
    ['ttl 10 years', { addresses: ['203.0.113.1'], ttl_seconds: 10 * 365 * 86400 }, /ttl_seconds must be .* got 315360000$/],
    ['ttl not whole', { addresses: ['203.0.113.1'], ttl_seconds: 3600.5 }, /ttl_seconds must be .* got 3600\.5$/],
    ['ttl as text', { addresses: ['203.0.113.1'], ttl_seconds: '3600' }, /ttl_seconds must be .* got "3600"$/],
    ['reason not text', { addresses: ['203.0.113.1'], reason: 42 }, /reason must be a string/],
    ['one good and one bad entry', { addresses: ['203.0.113.1', '203.0.113.300'] }, /^network\.ban_ips refused, nothing was changed: 1 problem: addresses\[1\]: "203\.0\.113\.300" is not an IPv4 address \(part 300 is over 255\)$/],
  ];

  it('has at least 30 cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(30);
  });

  it.each(cases)('%s', async (_label, args, message) => {
    const before = readFileSync(T.bad.denyFile, 'utf8');
    const resolved = args.addresses_file === 'BAD_FILE' ? { ...args, addresses_file: badFile() } : args;
    await expect(acts.networkBanIps(input(resolved, { target: 'bad' }))).rejects.toMatchObject({
      type: 'FirebreakBadInput',
      nonRetryable: true,
      message: expect.stringMatching(message),
    });
    expect(await keysUnder(T.bad.space.keyPrefix)).toEqual([]);
    expect(readFileSync(T.bad.denyFile, 'utf8')).toBe(before);
  });

  it('names the first few problems and counts the rest', async () => {
    const addresses = ['1.2.3', '127.0.0.1', '0.0.0.0/0', '10.1.2.3/8', 'x', '::gg', '1.1.1.1/40', '203.0.113.9'];
    const err = (await acts.networkBanIps(input({ addresses }, { target: 'bad' })).catch((e: unknown) => e)) as { message: string; details: unknown[] };
    expect(err.message).toMatch(/^network\.ban_ips refused, nothing was changed: 7 problems: addresses\[0\]: .*; addresses\[4\]: "x" is not an IP address \(unexpected characters\); and 2 more$/);
    expect(err.message).toContain('did you mean 10.0.0.0/8?');
    expect(err.details[0]).toMatchObject({ count: 7, problems: expect.arrayContaining([{ path: ['addresses', 6], message: expect.stringMatching(/^addresses\[6\]: "1\.1\.1\.1\/40"/) }]) });
    expect(await keysUnder(T.bad.space.keyPrefix)).toEqual([]);
  });

  it('unban refuses bad input too, without the never-ban and minimum-prefix rules', async () => {
    for (const [args, message] of [
      [{ addresses: [] }, /no addresses to unban/],
      [{ addresses: ['10.1.2.3/8'] }, /host bits set \(did you mean 10\.0\.0\.0\/8\?\)/],
      [{ addresses: ['1.2.3'] }, /not an IPv4 address/],
      [{ addresses: [], from_record: 'no-slash' }, /from_record must be "<incident>\/<step>"/],
      [{ addresses: [], from_record: 'INC-1/Bad Step' }, /from_record must be/],
    ] as const) {
      await expect(acts.networkUnbanIps(input(args, { target: 'bad' }))).rejects.toMatchObject({ type: 'FirebreakBadInput', message: expect.stringMatching(message) });
    }
    // Lifting a broad network or a protected one is allowed (and here a no-op).
    const res = await acts.networkUnbanIps(input({ addresses: ['10.0.0.0/8', '127.0.0.1'] }, { target: 'bad' }));
    expect(res.output).toMatchObject({ unbanned: 0, requested: 2 });
  });

  it('a broken neverBan entry in the target config is refused when the config loads, so no worker runs with it', () => {
    const file = join(dir, 'broken-neverban.yaml');
    writeFileSync(file, `targets:\n  local: { redis: { keyPrefix: "${r.prefix}-nb" }, network: { neverBan: ["10.0.0.0/8", "not-an-ip"] } }\n`);
    expect(() => loadConfig({ file, env: {} })).toThrow(/targets\.local\.network\.neverBan\.1: not an IP address or CIDR network: "not-an-ip"/);
  });
});

describe('bulk', () => {
  it('bans 100,000 addresses from a file, undoes them through the undo record', async () => {
    const file = join(dir, 'bulk.txt');
    const lines = ['# 100k addresses from the CGNAT range', ''];
    for (let i = 0; i < 100_000; i += 1) lines.push(`100.${64 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`);
    lines.push('100.64.0.0 # a duplicate');
    writeFileSync(file, lines.join('\n'));
    const req = input({ addresses_file: file, ttl_seconds: 3600 }, { target: 'bulk' });
    const t0 = performance.now();
    const res = await acts.networkBanIps(req);
    const ms = performance.now() - t0;
    expect(res.output).toMatchObject({ banned: 100_000, newlyBanned: 100_000 });
    expect(res.proof).toMatchObject({ keys: { checked: 2_500, of: 100_000, all: false }, denyFile: { lines: 100_000 } });
    expect(res.undo).toEqual({ action: 'network.unban_ips', args: { addresses: [], from_record: `${req.incidentId}/ban`, holder: `${req.incidentId}/ban` } });
    expect(await r.redis.zcard(registry('bulk'))).toBe(100_000);
    expect(await r.redis.get(banKey('bulk', '100.65.134.159/32'))).toBe(String(endOf(req.requestedAt, 3600)));
    const deny = denyLines('bulk');
    expect(deny).toHaveLength(100_000);
    expect(deny[0]).toBe('deny 100.64.0.0/32;');
    expect(deny[99_999]).toBe('deny 100.65.134.159/32;');
    expect(ms).toBeLessThan(20_000);

    const lifted = await acts.networkUnbanIps(undoOf(req, res));
    expect(lifted.output).toMatchObject({ lifted: true, unbanned: 100_000, requested: 100_000 });
    expect(await r.redis.zcard(registry('bulk'))).toBe(0);
    expect(denyLines('bulk')).toEqual([]);
    const left = (await keysUnder(T.bulk.space.keyPrefix)).filter((k) => k.includes(':fb:ban:') || k.includes(':hold:ban'));
    expect(left).toEqual([]);
  });
});
