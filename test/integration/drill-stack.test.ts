/**
 * Drills against a whole drill target: its own PostgreSQL database and app role, its Redis
 * namespace, its own nginx (deny file, realip) and its own app — the HTTPS stand-in behind the
 * shipped Express guard, which verifies the drill user's JWT. Every post-condition is checked
 * from outside, and the test checks again from outside what the drill left: grants and
 * settings, every Redis key of the namespace, the deny file — equal to a snapshot taken
 * before, except exactly the irreversible effects the report lists.
 * Also: the revoked-token check by user; drill robots refused on a live incident; a real
 * outage of the drill app mid-drill stops the drill and its robots roll everything back.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { firebreakGuard, type TokenClaims } from '../../examples/express/firebreak-middleware.js';
import { createKeyPair, publicLine, type KeyPair } from '../../lib/identity/keys.js';
import { keyPairSigner } from '../../lib/identity/signer.js';
import { abortIncident, approveGate, declareIncident, TERMINAL, waitFor } from '../../lib/incidents/index.js';
import { drillResult, runDrill } from '../../lib/incidents/drills.js';
import { workflowIdFor } from '../../lib/ids.js';
import { contractKeys, djangoKey } from '../../lib/redis-keys.js';
import type { DrillReport } from '../../workflows/drill-definitions.js';
import { createAppDatabase, type AppDatabase } from '../helpers/app-db.js';
import { APPROVERS, DECLARER, startStack, type Stack } from '../helpers/firebreak.js';
import { get, startNginx, type Nginx } from '../helpers/nginx.js';
import { startProbeApp, type ProbeApp } from '../helpers/probe-app.js';

const BANNED = '203.0.113.7';
const DRILL_USER = '42';
const SQLI = { ban_ips: [BANNED], revoke_all: true, lockdown: true };

let stack: Stack;
let db: AppDatabase;
let nginx: Nginx;
let app: ProbeApp;
let appRedis: Redis;
let signingKey: string;
const robots = new Map<string, KeyPair>();

/** The app's own token check (HS256, its signing key): claims of a valid token, or a refusal the app answers itself. */
function bearerClaims(req: IncomingMessage): TokenClaims | 'invalid' | undefined {
  const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
  if (!m?.[1]) return undefined;
  const [head, body, sig] = m[1].split('.');
  if (!head || !body || !sig) return 'invalid';
  const want = createHmac('sha256', signingKey).update(`${head}.${body}`).digest();
  const got = Buffer.from(sig, 'base64url');
  if (got.length !== want.length || !timingSafeEqual(got, want)) return 'invalid';
  const claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as TokenClaims & { exp?: number };
  if (typeof claims.exp !== 'number' || claims.exp < Date.now() / 1000) return 'invalid';
  return claims;
}

beforeAll(async () => {
  db = await createAppDatabase('drill-stack');
  // The all-clear gives back privileges, never a grant option (by design): the drill target's role holds none, as it should.
  await db.admin.query(`REVOKE GRANT OPTION FOR INSERT ON "Billing".invoices FROM ${pg.escapeIdentifier(db.role)}`);
  nginx = await startNginx({ serverExtra: ['set_real_ip_from 127.0.0.1;', 'real_ip_header X-Real-IP;'] });
  appRedis = new Redis('redis://127.0.0.1:6379/0', { maxRetriesPerRequest: 2 });
  signingKey = randomBytes(32).toString('hex');
  let guard: ReturnType<typeof firebreakGuard> | undefined;
  app = await startProbeApp({
    guard: (req, res, next) => {
      const claims = bearerClaims(req);
      if (claims === 'invalid') {
        res.writeHead(401, { 'content-type': 'application/json' }).end('{"error": "Invalid token."}');
        return;
      }
      guard ??= firebreakGuard({ redis: appRedis, keyPrefix: stack.redis.prefix, onError: () => undefined, token: bearerClaims as (r: IncomingMessage) => TokenClaims | undefined });
      guard(req, res, next);
    },
  });
  const dir = join('/tmp', `fbt-drill-stack-${process.pid}`);
  for (const name of ['robot-a', 'robot-b', 'robot-c']) robots.set(name, await createKeyPair(join(dir, name), { force: true }));
  const keyFile = (name: string) => join(dir, name, 'firebreak', 'ed25519.key');
  const tokenKeyFile = join(dir, 'jwt-signing-key');
  writeFileSync(tokenKeyFile, `${signingKey}\n`, { mode: 0o600 });
  stack = await startStack('drill-stack', {
    targetExtra: [
      '    drillTarget: true',
      `    postgres: { database: ${db.name}, appRole: "${db.role}", schemas: [public, Billing] }`,
      `    ${nginx.targetYaml}`,
      `    app: { url: "${app.httpsOrigin}/", httpUrl: "${app.httpOrigin}/", caFile: "${app.caFile}", routes: ["/"] }`,
      `    drill: { nginxUrl: "${nginx.url}", clientIpHeader: X-Real-IP, token: { signingKey: { file: "${tokenKeyFile}" }, user: "${DRILL_USER}" } }`,
    ].join('\n'),
    identityExtra: ['  services:', ...[...robots].map(([name, key]) => `    - { name: ${name}, kind: drill-robot, keys: ["${publicLine(key, name)}"], may: [declare, approve, resolve, abort] }`)],
    extraConfig: ['drills:', '  approveAfter: 500ms', '  healthEvery: 1s', '  robots:', ...[...robots.keys()].map((n) => `    - { name: ${n}, keyFile: ${keyFile(n)} }`)].join('\n'),
  });
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  await appRedis?.quit();
  await app?.close();
  await nginx?.stop();
  await db?.cleanup();
});

