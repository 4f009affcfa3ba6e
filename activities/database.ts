/**
 * database.read_only / database.read_write: the guide's "database lockdown".
 *
 * `default_transaction_read_only` alone is not a security control (any client
 * can SET it off), so read-only means: revoke the app role's write privileges,
 * set the read-only default for its new sessions, end its open sessions, then
 * prove it by writing as the app role and being refused with 42501. The prior
 * grants and setting are recorded in the app database (schema `firebreak`)
 * before anything changes, so a retried step never records its own effect as
 * the state to restore; read_write restores exactly that record.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { z } from 'zod';
import { readSecret, type TargetConfig } from '../lib/config.js';
import type { ActionInput, ActionResult } from '../workflows/definitions.js';
import { assertModeAllowed, type ActivityDeps } from './deps.js';
import { badInput, onTarget, refused, targetUnavailable, errorLine, sqlState, verificationFailed, verificationFailedFinal } from './support/failures.js';

type PgTarget = NonNullable<TargetConfig['postgres']>;

const WRITE_PRIVILEGES = ['DELETE', 'INSERT', 'TRUNCATE', 'UPDATE'] as const;
const COLUMN_PRIVILEGES = ['INSERT', 'UPDATE'] as const;
/** What `GRANT … ON ALL TABLES IN SCHEMA` touches: tables, partitioned tables, views, materialized views, foreign tables. */
const RELKINDS = ['r', 'p', 'v', 'm', 'f'] as const;

/** Serialises read_only/read_write on one database (bookkeeping DDL, record, revoke). */
const LOCK_KEY = [0x46697265, 0x44420001] as const;
const SESSION_END_WAIT_MS = 5_000;
const LIST_AT_MOST = 6;

const ident = (name: string): string => pg.escapeIdentifier(name);
const qualified = (schema: string, table: string): string => `${ident(schema)}.${ident(table)}`;
const display = (schema: string, table: string): string => `${schema}.${table}`;
const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

// ---- the record (the undo's `restore` argument) --------------------------------------------

/** Same rule as config identifiers (role, database, schemas). */
const configIdentifier = z.string().regex(/^[A-Za-z_][A-Za-z0-9_$]{0,62}$/);
/** Table and column names come from the catalog: anything PostgreSQL accepts (≤ 63 bytes, no NUL). */
const catalogName = z
  .string()
  .min(1)
  .refine((s) => !s.includes('\0') && Buffer.byteLength(s, 'utf8') <= 63, 'not a PostgreSQL name');
/** Spellings PostgreSQL accepts for a boolean setting (it stores them as written). */
const boolSetting = z
  .string()
  .regex(/^(on|of|off|t|tr|tru|true|f|fa|fal|fals|false|y|ye|yes|n|no|1|0)$/i)
  .nullable();

const recordSchema = z
  .object({
    version: z.literal(1),
    role: configIdentifier,
    database: configIdentifier,
    schemas: z.array(configIdentifier).min(1).max(200),
    recordedAt: z.iso.datetime(),
    settings: z
      .object({ roleInDatabase: boolSetting, role: boolSetting, database: boolSetting })
      .strict()
      .describe('default_transaction_read_only as set for (role, database), (role) and (database); null when unset'),
    tables: z
      .array(
        z
          .object({
            schema: configIdentifier,
            table: catalogName,
            kind: z.enum(RELKINDS),
            privileges: z.array(z.object({ privilege: z.enum(WRITE_PRIVILEGES), grantable: z.boolean() }).strict()).max(4),
            columns: z
              .array(z.object({ column: catalogName, privilege: z.enum(COLUMN_PRIVILEGES), grantable: z.boolean() }).strict())
              .max(2 * 1600),
          })
          .strict(),
      )
      .max(100_000),
  })
  .strict()
  .superRefine((r, ctx) => {
    for (const [i, t] of r.tables.entries()) {
      if (!r.schemas.includes(t.schema)) ctx.addIssue({ code: 'custom', path: ['tables', i, 'schema'], message: `schema "${t.schema}" is not one of the recorded schemas` });
    }
  });

/** Prior state recorded by database.read_only: the app role's direct write grants and the read-only default. */
export type ReadOnlyRecord = z.infer<typeof recordSchema>;
type TableRecord = ReadOnlyRecord['tables'][number];
type Settings = ReadOnlyRecord['settings'];

function parseRecord(raw: unknown, what: string): ReadOnlyRecord {
  const parsed = recordSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(record)'}: ${i.message}`);
  throw badInput(`${what} is not a database.read_only record: ${issues.join('; ')}`);
}

const isOn = (v: string | null): boolean => v !== null && /^(on|t|tr|tru|true|y|ye|yes|1)$/i.test(v);

function grantKeys(tables: TableRecord[]): Set<string> {
  const keys = new Set<string>();
  for (const t of tables) {
    for (const p of t.privileges) keys.add(`${display(t.schema, t.table)} ${p.privilege}${p.grantable ? ' WITH GRANT OPTION' : ''}`);
    for (const c of t.columns) keys.add(`${display(t.schema, t.table)} ${c.privilege} (${c.column})${c.grantable ? ' WITH GRANT OPTION' : ''}`);
  }
  return keys;
}

const grantCount = (tables: TableRecord[]): number => tables.reduce((n, t) => n + t.privileges.length + t.columns.length, 0);

function listSome(items: string[]): string {
  const shown = items.slice(0, LIST_AT_MOST).join(', ');
  return items.length > LIST_AT_MOST ? `${shown} and ${items.length - LIST_AT_MOST} more` : shown;
}

// ---- PostgreSQL helpers --------------------------------------------------------------------

interface RoleRow {
  oid: number;
  rolname: string;
  rolsuper: boolean;
  rolcreaterole: boolean;
  rolbypassrls: boolean;
  rolcanlogin: boolean;
}




