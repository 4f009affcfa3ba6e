/** Proofs as the app role: log in as it does, and try a write that is always rolled back. */
import pg from 'pg';
import { roleUrl, withPassword, type PgTarget } from '../support/pg.js';
import { configuredLogin, type AppLogin, type AppLogins } from './app-login.js';
import { errorLine, sqlState, targetUnavailable, verificationFailed, verificationFailedFinal } from '../support/failures.js';
import { inSqlStateClass, SQLSTATE_CLASS } from '../support/sqlstate.js';
import type { CatalogTable } from './record.js';

/** A login as the app role that did not get in: why, and whether a retry may (a connection problem) or cannot (refused at login). */
export interface LoginFailure {
  code: string | undefined;
  /** One line: SQLSTATE, the server's words, and where the password came from. */
  reason: string;
  transient: boolean;
}

const PROOF_SESSION = { application_name: 'firebreak-proof', connectionTimeoutMillis: 5_000, statement_timeout: 10_000, lock_timeout: 5_000, query_timeout: 15_000 };

/**
 * Run `fn` in a fresh session of the app role, checked to be that role on that database,
 * logging in with the first of `logins` the server accepts (a password refused at login moves
 * on to the next). A login that fails is returned, not thrown; `fn`'s own failures are thrown.
 */
export async function tryAsAppRole<T>(
  pgc: PgTarget,
  logins: readonly AppLogin[],
  fn: (c: pg.Client, readOnlyDefault: string, pid: number) => Promise<T>,
): Promise<{ ok: true; value: T; source: string } | ({ ok: false } & LoginFailure)> {
  const url = pgc.appUrl ? new URL(pgc.appUrl) : roleUrl(pgc, pgc.appRole);
  const tries = logins.length ? logins : [configuredLogin(pgc)];
  let failure: LoginFailure | undefined;
  let client: pg.Client | undefined;
  let source = '';
  for (const login of tries) {
    const c = new pg.Client(withPassword(url, login.password, PROOF_SESSION));
    c.on('error', () => undefined); // a terminated proof session surfaces on its next query
    try {
      await c.connect();
      client = c;
      source = login.source;
      break;
    } catch (err) {
      await c.end().catch(() => undefined);
      const code = sqlState(err);
      // Refused at login, no such database, no CONNECT right: this login cannot work; another password may.
      const refusedAtLogin = inSqlStateClass(code, SQLSTATE_CLASS.invalidAuthorizationSpecification, SQLSTATE_CLASS.invalidCatalogName, SQLSTATE_CLASS.syntaxErrorOrAccessRuleViolation);
      const why = code ? `${code}: ${errorLine(err)}` : ((err as NodeJS.ErrnoException).code ?? errorLine(err));
      failure = { code, reason: `${why}; password from ${login.source}`, transient: !refusedAtLogin };
      if (!refusedAtLogin) break;
    }
  }
  if (!client) return { ok: false, ...(failure as LoginFailure) };
  try {
    const { rows } = await client.query<{ who: string; db: string; ro: string; pid: number }>(
      "SELECT session_user AS who, current_database() AS db, current_setting('default_transaction_read_only') AS ro, pg_backend_pid() AS pid",
    );
    const me = rows[0];
    if (!me || me.who !== pgc.appRole || me.db !== pgc.database) {
      throw verificationFailedFinal(`the app connection logs in as "${me?.who}" on "${me?.db}", expected "${pgc.appRole}" on "${pgc.database}" (check postgres.appUrl)`);
    }
    return { ok: true, value: await fn(client, me.ro, me.pid), source };
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** `tryAsAppRole`, a failed login thrown: before acting a configuration problem (nothing changed), after acting retryable. */
export async function asAppRole<T>(
  pgc: PgTarget,
  stage: 'before acting' | 'after acting',
  fn: (c: pg.Client, readOnlyDefault: string, pid: number) => Promise<T>,
  logins: AppLogins = { candidates: [], notes: [] },
): Promise<T> {
  const r = await tryAsAppRole(pgc, logins.candidates, fn);
  if (r.ok) return r.value;
  if (r.transient) throw targetUnavailable('postgres (as the app role)', new Error(r.reason));
  const message = `cannot log in as "${pgc.appRole}" to prove it (${r.reason})${loginNotes(logins)}; check postgres.appUrl / appPassword for the target`;
  throw stage === 'before acting' ? verificationFailedFinal(`${message}. Nothing was changed.`) : verificationFailed(message);
}

/** The notes on how the password was chosen, for a failed login's message. */
export function loginNotes(logins: AppLogins): string {
  return logins.notes.length ? `; ${logins.notes.join('; ')}` : '';
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
