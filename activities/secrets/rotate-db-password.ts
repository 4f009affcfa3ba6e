/**
 * secrets.rotate_db_password.
 *
 * Order: pending record → publish the NEW value to every sink (read back where possible)
 * → ALTER ROLE → verify → mark the record completed (its value cleared). Two systems
 * cannot switch at once, so one of them leads; the sinks lead because then every state a
 * crash can leave is one the retry converges from, and none depends on Firebreak still
 * holding the value:
 * - killed before publishing: nothing changed outside Firebreak; the retry publishes the recorded value.
 * - killed between publish and ALTER: the sinks hold the new value, the database
 *   still the old one, which the running app keeps using (its open connections,
 *   its loaded config) until the retry sets the new one. The new value is in the
 *   sinks, so even if no retry came, a human finishes the rotation from them.
 * - killed after ALTER: database and sinks agree; the retry finds the verifier
 *   already matching, skips ALTER and verifies.
 * The other order (ALTER first) would leave, on a crash, a database password
 * that only Firebreak's encrypted record knows: if that retry never came, the
 * app would be locked out with no sink able to tell anyone the password.
 * The old password, which the sinks stop holding at publish, is the one being
 * retired (possibly leaked): that window is the unavoidable one. To keep it a
 * window, everything that could make ALTER ROLE fail for good (unknown role,
 * an admin without the right to alter it, nothing able to prove the result) is
 * checked before the first sink is written, and the sessions set
 * client_connection_check_interval, so a killed worker's ALTER ROLE or
 * completion dies with it instead of committing later behind the retry's back.
 *
 * The password is never sent to PostgreSQL in clear: Firebreak computes the
 * SCRAM-SHA-256 verifier (as `\password` in psql does) and sends that, so a
 * statement echoed in the server log (log_statement, an error) shows a verifier,
 * not the password.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { ActionInput, ActionResult } from '../../workflows/definitions.js';
import type { SecretSink } from '../sinks/types.js';
import { heartbeat } from '../support/context.js';
import { verificationFailed } from '../support/failures.js';
import { postgresOf, roleUrl, type PgTarget } from '../support/pg.js';
import type { ArgsOf } from '../../lib/args/schemas.js';
import { formatArg, roleArg, type UrlFormat } from './args.js';
import type { SecretsContext } from './context.js';
import { knownOldPassword, provability, tryLogin } from './login-proof.js';
import { completePending, openPending, pendingKeyring, pendingRecord, withRotationLock, type PendingRow } from './pending.js';
import { publish, publishableSinks } from './publish.js';
import { scramVerifier, verifierMatches } from './scram.js';
import { alterPassword, readVerifier, roleFacts, withTargetAdmin } from './target-admin.js';
import { fingerprint, type Hush } from './values.js';

/** `postgres://<role>:<password>@host:port/db`, from the app connection. */
function connectionUrl(pgc: PgTarget, role: string, password: string): string {
  const url = roleUrl(pgc, role);
  url.password = encodeURIComponent(password);
  return url.toString();
}

