/** The admin's session on the target's app database: what it may do to a role, the role's verifier, ALTER ROLE. */
import { ApplicationFailure } from '@temporalio/common';
import pg from 'pg';
import type { ActionInput } from '../../workflows/definitions.js';
import { adminConnection, type PgTarget } from '../support/pg.js';
import { badInput, errorLine, refused, sqlState, targetUnavailable } from '../support/failures.js';
import { SQLSTATE } from '../support/sqlstate.js';

export interface RoleFacts {
  rolname: string;
  rolcanlogin: boolean;
  is_admin: boolean;
  is_superuser: boolean;
  /** Owns some database of the cluster (an owner can grant itself anything there). */
  owns_database: boolean;
  /** Why the admin may not change this role's password, or null when it may. */
  cannot_alter: string | null;
}

/** One admin session on the app database for this rotation (its settings stay in it). */
export async function withTargetAdmin<T>(input: ActionInput, pgc: PgTarget, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client(adminConnection(pgc, { application_name: 'firebreak-secrets', connectionTimeoutMillis: 5_000 }));
  c.on('error', () => undefined); // surfaces on the next query
  try {
    await c.connect();
  } catch (err) {
    await c.end().catch(() => undefined);
    if (sqlState(err) === SQLSTATE.invalidCatalogName) throw badInput(`database "${pgc.database}" of target "${input.target}" does not exist`);
    throw targetUnavailable('postgres', err);
  }
  try {
    return await fn(c);
  } catch (err) {
    if (err instanceof ApplicationFailure) throw err;
    const code = sqlState(err);
    if (code === SQLSTATE.insufficientPrivilege) throw refused(`postgres refused the admin (${code}): ${errorLine(err)}`);
    throw targetUnavailable('postgres', err);
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** The role, and whether the admin may change its password; checked before anything is published. */
export async function roleFacts(c: pg.ClientBase, role: string, targetName: string): Promise<RoleFacts> {
  // A failing ALTER ROLE after publishing would leave the sinks ahead of the database for good.
  const { rows } = await c.query<RoleFacts>(
    `SELECT r.rolname, r.rolcanlogin, r.rolname = me.rolname AS is_admin, r.rolsuper AS is_superuser,
       EXISTS (SELECT 1 FROM pg_database d WHERE d.datdba = r.oid) AS owns_database,
       CASE WHEN me.rolsuper THEN NULL
            WHEN NOT me.rolcreaterole THEN 'it has neither SUPERUSER nor CREATEROLE'
            WHEN r.rolsuper THEN 'the role is a superuser and the admin is not'
            WHEN current_setting('server_version_num')::int >= 160000 AND NOT pg_has_role(me.oid, r.oid, 'MEMBER WITH ADMIN OPTION')
              THEN 'it lacks ADMIN OPTION on the role (PostgreSQL 16+)'
       END AS cannot_alter
     FROM pg_roles r, pg_roles me WHERE r.rolname = $1 AND me.rolname = current_user`,
    [role],
  );
  const facts = rows[0];
  if (!facts) throw badInput(`role "${role}" does not exist on target "${targetName}"; nothing was changed`);
  if (facts.is_admin) throw badInput(`role "${role}" is the admin Firebreak connects as (postgres.adminUrl); rotate it outside Firebreak`);
  if (role.startsWith('pg_')) throw badInput(`role "${role}" is a reserved PostgreSQL role`);
  // The app role as configured, yet a superuser or a database owner: its password is not the app's to hold.
  if (facts.is_superuser || facts.owns_database) {
    throw refused(`role "${role}" on target "${targetName}" is ${facts.is_superuser ? 'a superuser' : 'the owner of a database'}: Firebreak rotates only a plain app role's password into the app's secret sinks; nothing was changed`);
  }
  if (facts.cannot_alter) throw refused(`the admin of target "${targetName}" cannot change the password of "${role}": ${facts.cannot_alter}; nothing was changed`);
  return facts;
}

/** The role's current verifier ('' when it has none), or null when the admin may not read pg_authid (not a superuser). */
export async function readVerifier(c: pg.ClientBase, role: string): Promise<string | null> {
  try {
    const { rows } = await c.query<{ rolpassword: string | null }>('SELECT rolpassword FROM pg_catalog.pg_authid WHERE rolname = $1', [role]);
    return rows[0]?.rolpassword ?? '';
  } catch (err) {
    if (sqlState(err) === SQLSTATE.insufficientPrivilege) return null;
    throw err;
  }
}

/** Set the role's password as a SCRAM verifier, in a transaction that dies with the worker. */
export async function alterPassword(c: pg.ClientBase, role: string, verifier: string, serverVersion: number): Promise<void> {
  // Never logged; the value in it is a SCRAM verifier, not the password.
  const statement = `ALTER ROLE ${pg.escapeIdentifier(role)} PASSWORD ${pg.escapeLiteral(verifier)}`;
  await c.query('BEGIN');
  try {
    await c.query("SET LOCAL lock_timeout = '15s'");
    if (serverVersion >= 140000) await c.query("SET LOCAL client_connection_check_interval = '1s'");
    await c.query(statement);
    await c.query('COMMIT');
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    const code = sqlState(err);
    // The statement is never part of the message; the server's own message carries no password (it never had one).
    const why = `${code ? `${code}: ` : ''}${errorLine(err)}`;
    if (code === SQLSTATE.insufficientPrivilege) throw refused(`postgres refused to change the password of "${role}" (${why})`);
    throw targetUnavailable('postgres', new Error(`ALTER ROLE "${role}" failed (${why})`));
  }
}
