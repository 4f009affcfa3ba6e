/**
 * database.read_only / database.read_write against a real PostgreSQL: the app
 * role's writes are revoked (not just defaulted off), its sessions end, the
 * proof is a refused write as that role, and the undo restores the exact grants.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabaseActivities } from '../../activities/database/index.js';
import { TargetClients } from '../../activities/deps.js';
import { loadConfig } from '../../lib/config.js';
import { approveGate, declareIncident, getStatus, resolveIncident, TERMINAL, waitFor } from '../../lib/incidents/index.js';
import { createLogger } from '../../lib/logger.js';
import type { ActionInput, ActionResult, IncidentStatus, Mode } from '../../workflows/definitions.js';
import { createAppDatabase, type AppDatabase } from '../helpers/app-db.js';
import { DECLARER, startStack, type Stack } from '../helpers/firebreak.js';

let app: AppDatabase;
let dir: string;
let clients: TargetClients;
let acts: ReturnType<typeof createDatabaseActivities>;
let ownerRole: string;
let memberRole: string;
let writerRole: string;
let allWriterRole: string;
let grantorRole: string;
let granteeRole: string;
const hex = randomBytes(3).toString('hex');

beforeAll(async () => {
  app = await createAppDatabase('database');
  // A role that owns one of its tables, and one that can act as a role that writes.
  ownerRole = await app.createRole(`fbt_owner_${hex}`);
  await app.admin.query(`CREATE TABLE public.owned_table (id int); ALTER TABLE public.owned_table OWNER TO ${ownerRole}; GRANT USAGE ON SCHEMA public TO ${ownerRole}`);
  writerRole = await app.createRole(`fbt_writer_${hex}`, 'NOLOGIN');
  memberRole = await app.createRole(`fbt_member_${hex}`);
  await app.admin.query(`GRANT INSERT ON public.orders TO ${writerRole}; GRANT ${writerRole} TO ${memberRole}; GRANT USAGE ON SCHEMA public TO ${memberRole}`);
  allWriterRole = await app.createRole(`fbt_allw_${hex}`);
  await app.admin.query(`GRANT pg_write_all_data TO ${allWriterRole}`);
  // A write privilege granted by a role other than the owner: a REVOKE issued as the owner leaves it in place.
  grantorRole = await app.createRole(`fbt_grantor_${hex}`, 'NOLOGIN');
  granteeRole = await app.createRole(`fbt_grantee_${hex}`);
  await app.admin.query(
    `GRANT INSERT ON public.orders TO ${grantorRole} WITH GRANT OPTION; SET ROLE ${grantorRole}; GRANT INSERT ON public.orders TO ${granteeRole}; RESET ROLE`,
  );

  dir = mkdtempSync(join(tmpdir(), 'fbt-database-'));
  const file = join(dir, 'firebreak.yaml');
  const pgTarget = (fields: string) => `{ redis: { url: "redis://127.0.0.1:6379/0", keyPrefix: "fbt-db-${hex}" }, postgres: { ${fields} } }`;
  writeFileSync(
    file,
    [
      'targets:',
      `  local: ${pgTarget(`database: ${app.name}, appRole: "${app.role}", schemas: [public, Billing]`)}`,
      `  owner: ${pgTarget(`database: ${app.name}, appRole: ${ownerRole}, schemas: [public]`)}`,
      `  member: ${pgTarget(`database: ${app.name}, appRole: ${memberRole}, schemas: [public]`)}`,
      `  allwriter: ${pgTarget(`database: ${app.name}, appRole: ${allWriterRole}, schemas: [public]`)}`,
      `  grantee: ${pgTarget(`database: ${app.name}, appRole: ${granteeRole}, schemas: [public]`)}`,
      `  nodb: ${pgTarget(`database: fbt_no_such_db_${hex}, appRole: "${app.role}", schemas: [public]`)}`,
      `  norole: ${pgTarget(`database: ${app.name}, appRole: fbt_no_such_role_${hex}, schemas: [public]`)}`,
      `  noschema: ${pgTarget(`database: ${app.name}, appRole: "${app.role}", schemas: [public, no_such_schema_${hex}]`)}`,
      `  prod: { production: true, postgres: { database: ${app.name}, appRole: "${app.role}", schemas: [public] } }`,
    ].join('\n'),
  );
  const config = loadConfig({ file, env: {} });
  clients = new TargetClients(config);
  acts = createDatabaseActivities({ config, logger: createLogger({ level: 'silent', pretty: false }), clients });
});

afterAll(async () => {
  await clients?.close();
  await app?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const q = (name: string): string => pg.escapeIdentifier(name);

let n = 0;
const input = (opts: { args?: Record<string, unknown>; mode?: Mode; target?: string; incidentId?: string; stepId?: string } = {}): ActionInput => ({
  incidentId: opts.incidentId ?? `INC-DB-${hex}-${++n}`,
  stepId: opts.stepId ?? 'read-only',
  action: 'database.read_only',
  target: opts.target ?? 'local',
  mode: opts.mode ?? 'live',
  args: opts.args ?? {},
  requestedAt: new Date().toISOString(),
});

/** The SQLSTATE a statement fails with as `client`, or 'ok'. Always rolled back. */
async function attempt(client: pg.Client, sql: string): Promise<string> {
  await client.query('BEGIN');
  try {
    await client.query(sql);
    return 'ok';
  } catch (err) {
    return (err as { code?: string }).code ?? 'error';
  } finally {
    await client.query('ROLLBACK');
  }
}

