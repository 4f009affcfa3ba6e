/**
 * secrets.rotate_db_password and secrets.rotate_jwt_key against real services:
 * a private PostgreSQL with SCRAM password authentication (new password logs
 * in, old is refused), the shared trust-auth server (only the verifier can
 * prove it, and the proof says so), dotenv sinks, Redis for the revocation
 * epoch, and Firebreak's own database for the pending records. No secret value
 * may appear in results, logs, errors, or the PostgreSQL server log.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TargetClients } from '../../activities/deps.js';
import { createSecretActivities } from '../../activities/secrets/index.js';
import { createDotenvSink } from '../../activities/sinks/dotenv.js';
import { loadConfig, type Config } from '../../lib/config.js';
import { createLogger } from '../../lib/logger.js';
import { contractKeys, djangoKey } from '../../lib/redis-keys.js';
import { FailureTypes, type ActionInput, type ActionResult } from '../../workflows/definitions.js';
import { scramMatches, startScramPostgres, tryLogin, verifierOf, type ScramPostgres } from '../helpers/scram-postgres.js';
import { createTestDatabase, POSTGRES_ADMIN_URL, redisClient, type TestDatabase, type TestRedis } from '../helpers/services.js';

const hex = randomBytes(4).toString('hex');
const OWN_DB = `fbt_secrets_own_${hex}`;
const SCRAM_ROLE = `Fbt_App$${hex}`;
const TRUST_ROLE = `fbt_sec_trust_${hex}`;
const OLD_PASSWORD = `old-${randomBytes(9).toString('base64url')}`;
/** A CREATEROLE admin that is not a superuser (cannot read pg_authid), the role it rotates, and a superuser it may not touch. */
const LIMITED_ADMIN = `fbt_limited_${hex}`;
const LIMITED_ROLE = `fbt_app2_${hex}`;
const SUPER_ROLE = `fbt_super_${hex}`;
const LIMITED_PASSWORD = randomBytes(12).toString('base64url');
const INCIDENT = `INC-SECRETS-${hex}`;

let scram: ScramPostgres;
let trustDb: TestDatabase;
let redis: TestRedis;
let rootAdmin: pg.Client;
let dir: string;
let config: Readonly<Config>;
const allClients: TargetClients[] = [];
const logLines: string[] = [];
/** Everything that left an activity: results and error messages, as JSON. */
const emitted: string[] = [];
/** Every secret value seen (read from the sinks), to look for afterwards. */
const secrets = new Set<string>([OLD_PASSWORD]);
let step = 0;

const logger = createLogger({ level: 'debug', destination: { write: (line: string) => void logLines.push(line) } });
const fp = (v: string) => createHash('sha256').update(v).digest('hex').slice(0, 12);
const envFile = (name: string) => join(dir, name);
const sinkValue = async (file: string, name: string) => {
  const v = await createDotenvSink(file).get?.(name);
  if (v !== undefined) secrets.add(v);
  return v;
};

function writeConfig(name: string, body: string[]): Readonly<Config> {
  const file = join(dir, name);
  writeFileSync(file, body.join('\n'));
  return loadConfig({ file, env: {} });
}

