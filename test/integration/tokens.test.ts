/**
 * tokens.revoke / tokens.disable_users / tokens.enable_users against real Redis and
 * PostgreSQL: effect, read-back, TTLs, idempotence, resume, dry-run, bad input,
 * simplejwt's blacklist tables, and the exact undo of disable_users.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities/index.js';
import { REVOKE_CHUNK } from '../../activities/tokens/index.js';
import { TargetClients } from '../../activities/deps.js';
import { loadConfig } from '../../lib/config.js';
import { createLogger } from '../../lib/logger.js';
import { contractKeys, djangoKey, ownKey, type KeySpace } from '../../lib/redis-keys.js';
import type { ActionInput, ActionResult, Mode } from '../../workflows/definitions.js';
import { createTestDatabase, redisClient, type TestDatabase, type TestRedis } from '../helpers/services.js';

const TTL = 7_200;

let r: TestRedis;
let db: TestDatabase;
let bareDb: TestDatabase;
let sql: pg.Client;
let dir: string;
let clients: TargetClients;
// Through createActivities: every argument is judged by the action's schema at the activity's entry, as in the worker.
let acts: ReturnType<typeof createActivities>;
let space: KeySpace;

const SCHEMA = `
  CREATE TABLE auth_user (id serial PRIMARY KEY, username varchar(150) NOT NULL UNIQUE, is_active boolean NOT NULL DEFAULT true);
  CREATE SCHEMA accounts;
  CREATE TABLE accounts.users (id serial PRIMARY KEY, username varchar(150) NOT NULL UNIQUE, is_active boolean NOT NULL DEFAULT true);
  CREATE TABLE token_blacklist_outstandingtoken (
    id bigserial PRIMARY KEY, jti varchar(255) NOT NULL UNIQUE, token text NOT NULL,
    created_at timestamptz NULL, expires_at timestamptz NOT NULL,
    user_id integer NULL REFERENCES auth_user (id) ON DELETE SET NULL);
  CREATE TABLE token_blacklist_blacklistedtoken (
    id bigserial PRIMARY KEY, blacklisted_at timestamptz NOT NULL,
    token_id bigint NOT NULL UNIQUE REFERENCES token_blacklist_outstandingtoken (id) ON DELETE CASCADE);
`;

beforeAll(async () => {
  r = redisClient('tokens');
  db = await createTestDatabase('tokens');
  bareDb = await createTestDatabase('tokens-bare');
  sql = new pg.Client({ connectionString: db.url });
  await sql.connect();
  await sql.query(SCHEMA);
  const bare = new pg.Client({ connectionString: bareDb.url });
  await bare.connect();
  await bare.query('CREATE TABLE auth_user (id serial PRIMARY KEY, username varchar(150) NOT NULL UNIQUE, is_active boolean NOT NULL DEFAULT true)');
  await bare.end();
  dir = mkdtempSync(join(tmpdir(), 'fbt-tokens-'));
  const file = join(dir, 'firebreak.yaml');
  const redis = (prefix: string) => `redis: { url: "redis://127.0.0.1:6379/0", keyPrefix: "${prefix}" }`;
  const postgres = (database: string, extra = '') => `postgres: { adminUrl: "postgres://postgres@127.0.0.1:5432/postgres", database: ${database}${extra} }`;
  writeFileSync(
    file,
    [
      `inputsDir: ${JSON.stringify(dir)}`,
      'targets:',
      `  local: { development: true, ${redis(r.prefix)}, ${postgres(db.name)}, tokens: { maxLifetimeSeconds: ${TTL} } }`,
      `  schema: { development: true, ${redis(`${r.prefix}-schema`)}, ${postgres(db.name, ', userTable: accounts.users')} }`,
      `  nosj: { development: true, ${redis(`${r.prefix}-nosj`)}, ${postgres(bareDb.name)} }`,
      `  off: { development: true, ${redis(`${r.prefix}-off`)}, ${postgres(db.name, ', simplejwtBlacklist: false')} }`,
      `  bare: { development: true, ${redis(`${r.prefix}-bare`)} }`,
      `  prod: { production: true, ${redis(`${r.prefix}-prod`)} }`,
    ].join('\n'),
  );
  const config = loadConfig({ file, env: {} });
  clients = new TargetClients(config);
  acts = createActivities({ config, logger: createLogger({ level: 'silent', pretty: false }), clients });
  space = { keyPrefix: r.prefix, keyVersion: 1 };
});

afterAll(async () => {
  await clients?.close();
  await sql?.end();
  await db?.drop();
  await bareDb?.drop();
  await r?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

let n = 0;
const input = (args: Record<string, unknown>, opts: { mode?: Mode; target?: string; requestedAt?: string; incidentId?: string; action?: string } = {}): ActionInput => ({
  incidentId: opts.incidentId ?? `INC-T-${++n}`,
  stepId: 'revoke',
  action: opts.action ?? 'tokens.revoke',
  target: opts.target ?? 'local',
  mode: opts.mode ?? 'live',
  args,
  requestedAt: opts.requestedAt ?? new Date().toISOString(),
});

const jtiKey = (jti: string, s: KeySpace = space) => djangoKey(s, contractKeys.revokedJti(jti));
const userKey = (id: string, s: KeySpace = space) => djangoKey(s, contractKeys.revokedBeforeUser(id));
const epochOf = (iso: string) => Math.floor(Date.parse(iso) / 1000);

/** A TTL set during this test: at most `full`, and down by no more than the seconds the test has run (a loaded machine is slow, not wrong). */
let testStart = Date.now();
beforeEach(() => {
  testStart = Date.now();
});
async function expectTtl(key: string, full: number): Promise<void> {
  const ttl = await r.redis.ttl(key);
  expect(ttl).toBeLessThanOrEqual(full);
  expect(ttl).toBeGreaterThanOrEqual(full - Math.ceil((Date.now() - testStart) / 1000) - 1);
}