/** Everything a run could change: the app role's grants and settings, and Firebreak's records. */
async function snapshot(role = app.role) {
  const book = await app.admin.query<{ t: string | null }>("SELECT to_regclass('firebreak.firebreak_undo')::text AS t");
  const records = book.rows[0]?.t ? (await app.admin.query('SELECT incident_id, step_id FROM firebreak.firebreak_undo ORDER BY 1, 2')).rows : [];
  return { grants: await app.grants(role), settings: await app.settings(role), records };
}

/** The undo as the engine runs it: in the incident of the step it undoes. */
const undoOf = (res: ActionResult, incidentId: string): ActionInput => input({ args: res.undo?.args ?? {}, incidentId, stepId: 'read-only.undo' });
/** The grants a lift gives back: the original ones, a grant option dropped (records hold plain privileges). */
const plain = (lines: string[]): string[] => lines.map((l) => l.replace(' WITH GRANT OPTION', '')).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

describe('database.read_only / database.read_write (activities)', () => {
  let original: string[];
  let first: ActionResult;
  let openedDuringContainment: pg.Client;

  it('uses an app role and names that must be quoted (mixed case, $, a table name with a quote and a space)', async () => {
    expect(app.role).toMatch(/^Fbt_App\$[0-9a-f]{8}$/);
    original = await app.grants();
    expect(original).toContain('public.Weird Table"x INSERT by postgres');
    expect(original).toContain('Billing.invoices INSERT WITH GRANT OPTION by postgres');
    expect(original).toContain('public.profiles(bio) UPDATE by postgres');
    expect(original.filter((l) => l.startsWith('public.orders '))).toEqual(['public.orders INSERT by postgres', 'public.orders SELECT by postgres']);
    expect(await app.settings()).toEqual([]);
  });

  it('dry-run plans with quoted identifiers and changes nothing, not even open sessions', async () => {
    const before = await snapshot();
    const idle = await app.connectAs();
    const res = await acts.databaseReadOnly(input({ mode: 'dry-run' }));
    expect(res.changed).toBe(false);
    expect(res.undo).toBeUndefined();
    expect(res.plan).toContain(`REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA "Billing" FROM "${app.role}"`);
    expect(res.plan).toContain(`ALTER ROLE "${app.role}" IN DATABASE "${app.name}" SET default_transaction_read_only = on (now: unset)`);
    expect(res.plan?.some((l) => /^end [1-9]\d* open session\(s\)/.test(l))).toBe(true);
    expect(await snapshot()).toEqual(before);
    expect((await idle.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    const bookkeeping = await app.admin.query("SELECT 1 FROM pg_namespace WHERE nspname = 'firebreak'");
    expect(bookkeeping.rowCount).toBe(0);
  });

  it('read-only: writes are refused even after SET default_transaction_read_only = off; open sessions are ended', async () => {
    const idle = await app.connectAs();
    expect(await attempt(idle, `DELETE FROM public.auth_user WHERE false`)).toBe('ok');
    first = await acts.databaseReadOnly(input({ incidentId: `INC-DB-${hex}-main` }));
    expect(first.changed).toBe(true);
    expect(first.proof).toMatchObject({ deniedWrite: '42501 on Billing.events', tables: 9, readOnlyDefault: 'on' });
    expect(first.proof?.sessionsTerminated).toBeGreaterThanOrEqual(1);
    expect(first.proof?.revoked).toBe(13);
    expect(first.summary).toMatch(/read-only for "Fbt_App\$[0-9a-f]+": revoked 13 write privilege\(s\) on 9 table\(s\) in Billing, public/);
    expect(first.summary).toContain("the grant option on Billing.invoices INSERT is not recorded: the undo restores those privileges without it");
    expect(first.undo?.action).toBe('database.read_write');

    // The idle session opened before is gone.
    await expect(idle.query('SELECT 1')).rejects.toThrow();

    const fresh = await app.connectAs();
    expect((await fresh.query('SHOW default_transaction_read_only')).rows[0]).toEqual({ default_transaction_read_only: 'on' });
    await fresh.query('SET default_transaction_read_only = off');
    expect(await attempt(fresh, "INSERT INTO public.auth_user (username) VALUES ('mallory')")).toBe('42501');
    expect(await attempt(fresh, 'DELETE FROM public."Weird Table""x"')).toBe('42501');
    expect(await attempt(fresh, "UPDATE public.profiles SET bio = 'x'")).toBe('42501');
    expect(await attempt(fresh, "INSERT INTO \"Billing\".invoices (amount) VALUES (1)")).toBe('42501');
    expect(await attempt(fresh, 'TRUNCATE public.orders')).toBe('42501');
    expect(await attempt(fresh, 'SELECT count(*) FROM public.auth_user')).toBe('ok');
    // Firebreak's record is out of the app role's reach.
    expect(await attempt(fresh, 'SELECT * FROM firebreak.firebreak_undo')).toBe('42501');
    await fresh.end();

    const grants = await app.grants();
    expect(grants.filter((l) => / (INSERT|UPDATE|DELETE|TRUNCATE)( |$)/.test(l))).toEqual([]);
    expect(grants).toContain('public.orders SELECT by postgres');
    const stored = await app.admin.query<{ record: unknown }>('SELECT record FROM firebreak.firebreak_undo WHERE incident_id = $1 AND step_id = $2', [`INC-DB-${hex}-main`, 'read-only']);
    expect(stored.rows[0]?.record).toEqual((first.undo?.args as { restore: unknown }).restore);
  });

  it('the record is the exact prior state, sorted', () => {
    const record = (first.undo?.args as { restore: { tables: Array<{ schema: string; table: string; privileges: unknown[]; columns: unknown[] }>; settings: unknown; schemas: string[] } }).restore;
    expect(record.schemas).toEqual(['Billing', 'public']);
    expect(record.settings).toEqual({ roleInDatabase: null, role: null, database: null });
    expect(record.tables.map((t) => `${t.schema}.${t.table}`)).toEqual([
      'Billing.events',
      'Billing.events_2026',
      'Billing.invoices',
      'public.Weird Table"x',
      'public.active_users',
      'public.auth_user',
      'public.orders',
      'public.owned_table',
      'public.profiles',
    ]);
    // The app role held INSERT WITH GRANT OPTION there: the record keeps the privilege, never the grant option.
    expect(record.tables.find((t) => t.table === 'invoices')?.privileges).toEqual([
      { privilege: 'INSERT', grantable: false },
      { privilege: 'UPDATE', grantable: false },
    ]);
    expect(record.tables.find((t) => t.table === 'profiles')).toMatchObject({ privileges: [], columns: [{ column: 'bio', privilege: 'UPDATE', grantable: false }] });
  });

  it('a second run is a no-op that still verifies, and keeps sessions opened after the containment', async () => {
    openedDuringContainment = await app.connectAs();
    const again = await acts.databaseReadOnly(input({ incidentId: `INC-DB-${hex}-main` }));
    expect(again.changed).toBe(false);
    expect(again.summary).toMatch(/was already read-only .* a write as "Fbt_App\$[0-9a-f]+" is refused \(42501 on Billing.events\)/);
    expect(again.proof).toMatchObject({ deniedWrite: '42501 on Billing.events', sessionsTerminated: 0, revoked: 0 });
    expect(again.undo).toEqual(first.undo);
    expect((await openedDuringContainment.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
  });

  it('read-write restores exactly the recorded grants and setting; the same write succeeds again', async () => {
    const res = await acts.databaseReadWrite(undoOf(first, `INC-DB-${hex}-main`));
    expect(res.changed).toBe(true);
    expect(res.proof).toMatchObject({ matchesRecord: true, wrote: 'INSERT on Billing.events (rolled back)', readOnlyDefault: 'off' });
    expect(res.proof?.sessionsEnded).toBeGreaterThanOrEqual(1);
    expect(await app.grants()).toEqual(plain(original));
    expect(await app.grants()).not.toContain('Billing.invoices INSERT WITH GRANT OPTION by postgres');
    expect(await app.grants()).toContain('Billing.invoices INSERT by postgres');
    expect(await app.settings()).toEqual([]);
    // A pooled session opened while read-only would keep the read-only default: it was ended so the app reconnects.
    await expect(openedDuringContainment.query('SELECT 1')).rejects.toThrow();
    const fresh = await app.connectAs();
    expect(await attempt(fresh, "INSERT INTO public.auth_user (username) VALUES ('carol')")).toBe('ok');
    expect(await attempt(fresh, "UPDATE public.profiles SET bio = 'x'")).toBe('ok');
    expect(await attempt(fresh, 'DELETE FROM public.orders')).toBe('42501'); // it never had DELETE there
    await fresh.end();

    const again = await acts.databaseReadWrite(undoOf(first, `INC-DB-${hex}-main`));
    expect(again.changed).toBe(false);
    expect(await app.grants()).toEqual(plain(original));
  });

  it('retry after a crash: the second attempt finds the first record, so the undo restores the ORIGINAL grants', async () => {
    const same = input({ incidentId: `INC-DB-${hex}-crash` });
    const attempt1 = await acts.databaseReadOnly(same); // acted, then "crashed" before its result was recorded
    const attempt2 = await acts.databaseReadOnly(same);
    expect(attempt2.changed).toBe(false);
    expect(attempt2.undo).toEqual(attempt1.undo);
    const restore = (attempt2.undo?.args as { restore: { tables: Array<{ privileges: unknown[] }> } }).restore;
    expect(restore.tables.some((t) => t.privileges.length > 0)).toBe(true);
    await acts.databaseReadWrite(undoOf(attempt2, same.incidentId));
    expect(await app.grants()).toEqual(plain(original));
  });

  it('restores a recorded read-only default exactly, and revokes privileges granted during the containment', async () => {
    await app.admin.query(`ALTER ROLE ${q(app.role)} IN DATABASE ${q(app.name)} SET default_transaction_read_only = true`);
    const ro = input();
    const res = await acts.databaseReadOnly(ro);
    expect((res.undo?.args as { restore: { settings: unknown } }).restore.settings).toEqual({ roleInDatabase: 'true', role: null, database: null });
    await app.admin.query(`GRANT DELETE ON public.orders TO ${q(app.role)}`); // someone granted more meanwhile
    await acts.databaseReadWrite(undoOf(res, ro.incidentId));
    expect(await app.grants()).toEqual(plain(original));
    expect(await app.settings()).toEqual([`${app.name} default_transaction_read_only=true`]);
    await app.admin.query(`ALTER ROLE ${q(app.role)} IN DATABASE ${q(app.name)} RESET default_transaction_read_only`);
  });

  it("Firebreak's schema leaves the app database with the last incident that held read-only there", async () => {
    const schemaExists = async () => (await app.admin.query("SELECT 1 FROM pg_namespace WHERE nspname = 'firebreak'")).rowCount === 1;
    const a = await acts.databaseReadOnly(input({ incidentId: `INC-DB-${hex}-held-a` }));
    const b = await acts.databaseReadOnly(input({ incidentId: `INC-DB-${hex}-held-b` }));
    expect(await schemaExists()).toBe(true);
    // Newest first, as the workflow lifts: b's lift leaves a's record, so the schema stays.
    const liftB = await acts.databaseReadWrite(input({ args: b.undo?.args ?? {}, incidentId: `INC-DB-${hex}-held-b`, stepId: 'read-only.undo' }));
    expect(liftB.proof).toMatchObject({ bookkeeping: 'kept' });
    expect(liftB.summary).toMatch(/schema firebreak kept: another incident still holds read-only here$/);
    expect((await snapshot()).records).toEqual([{ incident_id: `INC-DB-${hex}-held-a`, step_id: 'read-only' }, { incident_id: `INC-DB-${hex}-held-b`, step_id: 'read-only' }]);
    const liftA = await acts.databaseReadWrite(input({ args: a.undo?.args ?? {}, incidentId: `INC-DB-${hex}-held-a`, stepId: 'read-only.undo' }));
    expect(liftA.proof).toMatchObject({ bookkeeping: 'removed' });
    expect(liftA.summary).toMatch(/no incident holds read-only here any more: removed schema firebreak$/);
    expect(await schemaExists()).toBe(false);
    expect(await app.grants()).toEqual(plain(original));
    // A retried lift after the schema is gone still verifies and changes nothing.
    const again = await acts.databaseReadWrite(input({ args: a.undo?.args ?? {}, incidentId: `INC-DB-${hex}-held-a`, stepId: 'read-only.undo' }));
    expect(again).toMatchObject({ changed: false, proof: { bookkeeping: 'absent', sessionsEnded: 0 } });
    expect(await schemaExists()).toBe(false);
  });

  it("a schema firebreak that holds something else is left in place (only Firebreak's table goes)", async () => {
    const res = await acts.databaseReadOnly(input({ incidentId: `INC-DB-${hex}-foreign` }));
    await app.admin.query('CREATE TABLE firebreak.not_ours (x int)');
    const lift = await acts.databaseReadWrite(input({ args: res.undo?.args ?? {}, incidentId: `INC-DB-${hex}-foreign`, stepId: 'read-only.undo' }));
    expect(lift.proof).toMatchObject({ bookkeeping: 'removed' });
    expect((await app.admin.query<{ t: string | null }>("SELECT to_regclass('firebreak.firebreak_undo')::text AS t")).rows[0]?.t).toBeNull();
    expect((await app.admin.query<{ t: string | null }>("SELECT to_regclass('firebreak.not_ours')::text AS t")).rows[0]?.t).toBe('firebreak.not_ours');
    await app.admin.query('DROP SCHEMA firebreak CASCADE');
  });

  it('names that do not exist are BadInput, naming them, and nothing changes', async () => {
    const before = await snapshot();
    await expect(acts.databaseReadOnly(input({ target: 'nodb' }))).rejects.toMatchObject({
      type: 'FirebreakBadInput',
      nonRetryable: true,
      message: `database "fbt_no_such_db_${hex}" does not exist (target "nodb")`,
    });
    await expect(acts.databaseReadOnly(input({ target: 'norole' }))).rejects.toMatchObject({ type: 'FirebreakBadInput', message: `role "fbt_no_such_role_${hex}" does not exist` });
    await expect(acts.databaseReadOnly(input({ target: 'noschema' }))).rejects.toMatchObject({
      type: 'FirebreakBadInput',
      message: `schema "no_such_schema_${hex}" does not exist in database "${app.name}"`,
    });
    await expect(acts.databaseReadOnly(input({ target: 'nowhere' }))).rejects.toMatchObject({ type: 'FirebreakBadInput' });
    await expect(acts.databaseReadOnly(input({ target: 'prod', mode: 'drill' }))).rejects.toMatchObject({ type: 'FirebreakRefused' });
    expect(await snapshot()).toEqual(before);
  });

  it('read_write refuses a missing or malformed record', async () => {
    const before = await snapshot();
    await expect(acts.databaseReadWrite(input())).rejects.toMatchObject({
      type: 'FirebreakBadInput',
      message: 'no recorded state: database.read_write runs as the undo of database.read_only',
    });
    const good = (first.undo?.args as { restore: Record<string, unknown> }).restore;
    const tables = good.tables as Array<Record<string, unknown>>;
    const bad: unknown[] = [
      'x',
      { ...good, version: 2 },
      { ...good, role: 'x"; DROP TABLE auth_user; --' },
      { ...good, role: 'other_role' },
      { ...good, schemas: ['public', 'Billing', 'elsewhere'] },
      { ...good, tables: [{ ...tables[0], privileges: [{ privilege: 'SELECT', grantable: false }] }] },
      { ...good, tables: [{ ...tables[0], table: 'a\u0000b' }] },
      { ...good, settings: { roleInDatabase: "on'; DROP ROLE x; --", role: null, database: null } },
    ];
    for (const restore of bad) {
      await expect(acts.databaseReadWrite(input({ args: { restore } }))).rejects.toMatchObject({ type: 'FirebreakBadInput', nonRetryable: true });
    }
    expect(await snapshot()).toEqual(before);
  });

  it('a role that owns a table cannot be made read-only: a clear, non-retryable failure and nothing changed', async () => {
    const before = await snapshot(ownerRole);
    const err = await acts.databaseReadOnly(input({ target: 'owner' })).catch((e: unknown) => e);
    expect(err).toMatchObject({ type: 'FirebreakVerificationFailed', nonRetryable: true });
    expect((err as Error).message).toMatch(new RegExp(`"${ownerRole}" owns public\\.owned_table \\(an owner can grant itself any privilege again\\)`));
    expect((err as Error).message).toMatch(/Nothing was changed/);
    expect(await snapshot(ownerRole)).toEqual(before);
  });

  it.each([
    ['member', () => memberRole, () => `can act as "${writerRole}", which may write public.orders`],
    ['allwriter', () => allWriterRole, () => 'can act as "pg_write_all_data", which may write Billing.events'],
    ['grantee', () => granteeRole, () => `holds write privileges granted by a non-owner on public.orders (granted by "${grantorRole}")`],
  ])('a role that can still write another way (%s) is refused before anything changes', async (target, role, message) => {
    const before = await snapshot(role());
    await expect(acts.databaseReadOnly(input({ target }))).rejects.toMatchObject({
      type: 'FirebreakVerificationFailed',
      nonRetryable: true,
      message: expect.stringContaining(message()),
    });
    expect(await snapshot(role())).toEqual(before);
  });

  it('config cannot carry SQL in a role, database or schema name (so `Weird Schema"x` cannot be configured)', () => {
    const file = join(dir, 'evil.yaml');
    for (const field of ['appRole: "app\\"; DROP TABLE x; --"', 'database: "app db"', 'schemas: ["Weird Schema\\"x"]']) {
      writeFileSync(file, `targets:\n  evil: { postgres: { ${field} } }\n`);
      expect(() => loadConfig({ file, env: {} })).toThrow(/must be a plain SQL identifier/);
    }
  });
});

describe('database.read_only in a real incident', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack('database', {
      targetExtra: `    postgres: { database: ${app.name}, appRole: "${app.role}", schemas: [public, Billing] }`,
    });
    stack.writeRunbook(
      'db-sqli',
      [
        'name: db-sqli',
        'title: SQL injection, database read-only',
        'severity: critical',
        'resolve:',
        '  approval: { count: 1, group: responders }',
        'phases:',
        '  containment:',
        '    - id: read-only',
        '      action: database.read_only',
        '      approval: { count: 2, group: responders }',
        '  postmortem:',
        '    - id: timeline',
        '      action: report.timeline',
      ].join('\n'),
    );
  });
  afterAll(async () => {
    await stack?.stop();
  });

  const until = (id: string, pred: (s: IncidentStatus) => boolean) =>
    waitFor(stack.client, id, (s) => pred(s) || s.state === 'blocked' || TERMINAL.includes(s.state), { timeoutMs: 40_000, intervalMs: 100 });

  it('contains on approval, proves it, and the all-clear makes writes work again', async () => {
    const before = await app.grants();
    const { id } = await declareIncident(stack.client, stack.config, { runbook: 'db-sqli', actor: stack.actor(DECLARER) });
    await until(id, (s) => s.state === 'awaiting-approval');
    await approveGate(stack.client, id, 'read-only', stack.actor('alice'));
    await approveGate(stack.client, id, 'read-only', stack.actor('bob'));
    let s = await until(id, (x) => x.state === 'awaiting-resolve');
    expect(s.steps.find((x) => x.id === 'read-only')).toMatchObject({ state: 'succeeded', proof: { deniedWrite: '42501 on Billing.events' } });
    expect(s.state).toBe('awaiting-resolve');
    expect(s.activeContainment).toEqual(['read-only']);

    const during = await app.connectAs();
    await during.query('SET default_transaction_read_only = off');
    expect(await attempt(during, "INSERT INTO public.auth_user (username) VALUES ('eve')")).toBe('42501');
    await during.end();

    await resolveIncident(stack.client, id, stack.actor('carol'));
    s = await until(id, () => false);
    expect(s.state).toBe('completed');
    expect(s.steps.find((x) => x.id === 'read-only')?.state).toBe('undone');
    expect(s.timeline.some((t) => t.kind === 'undo' && t.message.includes('database.read_write'))).toBe(true);
    expect(await app.grants()).toEqual(plain(before));
    // The last holder lifted read-only: nothing of Firebreak's stays behind in the app database.
    expect((await app.admin.query("SELECT 1 FROM pg_namespace WHERE nspname = 'firebreak'")).rowCount).toBe(0);
    expect(s.steps.find((x) => x.id === 'read-only')?.summary).toMatch(/removed schema firebreak$/);
    const after = await app.connectAs();
    expect(await attempt(after, "INSERT INTO public.auth_user (username) VALUES ('eve')")).toBe('ok');
    await after.end();
    expect((await getStatus(stack.client, id)).activeContainment).toEqual([]);
  });
});