export async function rotateDbPassword(ctx: SecretsContext, input: ActionInput, hush: Hush): Promise<ActionResult> {
  const { deps, db } = ctx;
  const pgc = postgresOf(deps.clients, input);
  const args = input.args as ArgsOf<'secrets.rotate_db_password'>;
  const name = args.secret_name;
  const role = roleArg(args, pgc.appRole);
  const format = formatArg(args);
  const sinks = publishableSinks(deps, input, name);
  const ring = pendingKeyring(deps.config);
  const sinkNames = sinks.map((s) => s.describe());
  const what = format === 'url' ? 'postgres URL' : 'password';

  if (input.mode === 'dry-run') {
    return withTargetAdmin(input, pgc, async (c) => {
      const facts = await roleFacts(c, role, input.target);
      const can = await provability(c, pgc, facts);
      return {
        summary: `would rotate the password of "${role}" and publish ${name} (${what}) to ${sinkNames.join(', ')}`,
        changed: false,
        plan: [
          `generate a new password (32 random bytes, base64url) and record it encrypted (key "${ring.currentId}") in firebreak.pending_secrets of Firebreak's database`,
          `publish ${name} (${what}) to ${sinkNames.join(', ')}`,
          `ALTER ROLE ${pg.escapeIdentifier(role)} PASSWORD '<SCRAM-SHA-256 verifier of the new password>'`,
          can.verifier === null ? 'verify: pg_authid is not readable by the admin' : 'verify: the pg_authid verifier matches the new password and differs from the current one',
          can.logins.checked ? `verify: a login as "${role}" with the new password succeeds, with the old one fails` : `login checks impossible: ${can.logins.reason}`,
        ],
        output: { role, secretName: name, format, sinks: sinkNames },
      };
    });
  }

  return withRotationLock(db, input, (own) =>
    withTargetAdmin(input, pgc, async (c) => {
      heartbeat('preflight');
      const facts = await roleFacts(c, role, input.target);
      const can = await provability(c, pgc, facts);
      const record = await pendingRecord(db, own, input, ring, {
        kind: 'db_password',
        name,
        fresh: () => randomBytes(32).toString('base64url'),
        previousVerifierFp: can.verifier ? fingerprint(can.verifier) : null,
      });

      if (record.completed_at || !record.value_enc) return alreadyRotated(c, role, { sinks, name, format }, record, hush);

      const password = openPending(ring, input, name, record.value_enc);
      const value = format === 'url' ? connectionUrl(pgc, role, password) : password;
      hush.add(password, value);
      const old = await knownOldPassword(c, pgc, role, { sinks, name, format }, password, can, hush);

      const readBacks = await publish(sinks, name, value);

      heartbeat('alter role');
      const before = await readVerifier(c, role);
      const setEarlier = before !== null && before !== '' && verifierMatches(before, password, role);
      if (!setEarlier) {
        const verifier = scramVerifier(password);
        hush.add(verifier);
        await alterPassword(c, role, verifier, can.serverVersion);
      }

      heartbeat('verify');
      let verifierProof: string;
      const after = await readVerifier(c, role);
      if (after === null) {
        verifierProof = 'unavailable: the admin may not read pg_authid';
      } else {
        if (!after || !verifierMatches(after, password, role)) throw verificationFailed(`the verifier of "${role}" in pg_authid does not match the new password after ALTER ROLE`);
        if (record.previous_verifier_fp !== null && fingerprint(after) === record.previous_verifier_fp) throw verificationFailed(`the verifier of "${role}" did not change`);
        if (old !== undefined && verifierMatches(after, old, role)) throw verificationFailed(`the old password of "${role}" still matches its verifier`);
        verifierProof = `matches the new password${record.previous_verifier_fp !== null ? '; differs from the verifier before the rotation' : ''}${old !== undefined ? '; the old password does not match' : ''}`;
      }

      let loginProof: string;
      let loginShort: string;
      if (can.logins.checked) {
        const conn = roleUrl(pgc, role);
        const fresh = await tryLogin(conn, password);
        if (fresh.result !== 'accepted') {
          throw verificationFailed(`a login as "${role}" with the new password fails (${fresh.result === 'refused' ? fresh.code : fresh.reason})`);
        }
        if (old !== undefined) {
          const stale = await tryLogin(conn, old);
          if (stale.result === 'accepted') throw verificationFailed(`a login as "${role}" with the old password still succeeds`);
          loginProof =
            stale.result === 'refused' ? `new password accepted; old password refused (${stale.code})` : `new password accepted; the old password could not be tried (${stale.reason})`;
          loginShort = stale.result === 'refused' ? `it logs in, the old password is refused (${stale.code})` : 'it logs in';
        } else {
          loginProof = 'new password accepted; the old password is not known to Firebreak (no sink or config held it), so its refusal rests on the verifier';
          loginShort = 'it logs in';
        }
      } else {
        loginProof = `impossible: ${can.logins.reason}; the verifier is the proof`;
        loginShort = `login checks impossible: ${can.logins.reason}`;
      }
      const verifierShort = after === null ? 'pg_authid not readable by the admin' : 'the pg_authid verifier matches it';

      await completePending(db, own, input);
      const fp = fingerprint(value);
      deps.logger.info(
        { incidentId: input.incidentId, step: input.stepId, role, secretName: name, format, fingerprint: fp, sinks: sinkNames, alteredNow: !setEarlier },
        'database password rotated',
      );
      return {
        summary:
          `rotated the password of "${role}": ${name} (${what}, fingerprint ${fp}) published to ${sinkNames.join(', ')}` +
          `${setEarlier ? ' (the database already had it from an earlier attempt)' : ''}; ${verifierShort}; ${loginShort}`,
        changed: true,
        proof: { secretName: name, fingerprint: fp, sinks: readBacks, verifier: verifierProof, login: loginProof },
        output: { role, secretName: name, format, fingerprint: fp, sinks: sinkNames },
      };
    }),
  );
}

/** A retry after the record was completed: report it, re-checking what can still be read. */
async function alreadyRotated(
  c: pg.ClientBase,
  role: string,
  published: { sinks: SecretSink[]; name: string; format: UrlFormat },
  record: PendingRow,
  hush: Hush,
): Promise<ActionResult> {
  const { sinks, name, format } = published;
  const checks: Record<string, string> = {};
  let fp: string | undefined;
  for (const sink of sinks) {
    if (!sink.get) {
      checks[sink.describe()] = 'written (this sink cannot be read back)';
      continue;
    }
    const held = await sink.get(name);
    hush.add(held);
    let password = held;
    if (held !== undefined && format === 'url') {
      try {
        password = decodeURIComponent(new URL(held).password);
      } catch {
        password = undefined;
      }
    }
    hush.add(password);
    if (password === undefined || fingerprint(password) !== record.fingerprint) {
      checks[sink.describe()] = 'holds another value now (rotated again since?)';
      continue;
    }
    fp = fingerprint(held as string);
    const verifier = await readVerifier(c, role);
    checks[sink.describe()] = verifier ? (verifierMatches(verifier, password, role) ? 'read back: matches, and matches the database' : 'read back: matches; the database has another password now') : 'read back: matches';
  }
  const shown = fp ?? record.fingerprint;
  return {
    summary: `the password of "${role}" was already rotated by an earlier attempt of this step: ${name} (fingerprint ${shown}) in ${sinks.map((s) => s.describe()).join(', ')}`,
    changed: true,
    proof: { secretName: name, fingerprint: shown, sinks: checks, completedAt: record.completed_at?.toISOString() },
    output: { role, secretName: name, format, fingerprint: shown, sinks: sinks.map((s) => s.describe()) },
  };
}
