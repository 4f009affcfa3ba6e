/** Proofs as the app role: log in as it does, and try a write that is always rolled back. */
import pg from 'pg';
import { appRoleConnection, type PgTarget } from '../support/pg.js';
import { errorLine, sqlState, targetUnavailable, verificationFailed, verificationFailedFinal } from '../support/failures.js';
import { inSqlStateClass, SQLSTATE_CLASS } from '../support/sqlstate.js';
import type { CatalogTable } from './record.js';

/** Run `fn` in a fresh session of the app role, checked to be that role on that database. */
export async function asAppRole<T>(
  pgc: PgTarget,
  stage: 'before acting' | 'after acting',
  fn: (c: pg.Client, readOnlyDefault: string, pid: number) => Promise<T>,
): Promise<T> {
  const client = new pg.Client(
    appRoleConnection(pgc, { application_name: 'firebreak-proof', connectionTimeoutMillis: 5_000, statement_timeout: 10_000, lock_timeout: 5_000, query_timeout: 15_000 }),
  );
  client.on('error', () => undefined); // a terminated proof session surfaces on its next query
  try {
    await client.connect();
  } catch (err) {
    const code = sqlState(err);
    // Refused at login, no such database, no CONNECT right: the configured connection cannot work.
    if (inSqlStateClass(code, SQLSTATE_CLASS.invalidAuthorizationSpecification, SQLSTATE_CLASS.invalidCatalogName, SQLSTATE_CLASS.syntaxErrorOrAccessRuleViolation)) {
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
export async function tryWrite(c: pg.Client, sql: string, forceReadWrite: boolean): Promise<{ code: string | null; message?: string }> {
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

/** The table a proof writes to: a plain or partitioned table. */
export function probeTable<T extends CatalogTable>(tables: readonly T[]): T | undefined {
  return tables.find((t) => t.kind === 'r' || t.kind === 'p');
}