async function inTransaction<T>(c: pg.ClientBase, fn: () => Promise<T>): Promise<T> {
  await c.query('BEGIN');
  try {
    const result = await fn();
    await c.query('COMMIT');
    return result;
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/** The app role's direct write grants (table and column level) on every relation of `schemas`, sorted. */
async function readGrants(c: pg.ClientBase, roleOid: number, schemas: string[]): Promise<TableRecord[]> {
  const { rows } = await c.query<TableRecord>(
    `SELECT n.nspname AS schema, c.relname AS table, c.relkind AS kind,
       COALESCE((SELECT json_agg(json_build_object('privilege', p.privilege_type, 'grantable', p.grantable) ORDER BY p.privilege_type COLLATE "C")
                 FROM (SELECT a.privilege_type, bool_or(a.is_grantable) AS grantable
                       FROM aclexplode(c.relacl) a
                       WHERE a.grantee = $1::oid AND a.privilege_type = ANY($3::text[])
                       GROUP BY a.privilege_type) p), '[]'::json) AS privileges,
       COALESCE((SELECT json_agg(json_build_object('column', p.attname, 'privilege', p.privilege_type, 'grantable', p.grantable)
                                 ORDER BY p.attname COLLATE "C", p.privilege_type COLLATE "C")
                 FROM (SELECT at.attname, a.privilege_type, bool_or(a.is_grantable) AS grantable
                       FROM pg_attribute at CROSS JOIN LATERAL aclexplode(at.attacl) a
                       WHERE at.attrelid = c.oid AND at.attnum > 0 AND NOT at.attisdropped
                         AND a.grantee = $1::oid AND a.privilege_type = ANY($4::text[])
                       GROUP BY at.attname, a.privilege_type) p), '[]'::json) AS columns
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = ANY($2::text[]) AND c.relkind = ANY($5::"char"[])
     ORDER BY n.nspname COLLATE "C", c.relname COLLATE "C"`,
    [roleOid, schemas, WRITE_PRIVILEGES, COLUMN_PRIVILEGES, RELKINDS],
  );
  return rows;
}

/** default_transaction_read_only for (role, db), (role, all databases) and (all roles, db). */
async function readSettings(c: pg.ClientBase, roleOid: number): Promise<Settings> {
  const { rows } = await c.query<{ setrole: number; setdatabase: number; value: string }>(
    `SELECT s.setrole, s.setdatabase, substr(cfg, strpos(cfg, '=') + 1) AS value
     FROM pg_db_role_setting s CROSS JOIN LATERAL unnest(s.setconfig) cfg
     WHERE lower(split_part(cfg, '=', 1)) = 'default_transaction_read_only'
       AND ((s.setrole = $1::oid AND s.setdatabase IN (0, (SELECT oid FROM pg_database WHERE datname = current_database())))
         OR (s.setrole = 0 AND s.setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())))`,
    [roleOid],
  );
  const pick = (role: boolean, db: boolean) => rows.find((r) => (r.setrole !== 0) === role && (r.setdatabase !== 0) === db)?.value ?? null;
  return { roleInDatabase: pick(true, true), role: pick(true, false), database: pick(false, true) };
}

/** How the app role logs in, for the proofs: `appUrl`, else `adminUrl` with the app role and database. */
function appConnectionConfig(pgc: PgTarget): pg.ClientConfig {
  let url: URL;
  if (pgc.appUrl) {
    url = new URL(pgc.appUrl);
  } else {
    url = new URL(pgc.adminUrl);
    url.username = encodeURIComponent(pgc.appRole);
    url.password = ''; // never log in as the app with the admin's password
    url.pathname = `/${encodeURIComponent(pgc.database)}`;
  }
  // pg ignores a separate `password` when the connection string has none: put it in the URL.
  if (pgc.appPassword) url.password = encodeURIComponent(readSecret(pgc.appPassword));
  return {
    connectionString: url.toString(),
    application_name: 'firebreak-proof',
    connectionTimeoutMillis: 5_000,
    statement_timeout: 10_000,
    lock_timeout: 5_000,
    query_timeout: 15_000,
  };
}

/** Run `fn` in a fresh session of the app role, checked to be that role on that database. */
async function asAppRole<T>(
  pgc: PgTarget,
  stage: 'before acting' | 'after acting',
  fn: (c: pg.Client, readOnlyDefault: string, pid: number) => Promise<T>,
): Promise<T> {
  const client = new pg.Client(appConnectionConfig(pgc));
  client.on('error', () => undefined); // a terminated proof session surfaces on its next query
  try {
    await client.connect();
  } catch (err) {
    const code = sqlState(err);
    if (code && /^(28|3D|42)/.test(code)) {
      const message = `cannot log in as "${pgc.appRole}" to prove it (${code}: ${errorLine(err)}); check postgres.appUrl / appPassword for the target`;
      // Before acting this is a configuration problem; after acting, a retry may get through.
      throw stage === 'before acting' ? verificationFailedFinal(`${message}. Nothing was changed.`) : verificationFailed(message);
    }
    throw targetUnavailable('postgres (as the app role)', err);
  }
  try {
    const { rows } = await client.query<{ who: string; db: string; ro: string; pid: number }>(
      "SELECT session_user AS who, current_database() AS db, current_setting('default_transaction_read_only') AS ro, pg_backend_pid() AS pid",
    );
    const me = rows[0];
    if (!me || me.who !== pgc.appRole || me.db !== pgc.database) {
      throw verificationFailedFinal(`the app connection logs in as "${me?.who}" on "${me?.db}", expected "${pgc.appRole}" on "${pgc.database}" (check postgres.appUrl)`);
    }
    return await fn(client, me.ro, me.pid);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** One write attempt as the app role, always rolled back: the SQLSTATE it failed with, or null when it succeeded. */
async function tryWrite(c: pg.Client, sql: string, forceReadWrite: boolean): Promise<{ code: string | null; message?: string }> {
  if (forceReadWrite) await c.query('SET default_transaction_read_only = off');
  await c.query('BEGIN');
  try {
    if (forceReadWrite) await c.query('SET transaction_read_only = off');
    await c.query(sql);
    return { code: null };
  } catch (err) {
    return { code: sqlState(err) ?? 'error', message: errorLine(err) };
  } finally {
    await c.query('ROLLBACK').catch(() => undefined);
  }
}

// ---- who can still write: the role design ---------------------------------------------------

interface WritePathRow {
  schema: string;
  table: string;
  configured: boolean;
  owner: string;
  owned: boolean;
  public_write: boolean;
  via: string[];
  app_writes: boolean;
  other_grantors: string[];
  granted_onwards: string[];
}

interface WritePaths {
  /** Ways the app role can (still) write that a REVOKE from it does not close. */
  problems: string[];
  /** Worth knowing, not a way to change existing data. */
  notes: string[];
}

/**
 * Every way the app role could write existing data that revoking its own
 * grants in `schemas` does not close: superuser, CREATEROLE, ownership (of the
 * database, schemas or relations, directly or through a role), roles it can use
 * that write (pg_write_all_data too), PUBLIC grants, grants from non-owners,
 * grants it passed on, and writes outside the configured schemas. `after` also
 * reports any write privilege the role still holds.
 */
async function writePaths(c: pg.ClientBase, role: RoleRow, schemas: string[], phase: 'before' | 'after'): Promise<WritePaths> {
  const problems: string[] = [];
  const notes: string[] = [];
  if (role.rolbypassrls) notes.push(`"${role.rolname}" has BYPASSRLS (row-level security does not filter it; it grants no write by itself)`);
  if (role.rolsuper) {
    problems.push(`"${role.rolname}" is a superuser (privileges do not apply to it)`);
    return { problems, notes };
  }
  if (role.rolcreaterole) problems.push(`"${role.rolname}" has CREATEROLE (it can grant itself pg_write_all_data or any writing role)`);

  const db = await c.query<{ owns: boolean; owner: string }>(
    `SELECT pg_has_role($1::oid, d.datdba, 'MEMBER') AS owns, pg_get_userbyid(d.datdba) AS owner FROM pg_database d WHERE d.datname = current_database()`,
    [role.oid],
  );
  if (db.rows[0]?.owns) problems.push(`"${role.rolname}" owns the database${db.rows[0].owner === role.rolname ? '' : ` (through "${db.rows[0].owner}")`}`);

  const nsp = await c.query<{ nspname: string; owner: string; owns: boolean; can_create: boolean }>(
    `SELECT n.nspname, pg_get_userbyid(n.nspowner) AS owner, pg_has_role($1::oid, n.nspowner, 'MEMBER') AS owns,
            has_schema_privilege($1::oid, n.oid, 'CREATE') AS can_create
     FROM pg_namespace n
     WHERE n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'
       AND (n.nspname = ANY($2::text[]) OR EXISTS (SELECT 1 FROM pg_class c WHERE c.relnamespace = n.oid AND c.relkind = ANY($3::"char"[])))
     ORDER BY n.nspname COLLATE "C"`,
    [role.oid, schemas, RELKINDS],
  );
  const ownedSchemas = nsp.rows.filter((r) => r.owns).map((r) => (r.owner === role.rolname ? r.nspname : `${r.nspname} (through "${r.owner}")`));
  if (ownedSchemas.length) problems.push(`"${role.rolname}" owns schema ${listSome(ownedSchemas)} (a schema owner can drop and replace its tables)`);
  const creatable = nsp.rows.filter((r) => !r.owns && r.can_create && schemas.includes(r.nspname)).map((r) => r.nspname);
  if (creatable.length) notes.push(`"${role.rolname}" can still create new tables in ${listSome(creatable)} (CREATE on the schema; existing tables stay protected)`);

  const defaults = await c.query<{ creator: string; schema: string | null }>(
    `SELECT DISTINCT pg_get_userbyid(d.defaclrole)::text AS creator, n.nspname::text AS schema
     FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace CROSS JOIN LATERAL aclexplode(d.defaclacl) a
     WHERE d.defaclobjtype = 'r' AND (a.grantee = $1::oid OR a.grantee = 0) AND a.privilege_type = ANY($2::text[])
     ORDER BY 1, 2`,
    [role.oid, WRITE_PRIVILEGES],
  );
  if (defaults.rowCount) {
    const by = defaults.rows.map((d) => `"${d.creator}"${d.schema ? ` in ${d.schema}` : ''}`);
    notes.push(`default privileges give "${role.rolname}" writes on tables created later by ${listSome(by)}: a table created during the containment is writable until this step runs again`);
  }

  const { rows } = await c.query<WritePathRow>(
    `WITH members AS (
       SELECT r.oid, r.rolname FROM pg_roles r WHERE r.oid <> $1::oid AND pg_has_role($1::oid, r.oid, 'MEMBER')
     ), rels AS (
       SELECT c.oid, n.nspname, c.relname, c.relowner, c.relacl, n.nspname = ANY($2::text[]) AS configured
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE c.relkind = ANY($3::"char"[]) AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'
     ), grants AS (
       SELECT r.oid AS rel, a.grantor, a.grantee FROM rels r CROSS JOIN LATERAL aclexplode(r.relacl) a
       WHERE a.privilege_type = ANY($4::text[])
       UNION ALL
       SELECT at.attrelid, a.grantor, a.grantee FROM pg_attribute at JOIN rels r ON r.oid = at.attrelid CROSS JOIN LATERAL aclexplode(at.attacl) a
       WHERE at.attnum > 0 AND NOT at.attisdropped AND a.privilege_type = ANY($5::text[])
     ), paths AS (
       SELECT r.nspname AS schema, r.relname AS table, r.configured,
         pg_get_userbyid(r.relowner) AS owner,
         pg_has_role($1::oid, r.relowner, 'MEMBER') AS owned,
         EXISTS (SELECT 1 FROM grants g WHERE g.rel = r.oid AND g.grantee = 0) AS public_write,
         ARRAY(SELECT m.rolname::text FROM members m
               WHERE has_table_privilege(m.oid, r.oid, 'INSERT, UPDATE, DELETE, TRUNCATE') OR has_any_column_privilege(m.oid, r.oid, 'INSERT, UPDATE')
               ORDER BY m.rolname COLLATE "C") AS via,
         has_table_privilege($1::oid, r.oid, 'INSERT, UPDATE, DELETE, TRUNCATE') OR has_any_column_privilege($1::oid, r.oid, 'INSERT, UPDATE') AS app_writes,
         ARRAY(SELECT DISTINCT pg_get_userbyid(g.grantor)::text FROM grants g WHERE g.rel = r.oid AND g.grantee = $1::oid AND g.grantor <> r.relowner) AS other_grantors,
         ARRAY(SELECT DISTINCT CASE WHEN g.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(g.grantee)::text END
               FROM grants g WHERE g.rel = r.oid AND g.grantor = $1::oid AND g.grantee <> $1::oid) AS granted_onwards
       FROM rels r
     )
     SELECT * FROM paths
     WHERE owned OR public_write OR cardinality(via) > 0 OR app_writes OR cardinality(other_grantors) > 0 OR cardinality(granted_onwards) > 0
     ORDER BY schema COLLATE "C", "table" COLLATE "C"`,
    [role.oid, schemas, RELKINDS, WRITE_PRIVILEGES, COLUMN_PRIVILEGES],
  );

  const owned: string[] = [];
  const publicWrite: string[] = [];
  const via = new Map<string, string[]>();
  const otherGrantors: string[] = [];
  const onwards: string[] = [];
  const outside: string[] = [];
  const still: string[] = [];
  for (const r of rows) {
    const name = display(r.schema, r.table);
    let explained = false;
    if (r.owned) {
      owned.push(r.owner === role.rolname ? name : `${name} (owner "${r.owner}")`);
      explained = true;
    }
    if (r.public_write) {
      publicWrite.push(name);
      explained = true;
    } else if (r.via.length) {
      for (const v of r.via) via.set(v, [...(via.get(v) ?? []), name]);
      explained = true;
    }
    if (r.configured && r.other_grantors.length) {
      otherGrantors.push(`${name} (granted by ${r.other_grantors.map((g) => `"${g}"`).join(', ')})`);
      explained = true;
    }
    if (r.configured && r.granted_onwards.length) {
      onwards.push(`${name} (to ${r.granted_onwards.map((g) => (g === 'PUBLIC' ? g : `"${g}"`)).join(', ')})`);
      explained = true;
    }
    if (!explained && r.app_writes) {
      if (!r.configured) outside.push(name);
      else if (phase === 'after') still.push(name);
    }
  }
  const who = `"${role.rolname}"`;
  if (owned.length) problems.push(`${who} owns ${listSome(owned)} (an owner can grant itself any privilege again)`);
  if (publicWrite.length) problems.push(`PUBLIC (every role) may write ${listSome(publicWrite)}`);
  for (const [v, tables] of via) problems.push(`${who} can act as "${v}", which may write ${listSome(tables)}`);
  if (otherGrantors.length) problems.push(`${who} holds write privileges granted by a non-owner on ${listSome(otherGrantors)} (Firebreak revokes as the owner)`);
  if (onwards.length) problems.push(`${who} has passed its write privileges on to others on ${listSome(onwards)} (Firebreak does not REVOKE … CASCADE other roles' privileges)`);
  if (outside.length) problems.push(`${who} may write ${listSome(outside)}, outside the configured schemas (add them to postgres.schemas)`);
  if (still.length) problems.push(`${who} still holds write privileges on ${listSome(still)} after the REVOKE`);
  return { problems, notes };
}

// ---- activities ------------------------------------------------------------------------------

export function createDatabaseActivities(deps: ActivityDeps) {
  const { clients, logger } = deps;

  function postgresOf(input: ActionInput): PgTarget {
    const target = clients.target(input.target);
    assertModeAllowed(target, input.target, input.mode);
    if (!target.postgres) throw badInput(`target "${input.target}" has no postgres section in config`);
    return target.postgres;
  }

  /** An admin session on the app database; a database that does not exist is bad input. */
  async function withAdmin<T>(targetName: string, pgc: PgTarget, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    let c: pg.PoolClient;
    try {
      c = await clients.pg(targetName).connect();
    } catch (err) {
      if (sqlState(err) === '3D000') throw badInput(`database "${pgc.database}" does not exist (target "${targetName}")`);
      throw targetUnavailable('postgres', err);
    }
    let failed = false;
    try {
      return await fn(c);
    } catch (err) {
      failed = true;
      const code = sqlState(err);
      // Not transient: the admin lacks a privilege, or the app role passed its grants on.
      if (code === '42501' || code === '2BP01') throw refused(`postgres refused the admin (${code}): ${errorLine(err)}`);
      throw err;
    } finally {
      c.release(failed);
    }
  }

  /** The database (we are connected to it), the role and the schemas exist; names are parameters, never SQL. */
  async function validate(c: pg.ClientBase, pgc: PgTarget, schemas: string[], opts = { requireSchemas: true }): Promise<RoleRow> {
    const db = await c.query('SELECT 1 FROM pg_database WHERE datname = $1 AND datname = current_database()', [pgc.database]);
    if (!db.rowCount) throw badInput(`database "${pgc.database}" does not exist`);
    const role = await c.query<RoleRow>(
      'SELECT oid, rolname, rolsuper, rolcreaterole, rolbypassrls, rolcanlogin FROM pg_roles WHERE rolname = $1',
      [pgc.appRole],
    );
    const row = role.rows[0];
    if (!row) throw badInput(`role "${pgc.appRole}" does not exist`);
    const reserved = schemas.filter((s) => s === 'firebreak' || s === 'information_schema' || s.startsWith('pg_'));
    if (reserved.length) throw badInput(`schema ${reserved.map((s) => `"${s}"`).join(', ')} cannot be made read-only for the app (system or Firebreak's own)`);
    const found = await c.query<{ nspname: string }>('SELECT nspname FROM pg_namespace WHERE nspname = ANY($1::text[])', [schemas]);
    const missing = schemas.filter((s) => !found.rows.some((r) => r.nspname === s));
    // A schema dropped since the record was taken is no reason to leave the rest read-only.
    if (missing.length && opts.requireSchemas) throw badInput(`schema ${missing.map((s) => `"${s}"`).join(', ')} does not exist in database "${pgc.database}"`);
    const me = await c.query<{ me: string }>('SELECT current_user AS me');
    if (me.rows[0]?.me === pgc.appRole) throw badInput(`the app role "${pgc.appRole}" is the admin Firebreak connects as`);
    return row;
  }

  /** The admin must be able to revoke as the owner, alter the role and end its sessions; else nothing is attempted. */
  async function assertAdminCan(c: pg.ClientBase, schemas: string[]): Promise<void> {
    const { rows } = await c.query<{ me: string; rolsuper: boolean; rolcreaterole: boolean; can_signal: boolean; not_owned: string[] }>(
      `SELECT r.rolname AS me, r.rolsuper, r.rolcreaterole, pg_has_role(r.oid, 'pg_signal_backend', 'USAGE') AS can_signal,
         ARRAY(SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname = ANY($1::text[]) AND c.relkind = ANY($2::"char"[]) AND NOT pg_has_role(r.oid, c.relowner, 'USAGE')
               ORDER BY n.nspname COLLATE "C", c.relname COLLATE "C") AS not_owned
       FROM pg_roles r WHERE r.rolname = current_user`,
      [schemas, RELKINDS],
    );
    const me = rows[0];
    if (!me || me.rolsuper) return;
    const missing: string[] = [];
    if (!me.rolcreaterole) missing.push('CREATEROLE (to ALTER ROLE … SET)');
    if (!me.can_signal) missing.push('membership in pg_signal_backend (to end sessions)');
    if (me.not_owned.length) missing.push(`ownership of ${listSome(me.not_owned)} (to revoke as the owner)`);
    if (missing.length) throw refused(`the admin "${me.me}" lacks ${missing.join('; ')}: use a superuser or the tables' owner in postgres.adminUrl`);
  }

  /** Firebreak's own record table in the app database; the app role must not be able to touch it. */
  async function ensureBookkeeping(c: pg.ClientBase, role: RoleRow): Promise<void> {
    await c.query('CREATE SCHEMA IF NOT EXISTS firebreak');
    await c.query(
      `CREATE TABLE IF NOT EXISTS firebreak.firebreak_undo (
         incident_id text NOT NULL,
         step_id text NOT NULL,
         record jsonb NOT NULL,
         created_at timestamptz NOT NULL DEFAULT now(),
         applied_at timestamptz,
         lifted_at timestamptz,
         PRIMARY KEY (incident_id, step_id)
       )`,
    );
    const cols = await c.query<{ attname: string }>(
      `SELECT attname FROM pg_attribute WHERE attrelid = 'firebreak.firebreak_undo'::regclass AND attname IN ('applied_at', 'lifted_at') AND NOT attisdropped`,
    );
    if (cols.rowCount !== 2) {
      await c.query('ALTER TABLE firebreak.firebreak_undo ADD COLUMN IF NOT EXISTS applied_at timestamptz, ADD COLUMN IF NOT EXISTS lifted_at timestamptz');
    }
    const { rows } = await c.query<{ exposed: boolean }>(
      `SELECT pg_has_role($1::oid, n.nspowner, 'MEMBER') OR has_schema_privilege($1::oid, n.oid, 'CREATE')
              OR pg_has_role($1::oid, c.relowner, 'MEMBER') OR has_table_privilege($1::oid, c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE') AS exposed
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = 'firebreak.firebreak_undo'::regclass`,
      [role.oid],
    );
    if (rows[0]?.exposed !== false) {
      throw refused(`Firebreak's record table firebreak.firebreak_undo is writable by "${role.rolname}" (it or its schema is owned by or granted to it): fix its ownership before relying on it`);
    }
  }

  /**
   * Firebreak's records in the app database are needed only while some incident holds
   * read-only there (a retried read_only must find its own record, a lift its lifted_at).
   * Once every record is lifted, the table and then the schema go, under the same lock as
   * read_only, so a concurrent read_only never writes into a table being dropped. The schema
   * is dropped without CASCADE: anything else someone put in it stays, and so does the schema.
   */
  async function removeBookkeepingIfUnused(c: pg.ClientBase): Promise<'removed' | 'kept' | 'absent'> {
    return inTransaction(c, async () => {
      await c.query('SELECT pg_advisory_xact_lock($1, $2)', [...LOCK_KEY]);
      const book = await c.query<{ t: string | null }>("SELECT to_regclass('firebreak.firebreak_undo')::text AS t");
      if (!book.rows[0]?.t) return 'absent';
      const held = await c.query<{ n: number }>('SELECT count(*)::int AS n FROM firebreak.firebreak_undo WHERE lifted_at IS NULL');
      if ((held.rows[0]?.n ?? 0) > 0) return 'kept';
      await c.query('DROP TABLE firebreak.firebreak_undo');
      // RESTRICT fails when the schema holds anything else; that is not our business, so keep it.
      await c.query('SAVEPOINT fb_schema');
      try {
        await c.query('DROP SCHEMA IF EXISTS firebreak RESTRICT');
      } catch (err) {
        if (sqlState(err) !== '2BP01') throw err;
        await c.query('ROLLBACK TO SAVEPOINT fb_schema');
      }
      return 'removed';
    });
  }

  async function loadRecord(c: pg.ClientBase, input: ActionInput): Promise<unknown> {
    const { rows } = await c.query<{ record: unknown }>('SELECT record FROM firebreak.firebreak_undo WHERE incident_id = $1 AND step_id = $2', [
      input.incidentId,
      input.stepId,
    ]);
    return rows[0]?.record;
  }

  /** End the role's sessions on this database that started before `before`; wait until they are gone. */
  async function endSessions(c: pg.ClientBase, role: RoleRow, opts: { before: Date; after?: string; exclude?: number }): Promise<number> {
    const { rows } = await c.query<{ pid: number; ended: boolean }>(
      `SELECT pid, pg_terminate_backend(pid, $5::bigint) AS ended FROM pg_stat_activity
       WHERE usesysid = $1::oid AND datname = current_database() AND pid <> pg_backend_pid() AND pid <> $4::int
         AND backend_start < $2::timestamptz AND ($3::timestamptz IS NULL OR backend_start >= $3::timestamptz)`,
      [role.oid, opts.before, opts.after ?? null, opts.exclude ?? 0, SESSION_END_WAIT_MS],
    );
    const pids = rows.map((r) => r.pid);
    const deadline = Date.now() + SESSION_END_WAIT_MS;
    for (;;) {
      const left = await c.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = ANY($1::int[])', [pids]);
      if (!left.rows[0]?.n) break;
      if (Date.now() > deadline) throw verificationFailed(`${left.rows[0].n} session(s) of "${role.rolname}" did not end within ${SESSION_END_WAIT_MS} ms`);
      await sleep(50);
    }
    return rows.filter((r) => r.ended).length;
  }

  async function waitGone(c: pg.ClientBase, pid: number): Promise<void> {
    const deadline = Date.now() + 2_000;
    while (Date.now() < deadline) {
      const { rowCount } = await c.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid]);
      if (!rowCount) return;
      await sleep(20);
    }
  }

  function probeTable(tables: TableRecord[]): TableRecord | undefined {
    return tables.find((t) => t.kind === 'r' || t.kind === 'p');
  }

  return {
    /** Revoke the app role's writes, default its sessions to read-only, end its open sessions, prove a write is refused. */
    async databaseReadOnly(input: ActionInput): Promise<ActionResult> {
      const pgc = postgresOf(input);
      const schemas = [...new Set(pgc.schemas)].sort(compare);
      return onTarget('postgres', () =>
        withAdmin(input.target, pgc, async (c) => {
          const role = await validate(c, pgc, schemas);
          await assertAdminCan(c, schemas);
          const before = await writePaths(c, role, schemas, 'before');
          const who = `"${pgc.appRole}"`;
          if (before.problems.length) {
            throw verificationFailedFinal(
              `cannot make "${pgc.database}" read-only for ${who}: ${before.problems.join('; ')}. Nothing was changed: give the app role plain grants (no ownership, no writing roles) and retry.`,
            );
          }
          // Prove up front that the app role can log in, so the proof cannot fail for that after acting.
          const preflightPid = await asAppRole(pgc, 'before acting', async (_app, _ro, pid) => pid);
          await waitGone(c, preflightPid);

          if (input.mode === 'dry-run') {
            const grants = await readGrants(c, role.oid, schemas);
            const settings = await readSettings(c, role.oid);
            const sessions = await c.query<{ n: number }>(
              'SELECT count(*)::int AS n FROM pg_stat_activity WHERE usesysid = $1::oid AND datname = current_database() AND pid <> pg_backend_pid()',
              [role.oid],
            );
            const probe = probeTable(grants);
            const n = grantCount(grants);
            return {
              summary: n || !isOn(settings.roleInDatabase) ? `would make "${pgc.database}" read-only for ${who}` : `"${pgc.database}" is already read-only for ${who}`,
              changed: false,
              plan: [
                ...schemas.map((s) => `REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA ${ident(s)} FROM ${ident(pgc.appRole)}`),
                `(${n} write privilege(s) held now on ${grants.filter((t) => t.privileges.length || t.columns.length).length} of ${grants.length} table(s); recorded for the undo)`,
                `ALTER ROLE ${ident(pgc.appRole)} IN DATABASE ${ident(pgc.database)} SET default_transaction_read_only = on (now: ${settings.roleInDatabase ?? 'unset'})`,
                `end ${sessions.rows[0]?.n ?? 0} open session(s) of ${who} on "${pgc.database}"`,
                probe ? `prove: DELETE FROM ${display(probe.schema, probe.table)} WHERE false as ${who} fails with 42501` : 'prove: no table to write to',
                ...before.notes.map((n) => `note: ${n}`),
              ],
            };
          }

          const acted = await inTransaction(c, async () => {
            await c.query('SELECT pg_advisory_xact_lock($1, $2)', [...LOCK_KEY]);
            await ensureBookkeeping(c, role);
            let stored = await loadRecord(c, input);
            if (stored === undefined) {
              const now = await c.query<{ now: Date }>('SELECT now() AS now');
              const fresh: ReadOnlyRecord = {
                version: 1,
                role: pgc.appRole,
                database: pgc.database,
                schemas,
                recordedAt: (now.rows[0]?.now ?? new Date()).toISOString(),
                settings: await readSettings(c, role.oid),
                tables: await readGrants(c, role.oid, schemas),
              };
              // Written before anything changes: a retry finds this and never records its own effect as "prior".
              await c.query(
                'INSERT INTO firebreak.firebreak_undo (incident_id, step_id, record) VALUES ($1, $2, $3::jsonb) ON CONFLICT (incident_id, step_id) DO NOTHING',
                [input.incidentId, input.stepId, JSON.stringify(fresh)],
              );
              stored = await loadRecord(c, input);
            }
            const record = parseRecord(stored, `the stored record for ${input.incidentId}/${input.stepId}`);
            const held = grantCount(await readGrants(c, role.oid, schemas));
            for (const s of schemas) {
              await c.query(`REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA ${ident(s)} FROM ${ident(pgc.appRole)}`);
            }
            const left = await readGrants(c, role.oid, schemas);
            const settings = await readSettings(c, role.oid);
            const settingChanged = !isOn(settings.roleInDatabase);
            if (settingChanged) {
              await c.query(`ALTER ROLE ${ident(pgc.appRole)} IN DATABASE ${ident(pgc.database)} SET default_transaction_read_only = on`);
            }
            return { record, revoked: held - grantCount(left), settingChanged, tables: left.length };
          });

          // Sessions that started before the containment was in force end; later ones are already constrained.
          const applied = await c.query<{ applied_at: Date }>(
            'UPDATE firebreak.firebreak_undo SET applied_at = COALESCE(applied_at, clock_timestamp()) WHERE incident_id = $1 AND step_id = $2 RETURNING applied_at',
            [input.incidentId, input.stepId],
          );
          const sessionsTerminated = await endSessions(c, role, { before: applied.rows[0]?.applied_at ?? new Date(), exclude: preflightPid });

          const after = await writePaths(c, role, schemas, 'after');
          if (after.problems.length) throw verificationFailed(`"${pgc.database}" is not read-only for ${who}: ${after.problems.join('; ')}`);

          const probe = probeTable(acted.record.tables);
          const proved = await asAppRole(pgc, 'after acting', async (app, readOnlyDefault) => {
            if (!isOn(readOnlyDefault)) throw verificationFailed(`a new session of ${who} has default_transaction_read_only = ${readOnlyDefault}, expected on`);
            if (!probe) return { readOnlyDefault, deniedWrite: null };
            const target = display(probe.schema, probe.table);
            const res = await tryWrite(app, `DELETE FROM ${qualified(probe.schema, probe.table)} WHERE false`, true);
            if (res.code === null) throw verificationFailed(`a write as ${who} still succeeds (DELETE FROM ${target} WHERE false, rolled back)`);
            if (res.code === '25006') throw verificationFailed(`a write as ${who} on ${target} was refused only by read-only mode (25006), not by privileges`);
            if (res.code !== '42501') throw verificationFailed(`a write as ${who} on ${target} failed with ${res.code} (${res.message ?? ''}), expected 42501 insufficient_privilege`);
            return { readOnlyDefault, deniedWrite: `42501 on ${target}` };
          });

          const changed = acted.revoked > 0 || acted.settingChanged || sessionsTerminated > 0;
          const notes = after.notes.length ? ` Note: ${after.notes.join('; ')}.` : '';
          logger.info(
            { incidentId: input.incidentId, step: input.stepId, role: pgc.appRole, database: pgc.database, revoked: acted.revoked, sessionsTerminated, changed },
            'database read-only',
          );
          return {
            summary:
              (changed
                ? `"${pgc.database}" read-only for ${who}: revoked ${acted.revoked} write privilege(s) on ${acted.tables} table(s) in ${schemas.join(', ')}, default_transaction_read_only = on, ended ${sessionsTerminated} session(s)`
                : `"${pgc.database}" was already read-only for ${who}`) +
              (proved.deniedWrite ? `; a write as ${who} is refused (${proved.deniedWrite})` : '; no table to prove it on') +
              `.${notes}`,
            changed,
            proof: {
              deniedWrite: proved.deniedWrite,
              sessionsTerminated,
              tables: acted.tables,
              revoked: acted.revoked,
              readOnlyDefault: proved.readOnlyDefault,
              ...(after.notes.length ? { notes: after.notes } : {}),
            },
            output: { role: pgc.appRole, database: pgc.database, schemas, tables: acted.tables, revoked: acted.revoked, sessionsTerminated },
            undo: { action: 'database.read_write', args: { restore: acted.record } },
          };
        }),
      );
    },

    /** Restore exactly the grants and the read-only default recorded by database.read_only, and prove the app can write. */
    async databaseReadWrite(input: ActionInput): Promise<ActionResult> {
      const pgc = postgresOf(input);
      if (input.args.restore === undefined || input.args.restore === null) {
        throw badInput('no recorded state: database.read_write runs as the undo of database.read_only');
      }
      const record = parseRecord(input.args.restore, 'restore');
      if (record.role !== pgc.appRole || record.database !== pgc.database) {
        throw badInput(`the record is for role "${record.role}" on "${record.database}", but target "${input.target}" is "${pgc.appRole}" on "${pgc.database}"`);
      }
      const foreign = record.schemas.filter((s) => !pgc.schemas.includes(s));
      if (foreign.length) throw badInput(`the record covers schema ${foreign.map((s) => `"${s}"`).join(', ')}, which target "${input.target}" does not configure`);
      const who = `"${pgc.appRole}"`;

      return onTarget('postgres', () =>
        withAdmin(input.target, pgc, async (c) => {
          const role = await validate(c, pgc, record.schemas, { requireSchemas: false });
          await assertAdminCan(c, record.schemas);
          const recorded = new Set(record.tables.map((t) => display(t.schema, t.table)));

          /** Statements that make the role's grants and setting equal to the record, given the current state. */
          const diff = async () => {
            const current = new Map((await readGrants(c, role.oid, record.schemas)).map((t) => [display(t.schema, t.table), t]));
            const statements: string[] = [];
            const missing: string[] = [];
            for (const want of record.tables) {
              const name = display(want.schema, want.table);
              const have = current.get(name);
              if (!have) {
                missing.push(name);
                continue;
              }
              const wantKeys = grantKeys([want]);
              const haveKeys = grantKeys([have]);
              const extra = [...haveKeys].some((k) => !wantKeys.has(k));
              const lacking = [...wantKeys].some((k) => !haveKeys.has(k));
              if (!extra && !lacking) continue;
              const q = qualified(want.schema, want.table);
              const grantee = ident(pgc.appRole);
              // A table-level REVOKE also clears column grants; then grant exactly the record.
              if (extra) statements.push(`REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON TABLE ${q} FROM ${grantee}`);
              const keep = extra ? new Set<string>() : haveKeys;
              const has = (k: string) => keep.has(k);
              for (const grantable of [false, true]) {
                const privs = want.privileges
                  .filter((p) => p.grantable === grantable && !has(`${name} ${p.privilege}${grantable ? ' WITH GRANT OPTION' : ''}`))
                  .map((p) => p.privilege);
                if (privs.length) statements.push(`GRANT ${privs.join(', ')} ON TABLE ${q} TO ${grantee}${grantable ? ' WITH GRANT OPTION' : ''}`);
                for (const priv of COLUMN_PRIVILEGES) {
                  const cols = want.columns
                    .filter((col) => col.privilege === priv && col.grantable === grantable && !has(`${name} ${priv} (${col.column})${grantable ? ' WITH GRANT OPTION' : ''}`))
                    .map((col) => ident(col.column));
                  if (cols.length) statements.push(`GRANT ${priv} (${cols.join(', ')}) ON TABLE ${q} TO ${grantee}${grantable ? ' WITH GRANT OPTION' : ''}`);
                }
              }
            }
            const settings = await readSettings(c, role.oid);
            const want = record.settings.roleInDatabase;
            if (want === null && settings.roleInDatabase !== null) {
              statements.push(`ALTER ROLE ${ident(pgc.appRole)} IN DATABASE ${ident(pgc.database)} RESET default_transaction_read_only`);
            } else if (want !== null && settings.roleInDatabase !== want) {
              statements.push(`ALTER ROLE ${ident(pgc.appRole)} IN DATABASE ${ident(pgc.database)} SET default_transaction_read_only = ${pg.escapeLiteral(want)}`);
            }
            return { statements, missing, notRecorded: [...current.keys()].filter((k) => !recorded.has(k)) };
          };

          if (input.mode === 'dry-run') {
            const plan = await diff();
            return {
              summary: plan.statements.length ? `would restore the recorded privileges and settings of ${who}` : `${who} already has exactly the recorded privileges`,
              changed: false,
              plan: plan.statements.length ? plan.statements : ['nothing to change'],
            };
          }

          const applied = await inTransaction(c, async () => {
            await c.query('SELECT pg_advisory_xact_lock($1, $2)', [...LOCK_KEY]);
            const plan = await diff();
            for (const sql of plan.statements) await c.query(sql);
            return plan;
          });

          // Sessions opened under containment keep the read-only default until they reconnect: end them once.
          // No bookkeeping table means an earlier attempt of this lift completed and removed it
          // (it is only removed once every record is lifted), so those sessions are already gone.
          let sessionsEnded = 0;
          const hasBook = await c.query<{ t: string | null }>("SELECT to_regclass('firebreak.firebreak_undo')::text AS t");
          if (hasBook.rows[0]?.t) {
            const lifted = await c.query<{ lifted_at: Date }>(
              'UPDATE firebreak.firebreak_undo SET lifted_at = COALESCE(lifted_at, clock_timestamp()) WHERE record = $1::jsonb RETURNING lifted_at',
              [JSON.stringify(record)],
            );
            if (!isOn(record.settings.roleInDatabase)) {
              sessionsEnded = await endSessions(c, role, { before: lifted.rows[0]?.lifted_at ?? new Date(), after: record.recordedAt });
            }
          }

          // Verify: the role's grants on the recorded tables equal the record, and the setting is back.
          const now = await readGrants(c, role.oid, record.schemas);
          const still = new Set(now.map((t) => display(t.schema, t.table)));
          const wanted = grantKeys(record.tables.filter((t) => still.has(display(t.schema, t.table))));
          const got = grantKeys(now.filter((t) => recorded.has(display(t.schema, t.table))));
          const lacking = [...wanted].filter((k) => !got.has(k));
          const extra = [...got].filter((k) => !wanted.has(k));
          if (lacking.length || extra.length) {
            throw verificationFailed(
              `${who}'s privileges differ from the record: ${lacking.length ? `missing ${listSome(lacking)}` : ''}${lacking.length && extra.length ? '; ' : ''}${extra.length ? `not recorded ${listSome(extra)}` : ''}`,
            );
          }
          const settings = await readSettings(c, role.oid);
          if (settings.roleInDatabase !== record.settings.roleInDatabase) {
            throw verificationFailed(`default_transaction_read_only for ${who} in "${pgc.database}" is ${settings.roleInDatabase ?? 'unset'}, recorded ${record.settings.roleInDatabase ?? 'unset'}`);
          }

          const probe = record.tables.find(
            (t) => (t.kind === 'r' || t.kind === 'p') && still.has(display(t.schema, t.table)) && t.privileges.some((p) => p.privilege === 'INSERT' || p.privilege === 'DELETE'),
          );
          const wasReadOnly = isOn(record.settings.roleInDatabase) || isOn(record.settings.role) || isOn(record.settings.database);
          const proved = await asAppRole(pgc, 'after acting', async (app, readOnlyDefault) => {
            if (!probe) return { readOnlyDefault, wrote: null };
            const target = display(probe.schema, probe.table);
            const insert = probe.privileges.some((p) => p.privilege === 'INSERT');
            const sql = insert ? `INSERT INTO ${qualified(probe.schema, probe.table)} SELECT WHERE false` : `DELETE FROM ${qualified(probe.schema, probe.table)} WHERE false`;
            const res = await tryWrite(app, sql, wasReadOnly);
            if (res.code !== null) throw verificationFailed(`a write as ${who} on ${target} still fails with ${res.code} (${res.message ?? ''})`);
            return { readOnlyDefault, wrote: `${insert ? 'INSERT' : 'DELETE'} on ${target} (rolled back)` };
          });

          const bookkeeping = await removeBookkeepingIfUnused(c);
          const changed = applied.statements.length > 0 || sessionsEnded > 0;
          logger.info(
            { incidentId: input.incidentId, step: input.stepId, role: pgc.appRole, database: pgc.database, statements: applied.statements.length, sessionsEnded },
            'database read-write restored',
          );
          const gone = applied.missing.length ? `; ${applied.missing.length} recorded table(s) no longer exist (${listSome(applied.missing)})` : '';
          return {
            summary:
              (applied.statements.length
                ? `restored ${grantCount(record.tables)} recorded write privilege(s) of ${who} on "${pgc.database}" and ${record.settings.roleInDatabase === null ? 'reset its default_transaction_read_only' : `its default_transaction_read_only = ${record.settings.roleInDatabase}`}`
                : `${who} already had exactly the recorded privileges on "${pgc.database}"`) +
              (sessionsEnded ? `; ended ${sessionsEnded} session(s) opened while read-only` : '') +
              (proved.wrote ? `; a write as ${who} succeeds (${proved.wrote})` : '') +
              gone +
              (bookkeeping === 'removed' ? '; no incident holds read-only here any more: removed schema firebreak' : bookkeeping === 'kept' ? '; schema firebreak kept: another incident still holds read-only here' : ''),
            changed,
            proof: {
              privileges: grantCount(record.tables),
              matchesRecord: true,
              wrote: proved.wrote,
              readOnlyDefault: proved.readOnlyDefault,
              sessionsEnded,
              bookkeeping,
              ...(applied.missing.length ? { missingTables: applied.missing } : {}),
              ...(applied.notRecorded.length ? { tablesNotInRecord: applied.notRecorded.length } : {}),
            },
          };
        }),
      );
    },
  };
}
