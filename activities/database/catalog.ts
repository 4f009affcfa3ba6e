/** What the catalog says about the app role: its grants, its read-only default, its sessions; and what the admin may do. */
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import type { PgTarget } from '../support/pg.js';
import { badInput, refused, verificationFailed } from '../support/failures.js';
import type { CatalogTable, Settings } from './record.js';
import { COLUMN_PRIVILEGES, listSome, RELKINDS, WRITE_PRIVILEGES } from './sql.js';

const SESSION_END_WAIT_MS = 5_000;

export interface RoleRow {
  oid: number;
  rolname: string;
  rolsuper: boolean;
  rolcreaterole: boolean;
  rolbypassrls: boolean;
  rolcanlogin: boolean;
}

/** The app role's direct write grants (table and column level) on every relation of `schemas`, sorted. */
export async function readGrants(c: pg.ClientBase, roleOid: number, schemas: string[]): Promise<CatalogTable[]> {
  const { rows } = await c.query<CatalogTable>(
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
export async function readSettings(c: pg.ClientBase, roleOid: number): Promise<Settings> {
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

/** The database (we are connected to it), the role and the schemas exist; names are parameters, never SQL. */
export async function validate(c: pg.ClientBase, pgc: PgTarget, schemas: string[], opts = { requireSchemas: true }): Promise<RoleRow> {
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
export async function assertAdminCan(c: pg.ClientBase, schemas: string[]): Promise<void> {
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

/** End the role's sessions on this database that started before `before`; wait until they are gone. */
export async function endSessions(c: pg.ClientBase, role: RoleRow, opts: { before: Date; after?: string; exclude?: number }): Promise<number> {
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

export async function waitGone(c: pg.ClientBase, pid: number): Promise<void> {
  const deadline = Date.now() + 2_000;
  while (Date.now() < deadline) {
    const { rowCount } = await c.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid]);
    if (!rowCount) return;
    await sleep(20);
  }
}
