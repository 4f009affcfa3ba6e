/** Who can still write: the role design a REVOKE from the app role does not change. */
import type pg from 'pg';
import type { RoleRow } from './catalog.js';
import { COLUMN_PRIVILEGES, display, listSome, RELKINDS, WRITE_PRIVILEGES } from './sql.js';

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

export interface WritePaths {
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
export async function writePaths(c: pg.ClientBase, role: RoleRow, schemas: string[], phase: 'before' | 'after'): Promise<WritePaths> {
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