function configLines(opts: { encryption?: boolean; brokenSinks?: string[] } = {}): string[] {
  const scramPg = `postgres: { adminUrl: "${scram.adminUrl}", password: { file: "${scram.passwordFile}" }, database: appdb, appRole: "${SCRAM_ROLE}" }`;
  return [
    `database: { url: "postgres://postgres@127.0.0.1:5432/${OWN_DB}" }`,
    ...(opts.encryption === false ? [] : ['encryption:', '  current: k2', '  keys:', `    - { id: k1, secret: { file: "${join(dir, 'k1.key')}" } }`, `    - { id: k2, secret: { file: "${join(dir, 'k2.key')}" } }`]),
    'defaultTarget: scram',
    'targets:',
    '  scram:',
    `    redis: { url: "redis://127.0.0.1:6379/0", keyPrefix: "${redis.prefix}-scram" }`,
    `    ${scramPg}`,
    `    secrets: { sinks: [{ type: dotenv, path: "${envFile('scram.env')}" }] }`,
    '  trust:',
    `    redis: { url: "redis://127.0.0.1:6379/0", keyPrefix: "${redis.prefix}" }`,
    `    postgres: { database: ${trustDb.name}, appRole: ${TRUST_ROLE} }`,
    `    secrets: { sinks: [{ type: dotenv, path: "${envFile('trust.env')}" }, { type: dotenv, path: "${envFile('trust-copy.env')}" }] }`,
    '  broken:',
    `    redis: { url: "redis://127.0.0.1:6379/0", keyPrefix: "${redis.prefix}-broken" }`,
    `    ${scramPg}`,
    `    secrets: { sinks: [${(opts.brokenSinks ?? [envFile('ok.env'), join(envFile('not-a-dir'), 'sub.env')]).map((p) => `{ type: dotenv, path: "${p}" }`).join(', ')}] }`,
    '  limited:',
    `    redis: { url: "redis://127.0.0.1:6379/0", keyPrefix: "${redis.prefix}-limited" }`,
    `    postgres: { adminUrl: "postgres://${LIMITED_ADMIN}@127.0.0.1:${scram.port}/postgres", password: { file: "${join(dir, 'limited.pw')}" }, database: appdb, appRole: ${LIMITED_ROLE} }`,
    `    secrets: { sinks: [{ type: dotenv, path: "${envFile('limited.env')}" }] }`,
    '  gh:',
    `    redis: { url: "redis://127.0.0.1:6379/0", keyPrefix: "${redis.prefix}-gh" }`,
    '    github: { repo: acme/app, baseUrl: "http://127.0.0.1:9" }',
    `    secrets: { sinks: [{ type: dotenv, path: "${envFile('gh.env')}" }, { type: github }] }`,
  ];
}

function activities(cfg: Readonly<Config> = config) {
  const clients = new TargetClients(cfg);
  allClients.push(clients);
  return createSecretActivities({ config: cfg, logger, clients });
}

function input(target: string, args: Record<string, unknown>, over: Partial<ActionInput> = {}): ActionInput {
  step += 1;
  return { incidentId: INCIDENT, stepId: `rotate-${step}`, action: 'secrets.rotate_db_password', target, mode: 'live', args, requestedAt: new Date().toISOString(), ...over };
}

async function run(fn: () => Promise<ActionResult>): Promise<ActionResult> {
  const result = await fn();
  emitted.push(JSON.stringify(result));
  return result;
}

async function failure(fn: () => Promise<ActionResult>): Promise<ApplicationFailure> {
  const err = await fn().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApplicationFailure);
  const f = err as ApplicationFailure;
  emitted.push(JSON.stringify({ message: f.message, type: f.type, stack: f.stack, details: f.details }));
  return f;
}

