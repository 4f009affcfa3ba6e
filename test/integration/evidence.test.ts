/**
 * evidence.snapshot against real PostgreSQL and Redis: the bundle from a seeded
 * deny-list state, the role baseline (elevation reported, dry-run never moves
 * it, a retry compares against the same baseline), sources failing on their
 * own, and redaction of what sessions were running.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, request as httpRequest, type Server } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TargetClients } from '../../activities/deps.js';
import { createEvidenceActivities, type ElevatedRole, type RoleChange } from '../../activities/evidence/index.js';
import { createActivities } from '../../activities/index.js';
import { loadConfig, type Config } from '../../lib/config.js';
import { createLogger } from '../../lib/logger.js';
import { BAN_REGISTRY, contractKeys, djangoKey, LOCKDOWN_KEY, ownKey, type KeySpace } from '../../lib/redis-keys.js';
import type { ActionInput, ActionResult, Mode } from '../../workflows/definitions.js';
import { createAppDatabase, type AppDatabase } from '../helpers/app-db.js';
import { startGithubStandin, type GithubStandin } from '../helpers/github-standin.js';
import { redisClient, type TestRedis } from '../helpers/services.js';

const hex = randomBytes(4).toString('hex');
const SECRET_ENV = `FBT_EVIDENCE_PW_${hex}`;
const KNOWN_SECRET = `Zq9-known-${hex}`;
const TOKEN_ENV = `FBT_EVIDENCE_GH_${hex}`;
const GH_TOKEN = `ghp_evidenceTestToken${hex}0123456789`;

let r: TestRedis;
let app: AppDatabase;
let dir: string;
let config: Readonly<Config>;
let clients: TargetClients;
// Through createActivities: every argument is judged by the action's schema at the activity's entry, as in the worker.
let acts: ReturnType<typeof createActivities>;
let space: KeySpace;
let gh: GithubStandin;
let front: GithubFront;

interface Deployment {
  id: number;
  sha: string;
  ref: string;
  environment: string;
  created_at: string;
}

interface GithubFront {
  url: string;
  /** Production and other deployments, newest first, as `GET /deployments` lists them. */
  deployments: Deployment[];
  /** Query strings of the deployments calls. */
  deploymentQueries: Array<Record<string, string>>;
  /** Answer the next deployments call with this status. */
  failDeployments?: number;
  stop(): Promise<void>;
}

/**
 * The GitHub stand-in has no deployments endpoint yet: this front answers
 * `GET /repos/{owner}/{repo}/deployments` (documented shape, same token check)
 * and passes every other request to the stand-in unchanged.
 */
