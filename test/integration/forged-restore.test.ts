/**
 * database.read_write given a forged `restore` record, on a real PostgreSQL:
 * the attack (INSERT/UPDATE/DELETE/TRUNCATE WITH GRANT OPTION), a record
 * no read_only stored, one for another role, database or schema, a tampered one,
 * and a replay after the lift. Each is refused and the app role's privileges
 * (has_table_privilege, information_schema) are exactly what they were.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabaseActivities } from '../../activities/database/index.js';
import { TargetClients } from '../../activities/deps.js';
import { loadConfig } from '../../lib/config.js';
import { createLogger } from '../../lib/logger.js';
import type { ActionInput, ActionResult } from '../../workflows/definitions.js';
import { createAppDatabase, type AppDatabase } from '../helpers/app-db.js';

let app: AppDatabase;
let dir: string;
let clients: TargetClients;
let acts: ReturnType<typeof createDatabaseActivities>;
let ownerRole: string;
const hex = randomBytes(3).toString('hex');
const HELD = `INC-FR-${hex}-held`;

beforeAll(async () => {
  app = await createAppDatabase('forged-restore');
  ownerRole = await app.createRole(`fbt_dbowner_${hex}`);
  await app.admin.query(`ALTER DATABASE "${app.name}" OWNER TO ${ownerRole}`);
  dir = mkdtempSync(join(tmpdir(), 'fbt-forged-restore-'));
  const file = join(dir, 'firebreak.yaml');
  writeFileSync(file, `targets:\n  local: { redis: { keyPrefix: "fbt-fr-${hex}" }, postgres: { database: ${app.name}, appRole: "${app.role}", schemas: [public, Billing] } }\n`);
  const config = loadConfig({ file, env: {} });
  clients = new TargetClients(config);
  acts = createDatabaseActivities({ config, logger: createLogger({ level: 'silent', pretty: false }), clients });
});

afterAll(async () => {
  await clients?.close();
  await app?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const input = (incidentId: string, args: Record<string, unknown> = {}, stepId = 'read-only'): ActionInput => ({
  incidentId,
  stepId,
  action: stepId.endsWith('.undo') ? 'database.read_write' : 'database.read_only',
  target: 'local',
  mode: 'live',
  args,
  requestedAt: new Date().toISOString(),
});
const restoreOf = (res: ActionResult) => (res.undo?.args as { restore: Record<string, unknown> }).restore;

/** What the app role may do, as PostgreSQL itself answers, plus the raw grants. */
async function privileges(): Promise<{ effective: Record<string, boolean>; grants: string[] }> {
  const effective: Record<string, boolean> = {};
  for (const table of ['public.auth_user', 'public.orders', 'public."Weird Table""x"', '"Billing".invoices']) {
    for (const priv of ['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'INSERT WITH GRANT OPTION']) {
      const { rows } = await app.admin.query<{ ok: boolean }>('SELECT has_table_privilege($1, $2, $3) AS ok', [app.role, table, priv]);
      effective[`${table} ${priv}`] = rows[0]?.ok ?? false;
    }
  }
  const { rows } = await app.admin.query<{ line: string }>(
    `SELECT table_schema || '.' || table_name || ' ' || privilege_type || ' ' || is_grantable AS line
     FROM information_schema.table_privileges WHERE grantee = $1 ORDER BY 1`,
    [app.role],
  );
  return { effective, grants: rows.map((r) => r.line) };
}

describe('database.read_write refuses a forged restore record, changing nothing', () => {
  let held: ActionResult;
  let during: Awaited<ReturnType<typeof privileges>>;

  beforeAll(async () => {
    held = await acts.databaseReadOnly(input(HELD));
    during = await privileges();
    expect(Object.entries(during.effective).filter(([, ok]) => ok)).toEqual([]);
  });

  /** A well-formed record that would give the app role every write on auth_user. */
  const grantAll = (overrides: Record<string, unknown> = {}, grantable = false) => ({
    ...restoreOf(held),
    tables: [
      {
        schema: 'public',
        table: 'auth_user',
        kind: 'r',
        privileges: ['DELETE', 'INSERT', 'TRUNCATE', 'UPDATE'].map((privilege) => ({ privilege, grantable })),
        columns: [],
      },
    ],
    ...overrides,
  });

  const cases: Array<[string, () => { incidentId: string; restore: unknown }, string, RegExp]> = [
    ["the issue's attack: every write WITH GRANT OPTION", () => ({ incidentId: HELD, restore: grantAll({}, true) }), 'FirebreakBadInput', /WITH GRANT OPTION is never restored/],
    ['a well-formed record no read_only stored', () => ({ incidentId: `INC-FR-${hex}-forged`, restore: grantAll() }), 'FirebreakRefused', /not one database\.read_only stored for incident INC-FR-\w+-forged/],
    ['the held record with privileges added (tampered)', () => ({ incidentId: HELD, restore: grantAll() }), 'FirebreakRefused', /not one database\.read_only stored for incident/],
    ["the held record, replayed from another incident", () => ({ incidentId: `INC-FR-${hex}-other`, restore: restoreOf(held) }), 'FirebreakRefused', /not one database\.read_only stored/],
    ['a record for the database owner', () => ({ incidentId: HELD, restore: grantAll({ role: ownerRole }) }), 'FirebreakBadInput', /the record is for role "fbt_dbowner_\w+"/],
    ['a record for the superuser', () => ({ incidentId: HELD, restore: grantAll({ role: 'postgres' }) }), 'FirebreakBadInput', /the record is for role "postgres"/],
    ['a record for another database', () => ({ incidentId: HELD, restore: grantAll({ database: 'postgres' }) }), 'FirebreakBadInput', /on "postgres"/],
    ['a schema the target does not configure', () => ({ incidentId: HELD, restore: grantAll({ schemas: ['public', 'pg_catalog'] }) }), 'FirebreakBadInput', /schema "pg_catalog", which target "local" does not configure/],
    [
      "Firebreak's own schema",
      () => ({ incidentId: HELD, restore: { ...grantAll({ schemas: ['firebreak'] }), tables: [{ schema: 'firebreak', table: 'firebreak_undo', kind: 'r', privileges: [{ privilege: 'DELETE', grantable: false }], columns: [] }] } }),
      'FirebreakBadInput',
      /schema "firebreak", which target "local" does not configure/,
    ],
    [
      'a privilege read_only never revokes (SELECT, REFERENCES)',
      () => ({ incidentId: HELD, restore: { ...grantAll(), tables: [{ schema: 'public', table: 'auth_user', kind: 'r', privileges: [{ privilege: 'REFERENCES', grantable: false }], columns: [] }] } }),
      'FirebreakBadInput',
      /is not a database\.read_only record/,
    ],
  ];

  it.each(cases)('%s', async (_label, make, type, message) => {
    const { incidentId, restore } = make();
    const err = await acts.databaseReadWrite(input(incidentId, { restore }, 'read-only.undo')).catch((e: unknown) => e);
    expect(err).toMatchObject({ type, nonRetryable: true });
    expect((err as Error).message).toMatch(message);
    expect(await privileges()).toEqual(during);
  });

  it('the real record still lifts the containment; replaying it once lifted, while another incident holds read-only, is refused', async () => {
    const lift = await acts.databaseReadWrite(input(HELD, { restore: restoreOf(held) }, 'read-only.undo'));
    expect(lift.changed).toBe(true);
    const restored = await privileges();
    expect(restored.effective['public.auth_user INSERT']).toBe(true);
    // The grant option the app role had on Billing.invoices is not given back.
    expect(restored.effective['"Billing".invoices INSERT']).toBe(true);
    expect(restored.effective['"Billing".invoices INSERT WITH GRANT OPTION']).toBe(false);
    expect(restored.grants.every((l) => l.endsWith(' NO'))).toBe(true);

    const later = `INC-FR-${hex}-later`;
    await acts.databaseReadOnly(input(later));
    const contained = await privileges();
    expect(Object.entries(contained.effective).filter(([, ok]) => ok)).toEqual([]);
    const replay = await acts.databaseReadWrite(input(HELD, { restore: restoreOf(held) }, 'read-only.undo')).catch((e: unknown) => e);
    // The lift removed the record table; the later incident's is a new one, without the old record.
    expect(replay).toMatchObject({ type: 'FirebreakRefused', message: expect.stringMatching(/not one database\.read_only stored for incident INC-FR-\w+-held/) });
    expect(await privileges()).toEqual(contained);
    await acts.databaseReadWrite(input(later, { restore: restoreOf(await acts.databaseReadOnly(input(later))) }, 'read-only.undo'));
  });

  it('a lifted record kept beside another holder cannot be replayed to undo that holder: the replay releases nothing', async () => {
    const first = `INC-FR-${hex}-x`;
    const second = `INC-FR-${hex}-z`;
    const x = await acts.databaseReadOnly(input(first));
    await acts.databaseReadOnly(input(second));
    // Released out of order (x before z): z still holds read-only, so nothing is restored and x's record stays, marked lifted.
    const release = await acts.databaseReadWrite(input(first, { restore: restoreOf(x) }, 'read-only.undo'));
    expect(release).toMatchObject({ changed: false, output: { lifted: false, stillHeldBy: [second] } });
    await acts.databaseReadOnly(input(second)); // z's retried step
    const contained = await privileges();
    expect(Object.entries(contained.effective).filter(([, ok]) => ok)).toEqual([]);
    const replay = await acts.databaseReadWrite(input(first, { restore: restoreOf(x) }, 'read-only.undo'));
    expect(replay).toMatchObject({ changed: false, output: { lifted: false, stillHeldBy: [second] } });
    expect(replay.summary).toMatch(/was already released by an earlier attempt: still held by INC-FR-\w+-z/);
    expect(await privileges()).toEqual(contained);
    // Forged on top of the lifted record: still refused before anything runs.
    const forged = await acts.databaseReadWrite(input(first, { restore: { ...restoreOf(x), recordedAt: new Date(0).toISOString() } }, 'read-only.undo')).catch((e: unknown) => e);
    expect(forged).toMatchObject({ type: 'FirebreakRefused', nonRetryable: true, message: expect.stringMatching(/not one database\.read_only stored for incident/) });
    expect(await privileges()).toEqual(contained);
    const z = await acts.databaseReadOnly(input(second));
    expect((await acts.databaseReadWrite(input(second, { restore: restoreOf(z) }, 'read-only.undo'))).output).toEqual({ lifted: true, stillHeldBy: [] });
  });
});