async function pendingRows(stepId: string) {
  const own = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:5432/${OWN_DB}` });
  await own.connect();
  try {
    const { rows } = await own.query<{ value_enc: Buffer | null; fingerprint: string; completed_at: Date | null; kind: string }>(
      'SELECT value_enc, fingerprint, completed_at, kind FROM firebreak.pending_secrets WHERE incident_id = $1 AND step_id = $2',
      [INCIDENT, stepId],
    );
    return rows;
  } finally {
    await own.end();
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fbt-secrets-'));
  writeFileSync(join(dir, 'k1.key'), randomBytes(32).toString('base64'));
  writeFileSync(join(dir, 'k2.key'), randomBytes(32).toString('hex'));
  writeFileSync(envFile('not-a-dir'), 'a file, so nothing can be created under it\n');
  [scram, trustDb] = await Promise.all([startScramPostgres(), createTestDatabase('secrets-trust')]);
  redis = redisClient('secrets');
  await scram.admin.query(`CREATE ROLE ${pg.escapeIdentifier(SCRAM_ROLE)} LOGIN PASSWORD ${pg.escapeLiteral(OLD_PASSWORD)}`);
  await scram.admin.query('CREATE DATABASE appdb');
  await scram.admin.query(`CREATE ROLE ${LIMITED_ADMIN} LOGIN CREATEROLE PASSWORD ${pg.escapeLiteral(LIMITED_PASSWORD)}`);
  await scram.admin.query(`CREATE ROLE ${LIMITED_ROLE} LOGIN PASSWORD ${pg.escapeLiteral(OLD_PASSWORD)}`);
  await scram.admin.query(`CREATE ROLE ${SUPER_ROLE} LOGIN SUPERUSER PASSWORD ${pg.escapeLiteral(OLD_PASSWORD)}`);
  writeFileSync(join(dir, 'limited.pw'), `${LIMITED_PASSWORD}\n`);
  // Every statement the server runs goes to its log from here on: a password sent in clear would show.
  await scram.admin.query("ALTER SYSTEM SET log_statement = 'all'");
  await scram.admin.query('SELECT pg_reload_conf()');
  rootAdmin = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
  await rootAdmin.connect();
  await rootAdmin.query(`CREATE ROLE ${TRUST_ROLE} LOGIN PASSWORD ${pg.escapeLiteral(OLD_PASSWORD)}`);
  config = writeConfig('firebreak.yaml', configLines());
});

afterAll(async () => {
  await Promise.allSettled(allClients.map((c) => c.close()));
  await rootAdmin?.query(`DROP DATABASE IF EXISTS ${OWN_DB} WITH (FORCE)`).catch(() => undefined);
  await trustDb?.drop();
  await rootAdmin?.query(`DROP ROLE IF EXISTS ${TRUST_ROLE}`).catch(() => undefined);
  await rootAdmin?.end();
  await scram?.admin.query(`DROP ROLE IF EXISTS ${SUPER_ROLE}`).catch(() => undefined);
  await redis?.cleanup();
  await scram?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const scramConn = () => ({ host: '127.0.0.1', port: scram.port, database: 'appdb' });

describe('secrets.rotate_db_password', () => {
  it('on a SCRAM server: publishes the new password, which logs in while the old one is refused; the verifier proves it too', async () => {
    writeFileSync(envFile('scram.env'), `# the app\nDATABASE_PASSWORD=${OLD_PASSWORD}\nOTHER=keep # me\n`, { mode: 0o644 });
    const before = await verifierOf(scram.admin, SCRAM_ROLE);
    expect(scramMatches(before ?? '', OLD_PASSWORD)).toBe(true);
    const acts = activities();
    const req = input('scram', { secret_name: 'DATABASE_PASSWORD' });
    const result = await run(() => acts.secretsRotateDbPassword(req));

    const fresh = (await sinkValue(envFile('scram.env'), 'DATABASE_PASSWORD')) as string;
    expect(fresh).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(readFileSync(envFile('scram.env'), 'utf8')).toBe(`# the app\nDATABASE_PASSWORD=${fresh}\nOTHER=keep # me\n`);
    expect(await tryLogin(scramConn(), SCRAM_ROLE, fresh)).toBe('ok');
    expect(await tryLogin(scramConn(), SCRAM_ROLE, OLD_PASSWORD)).toBe('28P01');
    const after = (await verifierOf(scram.admin, SCRAM_ROLE)) as string;
    expect(after).not.toBe(before);
    expect(scramMatches(after, fresh)).toBe(true);
    expect(scramMatches(after, OLD_PASSWORD)).toBe(false);

    expect(result.changed).toBe(true);
    expect(result.summary).toBe(
      `rotated the password of "${SCRAM_ROLE}": DATABASE_PASSWORD (password, fingerprint ${fp(fresh)}) published to dotenv ${envFile('scram.env')}; the pg_authid verifier matches it; it logs in, the old password is refused (28P01)`,
    );
    expect(result.output).toEqual({ role: SCRAM_ROLE, secretName: 'DATABASE_PASSWORD', format: 'password', fingerprint: fp(fresh), sinks: [`dotenv ${envFile('scram.env')}`] });
    expect(result.proof?.login).toBe('new password accepted; old password refused (28P01)');
    expect(result.proof?.verifier).toBe('matches the new password; differs from the verifier before the rotation; the old password does not match');
    expect(result.proof?.sinks).toEqual({ [`dotenv ${envFile('scram.env')}`]: 'read back: matches' });

    // Firebreak's database was created; the record is completed and holds no value any more.
    const rows = await pendingRows(req.stepId);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ kind: 'db_password', fingerprint: fp(fresh), value_enc: null });
    expect(rows[0]?.completed_at).toBeInstanceOf(Date);

    // The same step again (a retry after completion): the same value, nothing changed.
    const again = await run(() => acts.secretsRotateDbPassword(req));
    expect(again.summary).toMatch(/already rotated by an earlier attempt/);
    expect(again.output?.fingerprint).toBe(fp(fresh));
    expect(await verifierOf(scram.admin, SCRAM_ROLE)).toBe(after);
    expect(await sinkValue(envFile('scram.env'), 'DATABASE_PASSWORD')).toBe(fresh);
  });

  it('format url publishes a connection URL for the role that connects', async () => {
    const previous = (await sinkValue(envFile('scram.env'), 'DATABASE_PASSWORD')) as string;
    const result = await run(() => activities().secretsRotateDbPassword(input('scram', { secret_name: 'DATABASE_URL', format: 'url', role: SCRAM_ROLE })));
    const url = (await sinkValue(envFile('scram.env'), 'DATABASE_URL')) as string;
    const password = decodeURIComponent(new URL(url).password);
    secrets.add(password);
    expect(url).toBe(`postgres://${encodeURIComponent(SCRAM_ROLE)}:${password}@127.0.0.1:${scram.port}/appdb`);
    expect(readFileSync(envFile('scram.env'), 'utf8')).toContain(`DATABASE_URL="${url}"\n`); // the role's $ is %24: quoted
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    expect((await c.query<{ u: string }>('SELECT current_user AS u')).rows[0]?.u).toBe(SCRAM_ROLE);
    await c.end();
    expect(await tryLogin(scramConn(), SCRAM_ROLE, previous)).toBe('28P01');
    expect(result.output?.fingerprint).toBe(fp(url));
    expect(result.proof?.login).toMatch(/^new password accepted; the old password is not known to Firebreak/);
  });

  it('on the trust-auth server: the verifier proves it, and the proof says login checks were impossible', async () => {
    const before = await verifierOf(rootAdmin, TRUST_ROLE);
    const result = await run(() => activities().secretsRotateDbPassword(input('trust', { secret_name: 'DB_PASSWORD' })));
    const fresh = (await sinkValue(envFile('trust.env'), 'DB_PASSWORD')) as string;
    expect(await sinkValue(envFile('trust-copy.env'), 'DB_PASSWORD')).toBe(fresh);
    const after = (await verifierOf(rootAdmin, TRUST_ROLE)) as string;
    expect(after).not.toBe(before);
    expect(scramMatches(after, fresh)).toBe(true);
    expect(scramMatches(after, OLD_PASSWORD)).toBe(false);
    expect(result.proof?.login).toMatch(/^impossible: the server lets "fbt_sec_trust_[0-9a-f]+" in without checking its password \(trust authentication\); the verifier is the proof$/);
    expect(result.proof?.verifier).toMatch(/^matches the new password; differs from the verifier before the rotation/);
    expect(result.summary).toContain('; the pg_authid verifier matches it; login checks impossible: the server lets');
  });

  it('dry-run plans and changes nothing', async () => {
    const before = await verifierOf(scram.admin, SCRAM_ROLE);
    const file = readFileSync(envFile('scram.env'), 'utf8');
    const req = input('scram', { secret_name: 'DATABASE_PASSWORD' }, { mode: 'dry-run' });
    const result = await run(() => activities().secretsRotateDbPassword(req));
    expect(result.changed).toBe(false);
    expect(result.plan).toContain(`ALTER ROLE ${pg.escapeIdentifier(SCRAM_ROLE)} PASSWORD '<SCRAM-SHA-256 verifier of the new password>'`);
    expect(result.plan?.at(-1)).toBe(`verify: a login as "${SCRAM_ROLE}" with the new password succeeds, with the old one fails`);
    expect(await verifierOf(scram.admin, SCRAM_ROLE)).toBe(before);
    expect(readFileSync(envFile('scram.env'), 'utf8')).toBe(file);
    expect(await pendingRows(req.stepId)).toEqual([]);
  });

  it.each([
    ['the superuser', () => 'postgres'],
    ['a superuser role', () => SUPER_ROLE],
    ['an unknown role', () => `fbt_nobody_${hex}`],
  ])('a role other than the app role (%s) is refused by the activity itself, nothing recorded or published, its password unchanged', async (_label, role) => {
    const file = readFileSync(envFile('scram.env'), 'utf8');
    const before = await verifierOf(scram.admin, role());
    const req = input('scram', { secret_name: 'DATABASE_PASSWORD', role: role() });
    const f = await failure(() => activities().secretsRotateDbPassword(req));
    // Called without createActivities' entry check: the activity's own check refuses it.
    expect(f.type).toBe(FailureTypes.Refused);
    expect(f.nonRetryable).toBe(true);
    expect(f.message).toBe(`secrets.rotate_db_password refused, nothing was changed: role must be the target's app role "${SCRAM_ROLE}" (postgres.appRole), got "${role()}": Firebreak rotates no other role's password`);
    expect(readFileSync(envFile('scram.env'), 'utf8')).toBe(file);
    expect(await verifierOf(scram.admin, role())).toBe(before);
    expect(await pendingRows(req.stepId)).toEqual([]);
  });

  it('an app role configured as a superuser is refused before anything is published', async () => {
    const lines = configLines().map((l) => l.replace(`appRole: "${SCRAM_ROLE}"`, `appRole: "${SUPER_ROLE}"`));
    const cfg = writeConfig('super-app.yaml', lines);
    const file = readFileSync(envFile('scram.env'), 'utf8');
    const before = await verifierOf(scram.admin, SUPER_ROLE);
    const req = input('scram', { secret_name: 'DATABASE_PASSWORD' });
    const f = await failure(() => activities(cfg).secretsRotateDbPassword(req));
    expect(f.type).toBe(FailureTypes.Refused);
    expect(f.message).toBe(`role "${SUPER_ROLE}" on target "scram" is a superuser: Firebreak rotates only a plain app role's password into the app's secret sinks; nothing was changed`);
    expect(readFileSync(envFile('scram.env'), 'utf8')).toBe(file);
    expect(await verifierOf(scram.admin, SUPER_ROLE)).toBe(before);
    expect(await pendingRows(req.stepId)).toEqual([]);
  });

  it('a sink that cannot be written fails the step before ALTER ROLE, without the value; the retry publishes the same value and converges', async () => {
    const before = await verifierOf(scram.admin, SCRAM_ROLE);
    const req = input('broken', { secret_name: 'DATABASE_PASSWORD' });
    const f = await failure(() => activities().secretsRotateDbPassword(req));
    const published = (await sinkValue(envFile('ok.env'), 'DATABASE_PASSWORD')) as string;
    expect(published).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(f.type).toBe(FailureTypes.BadInput);
    expect(f.message).toContain(`publishing DATABASE_PASSWORD to dotenv ${join(envFile('not-a-dir'), 'sub.env')} failed`);
    expect(f.message).toContain('ENOTDIR');
    expect(f.message).not.toContain(published);
    expect(f.stack ?? '').not.toContain(published);
    // The database still has the password it had: nothing was altered.
    expect(await verifierOf(scram.admin, SCRAM_ROLE)).toBe(before);
    expect((await pendingRows(req.stepId))[0]?.completed_at).toBeNull();

    // An operator fixes the sink list and retries the step: the recorded value, not a new one.
    const fixed = writeConfig('fixed.yaml', configLines({ brokenSinks: [envFile('ok.env')] }));
    const result = await run(() => activities(fixed).secretsRotateDbPassword(req));
    expect(await sinkValue(envFile('ok.env'), 'DATABASE_PASSWORD')).toBe(published);
    expect(scramMatches((await verifierOf(scram.admin, SCRAM_ROLE)) as string, published)).toBe(true);
    expect(await tryLogin(scramConn(), SCRAM_ROLE, published)).toBe('ok');
    expect(result.output?.fingerprint).toBe(fp(published));
    const rows = await pendingRows(req.stepId);
    expect(rows).toHaveLength(1);
    expect(rows[0]?.value_enc).toBeNull();
  });

  it('refuses without payload encryption, before anything happens', async () => {
    const noEnc = writeConfig('noenc.yaml', configLines({ encryption: false }));
    const req = input('scram', { secret_name: 'DATABASE_PASSWORD' });
    const f = await failure(() => activities(noEnc).secretsRotateDbPassword(req));
    expect(f.type).toBe(FailureTypes.Refused);
    expect(f.nonRetryable).toBe(true);
    expect(f.message).toMatch(/^secret rotation needs payload encryption configured: the pending value is stored encrypted/);
    const jwt = await failure(() => activities(noEnc).secretsRotateJwtKey({ ...input('trust', {}), action: 'secrets.rotate_jwt_key' }));
    expect(jwt.message).toMatch(/^secret rotation needs payload encryption configured/);
  });
});

