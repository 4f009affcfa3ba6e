/**
 * The password the app role logs in with NOW, for the proofs. After secrets.rotate_db_password
 * the configured `postgres.appPassword` is stale: the current password is the one Firebreak
 * published to the target's secret sinks, found through the rotation's record in Firebreak's
 * own database (target, secret name, fingerprint) and read back from a sink that can be read.
 * Where the admin can read pg_authid, the role's verifier picks the candidate that matches, so
 * no wrong password is tried; otherwise candidates are tried newest first, the configured one
 * last. Nothing here logs, returns or throws a password: only where it came from.
 */
import pg from 'pg';
import { readSecret } from '../../lib/config.js';
import type { ActivityDeps } from '../deps.js';
import { verifierMatches } from '../secrets/scram.js';
import { readVerifier } from '../secrets/target-admin.js';
import { fingerprint } from '../secrets/values.js';
import { sinksFor } from '../sinks/types.js';
import { errorLine } from '../support/failures.js';
import { withPassword, type PgTarget } from '../support/pg.js';

/** One way to log in as the app role; `password` undefined: none (the URL's, or trust). */
export interface AppLogin {
  password: string | undefined;
  /** Where the password comes from, for messages (never the value). */
  source: string;
}

export interface AppLogins {
  /** In the order to try them (one, when the verifier could choose). */
  candidates: AppLogin[];
  /** Why the choice may be wrong: said when the login then fails. */
  notes: string[];
}

/** The rotations of this target's app role Firebreak recorded, newest first. */
interface Rotation {
  name: string;
  fingerprint: string;
  incident_id: string;
  step_id: string;
  completed: boolean;
}

const ROTATIONS_LOOKED_AT = 5;

/** The configured `appPassword` (or none). */
export function configuredLogin(pgc: PgTarget): AppLogin {
  if (!pgc.appPassword) return { password: undefined, source: 'no password (postgres.appPassword is not set)' };
  return { password: readSecret(pgc.appPassword), source: 'postgres.appPassword' };
}

/** Rotation records in Firebreak's own database; reads only (never creates it), and a database it cannot read is a note, not a failure. */
async function rotationsOf(deps: ActivityDeps, target: string): Promise<{ rows: Rotation[]; note?: string }> {
  const url = new URL(deps.config.database.url);
  let password: string | undefined;
  try {
    password = deps.config.database.password ? readSecret(deps.config.database.password) : undefined;
  } catch (err) {
    return { rows: [], note: `Firebreak's database password could not be read (${errorLine(err)}), so a rotation of the app role's password could not be looked up` };
  }
  const c = new pg.Client(withPassword(url, password, { application_name: 'firebreak-proof-lookup', connectionTimeoutMillis: 5_000, query_timeout: 10_000 }));
  c.on('error', () => undefined);
  try {
    await c.connect();
    const table = await c.query<{ t: string | null }>("SELECT to_regclass('firebreak.pending_secrets')::text AS t");
    if (!table.rows[0]?.t) return { rows: [] };
    const { rows } = await c.query<Rotation>(
      `SELECT name, fingerprint, incident_id, step_id, completed_at IS NOT NULL AS completed FROM firebreak.pending_secrets
       WHERE target = $1 AND kind = 'db_password' ORDER BY created_at DESC LIMIT ${ROTATIONS_LOOKED_AT}`,
      [target],
    );
    return { rows };
  } catch (err) {
    return { rows: [], note: `Firebreak's database could not be read (${errorLine(err)}), so a rotation of the app role's password could not be looked up` };
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** The password in a published value: the value itself, or the password of a postgres URL for the app role. */
function passwordIn(value: string, appRole: string): string | undefined {
  if (!/^postgres(ql)?:\/\//i.test(value)) return value;
  try {
    const u = new URL(value);
    return decodeURIComponent(u.username) === appRole && u.password ? decodeURIComponent(u.password) : undefined;
  } catch {
    return undefined;
  }
}

/** How to log in as the app role now (see the module comment). `admin` is a session on the app database. */
export async function appLogins(deps: ActivityDeps, target: string, pgc: PgTarget, admin: pg.ClientBase): Promise<AppLogins> {
  const notes: string[] = [];
  let configured: AppLogin;
  try {
    configured = configuredLogin(pgc);
  } catch (err) {
    configured = { password: undefined, source: 'no password' };
    notes.push(`postgres.appPassword could not be read (${errorLine(err)})`);
  }
  const published: AppLogin[] = [];
  const sinkConfig = deps.clients.target(target).secrets?.sinks ?? [];
  if (sinkConfig.length) {
    const found = await rotationsOf(deps, target);
    if (found.note) notes.push(found.note);
    if (found.rows.length) {
      const readable = sinksFor(deps, target).filter((s) => s.get !== undefined);
      const newest = found.rows[0] as Rotation;
      if (!readable.length) {
        notes.push(
          `Firebreak rotated the app role's password (${newest.incident_id}/${newest.step_id}, ${newest.name}) and published it only to sinks it cannot read back: point postgres.appPassword at the new secret`,
        );
      }
      const exact: AppLogin[] = [];
      const other: AppLogin[] = [];
      for (const rotation of found.rows) {
        for (const sink of readable) {
          let held: string | undefined;
          try {
            held = await sink.get?.(rotation.name);
          } catch (err) {
            notes.push(`${rotation.name} could not be read back from ${sink.describe()} (${errorLine(err)})`);
            continue;
          }
          const password = held === undefined ? undefined : passwordIn(held, pgc.appRole);
          if (password === undefined) continue;
          const login = { password, source: `${rotation.name} as published to ${sink.describe()} (rotated by ${rotation.incident_id}/${rotation.step_id})` };
          (fingerprint(password) === rotation.fingerprint ? exact : other).push(login);
        }
      }
      published.push(...exact, ...other);
    }
  }
  const seen = new Set<string | undefined>();
  const all = [...published, configured].filter((l) => (seen.has(l.password) ? false : (seen.add(l.password), true)));
  if (all.length === 1) return { candidates: all, notes };

  const verifier = await readVerifier(admin, pgc.appRole).catch(() => null);
  if (verifier === null) return { candidates: all, notes };
  // No password set: the server lets the role in without one (trust) or not at all; the configured login says which.
  if (verifier === '') return { candidates: [configured], notes };
  const match = all.find((l) => l.password !== undefined && verifierMatches(verifier, l.password, pgc.appRole));
  if (match) return { candidates: [match], notes };
  notes.push(`none of the passwords Firebreak knows for "${pgc.appRole}" (${all.map((l) => l.source).join('; ')}) matches its password in pg_authid`);
  return { candidates: [configured], notes };
}
