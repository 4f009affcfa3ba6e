/** What a rotation can prove about a role's password, found before anything changes, and the logins that prove it. */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { readSecret } from '../../lib/config.js';
import type { SecretSink } from '../sinks/types.js';
import { errorLine, sqlState, verificationFailedFinal } from '../support/failures.js';
import { roleUrl, withPassword, type PgTarget } from '../support/pg.js';
import { inSqlStateClass, SQLSTATE, SQLSTATE_CLASS } from '../support/sqlstate.js';
import type { UrlFormat } from './args.js';
import { verifierMatches } from './scram.js';
import { readVerifier, type RoleFacts } from './target-admin.js';
import type { Hush } from './values.js';

export type Login = { result: 'accepted' } | { result: 'refused'; code: string } | { result: 'unknown'; reason: string };

/** What the target lets us prove, found before anything changes. */
export interface Provability {
  /** The role's verifier before acting; null when the admin cannot read pg_authid. */
  verifier: string | null;
  /** Password logins are checked by the server (a wrong password is refused), or why they cannot prove anything. */
  logins: { checked: true } | { checked: false; reason: string };
  serverVersion: number;
}

/** One login as the role with `password`. */
export async function tryLogin(url: URL, password: string): Promise<Login> {
  const client = new pg.Client(withPassword(url, password, { application_name: 'firebreak-secrets-proof', connectionTimeoutMillis: 5_000, query_timeout: 10_000 }));
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return { result: 'accepted' };
  } catch (err) {
    const code = sqlState(err);
    // Refused at authentication (class 28); no CONNECT right and no such database come after it.
    if (code && inSqlStateClass(code, SQLSTATE_CLASS.invalidAuthorizationSpecification)) return { result: 'refused', code };
    if (code === SQLSTATE.insufficientPrivilege || code === SQLSTATE.invalidCatalogName) return { result: 'accepted' };
    return { result: 'unknown', reason: code ? `${code}: ${errorLine(err)}` : ((err as NodeJS.ErrnoException).code ?? errorLine(err)) };
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Whether the verifier and the logins can prove a rotation; neither is final (nothing changed yet). */
export async function provability(c: pg.ClientBase, pgc: PgTarget, role: RoleFacts): Promise<Provability> {
  const serverVersion = Number((await c.query<{ v: number }>("SELECT current_setting('server_version_num')::int AS v")).rows[0]?.v ?? 0);
  const verifier = await readVerifier(c, role.rolname);
  let logins: Provability['logins'];
  if (!role.rolcanlogin) {
    logins = { checked: false, reason: `"${role.rolname}" cannot log in (NOLOGIN)` };
  } else {
    // A password nobody has: if it gets in, the server does not check passwords for this role.
    const probe = await tryLogin(roleUrl(pgc, role.rolname), randomBytes(24).toString('base64url'));
    if (probe.result === 'refused' && probe.code === SQLSTATE.invalidPassword) logins = { checked: true };
    else if (probe.result === 'accepted') logins = { checked: false, reason: `the server lets "${role.rolname}" in without checking its password (trust authentication)` };
    else if (probe.result === 'refused') logins = { checked: false, reason: `the server refuses "${role.rolname}" before checking any password (${probe.code})` };
    else logins = { checked: false, reason: `a login as "${role.rolname}" could not be tried (${probe.reason})` };
  }
  if (verifier === null && !logins.checked) {
    throw verificationFailedFinal(
      `cannot prove a rotation of "${role.rolname}": the admin may not read pg_authid (not a superuser) and ${logins.reason}. Nothing was changed: use a superuser admin or password authentication for the role.`,
    );
  }
  return { verifier, logins, serverVersion };
}

/** The password being replaced, when a sink or the config still holds it and it matches what the database holds. */
export async function knownOldPassword(
  c: pg.ClientBase,
  pgc: PgTarget,
  role: string,
  published: { sinks: SecretSink[]; name: string; format: UrlFormat },
  fresh: string,
  proof: Provability,
  hush: Hush,
): Promise<string | undefined> {
  const { sinks, name, format } = published;
  const candidates: string[] = [];
  for (const sink of sinks) {
    const held = sink.get ? await sink.get(name).catch(() => undefined) : undefined;
    if (held === undefined) continue;
    if (format === 'password') candidates.push(held);
    else {
      try {
        const u = new URL(held);
        if (decodeURIComponent(u.username) === role && u.password) candidates.push(decodeURIComponent(u.password));
      } catch {
        // not a URL: nothing to learn from it
      }
    }
  }
  if (role === pgc.appRole && pgc.appPassword) {
    try {
      candidates.push(readSecret(pgc.appPassword));
    } catch {
      // the proof just has no old password to try
    }
  }
  hush.add(...candidates);
  const current = await readVerifier(c, role);
  for (const candidate of new Set(candidates)) {
    if (candidate === fresh) continue;
    if (current) {
      if (verifierMatches(current, candidate, role)) return candidate;
    } else if (proof.logins.checked && current === null) {
      const login = await tryLogin(roleUrl(pgc, role), candidate);
      if (login.result === 'accepted') return candidate;
    }
  }
  return undefined;
}