describe('an admin that is not a superuser', () => {
  it('rotates with login proofs only (pg_authid is unreadable), the old password checked by logging in with it', async () => {
    writeFileSync(envFile('limited.env'), `APP2_PASSWORD=${OLD_PASSWORD}\n`);
    const result = await run(() => activities().secretsRotateDbPassword(input('limited', { secret_name: 'APP2_PASSWORD' })));
    const fresh = (await sinkValue(envFile('limited.env'), 'APP2_PASSWORD')) as string;
    expect(await tryLogin(scramConn(), LIMITED_ROLE, fresh)).toBe('ok');
    expect(await tryLogin(scramConn(), LIMITED_ROLE, OLD_PASSWORD)).toBe('28P01');
    expect(scramMatches((await verifierOf(scram.admin, LIMITED_ROLE)) as string, fresh)).toBe(true);
    expect(result.proof).toMatchObject({ verifier: 'unavailable: the admin may not read pg_authid', login: 'new password accepted; old password refused (28P01)' });
  });

  it('refuses, before publishing anything, a superuser in place of the app role', async () => {
    const file = readFileSync(envFile('limited.env'), 'utf8');
    const req = input('limited', { secret_name: 'APP2_PASSWORD', role: SUPER_ROLE });
    const f = await failure(() => activities().secretsRotateDbPassword(req));
    expect(f.type).toBe(FailureTypes.Refused);
    expect(f.message).toMatch(new RegExp(`role must be the target's app role "${LIMITED_ROLE}" \\(postgres\\.appRole\\), got "${SUPER_ROLE.replace(/\$/g, '\\$')}"`));
    expect(readFileSync(envFile('limited.env'), 'utf8')).toBe(file);
    expect(await pendingRows(req.stepId)).toEqual([]);
    expect(await tryLogin(scramConn(), SUPER_ROLE, OLD_PASSWORD)).toBe('ok');
  });
});