/** Everything the drill may touch, read from outside: grants and settings, every key of the namespace, the deny file. */
async function snapshot(): Promise<{ grants: string[]; settings: string[]; redis: Record<string, string>; deny: string }> {
  const r = stack.redis.redis;
  const redis: Record<string, string> = {};
  let cursor = '0';
  do {
    const [next, keys] = await r.scan(cursor, 'MATCH', `${stack.redis.prefix}:*`, 'COUNT', 500);
    cursor = next;
    for (const k of keys) {
      // Not effects on the target: the app's own heartbeat (the time it last read), Firebreak's per-incident
      // records of what a step did (they expire), the roles baseline every evidence snapshot renews, and
      // the marker of the registry version last rendered into the deny file (the file itself is compared).
      const own = (part: string) => k.startsWith(`${stack.redis.prefix}:firebreak:${part}`);
      if (k.includes(':fb:reader:') || own('undo:INC-') || own('baseline:') || own('nginx:applied:')) continue;
      const type = await r.type(k);
      const value =
        type === 'string' ? await r.get(k) : type === 'hash' ? await r.hgetall(k) : type === 'zset' ? await r.zrange(k, 0, -1, 'WITHSCORES') : type === 'set' ? (await r.smembers(k)).sort() : await r.lrange(k, 0, -1);
      redis[k] = `${type} ${JSON.stringify(value)}`;
    }
  } while (cursor !== '0');
  // The deny file's rules (Firebreak renders its own comment header the first time it writes the file).
  const deny = readFileSync(nginx.denyFile, 'utf8')
    .split('\n')
    .filter((l) => l.trim() && !l.trim().startsWith('#'))
    .join('\n');
  return { grants: await db.grants(), settings: await db.settings(), redis, deny };
}

/** Keys whose value differs (or that appeared / went away) between two snapshots. */
function changedKeys(a: Record<string, string>, b: Record<string, string>): string[] {
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => a[k] !== b[k]).sort();
}

/** The Redis keys an irreversible step of the report leaves behind. */
function irreversibleKeys(report: DrillReport): string[] {
  const space = { keyPrefix: stack.redis.prefix, keyVersion: 1 };
  return report.irreversible
    .flatMap((e) => (e.step === 'revoke-all' ? [contractKeys.revokedBeforeAll()] : e.step === 'revoke-users' ? [contractKeys.revokedBeforeUser(DRILL_USER)] : [`(unmapped ${e.step})`]))
    .map((k) => djangoKey(space, k))
    .sort();
}

