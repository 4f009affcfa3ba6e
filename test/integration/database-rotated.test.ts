/**
 * The read-only proofs after secrets.rotate_db_password (issue 11 §5, first bullet), on a
 * private PostgreSQL with SCRAM password authentication: the sqli flow rotates the app
 * role's password while read-only is in force; the all-clear's proof must log in with the
 * password Firebreak published, not the stale `appPassword`. A login that still fails says
 * what the catalog shows is in force, and a lift the catalog confirms is not reported as
 * containment still in force.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabaseActivities } from '../../activities/database/index.js';
import { TargetClients } from '../../activities/deps.js';
import { createSecretActivities } from '../../activities/secrets/index.js';
import { createDotenvSink } from '../../activities/sinks/dotenv.js';
import { loadConfig, type Config } from '../../lib/config.js';
import { createLogger } from '../../lib/logger.js';
import type { ActionInput, ActionResult } from '../../workflows/definitions.js';
import { startScramPostgres, tryLogin, type ScramPostgres } from '../helpers/scram-postgres.js';
import { POSTGRES_ADMIN_URL } from '../helpers/services.js';

const hex = randomBytes(4).toString('hex');
const OWN_DB = `fbt_rotated_own_${hex}`;
const ROLE = `fbt_app_${hex}`;
const OLD_PASSWORD = `old-${randomBytes(9).toString('base64url')}`;

let scram: ScramPostgres;
let app: pg.Client;
let dir: string;
let config: Readonly<Config>;
let clients: TargetClients;
let db: ReturnType<typeof createDatabaseActivities>;
let secrets: ReturnType<typeof createSecretActivities>;
const logLines: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fbt-rotated-'));
  writeFileSync(join(dir, 'k1.key'), randomBytes(32).toString('base64'));
  writeFileSync(join(dir, 'app.pw'), `${OLD_PASSWORD}\n`);
  writeFileSync(join(dir, 'app.env'), `DATABASE_PASSWORD=${OLD_PASSWORD}\n`);
  scram = await startScramPostgres();
  await scram.admin.query(`CREATE ROLE ${ROLE} LOGIN PASSWORD ${pg.escapeLiteral(OLD_PASSWORD)}`);
  await scram.admin.query('CREATE DATABASE appdb');
  app = await scram.connect('appdb');
  await app.query(`CREATE TABLE public.items (id int); GRANT USAGE ON SCHEMA public TO ${ROLE}; GRANT SELECT, INSERT, DELETE ON public.items TO ${ROLE}`);
  const pgLine = (extra: string) =>
    `postgres: { adminUrl: "${scram.adminUrl}", password: { file: "${scram.passwordFile}" }, database: appdb, appRole: ${ROLE}, schemas: [public], appPassword: { file: "${join(dir, 'app.pw')}" }${extra} }`;
  const file = join(dir, 'firebreak.yaml');
  writeFileSync(
    file,
    [
      `database: { url: "postgres://postgres@127.0.0.1:5432/${OWN_DB}" }`,
      'encryption:',
      '  current: k1',
      `  keys: [{ id: k1, secret: { file: "${join(dir, 'k1.key')}" } }]`,
      'targets:',
      '  local:',
      `    redis: { keyPrefix: "fbt-rotated-${hex}" }`,
      `    ${pgLine('')}`,
      `    secrets: { sinks: [{ type: dotenv, path: "${join(dir, 'app.env')}" }] }`,
      // The same database, without the sinks: only the configured (stale) password is known.
      '  stale:',
      `    redis: { keyPrefix: "fbt-rotated-${hex}" }`,
      `    ${pgLine('')}`,
    ].join('\n'),
  );
  config = loadConfig({ file, env: {} });
  clients = new TargetClients(config);
  const logger = createLogger({ level: 'debug', destination: { write: (line: string) => void logLines.push(line) } });
  db = createDatabaseActivities({ config, logger, clients });
  secrets = createSecretActivities({ config, logger, clients });
});

afterAll(async () => {
  await clients?.close();
  await scram?.stop();
  const root = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
  await root.connect();
  await root.query(`DROP DATABASE IF EXISTS ${OWN_DB} WITH (FORCE)`).catch(() => undefined);
  await root.end();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const input = (incidentId: string, stepId: string, action: string, args: Record<string, unknown> = {}, target = 'local'): ActionInput => ({
  incidentId,
  stepId,
  action,
  target,
  mode: 'live',
  args,
  requestedAt: new Date().toISOString(),
});
const undo = (res: ActionResult, incidentId: string, target = 'local') => input(incidentId, 'read-only.undo', 'database.read_write', res.undo?.args ?? {}, target);
const conn = () => ({ host: '127.0.0.1', port: scram.port, database: 'appdb' });
const grants = async () =>
  (await app.query<{ p: string }>("SELECT privilege_type AS p FROM information_schema.table_privileges WHERE grantee = $1 AND table_name = 'items' ORDER BY 1", [ROLE])).rows.map((r) => r.p);

describe('the read-only proofs log in with the password Firebreak published', () => {
  let published: string;

  it('the sqli flow: read-only, rotate-db, all-clear — the lift proves a write with the new password', async () => {
    const INC = `INC-ROT-${hex}-sqli`;
    const ro = await db.databaseReadOnly(input(INC, 'read-only', 'database.read_only'));
    expect(ro.proof).toMatchObject({ deniedWrite: '42501 on public.items' });

    const rotated = await secrets.secretsRotateDbPassword(input(INC, 'rotate-db', 'secrets.rotate_db_password', { secret_name: 'DATABASE_PASSWORD' }));
    expect(rotated.changed).toBe(true);
    published = (await createDotenvSink(join(dir, 'app.env')).get?.('DATABASE_PASSWORD')) as string;
    expect(published).not.toBe(OLD_PASSWORD);
    expect(await tryLogin(conn(), ROLE, OLD_PASSWORD)).toBe('28P01'); // postgres.appPassword is stale now

    const lift = await db.databaseReadWrite(undo(ro, INC));
    expect(lift).toMatchObject({ changed: true, output: { lifted: true, stillHeldBy: [] }, proof: { matchesRecord: true, wrote: 'INSERT on public.items (rolled back)' } });
    expect(lift.summary).not.toMatch(/login proof failed/);
    expect(await grants()).toEqual(['DELETE', 'INSERT', 'SELECT']);
  });

  it('a later incident takes read-only with the published password too (the pre-flight login does not fail on the stale one)', async () => {
    const INC = `INC-ROT-${hex}-later`;
    const ro = await db.databaseReadOnly(input(INC, 'read-only', 'database.read_only'));
    expect(ro).toMatchObject({ changed: true, proof: { deniedWrite: '42501 on public.items' } });
    const lift = await db.databaseReadWrite(undo(ro, INC));
    expect(lift.proof).toMatchObject({ wrote: 'INSERT on public.items (rolled back)' });
  });

  it('with only the stale password: a take is refused before acting, changing nothing', async () => {
    const before = await grants();
    const err = await db.databaseReadOnly(input(`INC-ROT-${hex}-stale-take`, 'read-only', 'database.read_only', {}, 'stale')).catch((e: unknown) => e);
    expect(err).toMatchObject({ type: 'FirebreakVerificationFailed', nonRetryable: true });
    expect((err as Error).message).toMatch(
      new RegExp(`^cannot log in as "${ROLE}" to prove it \\(28P01: password authentication failed for user "${ROLE}"; password from postgres\\.appPassword\\); .*Nothing was changed\\.$`),
    );
    expect(await grants()).toEqual(before);
  });

  it('with only the stale password: the lift stands (the catalog shows the grants restored) and says the login proof failed', async () => {
    const INC = `INC-ROT-${hex}-stale-lift`;
    const ro = await db.databaseReadOnly(input(INC, 'read-only', 'database.read_only'));
    expect(await grants()).toEqual(['SELECT']);
    const lift = await db.databaseReadWrite(undo(ro, INC, 'stale'));
    // Not a failure: a failed undo would stay listed as containment in force, and it is not in force.
    expect(lift).toMatchObject({
      changed: true,
      output: { lifted: true, stillHeldBy: [] },
      proof: { matchesRecord: true, wrote: null, loginProof: expect.stringMatching(/^failed: 28P01: password authentication failed/) },
    });
    expect(lift.summary).toMatch(
      new RegExp(
        `^restored 2 recorded write privilege\\(s\\) of "${ROLE}" on "appdb" .*; grants restored \\(catalog read-back\\); app-role login proof failed: 28P01: password authentication failed for user "${ROLE}"; password from postgres\\.appPassword; check postgres\\.appUrl / appPassword for the target`,
      ),
    );
    expect(await grants()).toEqual(['DELETE', 'INSERT', 'SELECT']);
    expect(await tryLogin(conn(), ROLE, published)).toBe('ok');
  });

  it('no password value reaches the worker log', () => {
    const seen = logLines.join('\n');
    for (const value of [published, OLD_PASSWORD]) expect(seen).not.toContain(value);
  });
});