async function startFront(standin: GithubStandin): Promise<GithubFront> {
  const upstream = new URL(standin.url);
  const state = { deployments: [] as Deployment[], deploymentQueries: [] as Array<Record<string, string>>, failDeployments: undefined as number | undefined };
  const server: Server = createHttpServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (req.method === 'GET' && url.pathname === `/repos/${standin.model.owner}/${standin.model.repo}/deployments`) {
      const query = Object.fromEntries(url.searchParams.entries());
      state.deploymentQueries.push(query);
      const send = (status: number, data: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
        res.end(JSON.stringify(data));
      };
      if (req.headers.authorization?.replace(/^(token|bearer) /i, '') !== standin.model.token) return send(401, { message: 'Bad credentials' });
      const fail = state.failDeployments;
      if (fail) {
        state.failDeployments = undefined;
        return send(fail, { message: 'Service Unavailable' });
      }
      const perPage = Number(query.per_page ?? 30);
      const list = state.deployments.filter((d) => !query.environment || d.environment === query.environment).slice(0, perPage);
      return send(
        200,
        list.map((d) => ({ ...d, url: `${standin.url}/deployments/${d.id}`, node_id: `DE_${d.id}`, task: 'deploy', payload: {}, original_environment: d.environment, description: null, creator: null, updated_at: d.created_at, statuses_url: '', repository_url: '' })),
      );
    }
    const forward = httpRequest({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    forward.on('error', () => res.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return Object.assign(state, {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  });
}

/** A TCP port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

beforeAll(async () => {
  process.env[SECRET_ENV] = KNOWN_SECRET;
  process.env[TOKEN_ENV] = GH_TOKEN;
  gh = await startGithubStandin({ owner: 'acme', repo: 'web', token: GH_TOKEN });
  front = await startFront(gh);
  r = redisClient('evidence');
  app = await createAppDatabase('evidence');
  space = { keyPrefix: r.prefix, keyVersion: 1 };
  dir = mkdtempSync(join(tmpdir(), 'fbt-evidence-'));
  const file = join(dir, 'firebreak.yaml');
  const redis = (prefix: string, url = 'redis://127.0.0.1:6379/0') => `redis: { url: "${url}", keyPrefix: "${prefix}" }`;
  const postgres = (database: string) => `postgres: { database: ${database}, appRole: "${app.role}", password: { env: ${SECRET_ENV} } }`;
  writeFileSync(
    file,
    [
      `dataDir: ${join(dir, 'data')}`,
      'targets:',
      `  local: { development: true, ${redis(r.prefix)}, ${postgres(app.name)} }`,
      `  nodb: { development: true, ${redis(`${r.prefix}-nodb`)}, ${postgres(`fbt_no_such_db_${hex}`)} }`,
      `  noredis: { development: true, ${redis(`${r.prefix}-noredis`, `redis://127.0.0.1:${await closedPort()}/0`)}, ${postgres(app.name)} }`,
      `  redisonly: { development: true, ${redis(`${r.prefix}-redisonly`)} }`,
      `  gh: { development: true, ${redis(`${r.prefix}-gh`)}, github: { repo: acme/web, branch: main, token: { env: ${TOKEN_ENV} }, baseUrl: "${front.url}" } }`,
    ].join('\n'),
  );
  config = loadConfig({ file, env: {} });
  clients = new TargetClients(config);
  acts = createActivities({ config, logger: createLogger({ level: 'silent', pretty: false }), clients });
});

afterAll(async () => {
  await clients?.close();
  await app?.cleanup();
  await r?.cleanup();
  await front?.stop();
  await gh?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
  delete process.env[SECRET_ENV];
  delete process.env[TOKEN_ENV];
});

let n = 0;
const input = (opts: { mode?: Mode; target?: string; incidentId?: string; stepId?: string; args?: Record<string, unknown> } = {}): ActionInput => ({
  incidentId: opts.incidentId ?? `INC-EV-${hex}-${++n}`,
  stepId: opts.stepId ?? 'evidence',
  action: 'evidence.snapshot',
  target: opts.target ?? 'local',
  mode: opts.mode ?? 'live',
  args: opts.args ?? {},
  requestedAt: new Date().toISOString(),
});

interface Output {
  file: string;
  sha256: string;
  sources: Record<string, boolean>;
  baselineRecorded: boolean;
  roles?: { added: string[]; removed: string[]; changed: string[] } | { baseline: 'none' };
}

interface RolesSource {
  ok: boolean;
  error?: string;
  elevated: ElevatedRole[];
  baseline: { key: string; none?: string; recordedBy?: string };
  added?: string[];
  removed?: string[];
  changed?: RoleChange[];
}

const out = (res: ActionResult): Output => res.output as unknown as Output;

/** The bundle file of a result, checked against the SHA-256 the result carries. */
function bundleOf(res: ActionResult): { text: string; json: Record<string, unknown>; sources: Record<string, Record<string, unknown>> } {
  const o = out(res);
  const text = readFileSync(o.file, 'utf8');
  expect(createHash('sha256').update(text).digest('hex')).toBe(o.sha256);
  const json = JSON.parse(text) as Record<string, unknown>;
  return { text, json, sources: json.sources as Record<string, Record<string, unknown>> };
}

const rolesOf = (res: ActionResult): RolesSource => bundleOf(res).sources.roles as unknown as RolesSource;
const baselineRecord = async (): Promise<string | null> => r.redis.get(ownKey(space, 'baseline', 'roles'));

describe('evidence.snapshot', () => {
  let dbRole: string;
  let escRole: string;

  it('captures sessions, roles and the Redis deny-list state into one file whose SHA-256 is in the result', async () => {
    const now = Math.floor(Date.now() / 1000);
    const k = (key: string) => djangoKey(space, key);
    await r.redis
      .multi()
      .set(k(contractKeys.revokedJti('3f2c9a')), '1', 'EX', 3600)
      .set(k(contractKeys.revokedJti('77aa01')), '1', 'EX', 3600)
      .set(k(contractKeys.revokedJti('c0ffee')), '1', 'EX', 3600)
      .set(k(contractKeys.revokedBeforeUser('42')), String(now), 'EX', 3600)
      .set(k(contractKeys.revokedBeforeAll()), '1700000000', 'EX', 3600)
      .set(k(contractKeys.ban('203.0.113.7/32')), String(now + 3600), 'EX', 3600)
      .set(k(contractKeys.ban('198.51.100.0/24')), String(now + 7200), 'EX', 7200)
      .zadd(ownKey(space, BAN_REGISTRY), now + 3600, '203.0.113.7/32', now + 7200, '198.51.100.0/24', now - 60, '192.0.2.9/32')
      .set(k(LOCKDOWN_KEY), '1')
      // Not ours to count: another cache version, and a key merely starting with our prefix.
      .set(djangoKey({ ...space, keyVersion: 2 }, contractKeys.revokedJti('other-version')), '1', 'EX', 3600)
      .set(`${r.prefix}x:1:${contractKeys.revokedJti('other-prefix')}`, '1', 'EX', 3600)
      .exec();
    // A role already elevated before the first snapshot (it changes later), and one that is not yet.
    dbRole = await app.createRole(`fbt_ev_db_${hex}`, 'NOLOGIN CREATEDB');
    escRole = await app.createRole(`fbt_ev_esc_${hex}`, 'LOGIN');
    const s1 = await app.connectAs();
    const s2 = await app.connectAs();
    await s1.query('SELECT count(*) FROM public.auth_user');

    const res = await acts.evidenceSnapshot(input());
    const o = out(res);
    expect(o.sources).toEqual({ sessions: true, roles: true, redis: true });
    expect(o.file.startsWith(join(config.dataDir, 'evidence', `INC-EV-${hex}-1`, 'evidence-'))).toBe(true);
    expect(o.file).not.toContain(':');
    expect(o.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(res.proof).toMatchObject({ sha256: o.sha256 });
    expect(res.changed).toBe(false);

    const { json, sources, text } = bundleOf(res);
    expect(Object.keys(json)).toEqual([...Object.keys(json)].sort());
    expect(text).toContain('\n  "incidentId"'); // pretty
    expect(json).toMatchObject({ kind: 'firebreak.evidence', target: 'local', mode: 'live', skipped: { github: 'the target has no github section' } });

    expect(sources.redis).toMatchObject({
      ok: true,
      revokedJtis: 3,
      userEpochs: 1,
      globalEpoch: { value: 1700000000, at: '2023-11-14T22:13:20.000Z' },
      bans: { registry: 3, active: 2, keys: 2 },
      lockdown: { on: true, raw: '1' },
    });

    const sessions = sources.sessions as { ok: boolean; database: string; count: number; rows: Array<{ usename: string; state: string; query: string; backend_start: string }> };
    expect(sessions.ok).toBe(true);
    expect(sessions.database).toBe(app.name);
    const mine = sessions.rows.filter((row) => row.usename === app.role);
    expect(mine).toHaveLength(2);
    expect(mine.map((row) => row.query)).toContain('SELECT count(*) FROM public.auth_user');
    expect(mine.every((row) => row.state === 'idle' && !Number.isNaN(Date.parse(row.backend_start)))).toBe(true);
    expect(sessions.count).toBe(sessions.rows.length);

    const roles = sources.roles as unknown as RolesSource;
    expect(roles.ok).toBe(true);
    expect(roles.baseline.none).toBe('no baseline yet');
    expect(roles.added).toBeUndefined();
    expect(roles.elevated.find((x) => x.name === 'postgres')).toMatchObject({ attributes: expect.arrayContaining(['SUPERUSER']) as unknown });
    expect(roles.elevated.find((x) => x.name === dbRole)).toMatchObject({ attributes: ['CREATEDB'], memberOf: [], canLogin: false });
    expect(roles.elevated.some((x) => x.name === escRole || x.name === app.role)).toBe(false);
    expect(o.roles).toEqual({ baseline: 'none' });
    expect(o.baselineRecorded).toBe(true);
    expect(res.summary).toMatch(/^evidence: 3\/3 sources \(sessions \d+, roles: \d+ elevated, no baseline yet, redis \(lockdown ON\)\)$/);
    await s1.end();
    await s2.end();
  });

  it('reports a role elevated since the baseline as added or changed; dry-run never moves the baseline; a retry compares against the same baseline', async () => {
    const suRole = await app.createRole(`fbt_ev_su_${hex}`, 'NOLOGIN SUPERUSER');
    const memberRole = await app.createRole(`fbt_ev_mem_${hex}`, 'LOGIN');
    await app.admin.query(`ALTER ROLE ${pg.escapeIdentifier(escRole)} CREATEROLE`);
    await app.admin.query(`ALTER ROLE ${pg.escapeIdentifier(dbRole)} CREATEROLE`);
    await app.admin.query(`GRANT pg_write_all_data TO ${pg.escapeIdentifier(memberRole)}`);
    const recorded = await baselineRecord();
    expect(recorded).not.toBeNull();

    const checkElevation = (res: ActionResult) => {
      const roles = rolesOf(res);
      expect(roles.baseline.none).toBeUndefined();
      expect(roles.added).toEqual(expect.arrayContaining([escRole, suRole, memberRole]));
      const changed = roles.changed?.find((c) => c.name === dbRole);
      expect(changed?.before.attributes).toEqual(['CREATEDB']);
      expect(changed?.after.attributes).toEqual(['CREATEROLE', 'CREATEDB']);
      expect(roles.elevated.find((x) => x.name === memberRole)?.memberOf).toEqual(['pg_write_all_data']);
      expect(roles.elevated.find((x) => x.name === suRole)?.attributes).toEqual(['SUPERUSER']);
      const o = out(res).roles as { added: string[]; changed: string[] };
      expect(o.added).toEqual(expect.arrayContaining([escRole, suRole, memberRole]));
      expect(o.changed).toContain(dbRole);
      expect(res.summary).toMatch(/roles: \d+ added, \d+ changed since baseline/);
    };

    // Dry-run captures (evidence is read-only) but leaves the baseline where it was, twice over.
    for (let i = 0; i < 2; i++) {
      const dry = await acts.evidenceSnapshot(input({ mode: 'dry-run' }));
      checkElevation(dry);
      expect(out(dry).baselineRecorded).toBe(false);
      expect(bundleOf(dry).json.baseline).toMatchObject({ recorded: false, reason: 'dry-run never moves the baseline' });
      expect(dry.plan?.[0]).toMatch(/^captured .*evidence-.*\.json/);
      expect(await baselineRecord()).toBe(recorded);
    }

    // baseline: false compares without recording.
    const noRecord = await acts.evidenceSnapshot(input({ args: { baseline: false } }));
    checkElevation(noRecord);
    expect(await baselineRecord()).toBe(recorded);

    // Live records; a retry of that same step (same incident and step) still reports the elevation.
    const live = input({ stepId: 'evidence-before' });
    checkElevation(await acts.evidenceSnapshot(live));
    expect(await baselineRecord()).not.toBe(recorded);
    const retried = await acts.evidenceSnapshot({ ...live, requestedAt: live.requestedAt });
    checkElevation(retried);
    expect(rolesOf(retried).baseline.recordedBy).toBe(`INC-EV-${hex}-1/evidence`);

    // The next incident's snapshot compares against the moved baseline: nothing of ours added.
    await app.admin.query(`DROP ROLE ${pg.escapeIdentifier(suRole)}`);
    const after = await acts.evidenceSnapshot(input({ mode: 'drill' }));
    const roles = rolesOf(after);
    expect(roles.baseline.recordedBy).toBe(`${live.incidentId}/evidence-before`);
    expect(roles.added).not.toContain(escRole);
    expect(roles.changed?.map((c) => c.name) ?? []).not.toContain(dbRole);
    expect(roles.removed).toContain(suRole);
    expect(out(after).baselineRecorded).toBe(true);
  });

  it('redacts literals, numbers, credentials and configured secrets from the sessions it lists', async () => {
    const sneaky = new pg.Client({
      connectionString: `postgres://${encodeURIComponent(app.role)}@127.0.0.1:5432/${app.name}`,
      application_name: `sync postgres://bob:hunter3@db/app ${KNOWN_SECRET}`,
    });
    sneaky.on('error', () => undefined);
    await sneaky.connect();
    const other = await app.connectAs();
    try {
      await sneaky.query("WITH creds(password) AS (VALUES ('x')) SELECT count(*) FROM creds WHERE password = 'hunter2' AND 7 > 3 /* token=hunter5 */");
      // pg_stat_activity keeps the first 1024 bytes: this literal is cut in half there.
      await other.query(`SELECT '${'a'.repeat(1000)}' AS pad, 'hunter4hunter4hunter4hunter4hunter4' AS x`);

      const res = await acts.evidenceSnapshot(input());
      const { text, sources } = bundleOf(res);
      for (const secret of ['hunter2', 'hunter3', 'hunter4', 'hunter5', KNOWN_SECRET]) expect(text).not.toContain(secret);
      const rows = (sources.sessions as { rows: Array<{ pid: number; query: string; application_name: string }> }).rows;
      const pid = (c: pg.Client) => (c as unknown as { processID: number }).processID;
      const sneakyRow = rows.find((row) => row.pid === pid(sneaky));
      expect(sneakyRow?.query).toBe("WITH creds(password) AS (VALUES ('?')) SELECT count(*) FROM creds WHERE password = '?' AND ? > ? /* token=[REDACTED] */");
      expect(sneakyRow?.application_name).toBe('sync postgres://db/app [REDACTED]');
      const cut = rows.find((row) => row.pid === pid(other));
      expect(cut?.query).toBe("SELECT '?' AS pad, '?'");
    } finally {
      await sneaky.end();
    }
  });

  it('records a failing source and still succeeds with the others', async () => {
    const noDb = await acts.evidenceSnapshot(input({ target: 'nodb' }));
    expect(out(noDb).sources).toEqual({ sessions: false, roles: false, redis: true });
    const bundle = bundleOf(noDb);
    expect(bundle.sources.sessions).toEqual({ ok: false, error: expect.stringMatching(/does not exist/) as unknown });
    expect(bundle.sources.roles).toMatchObject({ ok: false });
    expect(bundle.json.baseline).toMatchObject({ recorded: false, reason: 'roles were not captured' });
    expect(out(noDb).baselineRecorded).toBe(false);
    expect(noDb.summary).toBe('evidence: 1/3 sources (sessions FAILED, roles FAILED, redis)');

    const noRedis = await acts.evidenceSnapshot(input({ target: 'noredis' }));
    expect(out(noRedis).sources).toEqual({ sessions: true, roles: true, redis: false });
    const b2 = bundleOf(noRedis);
    expect(b2.sources.redis).toMatchObject({ ok: false, error: expect.stringMatching(/ECONNREFUSED|connect|closed|retries/i) as unknown });
    // The roles are captured; the baseline could neither be read nor recorded.
    expect((b2.sources.roles as unknown as RolesSource).baseline.none).toMatch(/^baseline unreadable/);
    expect(b2.json.baseline).toMatchObject({ recorded: false, error: expect.any(String) as unknown });
    expect(noRedis.summary).toMatch(/^evidence: 2\/3 sources \(sessions \d+, roles: \d+ elevated, no baseline yet, redis FAILED\)$/);

    const redisOnly = await acts.evidenceSnapshot(input({ target: 'redisonly' }));
    expect(out(redisOnly).sources).toEqual({ redis: true });
    expect(bundleOf(redisOnly).json.skipped).toEqual({
      sessions: 'the target has no postgres section',
      roles: 'the target has no postgres section',
      github: 'the target has no github section',
    });
    expect(redisOnly.summary).toBe('evidence: 1/1 sources (redis)');
  });

  it('github: the protected branch head, its signature and the deployed sha (through the stand-in)', async () => {
    const old = gh.model.push('main', { message: 'release 1' });
    const head = gh.model.push('main', { message: 'release 2' });
    front.deployments = [
      { id: 2, sha: head, ref: 'main', environment: 'production', created_at: '2026-01-02T00:00:00Z' },
      { id: 1, sha: old, ref: 'main', environment: 'production', created_at: '2026-01-01T00:00:00Z' },
    ];
    const res = await acts.evidenceSnapshot(input({ target: 'gh' }));
    expect(out(res).sources).toEqual({ redis: true, github: true });
    expect(res.summary).toBe('evidence: 2/2 sources (redis, github deployed=head)');
    const { sources, text } = bundleOf(res);
    expect(sources.github).toEqual({
      ok: true,
      repo: 'acme/web',
      branch: 'main',
      head: { sha: head, verified: true, reason: 'valid' },
      deployed: { sha: head, ref: 'main', environment: 'production', id: 2, createdAt: '2026-01-02T00:00:00Z' },
      deployedIsHead: true,
    });
    expect(res.output?.github).toEqual({ head, verified: true, deployed: head, deployedIsHead: true });
    expect(gh.callsTo('GET /repos/{owner}/{repo}/commits/{ref}').at(-1)?.path).toBe('/repos/acme/web/commits/main');
    expect(front.deploymentQueries.at(-1)).toMatchObject({ environment: 'production', per_page: '1' });
    expect(text).not.toContain(GH_TOKEN);

    // An unsigned commit pushed on top of the deployed one.
    const rogue = gh.model.push('main', { verified: false });
    const drift = await acts.evidenceSnapshot(input({ target: 'gh' }));
    expect(drift.summary).toBe('evidence: 2/2 sources (redis, github deployed≠head, head NOT verified)');
    expect(bundleOf(drift).sources.github).toMatchObject({ head: { sha: rogue, verified: false, reason: 'unsigned' }, deployed: { sha: head }, deployedIsHead: false });

    front.deployments = [];
    const none = await acts.evidenceSnapshot(input({ target: 'gh' }));
    expect(bundleOf(none).sources.github).toMatchObject({ deployed: { sha: 'unknown', note: 'no production deployments' }, deployedIsHead: false });
    expect(none.summary).toContain('github deployed unknown');
  });

  it('github: a failing GitHub is recorded and the other sources go on', async () => {
    gh.failNext('GET /repos/{owner}/{repo}/commits/{ref}', 500);
    const res = await acts.evidenceSnapshot(input({ target: 'gh' }));
    expect(out(res).sources).toEqual({ redis: true, github: false });
    expect(res.summary).toBe('evidence: 1/2 sources (redis, github FAILED)');
    expect(bundleOf(res).sources.github).toEqual({ ok: false, error: expect.stringMatching(/commits\/\{ref\}.*500/) as unknown });

    // Deployments unreadable: the head is still evidence, and "unreadable" is not "none".
    front.failDeployments = 503;
    const partial = await acts.evidenceSnapshot(input({ target: 'gh' }));
    expect(out(partial).sources).toEqual({ redis: true, github: true });
    expect(bundleOf(partial).sources.github).toMatchObject({ ok: true, deployed: { sha: 'unknown', error: expect.stringMatching(/503/) as unknown }, deployedIsHead: false });
    expect(partial.summary).toContain('github deployed unreadable');
  });

  it('fails only when the evidence folder cannot be written, or on bad input', async () => {
    const blocker = join(dir, 'not-a-folder');
    writeFileSync(blocker, '');
    const cfg = loadConfig({ file: join(dir, 'firebreak.yaml'), env: { FIREBREAK_DATA_DIR: blocker } });
    const blocked = createEvidenceActivities({ config: cfg, logger: createLogger({ level: 'silent', pretty: false }), clients });
    await expect(blocked.evidenceSnapshot(input({ target: 'redisonly' }))).rejects.toThrow(/ENOTDIR|EEXIST/);
    await expect(acts.evidenceSnapshot(input({ args: { baseline: 'yes' } }))).rejects.toMatchObject({ type: 'FirebreakBadInput', message: expect.stringMatching(/baseline must be true or false, got "yes"/) });
  });
});