const checks = (r?: DrillReport) => r?.postConditions.map((c) => [c.when, c.system, c.ok, c.check.replace(/ \(.*$/, '')]);
const drill = async (runbook: string, params: Record<string, string | string[] | boolean>) => {
  const { workflowId } = await runDrill(stack.client, stack.config, { runbook, target: 'local', params, actor: { user: DECLARER, host: 'test', via: 'api' } });
  return { workflowId, ...(await drillResult(stack.client, workflowId)) };
};

describe('a real drill of sqli on a whole drill target (PostgreSQL, Redis, nginx, the guarded app)', () => {
  it('passes with every post-condition checked from outside, and leaves everything reversible exactly as before', async () => {
    const before = await snapshot();
    expect(before.grants.length).toBeGreaterThan(5);
    expect((await get(nginx.port, { headers: { 'X-Real-IP': BANNED } })).status).toBe(200);

    const { report, error } = await drill('sqli', SQLI);
    expect(error).toBeUndefined();
    expect(report?.outcome, JSON.stringify(report?.failures)).toBe('passed');
    expect(checks(report)).toEqual([
      ['containment', 'postgres', true, `a write as ${db.role} is refused`], // (with the read-only default switched off)
      ['containment', 'app', true, 'the app answers 503 under lockdown'],
      ['containment', 'app', true, 'the app refuses a token the drill revoked'],
      ['containment', 'nginx', true, `nginx answers 403 to banned client ${BANNED}`],
      ['restore', 'postgres', true, `${db.role}'s grants and settings are exactly as before the drill`],
      ['restore', 'postgres', true, `a write as ${db.role} succeeds`],
      ['restore', 'redis', true, 'the lockdown flag is back to its value before the drill'],
      ['restore', 'app', true, 'the app answers as before the drill'],
      ['restore', 'app', true, 'a token the drill revoked stays refused after the all-clear'],
      ['restore', 'nginx', true, `nginx lets ${BANNED} in again once the ban is lifted`],
    ]);
    const detail = (check: string) => report?.postConditions.find((c) => c.check.startsWith(check))?.detail;
    expect(report?.postConditions[0]?.check).toBe(`a write as ${db.role} is refused (with the read-only default switched off)`);
    expect(detail('a write as')).toMatch(/^refused \(42501: permission denied/);
    expect(detail('a token the drill revoked stays refused')).toBe('answered 401 (before the drill 200)');
    // The steps did what sqli does; the all-clear of a drill lifted the ban too (a live all-clear leaves it to its timer).
    expect(Object.fromEntries((report?.steps ?? []).map((s) => [s.id, s.outcome]))).toMatchObject({ ban: 'undone', 'read-only': 'undone', 'revoke-all': 'succeeded', lockdown: 'undone', probe: 'succeeded' });
    expect(report?.irreversible.map((e) => [e.step, e.action])).toEqual([['revoke-all', 'tokens.revoke']]);
    expect(report?.timeToContainmentMs).toBeGreaterThan(0);
    expect(report?.timeToRestoreMs).toBeGreaterThan(report?.timeToContainmentMs ?? 0);

    // From outside, after the drill: everything reversible as before; only what the report lists stayed.
    const after = await snapshot();
    expect(after.grants).toEqual(before.grants);
    expect(after.settings).toEqual(before.settings);
    expect(after.deny).toBe(before.deny);
    expect(changedKeys(before.redis, after.redis)).toEqual(irreversibleKeys(report as DrillReport));
    expect((await get(nginx.port, { headers: { 'X-Real-IP': BANNED } })).status).toBe(200);
    const w = await db.connectAs();
    await w.query(`INSERT INTO public.orders (note) VALUES ('after the drill')`);
    await w.end();
  }, 120_000);

  it('the revoked-token check by user: refused (401) after containment without a lockdown, and still after the all-clear', async () => {
    const before = await snapshot();
    const { report, workflowId } = await drill('token-leak', { user_ids: [DRILL_USER] });
    expect(report?.outcome, JSON.stringify(report?.failures)).toBe('passed');
    const token = report?.postConditions.filter((c) => c.check.includes('token the drill revoked'));
    expect(token?.map((c) => [c.when, c.ok, c.detail])).toEqual([
      ['containment', true, 'answered 401 (before the drill 200)'],
      ['restore', true, 'answered 401 (before the drill 200)'],
    ]);
    expect(token?.[0]?.check).toMatch(new RegExp(`user ${DRILL_USER}, jti drill-[0-9a-f]{24}`));
    // The token itself is never kept: not in the report, not in the drill's or the incident's history.
    const jwt = /eyJ[A-Za-z0-9_-]+\.eyJ/;
    for (const id of [workflowId, workflowIdFor(report?.incidentId ?? '')]) {
      const history = JSON.stringify(await stack.client.workflow.getHandle(id).fetchHistory());
      expect(history).not.toMatch(jwt);
      expect(history).not.toContain(signingKey);
    }
    expect(JSON.stringify(report)).not.toMatch(jwt);
    expect(report?.irreversible.map((e) => e.step)).toEqual(['revoke-users']);
    expect(changedKeys(before.redis, (await snapshot()).redis)).toEqual(irreversibleKeys(report as DrillReport));
  }, 120_000);
});

describe('drill robots on a live incident', () => {
  it('may not approve its gate or declare one; people still can', async () => {
    const robot = (name: string) => ({ user: name, host: 'test', via: 'api' as const, signer: keyPairSigner(robots.get(name) as KeyPair, 'drill') });
    const inc = await declareIncident(stack.client, stack.config, { runbook: 'sqli', target: 'local', actor: stack.actor(DECLARER) });
    await waitFor(stack.client, inc.id, (x) => x.gates.some((g) => g.id === 'read-only' && g.state === 'open'), { timeoutMs: 30_000 });
    await expect(approveGate(stack.client, inc.id, 'read-only', robot('robot-b'))).rejects.toThrow(/drill robot robot-b may only act in drill mode on a drill target \(mode live/);
    const gate = await approveGate(stack.client, inc.id, 'read-only', stack.actor(APPROVERS[0] as string));
    expect(gate.approvals.map((v) => v.by)).toEqual([APPROVERS[0]]);
    expect(await abortIncident(stack.client, inc.id, 'test over', stack.actor(APPROVERS[1] as string))).toMatch(/abort/);

    // A robot's live declaration starts an incident the worker's policy check rejects before any step runs.
    const d = await declareIncident(stack.client, stack.config, { runbook: 'lockdown', target: 'local', actor: robot('robot-a') });
    const declared = await waitFor(stack.client, d.id, (x) => TERMINAL.includes(x.state) || x.state === 'awaiting-resolve', { timeoutMs: 20_000 });
    expect(declared.state).toBe('rejected');
    expect(declared.rejection).toEqual([{ step: '-', action: 'declare', message: 'declaration refused (drill-robot-outside-drill): drill robot robot-a may only act in drill mode on a drill target (mode live, a drill target)' }]);
    expect(declared.steps.every((x) => x.state === 'pending' || x.state === 'skipped' || x.state === 'cancelled')).toBe(true);
    expect(await stack.redis.redis.get(stack.flagKey)).toBeNull();
  }, 60_000);
});

describe('the stop condition against a real outage', () => {
  it("the drill app goes down mid-drill: the drill aborts on its health check and its robots roll back everything reversible", async () => {
    const before = await snapshot();
    const banKey = djangoKey({ keyPrefix: stack.redis.prefix, keyVersion: 1 }, contractKeys.ban(`${BANNED}/32`));
    const { workflowId } = await runDrill(stack.client, stack.config, { runbook: 'sqli', target: 'local', params: SQLI, actor: { user: DECLARER, host: 'test', via: 'api' } });
    try {
      // Containment has begun (the ban is in the app's Redis): now the app stops answering.
      for (let i = 0; i < 200 && !(await stack.redis.redis.exists(banKey)); i++) await new Promise((r) => setTimeout(r, 50));
      expect(await stack.redis.redis.exists(banKey)).toBe(1);
      await app.down();
      const { report } = await drillResult(stack.client, workflowId);
      expect(report?.outcome).toBe('aborted');
      expect(report?.stop).toEqual({ reason: 'health', detail: expect.stringMatching(/^a health check of drill target local failed: https:\/\/127\.0\.0\.1:\d+\/: no answer \(ECONNREFUSED\)$/) });
      expect(report?.incidentState).toBe('aborted');
      expect(report?.steps.find((s) => s.id === 'ban')?.outcome).toBe('undone');
      expect(report?.steps.filter((s) => s.outcome === 'succeeded' && s.phase === 'containment').map((s) => s.id)).toEqual(report?.irreversible.map((e) => e.step));
      // The outside checks say what they saw: PostgreSQL and Redis restored, the app not answering.
      const restore = report?.postConditions.filter((c) => c.when === 'restore');
      expect(restore?.filter((c) => c.system === 'postgres' || c.system === 'redis' || c.system === 'nginx').every((c) => c.ok)).toBe(true);
      const after = await snapshot();
      expect(after.grants).toEqual(before.grants);
      expect(after.settings).toEqual(before.settings);
      expect(after.deny).toBe(before.deny);
      expect(changedKeys(before.redis, after.redis)).toEqual(irreversibleKeys(report as DrillReport));
    } finally {
      await app.up();
    }
  }, 120_000);
});