describe('secrets.rotate_jwt_key', () => {
  it('refuses a name GitHub would refuse before writing any sink', async () => {
    const req = input('gh', { secret_name: 'GITHUB_SIGNING_KEY' }, { action: 'secrets.rotate_jwt_key' });
    const f = await failure(() => activities().secretsRotateJwtKey(req));
    expect(f.type).toBe(FailureTypes.BadInput);
    expect(f.message).toMatch(/^secret_name GITHUB_SIGNING_KEY cannot be published to GitHub: .*GITHUB_/);
    expect(await sinkValue(envFile('gh.env'), 'GITHUB_SIGNING_KEY')).toBeUndefined();
    expect(await pendingRows(req.stepId)).toEqual([]);
  });

  it('publishes an 86-character base64url key to every sink, then sets the global "revoked before" epoch', async () => {
    const requestedAt = new Date(Date.now() - 1500).toISOString();
    const req = input('trust', {}, { action: 'secrets.rotate_jwt_key', requestedAt });
    const result = await run(() => activities().secretsRotateJwtKey(req));
    const key = (await sinkValue(envFile('trust.env'), 'JWT_SECRET_KEY')) as string;
    expect(key).toMatch(/^[A-Za-z0-9_-]{86}$/);
    expect(Buffer.from(key, 'base64url')).toHaveLength(64);
    expect(await sinkValue(envFile('trust-copy.env'), 'JWT_SECRET_KEY')).toBe(key);
    const epoch = Math.floor(Date.parse(requestedAt) / 1000);
    const epochKey = djangoKey({ keyPrefix: redis.prefix, keyVersion: 1 }, contractKeys.revokedBeforeAll());
    expect(await redis.redis.get(epochKey)).toBe(String(epoch));
    expect(await redis.redis.ttl(epochKey)).toBeGreaterThan(7 * 24 * 3600 - 60);
    expect(result.output).toEqual({ secretName: 'JWT_SECRET_KEY', fingerprint: fp(key), sinks: [`dotenv ${envFile('trust.env')}`, `dotenv ${envFile('trust-copy.env')}`], epoch });
    expect(result.proof).toMatchObject({ epochKey, epoch });
    const rows = await pendingRows(req.stepId);
    expect(rows).toMatchObject([{ kind: 'jwt_key', fingerprint: fp(key), value_enc: null }]);

    // A retry: the same key, the epoch unchanged.
    const again = await run(() => activities().secretsRotateJwtKey(req));
    expect(again.output?.fingerprint).toBe(fp(key));
    expect(await sinkValue(envFile('trust.env'), 'JWT_SECRET_KEY')).toBe(key);
    expect(await redis.redis.get(epochKey)).toBe(String(epoch));
  });

  it('a custom secret name, and dry-run only plans', async () => {
    const epochKey = djangoKey({ keyPrefix: redis.prefix, keyVersion: 1 }, contractKeys.revokedBeforeAll());
    const epochBefore = await redis.redis.get(epochKey);
    const plan = await run(() => activities().secretsRotateJwtKey(input('trust', { secret_name: 'SIGNING_KEY' }, { action: 'secrets.rotate_jwt_key', mode: 'dry-run' })));
    expect(plan.changed).toBe(false);
    expect(plan.plan?.[1]).toBe(`publish SIGNING_KEY to dotenv ${envFile('trust.env')}, dotenv ${envFile('trust-copy.env')}`);
    expect(await sinkValue(envFile('trust.env'), 'SIGNING_KEY')).toBeUndefined();
    expect(await redis.redis.get(epochKey)).toBe(epochBefore);
  });
});

describe('quiet about secrets', () => {
  it('no secret value appears in any result, error, log line, or the PostgreSQL server log', () => {
    const values = [...secrets].filter((s) => s.length >= 8);
    expect(values.length).toBeGreaterThanOrEqual(8); // old, 4 new passwords, a URL and its password, the JWT key
    expect(logLines.length).toBeGreaterThan(0);
    const logs = logLines.join('');
    const out = emitted.join('\n');
    const serverLog = scram.log();
    expect(serverLog).toMatch(/ALTER ROLE "Fbt_App\$[0-9a-f]+" PASSWORD 'SCRAM-SHA-256\$4096:/); // every statement is logged there…
    for (const v of values) {
      const forms = [v, encodeURIComponent(v)];
      for (const f of forms) {
        expect(out.includes(f), 'results/errors').toBe(false);
        expect(logs.includes(f), 'logs').toBe(false);
        if (v !== OLD_PASSWORD) expect(serverLog.includes(f), 'server log').toBe(false); // …never a new password
      }
    }
  });
});
