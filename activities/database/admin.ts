/** The admin's session on the target's app database (the worker's pool for that target). */
import type pg from 'pg';
import type { TargetClients } from '../deps.js';
import { badInput, errorLine, refused, sqlState, targetUnavailable } from '../support/failures.js';
import type { PgTarget } from '../support/pg.js';
import { SQLSTATE } from '../support/sqlstate.js';

/** An admin session on the app database; a database that does not exist is bad input. */
export async function withAdmin<T>(clients: TargetClients, targetName: string, pgc: PgTarget, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  let c: pg.PoolClient;
  try {
    c = await clients.pg(targetName).connect();
  } catch (err) {
    if (sqlState(err) === SQLSTATE.invalidCatalogName) throw badInput(`database "${pgc.database}" does not exist (target "${targetName}")`);
    throw targetUnavailable('postgres', err);
  }
  // A session ended under us (terminated, network) fails the query in progress; the pool has no listener while it is checked out.
  const onError = () => undefined;
  c.on('error', onError);
  let failed = false;
  try {
    return await fn(c);
  } catch (err) {
    failed = true;
    const code = sqlState(err);
    // Not transient: the admin lacks a privilege, or the app role passed its grants on.
    if (code === SQLSTATE.insufficientPrivilege || code === SQLSTATE.dependentObjectsStillExist) throw refused(`postgres refused the admin (${code}): ${errorLine(err)}`);
    throw err;
  } finally {
    c.removeListener('error', onError);
    c.release(failed);
  }
}