/** How many of these keys exist (multi-key EXISTS, in slices). */
async function existing(keys: string[]): Promise<number> {
  let found = 0;
  for (let i = 0; i < keys.length; i += 5_000) found += await r.redis.exists(...keys.slice(i, i + 5_000));
  return found;
}

function ids(label: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${label}-${i}-${n}`);
}

describe('tokens.revoke scope jti', () => {
  it('writes the integer 1 under the Django cache key with TTL = maxLifetimeSeconds and proves it', async () => {
    const jtis = ids('one', 3);
    const res = await acts.tokensRevoke(input({ scope: 'jti', jtis, reason: 'leaked in a gist' }));
    expect(jtiKey('x')).toBe(`${r.prefix}:1:fb:revoked:jti:x`);
    for (const j of jtis) {
      expect(await r.redis.get(jtiKey(j))).toBe('1');
      await expectTtl(jtiKey(j), TTL);
    }
    expect(res).toMatchObject({ changed: true, output: { scope: 'jti', revoked: 3, resumedFrom: 0 }, proof: { sampled: 3, missing: 0 } });
    expect(res.undo).toBeUndefined();
    expect(res.summary).toContain(`${r.prefix}:1:fb:revoked:jti:<jti> = 1, TTL ${TTL} s`);
  });

  it('is idempotent: the same step again leaves the same keys, and another incident refreshes the TTL', async () => {
    const jtis = ids('idem', 5);
    const same = input({ scope: 'jti', jtis });
    const first = await acts.tokensRevoke(same);
    expect(first.output).toMatchObject({ revoked: 5, resumedFrom: 0 });
    const second = await acts.tokensRevoke(same);
    // The progress record says the step already wrote all 5: nothing is rewritten, all is verified again.
    expect(second.output).toMatchObject({ revoked: 5, resumedFrom: 5 });
    const progress = ownKey(space, 'progress', same.incidentId, 'revoke');
    expect(await r.redis.get(progress)).toMatch(/^5:[0-9a-f]{16}$/);
    await expectTtl(progress, TTL); // min(maxLifetimeSeconds, 1 day)
    expect(await existing(jtis.map((j) => jtiKey(j)))).toBe(5);
    await r.redis.expire(jtiKey(jtis[0] as string), 60);
    await acts.tokensRevoke(input({ scope: 'jti', jtis }));
    await expectTtl(jtiKey(jtis[0] as string), TTL);
  });

  it('reads 100,000 ids from a file (blank lines and CRLF tolerated) and revokes them all', async () => {
    const jtis = ids('file', 100_000);
    const file = join(dir, 'jtis-100k.txt');
    writeFileSync(file, `${jtis.slice(0, 50_000).join('\n')}\n\n  \r\n${jtis.slice(50_000).join('\r\n')}\n`);
    const t0 = performance.now();
    const res = await acts.tokensRevoke(input({ scope: 'jti', jtis_file: file }));
    const ms = performance.now() - t0;
    expect(res.output).toMatchObject({ revoked: 100_000 });
    expect(res.proof).toMatchObject({ missing: 0 });
    expect((res.proof?.sampled as number) >= 2 * REVOKE_CHUNK).toBe(true);
    expect(await existing(jtis.map((j) => jtiKey(j)))).toBe(100_000);
    expect(ms).toBeLessThan(20_000);
  });

  it('heartbeats progress per chunk and a retry resumes from the recorded progress instead of restarting', async () => {
    const jtis = ids('resume', 60_000);
    const file = join(dir, 'jtis-resume.txt');
    writeFileSync(file, jtis.join('\n'));
    const step = input({ scope: 'jti', jtis_file: file });
    const revoke = (i: ActionInput): Promise<ActionResult> => acts.tokensRevoke(i);
    const env = new MockActivityEnvironment({ attempt: 1 });
    const beats: Array<{ done: number; total: number }> = [];
    env.on('heartbeat', (d?: { done: number; total: number }) => {
      if (!d) return; // while reading the file it re-sends the previous details (none on attempt 1)
      beats.push(d);
      if (d.done >= 2 * REVOKE_CHUNK) env.cancel();
    });
    await expect(env.run(revoke, step)).rejects.toMatchObject({ name: 'CancelledFailure' });
    expect(beats[0]).toEqual({ done: REVOKE_CHUNK, total: 60_000 });
    await clients.redis('local').ping(); // the chunk already sent when it stopped has run
    const written = await existing(jtis.map((j) => jtiKey(j)));
    expect(written).toBeGreaterThanOrEqual(2 * REVOKE_CHUNK);
    expect(written).toBeLessThan(60_000);

    const retry = new MockActivityEnvironment({ attempt: 2, heartbeatDetails: beats[beats.length - 1] });
    const res = await retry.run<[ActionInput], ActionResult, typeof revoke>(revoke, step);
    const from = (res.output as { resumedFrom: number }).resumedFrom;
    expect(from).toBeGreaterThanOrEqual(2 * REVOKE_CHUNK);
    expect(from).toBeLessThanOrEqual(written);
    expect(res.summary).toContain(`resumed at ${from}`);
    expect(await existing(jtis.map((j) => jtiKey(j)))).toBe(60_000);
  });

  it('a changed file is never resumed: progress is bound to the input', async () => {
    const file = join(dir, 'jtis-changed.txt');
    const a = ids('changed-a', 30);
    writeFileSync(file, a.join('\n'));
    const step = input({ scope: 'jti', jtis_file: file });
    await acts.tokensRevoke(step);
    const b = ids('changed-b', 40);
    writeFileSync(file, b.join('\n'));
    const res = await acts.tokensRevoke(step);
    expect(res.output).toMatchObject({ revoked: 40, resumedFrom: 0 });
    expect(await existing(b.map((j) => jtiKey(j)))).toBe(40);
  });

  it('dry-run validates and counts, plans, and changes nothing', async () => {
    const jtis = ids('dry', 4);
    const res = await acts.tokensRevoke(input({ scope: 'jti', jtis }, { mode: 'dry-run' }));
    expect(res.plan?.[0]).toBe(`SET ${r.prefix}:1:fb:revoked:jti:<jti> 1 EX ${TTL} ×4`);
    expect(res).toMatchObject({ changed: false, output: { wouldRevoke: 4 } });
    expect(await existing(jtis.map((j) => jtiKey(j)))).toBe(0);
    await expect(acts.tokensRevoke(input({ scope: 'jti', jtis: ['bad jti'] }, { mode: 'dry-run' }))).rejects.toMatchObject({ type: 'FirebreakBadInput' });
  });

  it('refuses bad input with a typed, non-retryable failure and writes nothing', async () => {
    const good = ids('never', 3);
    const missing = join(dir, 'does-not-exist.txt');
    const badFile = join(dir, 'jtis-bad.txt');
    writeFileSync(badFile, [...good, 'has space', ...good.map((g) => `${g}-x`), 'x'.repeat(256)].join('\n'));
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ scope: 'jti', jtis: [] }, /no jtis given/],
      [{ scope: 'jti', jtis: [...good, 'white space'] }, /1 invalid entry .* at jtis\[3\]/],
      [{ scope: 'jti', jtis: [...good, 'x'.repeat(256)] }, /invalid/],
      [{ scope: 'jti', jtis: [...good, 'tab\there'] }, /invalid/],
      [{ scope: 'jti', jtis: [...good, 12] }, /invalid/],
      [{ scope: 'jti', jtis: 'not-a-list' }, /list of strings/],
      [{ scope: 'jti', jtis_file: '../jtis.txt' }, /without "\.\."/],
      [{ scope: 'jti', jtis_file: '/etc/hostname' }, /jtis_file \/etc\/hostname is outside the worker's inputs folder/],
      [{ scope: 'jti', jtis_file: missing }, /does not exist in the worker's inputs folder/],
      [{ scope: 'jti', jtis_file: dir }, /is not a regular file/],
      [{ scope: 'jti', jtis: good, jtis_file: badFile }, /2 invalid entries .* at line 4, line 8/],
      [{ scope: 'jti' }, /needs jtis or jtis_file/],
      [{ scope: 'everything', jtis: good }, /scope must be one of jti, user, all/],
      [{ jtis: good }, /scope must be one of/],
      [{ scope: 'jti', jtis: good, user_ids: ['1'] }, /does not take user_ids/],
      [{ scope: 'user' }, /user_ids is required/],
      [{ scope: 'user', user_ids: [] }, /user_ids is required/],
      [{ scope: 'user', user_ids: ['1', 'a b'] }, /at user_ids\[1\]/],
      [{ scope: 'all', jtis: good }, /does not take jtis/],
      [{ scope: 'jti', jtis: good, reason: 42 }, /reason must be a string/],
    ];
    for (const [args, message] of cases) {
      const err = await acts.tokensRevoke(input(args)).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err, JSON.stringify(args).slice(0, 80)).toMatchObject({ type: 'FirebreakBadInput', nonRetryable: true, message: expect.stringMatching(message) });
    }
    expect(await existing([...good, ...good.map((g) => `${g}-x`)].map((j) => jtiKey(j)))).toBe(0);
    expect(await r.redis.exists(userKey('1'))).toBe(0);
    const big = Array.from({ length: 10_001 }, (_, i) => `j${i}`);
    await expect(acts.tokensRevoke(input({ scope: 'jti', jtis: big }))).rejects.toMatchObject({ type: 'FirebreakBadInput', message: expect.stringMatching(/at most 10000 inline/) });
  });

  it('refuses drills on production targets', async () => {
    await expect(acts.tokensRevoke(input({ scope: 'jti', jtis: ['p1'] }, { mode: 'drill', target: 'prod' }))).rejects.toMatchObject({ type: 'FirebreakRefused' });
  });
});

describe('tokens.revoke scope user / all', () => {
  it('sets each user’s "revoked before" epoch = requestedAt in seconds, with TTL, and never lowers it', async () => {
    const at = '2026-11-28T00:18:47.912Z';
    const users = ['u-41', 'u-42', 'alice@example.com'];
    const res = await acts.tokensRevoke(input({ scope: 'user', user_ids: users }, { requestedAt: at, target: 'bare' }));
    const bare = { keyPrefix: `${r.prefix}-bare`, keyVersion: 1 };
    expect(userKey('u-41', bare)).toBe(`${r.prefix}-bare:1:fb:revoked_before:user:u-41`);
    for (const u of users) {
      expect(await r.redis.get(userKey(u, bare))).toBe(String(epochOf(at)));
      await expectTtl(userKey(u, bare), 7 * 24 * 3600);
    }
    expect(res).toMatchObject({ changed: true, output: { scope: 'user', epoch: epochOf(at), users: 3, raised: 3, simplejwt: { skipped: 'no postgres configured for the target' } }, proof: { minValue: epochOf(at) } });

    // The same step again (a retry): same epoch, nothing raised.
    const again = await acts.tokensRevoke(input({ scope: 'user', user_ids: users }, { requestedAt: at, target: 'bare' }));
    expect(again.output).toMatchObject({ raised: 0 });
    // An older request arriving late never lowers it.
    const older = await acts.tokensRevoke(input({ scope: 'user', user_ids: ['u-41'] }, { requestedAt: '2026-11-27T00:00:00.000Z', target: 'bare' }));
    expect(older.output).toMatchObject({ raised: 0 });
    expect(await r.redis.get(userKey('u-41', bare))).toBe(String(epochOf(at)));
    // A later one raises it.
    const later = '2026-11-29T00:00:00.000Z';
    await acts.tokensRevoke(input({ scope: 'user', user_ids: ['u-41'] }, { requestedAt: later, target: 'bare' }));
    expect(await r.redis.get(userKey('u-41', bare))).toBe(String(epochOf(later)));
  });

  it('scope all sets the global epoch the same way', async () => {
    const bare = { keyPrefix: `${r.prefix}-bare`, keyVersion: 1 };
    const key = djangoKey(bare, contractKeys.revokedBeforeAll());
    expect(key).toBe(`${r.prefix}-bare:1:fb:revoked_before:all`);
    const at = '2026-11-28T10:00:00.500Z';
    const res = await acts.tokensRevoke(input({ scope: 'all', reason: 'signing key leaked' }, { requestedAt: at, target: 'bare' }));
    expect(await r.redis.get(key)).toBe(String(epochOf(at)));
    await expectTtl(key, 7 * 24 * 3600);
    expect(res).toMatchObject({ changed: true, output: { scope: 'all', epoch: epochOf(at), raised: 1 } });
    await acts.tokensRevoke(input({ scope: 'all' }, { requestedAt: '2026-01-01T00:00:00Z', target: 'bare' }));
    expect(await r.redis.get(key)).toBe(String(epochOf(at)));
  });

  it('dry-run plans the epochs and changes nothing', async () => {
    const off = { keyPrefix: `${r.prefix}-off`, keyVersion: 1 };
    const at = '2026-11-28T00:00:00Z';
    const res = await acts.tokensRevoke(input({ scope: 'user', user_ids: ['d1'] }, { mode: 'dry-run', requestedAt: at, target: 'off' }));
    expect(res.plan).toEqual([
      `SET ${userKey('d1', off)} ${epochOf(at)} EX 604800 (now: unset)`,
      'simplejwt: skipped (disabled (postgres.simplejwtBlacklist: false))',
      `WARNING: no app process has read ${off.keyPrefix}:1 in the last 60 s — is KEY_PREFIX/VERSION right?`,
    ]);
    expect(res.output?.readers).toMatchObject({ namespace: `${off.keyPrefix}:1`, count: 0 });
    const all = await acts.tokensRevoke(input({ scope: 'all' }, { mode: 'dry-run', requestedAt: at, target: 'off' }));
    expect(all.changed).toBe(false);
    expect(await r.redis.exists(userKey('d1', off), djangoKey(off, contractKeys.revokedBeforeAll()))).toBe(0);
  });

  it('a bad requestedAt is bad input', async () => {
    await expect(acts.tokensRevoke(input({ scope: 'all' }, { requestedAt: 'yesterday', target: 'bare' }))).rejects.toMatchObject({ type: 'FirebreakBadInput' });
  });
});

describe('simplejwt blacklist tables', () => {
  // created_at is compared with `at` (fixed); expires_at with the database's now(), so it derives from now.
  const at = '2026-06-01T12:00:00.000Z';
  const LIVE = new Date(Date.now() + 365 * 24 * 3600_000).toISOString();
  const EXPIRED = new Date(Date.now() - 3600_000).toISOString();
  let alice: string;
  let bob: string;

  beforeAll(async () => {
    const users = await sql.query<{ id: number }>("INSERT INTO auth_user (username) VALUES ('sj-alice'), ('sj-bob') RETURNING id");
    [alice, bob] = users.rows.map((u) => String(u.id)) as [string, string];
    const token = (jti: string, user: string | null, created: string, expires: string) =>
      sql.query('INSERT INTO token_blacklist_outstandingtoken (jti, token, created_at, expires_at, user_id) VALUES ($1, $2, $3, $4, $5)', [jti, `tok.${jti}`, created, expires, user]);
    await token('sj-a1', alice, '2026-06-01T11:00:00Z', LIVE);
    await token('sj-a2', alice, '2026-06-01T11:30:00Z', LIVE);
    await token('sj-a-expired', alice, '2026-05-01T00:00:00Z', EXPIRED);
    await token('sj-a-after', alice, '2026-06-01T12:00:01Z', LIVE);
    await token('sj-a-same-second', alice, '2026-06-01T12:00:00.700Z', LIVE);
    await token('sj-b1', bob, '2026-06-01T10:00:00Z', LIVE);
    await token('sj-orphan', null, '2026-06-01T10:00:00Z', LIVE);
    await sql.query("INSERT INTO token_blacklist_outstandingtoken (jti, token, created_at, expires_at, user_id) VALUES ('sj-b-legacy', 'tok', NULL, $2, $1)", [bob, LIVE]);
  });

  const blacklisted = async (): Promise<string[]> =>
    (await sql.query<{ jti: string }>('SELECT o.jti FROM token_blacklist_blacklistedtoken b JOIN token_blacklist_outstandingtoken o ON o.id = b.token_id ORDER BY o.jti')).rows.map((x) => x.jti);

  it('scope jti blacklists the matching refresh tokens once; a second run inserts 0', async () => {
    const dry = await acts.tokensRevoke(input({ scope: 'jti', jtis: ['sj-a1', 'sj-b1', 'sj-unknown'] }, { mode: 'dry-run' }));
    expect(dry.plan?.[1]).toBe('simplejwt: would blacklist 2 of 2 matching outstanding refresh tokens');
    expect(await blacklisted()).toEqual([]);
    const res = await acts.tokensRevoke(input({ scope: 'jti', jtis: ['sj-a1', 'sj-b1', 'sj-unknown'] }));
    expect(res.output).toMatchObject({ simplejwt: { matched: 2, blacklisted: 2, alreadyBlacklisted: 0 } });
    expect(res.proof).toMatchObject({ simplejwtOpen: 0 });
    expect(await blacklisted()).toEqual(['sj-a1', 'sj-b1']);
    const again = await acts.tokensRevoke(input({ scope: 'jti', jtis: ['sj-a1', 'sj-b1'] }));
    expect(again.output).toMatchObject({ simplejwt: { matched: 2, blacklisted: 0, alreadyBlacklisted: 2 } });
    expect(await blacklisted()).toEqual(['sj-a1', 'sj-b1']);
  });

  it('scope user blacklists the user’s unexpired tokens issued up to the epoch’s second', async () => {
    const res = await acts.tokensRevoke(input({ scope: 'user', user_ids: [alice] }, { requestedAt: at }));
    expect(res.output).toMatchObject({ simplejwt: { matched: 3, blacklisted: 2, alreadyBlacklisted: 1 } });
    expect(await blacklisted()).toEqual(['sj-a-same-second', 'sj-a1', 'sj-a2', 'sj-b1']);
    expect(await r.redis.get(userKey(alice))).toBe(String(epochOf(at)));
    const again = await acts.tokensRevoke(input({ scope: 'user', user_ids: [alice] }, { requestedAt: at }));
    expect(again.output).toMatchObject({ simplejwt: { blacklisted: 0 } });
  });

  it('refuses non-integer user ids when the tables exist (integer user_id), before writing anything', async () => {
    await expect(acts.tokensRevoke(input({ scope: 'user', user_ids: [bob, 'bob@example.com'] }, { requestedAt: at }))).rejects.toMatchObject({
      type: 'FirebreakBadInput',
      message: expect.stringMatching(/user_id is integer, so user ids must be integers; not: bob@example\.com/),
    });
    expect(await r.redis.exists(userKey(bob), userKey('bob@example.com'))).toBe(0);
  });

  it('scope all blacklists every unexpired outstanding token issued up to the epoch (or of unknown age)', async () => {
    const res = await acts.tokensRevoke(input({ scope: 'all' }, { requestedAt: at }));
    expect(res.output).toMatchObject({ simplejwt: { matched: 6, blacklisted: 2 } });
    expect(await blacklisted()).toEqual(['sj-a-same-second', 'sj-a1', 'sj-a2', 'sj-b-legacy', 'sj-b1', 'sj-orphan']);
  });

  it('tables absent, no postgres, or disabled by config: skipped and said so', async () => {
    const nosj = await acts.tokensRevoke(input({ scope: 'jti', jtis: ['x-nosj'] }, { target: 'nosj' }));
    expect(nosj.output).toMatchObject({ revoked: 1, simplejwt: { skipped: 'simplejwt blacklist tables absent' } });
    expect(nosj.summary).toContain('simplejwt: skipped (simplejwt blacklist tables absent)');
    const user = await acts.tokensRevoke(input({ scope: 'user', user_ids: ['not-an-int'] }, { target: 'nosj' }));
    expect(user.output).toMatchObject({ simplejwt: { skipped: 'simplejwt blacklist tables absent' } });
    const bare = await acts.tokensRevoke(input({ scope: 'jti', jtis: ['x-bare'] }, { target: 'bare' }));
    expect(bare.output).toMatchObject({ simplejwt: { skipped: 'no postgres configured for the target' } });
    const off = await acts.tokensRevoke(input({ scope: 'jti', jtis: ['sj-a-after'] }, { target: 'off' }));
    expect(off.output).toMatchObject({ simplejwt: { skipped: 'disabled (postgres.simplejwtBlacklist: false)' } });
    expect(await blacklisted()).not.toContain('sj-a-after');
  });
});

describe('tokens.disable_users / tokens.enable_users', () => {
  const users = async (names: Array<[string, boolean]>, table = 'auth_user'): Promise<string[]> => {
    const out: string[] = [];
    for (const [name, active] of names) {
      const { rows } = await sql.query<{ id: number }>(`INSERT INTO ${table} (username, is_active) VALUES ($1, $2) RETURNING id`, [`${name}-${++n}`, active]);
      out.push(String(rows[0]?.id));
    }
    return out;
  };
  const activeOf = async (ids: string[], table = 'auth_user'): Promise<boolean[]> => {
    const { rows } = await sql.query<{ id: number; is_active: boolean }>(`SELECT id, is_active FROM ${table} WHERE id = ANY($1::int[])`, [ids]);
    return ids.map((id) => rows.find((x) => String(x.id) === id)?.is_active as boolean);
  };
  const disable = (user_ids: unknown, opts: { mode?: Mode; target?: string; incidentId?: string } = {}) => acts.tokensDisableUsers({ ...input({ user_ids }, { ...opts, action: 'tokens.disable_users' }), stepId: 'disable' });
  const enable = (user_ids: unknown, opts: { mode?: Mode; target?: string } = {}) => acts.tokensEnableUsers({ ...input({ user_ids }, { ...opts, action: 'tokens.enable_users' }), stepId: 'enable' });
  /** The undo the workflow runs for a disable: the same incident, its recorded arguments. */
  const undo = (done: ActionResult, incidentId: string, target = 'local') =>
    acts.tokensEnableUsers({ ...input(done.undo?.args ?? {}, { target, incidentId, action: 'tokens.enable_users' }), stepId: 'disable.undo' });
  const holdRows = async (incidentId: string): Promise<Array<{ user_id: string; was_active: boolean }>> =>
    (await sql.query<{ user_id: string; was_active: boolean }>("SELECT user_id, was_active FROM firebreak.firebreak_user_holds WHERE incident_id = $1 ORDER BY user_id", [incidentId])).rows;

  it('disables, proves it, and the undo re-enables only those that were active', async () => {
    const [a, b, c] = (await users([['dis-a', true], ['dis-b', true], ['dis-c', false]])) as [string, string, string];
    const incidentId = `INC-T-dis-${++n}`;
    const res = await disable([a, b, c], { incidentId });
    expect(await activeOf([a, b, c])).toEqual([false, false, false]);
    expect(res).toMatchObject({ changed: true, proof: { table: 'auth_user', inactive: 3, held: 3 }, output: { wasActive: [a, b] }, undo: { action: 'tokens.enable_users', args: { user_ids: [a, b, c], hold: true } } });
    expect(res.summary).toBe('disabled 3 users in auth_user (2 were active, 1 already inactive and left so by the undo)');
    const off = await undo(res, incidentId);
    expect(off).toMatchObject({ changed: true, output: { enabled: 2, lifted: true, stillHeldBy: [] } });
    expect(off.summary).toBe('released 3 users in auth_user: 2 enabled (2 were inactive); 1 left inactive as before the first hold');
    expect(await activeOf([a, b, c])).toEqual([true, true, false]);
  });

  it('a retry after the commit keeps the holds recorded with the update', async () => {
    const [a, b] = (await users([['retry-a', true], ['retry-b', false]])) as [string, string];
    const incidentId = `INC-T-retry-${++n}`;
    const first = await disable([a, b], { incidentId });
    const second = await disable([a, b], { incidentId });
    expect(second.undo).toEqual(first.undo);
    expect(second.output).toMatchObject({ wasActive: [a] });
    expect(second.changed).toBe(true);
    expect(await holdRows(incidentId)).toEqual([a, b].sort().map((id) => ({ user_id: id, was_active: id === a })));
    // Nothing in the app's Redis any more: the holds are in the app database, with the update.
    expect(await r.redis.exists(ownKey(space, 'undo', incidentId, 'disable'))).toBe(0);
    // Only inactive users: nothing changes, but the hold is taken (and released by the undo).
    const noneId = `INC-T-none-${++n}`;
    const none = await disable([b], { incidentId: noneId });
    expect(none).toMatchObject({ changed: false, undo: { args: { user_ids: [b], hold: true } } });
    expect(await undo(none, noneId)).toMatchObject({ changed: false, output: { enabled: 0, lifted: false, stillHeldBy: [incidentId] } });
    expect(await undo(first, incidentId)).toMatchObject({ changed: true, output: { enabled: 1, lifted: true } });
    expect(await activeOf([a, b])).toEqual([true, false]);
  });

  it('an unknown user changes nothing and is named', async () => {
    const [a] = (await users([['unk-a', true]])) as [string];
    const incidentId = `INC-T-unk-${++n}`;
    await expect(disable([a, '999999'], { incidentId })).rejects.toMatchObject({ type: 'FirebreakBadInput', nonRetryable: true, message: '1 unknown user id in auth_user: 999999; nothing was changed' });
    expect(await activeOf([a])).toEqual([true]);
    expect(await r.redis.exists(ownKey(space, 'undo', incidentId, 'disable'))).toBe(0);
    await expect(enable(['999998'])).rejects.toMatchObject({ type: 'FirebreakBadInput', message: expect.stringMatching(/unknown user id/) });
  });

  it('SQL-looking ids never reach SQL as SQL: refused by format, or simply unknown', async () => {
    const [a] = (await users([['sqli-a', true]])) as [string];
    for (const evil of ['1; DROP TABLE auth_user', "' OR 1=1 --", '1 OR 1=1']) {
      await expect(disable([a, evil])).rejects.toMatchObject({ type: 'FirebreakBadInput', message: expect.stringMatching(/user_ids\[1\]/) });
    }
    // Valid by format, still only ever compared as a parameter: unknown ids.
    await expect(disable([a, '1--', '0x1', `${a}.0`])).rejects.toMatchObject({ type: 'FirebreakBadInput', message: `3 unknown user ids in auth_user: 1--, 0x1, ${a}.0; nothing was changed` });
    expect(await activeOf([a])).toEqual([true]);
    expect((await sql.query("SELECT to_regclass('auth_user') IS NOT NULL AS ok")).rows[0]).toEqual({ ok: true });
    await expect(disable([])).rejects.toMatchObject({ type: 'FirebreakBadInput' });
    await expect(disable('1')).rejects.toMatchObject({ type: 'FirebreakBadInput' });
  });

  it('works on a schema-qualified user table', async () => {
    const [a] = (await users([['schema-a', true]], 'accounts.users')) as [string];
    const incidentId = `INC-T-schema-${++n}`;
    const res = await disable([a], { target: 'schema', incidentId });
    expect(res).toMatchObject({ proof: { table: 'accounts.users' }, undo: { args: { user_ids: [a], hold: true } } });
    expect(await activeOf([a], 'accounts.users')).toEqual([false]);
    await undo(res, incidentId, 'schema');
    expect(await activeOf([a], 'accounts.users')).toEqual([true]);
  });

  it('dry-run plans and changes nothing; a target without postgres is bad input', async () => {
    const [a, b] = (await users([['dry-a', true], ['dry-b', false]])) as [string, string];
    const res = await disable([a, b], { mode: 'dry-run' });
    expect(res).toMatchObject({ changed: false, plan: ['UPDATE auth_user SET is_active = false WHERE id IN (2 ids) — 1 would change, 1 already inactive'] });
    expect(res.undo).toBeUndefined();
    expect(await activeOf([a, b])).toEqual([true, false]);
    await expect(disable([a], { target: 'bare' })).rejects.toMatchObject({ type: 'FirebreakBadInput', message: expect.stringMatching(/no postgres section/) });
    await expect(disable([a], { mode: 'drill', target: 'prod' })).rejects.toMatchObject({ type: 'FirebreakRefused' });
  });
});
