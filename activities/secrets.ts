/**
 * secrets.rotate_db_password and secrets.rotate_jwt_key.
 *
 * Crash safety rests on a pending record in Firebreak's own PostgreSQL
 * (`config.database.url`, table `firebreak.pending_secrets`): the new value is
 * generated once per (incident, step), stored encrypted (AES-256-GCM under the
 * current payload key) with INSERT … ON CONFLICT DO NOTHING and read back, so
 * every attempt of a step publishes and sets the same value. Rotations of one
 * target are serialised by a session advisory lock in that database, so two
 * steps never interleave two different values.
 *
 * Order, for a database password: pending record → publish the NEW value to
 * every sink (read back where possible) → ALTER ROLE → verify → mark the record
 * completed (its value cleared). Two systems cannot switch at once, so one of
 * them leads; the sinks lead because then every state a crash can leave is one
 * the retry converges from, and none depends on Firebreak still holding the value:
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
 * not the password. Nothing here logs, returns or throws a secret value.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import pg from 'pg';
import { readSecret, type Config, type TargetConfig } from '../lib/config.js';
import { parseKey } from '../lib/codec.js';
import { ConfigError } from '../lib/errors.js';
import { contractKeys, djangoKey } from '../lib/redis-keys.js';
import { FailureTypes, type ActionInput, type ActionResult } from '../workflows/definitions.js';
import { assertModeAllowed, type ActivityDeps } from './deps.js';
import { badInput, refused, targetUnavailable, errorLine, sqlState, verificationFailed, verificationFailedFinal } from './support/failures.js';
import { githubSecretNameProblem } from './sinks/github.js';
import { sinksFor, type SecretSink } from './sinks/types.js';
import { RAISE_EPOCH_SCRIPT } from './support/redis-scripts.js';
import { ROLE, SECRET_NAME } from '../lib/args/rules.js';

type PgTarget = NonNullable<TargetConfig['postgres']>;
type Kind = 'db_password' | 'jwt_key';

const DEFAULT_JWT_NAME = 'JWT_SECRET_KEY';
/** pg_advisory_lock(class, hash(target)): one rotation at a time per target. */
const LOCK_CLASS = 0x46625365; // "FbSe"
const SCRAM_ITERATIONS = 4096; // PostgreSQL's default
const KEY_VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;

const NO_ENCRYPTION = 'secret rotation needs payload encryption configured: the pending value is stored encrypted (set `encryption` in config)';

// ---- small helpers ---------------------------------------------------------------------------

/** First 12 hex digits of SHA-256: tells values apart without revealing them. */
export function fingerprint(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex').slice(0, 12);
}

function activityContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined;
  }
}

function heartbeat(stage: string): void {
  activityContext()?.heartbeat({ stage });
}




/**
 * Every secret value this call touched; errors leave the activity through
 * `scrub`, so no message can carry one (whatever a client library echoed).
 */
class Hush {
  private readonly values = new Set<string>();

  add(...values: (string | undefined)[]): void {
    for (const v of values) {
      if (!v || v.length < 4) continue;
      this.values.add(v);
      this.values.add(encodeURIComponent(v));
    }
  }

  scrub(text: string): string {
    let out = text;
    for (const v of this.values) out = out.split(v).join('[redacted]');
    return out;
  }

  /** The error to throw instead of `err`: same failure type and retry policy, scrubbed message, no details or cause. */
  failure(err: unknown): Error {
    if (err instanceof CancelledFailure) return err;
    if (err instanceof ApplicationFailure) {
      return ApplicationFailure.create({ type: err.type ?? FailureTypes.TargetUnavailable, message: this.scrub(err.message), nonRetryable: err.nonRetryable ?? false });
    }
    const code = (err as NodeJS.ErrnoException | undefined)?.code;
    return ApplicationFailure.create({
      type: FailureTypes.TargetUnavailable,
      message: this.scrub(`secret rotation failed: ${code && !sqlState(err) ? code : errorLine(err)}`),
      nonRetryable: false,
    });
  }
}

// ---- arguments -------------------------------------------------------------------------------

function secretName(args: Record<string, unknown>, fallback?: string): string {
  const v = args.secret_name ?? fallback;
  if (typeof v !== 'string' || !SECRET_NAME.test(v)) {
    throw badInput(`secret_name must be a variable name (letters, digits and _, not starting with a digit, at most 128), got ${JSON.stringify(v ?? null).slice(0, 140)}`);
  }
  return v;
}

function parseRequestedAt(input: ActionInput): number {
  const ms = Date.parse(input.requestedAt);
  if (!Number.isFinite(ms)) throw badInput(`requestedAt is not a timestamp: "${input.requestedAt}"`);
  return Math.floor(ms / 1000);
}

// ---- the pending value's encryption ---------------------------------------------------------

interface Keyring {
  currentId: string;
  keys: Map<string, Buffer>;
}

function keyringOf(config: Readonly<Config>): Keyring {
  const enc = config.encryption;
  if (!enc) throw refused(NO_ENCRYPTION);
  const keys = new Map<string, Buffer>();
  try {
    for (const k of enc.keys) keys.set(k.id, parseKey(readSecret(k.secret), k.id));
  } catch (err) {
    if (err instanceof ConfigError) throw refused(`secret rotation cannot read the payload keys: ${err.problems.join('; ')}`);
    throw err;
  }
  if (!keys.has(enc.current)) throw refused(`encryption.current "${enc.current}" is not one of encryption.keys`);
  return { currentId: enc.current, keys };
}

/** Binds a ciphertext to its row: a value copied into another row does not decrypt. */
function aadFor(incidentId: string, stepId: string, name: string): Buffer {
  return Buffer.from(['firebreak.pending_secrets', incidentId, stepId, name].join('\0'), 'utf8');
}

/** [version][key id length][key id][iv][ciphertext][tag] */
function seal(ring: Keyring, plaintext: string, aad: Buffer): Buffer {
  const key = ring.keys.get(ring.currentId) as Buffer;
  const id = Buffer.from(ring.currentId, 'utf8');
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.concat([aad, id]));
  const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return Buffer.concat([Buffer.from([KEY_VERSION, id.length]), id, iv, ct, cipher.getAuthTag()]);
}

function unseal(ring: Keyring, blob: Buffer, aad: Buffer): string {
  if (blob.length < 2 || blob[0] !== KEY_VERSION) throw refused('the pending secret record has an unknown format');
  const idLen = blob[1] as number;
  const id = blob.subarray(2, 2 + idLen);
  const keyId = id.toString('utf8');
  const key = ring.keys.get(keyId);
  if (!key) throw refused(`the pending secret was encrypted with key "${keyId}", which is no longer in encryption.keys: put it back to finish this rotation`);
  const body = blob.subarray(2 + idLen);
  if (body.length < IV_BYTES + TAG_BYTES) throw refused('the pending secret record is truncated');
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, body.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.concat([aad, id]));
    decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
    return Buffer.concat([decipher.update(body.subarray(IV_BYTES, body.length - TAG_BYTES)), decipher.final()]).toString('utf8');
  } catch {
    throw refused(`the pending secret record does not decrypt with key "${keyId}" (altered, or the key changed)`);
  }
}

// ---- SCRAM-SHA-256 verifiers (RFC 5802/7677, as PostgreSQL stores them in pg_authid) -----------

const hmac = (key: Buffer, text: string): Buffer => createHmac('sha256', key).update(text).digest();

function scramKeys(password: string, salt: Buffer, iterations: number): { storedKey: Buffer; serverKey: Buffer } {
  // Generated passwords are ASCII, for which SASLprep (what PostgreSQL applies) changes nothing.
  const salted = pbkdf2Sync(password, salt, iterations, 32, 'sha256');
  return { storedKey: createHash('sha256').update(hmac(salted, 'Client Key')).digest(), serverKey: hmac(salted, 'Server Key') };
}

/** The verifier PostgreSQL would store for `password`: `SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>`. */
export function scramVerifier(password: string, salt: Buffer = randomBytes(16), iterations = SCRAM_ITERATIONS): string {
  const { storedKey, serverKey } = scramKeys(password, salt, iterations);
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

/** Does `password` match the stored verifier (SCRAM-SHA-256, or a legacy md5 one)? */
export function verifierMatches(verifier: string, password: string, role: string): boolean {
  const m = /^SCRAM-SHA-256\$(\d+):([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)$/.exec(verifier);
  if (m) {
    const iterations = Number(m[1]);
    if (!Number.isSafeInteger(iterations) || iterations < 1 || iterations > 10_000_000) return false;
    const { storedKey, serverKey } = scramKeys(password, Buffer.from(m[2] as string, 'base64'), iterations);
    const wantStored = Buffer.from(m[3] as string, 'base64');
    const wantServer = Buffer.from(m[4] as string, 'base64');
    return wantStored.length === storedKey.length && wantServer.length === serverKey.length && timingSafeEqual(wantStored, storedKey) && timingSafeEqual(wantServer, serverKey);
  }
  if (/^md5[0-9a-f]{32}$/.test(verifier)) return verifier === `md5${createHash('md5').update(password + role).digest('hex')}`;
  return false;
}

// ---- logging in as the role -----------------------------------------------------------------

/**
 * A client config with the password inside the URL: pg lets a connection string
 * without a password override a separate `password` option (with nothing).
 */
function withPassword(url: URL, password: string | undefined, extra: pg.ClientConfig): pg.ClientConfig {
  const u = new URL(url.toString());
  if (password !== undefined) u.password = encodeURIComponent(password);
  return { ...extra, connectionString: u.toString() };
}

/** How the role connects: the app connection (`appUrl`, else `adminUrl` on the app database) as `role`, no password in it. */
function roleUrl(pgc: PgTarget, role: string): URL {
  const url = new URL(pgc.appUrl ?? pgc.adminUrl);
  if (!pgc.appUrl) url.pathname = `/${encodeURIComponent(pgc.database)}`;
  url.username = encodeURIComponent(role);
  url.password = '';
  if (!url.port) url.port = '5432';
  return url;
}

/** `postgres://<role>:<password>@host:port/db`, from the app connection. */
function connectionUrl(pgc: PgTarget, role: string, password: string): string {
  const url = roleUrl(pgc, role);
  url.password = encodeURIComponent(password);
  return url.toString();
}

type Login = { result: 'accepted' } | { result: 'refused'; code: string } | { result: 'unknown'; reason: string };

async function tryLogin(url: URL, password: string): Promise<Login> {
  const client = new pg.Client(withPassword(url, password, { application_name: 'firebreak-secrets-proof', connectionTimeoutMillis: 5_000, query_timeout: 10_000 }));
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return { result: 'accepted' };
  } catch (err) {
    const code = sqlState(err);
    // Refused at authentication; 42501/3D000 come after it (CONNECT denied, no such database).
    if (code?.startsWith('28')) return { result: 'refused', code };
    if (code === '42501' || code === '3D000') return { result: 'accepted' };
    return { result: 'unknown', reason: code ? `${code}: ${errorLine(err)}` : ((err as NodeJS.ErrnoException).code ?? errorLine(err)) };
  } finally {
    await client.end().catch(() => undefined);
  }
}

// ---- the activities ----------------------------------------------------------------------------

interface PendingRow {
  target: string;
  kind: string;
  name: string;
  value_enc: Buffer | null;
  fingerprint: string;
  previous_verifier_fp: string | null;
  completed_at: Date | null;
}

interface RoleFacts {
  rolname: string;
  rolcanlogin: boolean;
  is_admin: boolean;
  /** Why the admin may not change this role's password, or null when it may. */
  cannot_alter: string | null;
}

/** What the target lets us prove, found before anything changes. */
interface Provability {
  /** The role's verifier before acting; null when the admin cannot read pg_authid. */
  verifier: string | null;
  /** Password logins are checked by the server (a wrong password is refused), or why they cannot prove anything. */
  logins: { checked: true } | { checked: false; reason: string };
  serverVersion: number;
}

export function createSecretActivities(deps: ActivityDeps) {
  const { clients, config, logger } = deps;
  let schemaReady: Promise<void> | undefined;

  // ---- Firebreak's own database --------------------------------------------------------------

  function ownConfig(database?: string): pg.ClientConfig {
    const url = new URL(config.database.url);
    if (database) url.pathname = `/${encodeURIComponent(database)}`;
    const password = config.database.password ? readSecret(config.database.password) : undefined;
    return withPassword(url, password, { application_name: 'firebreak-secrets', connectionTimeoutMillis: 5_000, keepAlive: true });
  }

  async function connectOwn(): Promise<pg.Client> {
    const attempt = async (): Promise<pg.Client> => {
      const c = new pg.Client(ownConfig());
      c.on('error', () => undefined); // surfaces on the next query
      try {
        await c.connect();
      } catch (err) {
        await c.end().catch(() => undefined);
        throw err;
      }
      return c;
    };
    let client: pg.Client;
    try {
      client = await attempt();
    } catch (err) {
      if (sqlState(err) !== '3D000') throw targetUnavailable("Firebreak's database (database.url)", err);
      await createOwnDatabase();
      client = await attempt().catch((e: unknown) => {
        throw targetUnavailable("Firebreak's database (database.url)", e);
      });
    }
    try {
      // A dead worker's statements must not complete later (PostgreSQL 14+ notices the lost client).
      if (Number((await client.query<{ v: number }>("SELECT current_setting('server_version_num')::int AS v")).rows[0]?.v ?? 0) >= 140000) {
        await client.query("SET client_connection_check_interval = '1s'");
      }
      await client.query("SET lock_timeout = '20s'");
      schemaReady ??= ensureSchema(client).catch((err: unknown) => {
        schemaReady = undefined;
        throw err;
      });
      await schemaReady;
      return client;
    } catch (err) {
      await client.end().catch(() => undefined);
      throw targetUnavailable("Firebreak's database (database.url)", err);
    }
  }

  async function createOwnDatabase(): Promise<void> {
    const name = decodeURIComponent(new URL(config.database.url).pathname.replace(/^\//, ''));
    if (!name) throw badInput('database.url names no database');
    const c = new pg.Client(ownConfig('postgres'));
    c.on('error', () => undefined);
    try {
      await c.connect();
      await c.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
      logger.info({ database: name }, "created Firebreak's database");
    } catch (err) {
      if (sqlState(err) !== '42P04') throw targetUnavailable(`Firebreak's database server (creating "${name}")`, err); // 42P04: created meanwhile
    } finally {
      await c.end().catch(() => undefined);
    }
  }

  async function ensureSchema(c: pg.Client): Promise<void> {
    await c.query('BEGIN');
    try {
      await c.query('SELECT pg_advisory_xact_lock($1, 0)', [LOCK_CLASS]);
      await c.query('CREATE SCHEMA IF NOT EXISTS firebreak');
      await c.query(
        `CREATE TABLE IF NOT EXISTS firebreak.pending_secrets (
           incident_id text NOT NULL,
           step_id text NOT NULL,
           target text NOT NULL,
           kind text NOT NULL,
           name text NOT NULL,
           value_enc bytea,
           fingerprint text NOT NULL,
           previous_verifier_fp text,
           created_at timestamptz NOT NULL DEFAULT now(),
           completed_at timestamptz,
           PRIMARY KEY (incident_id, step_id),
           CONSTRAINT pending_value_until_completed CHECK ((completed_at IS NULL) = (value_enc IS NOT NULL))
         )`,
      );
      await c.query('COMMIT');
    } catch (err) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  }

  /** Run `fn` holding the target's rotation lock in Firebreak's database; the session ends afterwards. */
  async function withRotationLock<T>(input: ActionInput, fn: (own: pg.Client) => Promise<T>): Promise<T> {
    const own = await connectOwn();
    try {
      const objid = createHash('sha256').update(input.target).digest().readInt32BE(0);
      try {
        await own.query('SELECT pg_advisory_lock($1, $2)', [LOCK_CLASS, objid]);
      } catch (err) {
        if (sqlState(err) === '55P03') throw targetUnavailable("Firebreak's database", new Error(`another secret rotation on target "${input.target}" is still running`));
        throw targetUnavailable("Firebreak's database", err);
      }
      return await fn(own);
    } finally {
      // Ending the session releases the advisory lock.
      await own.end().catch(() => undefined);
    }
  }

  /** The step's pending record: created once with `fresh()`, the same on every later attempt. */
  async function pendingRecord(
    own: pg.Client,
    input: ActionInput,
    ring: Keyring,
    spec: { kind: Kind; name: string; fresh: () => string; previousVerifierFp: string | null },
  ): Promise<PendingRow> {
    const select = () =>
      own.query<PendingRow>(
        'SELECT target, kind, name, value_enc, fingerprint, previous_verifier_fp, completed_at FROM firebreak.pending_secrets WHERE incident_id = $1 AND step_id = $2',
        [input.incidentId, input.stepId],
      );
    let row = (await onOwn(select)).rows[0];
    if (!row) {
      const value = spec.fresh();
      const sealed = seal(ring, value, aadFor(input.incidentId, input.stepId, spec.name));
      await onOwn(() =>
        own.query(
          `INSERT INTO firebreak.pending_secrets (incident_id, step_id, target, kind, name, value_enc, fingerprint, previous_verifier_fp)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (incident_id, step_id) DO NOTHING`,
          [input.incidentId, input.stepId, input.target, spec.kind, spec.name, sealed, fingerprint(value), spec.previousVerifierFp],
        ),
      );
      row = (await onOwn(select)).rows[0];
      if (!row) throw targetUnavailable("Firebreak's database", new Error('the pending record did not read back'));
    }
    if (row.target !== input.target || row.kind !== spec.kind || row.name !== spec.name) {
      throw badInput(`step ${input.stepId} of ${input.incidentId} already rotated ${row.kind} ${row.name} on target "${row.target}"; it cannot now rotate ${spec.kind} ${spec.name} on "${input.target}"`);
    }
    return row;
  }

  async function onOwn<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof ApplicationFailure) throw err;
      // The table or schema went away under us (database recreated): create it again on the next attempt.
      if (sqlState(err) === '42P01' || sqlState(err) === '3F000') schemaReady = undefined;
      throw targetUnavailable("Firebreak's database", err);
    }
  }

  async function complete(own: pg.Client, input: ActionInput): Promise<void> {
    await onOwn(() =>
      own.query('UPDATE firebreak.pending_secrets SET completed_at = now(), value_enc = NULL WHERE incident_id = $1 AND step_id = $2 AND completed_at IS NULL', [
        input.incidentId,
        input.stepId,
      ]),
    );
  }

  // ---- sinks -------------------------------------------------------------------------------

  /** The target's sinks, refusing a name one of them would refuse only after others were written. */
  function publishableSinks(input: ActionInput, name: string): SecretSink[] {
    const sinks = sinksFor(deps, input.target);
    const problem = sinks.some((s) => s.kind === 'github') ? githubSecretNameProblem(name) : undefined;
    if (problem) throw badInput(`secret_name ${name} cannot be published to GitHub: ${problem}`);
    return sinks;
  }

  /** Publish to every sink in order, then read back the ones that can be read. */
  async function publish(sinks: SecretSink[], name: string, value: string): Promise<Record<string, string>> {
    for (const sink of sinks) {
      heartbeat(`publish ${sink.describe()}`);
      try {
        await sink.put(name, value);
      } catch (err) {
        const message = `publishing ${name} to ${sink.describe()} failed: ${err instanceof Error ? err.message : String(err)}`;
        if (err instanceof ApplicationFailure) throw ApplicationFailure.create({ type: err.type ?? FailureTypes.TargetUnavailable, message, nonRetryable: err.nonRetryable ?? false });
        throw targetUnavailable(sink.describe(), new Error(message));
      }
    }
    return readBack(sinks, name, value);
  }

  async function readBack(sinks: SecretSink[], name: string, value: string): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const sink of sinks) {
      if (!sink.get) {
        out[sink.describe()] = 'written (this sink cannot be read back)';
        continue;
      }
      const held = await sink.get(name);
      if (held !== value) {
        throw verificationFailed(`${sink.describe()} holds ${held === undefined ? 'no value' : `a different value (fingerprint ${fingerprint(held)})`} for ${name} after writing (expected fingerprint ${fingerprint(value)})`);
      }
      out[sink.describe()] = 'read back: matches';
    }
    return out;
  }

  // ---- the database side ---------------------------------------------------------------------

  function postgresOf(input: ActionInput): PgTarget {
    const target = clients.target(input.target);
    assertModeAllowed(target, input.target, input.mode);
    if (!target.postgres) throw badInput(`target "${input.target}" has no postgres section in config`);
    return target.postgres;
  }

  /** One admin session on the app database for this rotation (its settings stay in it). */
  async function withTargetAdmin<T>(input: ActionInput, pgc: PgTarget, fn: (c: pg.Client) => Promise<T>): Promise<T> {
    const url = new URL(pgc.adminUrl);
    url.pathname = `/${encodeURIComponent(pgc.database)}`;
    const c = new pg.Client(withPassword(url, pgc.password ? readSecret(pgc.password) : undefined, { application_name: 'firebreak-secrets', connectionTimeoutMillis: 5_000 }));
    c.on('error', () => undefined); // surfaces on the next query
    try {
      await c.connect();
    } catch (err) {
      await c.end().catch(() => undefined);
      if (sqlState(err) === '3D000') throw badInput(`database "${pgc.database}" of target "${input.target}" does not exist`);
      throw targetUnavailable('postgres', err);
    }
    try {
      return await fn(c);
    } catch (err) {
      if (err instanceof ApplicationFailure) throw err;
      const code = sqlState(err);
      if (code === '42501') throw refused(`postgres refused the admin (${code}): ${errorLine(err)}`);
      throw targetUnavailable('postgres', err);
    } finally {
      await c.end().catch(() => undefined);
    }
  }

  async function roleFacts(c: pg.ClientBase, role: string, targetName: string): Promise<RoleFacts> {
    // Checked before anything is published: a failing ALTER ROLE would leave the sinks ahead of the database for good.
    const { rows } = await c.query<RoleFacts>(
      `SELECT r.rolname, r.rolcanlogin, r.rolname = me.rolname AS is_admin,
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
    if (facts.cannot_alter) throw refused(`the admin of target "${targetName}" cannot change the password of "${role}": ${facts.cannot_alter}; nothing was changed`);
    return facts;
  }

  /** The role's current verifier, or null when the admin may not read pg_authid (not a superuser). */
  async function readVerifier(c: pg.ClientBase, role: string): Promise<string | null> {
    try {
      const { rows } = await c.query<{ rolpassword: string | null }>('SELECT rolpassword FROM pg_catalog.pg_authid WHERE rolname = $1', [role]);
      return rows[0]?.rolpassword ?? '';
    } catch (err) {
      if (sqlState(err) === '42501') return null;
      throw err;
    }
  }

  async function provability(c: pg.ClientBase, pgc: PgTarget, role: RoleFacts): Promise<Provability> {
    const serverVersion = Number((await c.query<{ v: number }>("SELECT current_setting('server_version_num')::int AS v")).rows[0]?.v ?? 0);
    const verifier = await readVerifier(c, role.rolname);
    let logins: Provability['logins'];
    if (!role.rolcanlogin) {
      logins = { checked: false, reason: `"${role.rolname}" cannot log in (NOLOGIN)` };
    } else {
      // A password nobody has: if it gets in, the server does not check passwords for this role.
      const probe = await tryLogin(roleUrl(pgc, role.rolname), randomBytes(24).toString('base64url'));
      if (probe.result === 'refused' && probe.code === '28P01') logins = { checked: true };
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

  async function alterPassword(c: pg.ClientBase, role: string, verifier: string, serverVersion: number): Promise<void> {
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
      if (code === '42501') throw refused(`postgres refused to change the password of "${role}" (${why})`);
      throw targetUnavailable('postgres', new Error(`ALTER ROLE "${role}" failed (${why})`));
    }
  }

  /** The password being replaced, when a sink or the config still holds it and it matches what the database holds. */
  async function knownOldPassword(
    c: pg.ClientBase,
    pgc: PgTarget,
    role: string,
    sinks: SecretSink[],
    name: string,
    format: 'password' | 'url',
    fresh: string,
    proof: Provability,
    hush: Hush,
  ): Promise<string | undefined> {
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

  async function rotateDbPassword(input: ActionInput, hush: Hush): Promise<ActionResult> {
    const pgc = postgresOf(input);
    const name = secretName(input.args);
    const roleArg = input.args.role ?? pgc.appRole;
    if (typeof roleArg !== 'string' || !ROLE.test(roleArg)) throw badInput(`role must be a plain role name (letters, digits, _ and $; at most 63), got ${JSON.stringify(roleArg).slice(0, 80)}`);
    const role = roleArg;
    const formatArg = input.args.format ?? 'password';
    if (formatArg !== 'password' && formatArg !== 'url') throw badInput(`format must be password or url, got ${JSON.stringify(formatArg).slice(0, 80)}`);
    const format: 'password' | 'url' = formatArg;
    const sinks = publishableSinks(input, name);
    const ring = keyringOf(config);
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

    return withRotationLock(input, (own) =>
      withTargetAdmin(input, pgc, async (c) => {
        heartbeat('preflight');
        const facts = await roleFacts(c, role, input.target);
        const can = await provability(c, pgc, facts);
        const record = await pendingRecord(own, input, ring, {
          kind: 'db_password',
          name,
          fresh: () => randomBytes(32).toString('base64url'),
          previousVerifierFp: can.verifier ? fingerprint(can.verifier) : null,
        });

        if (record.completed_at || !record.value_enc) return alreadyRotated(c, role, name, format, sinks, record, hush);

        const password = unseal(ring, record.value_enc, aadFor(input.incidentId, input.stepId, name));
        const value = format === 'url' ? connectionUrl(pgc, role, password) : password;
        hush.add(password, value);
        const old = await knownOldPassword(c, pgc, role, sinks, name, format, password, can, hush);

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

        await complete(own, input);
        const fp = fingerprint(value);
        logger.info(
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
    name: string,
    format: 'password' | 'url',
    sinks: SecretSink[],
    record: PendingRow,
    hush: Hush,
  ): Promise<ActionResult> {
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

  // ---- the JWT signing key -------------------------------------------------------------------

  async function raiseEpoch(input: ActionInput, target: TargetConfig, epoch: number): Promise<{ key: string; value: number; raised: boolean }> {
    const redis = clients.redis(input.target);
    const key = djangoKey(target.redis, contractKeys.revokedBeforeAll());
    try {
      const raised = Number(await redis.eval(RAISE_EPOCH_SCRIPT, 1, key, String(epoch), String(target.tokens.maxLifetimeSeconds)));
      const value = Number(await redis.get(key));
      if (!(value >= epoch)) throw verificationFailed(`read back ${key} = ${Number.isFinite(value) ? value : 'nothing'}, below ${epoch}`);
      return { key, value, raised: raised > 0 };
    } catch (err) {
      if (err instanceof ApplicationFailure) throw err;
      throw targetUnavailable('redis', err);
    }
  }

  async function rotateJwtKey(input: ActionInput, hush: Hush): Promise<ActionResult> {
    const target = clients.target(input.target);
    assertModeAllowed(target, input.target, input.mode);
    const name = secretName(input.args, DEFAULT_JWT_NAME);
    const epoch = parseRequestedAt(input);
    const sinks = publishableSinks(input, name);
    const ring = keyringOf(config);
    const sinkNames = sinks.map((s) => s.describe());
    const epochKey = djangoKey(target.redis, contractKeys.revokedBeforeAll());

    if (input.mode === 'dry-run') {
      return {
        summary: `would publish a new JWT signing key as ${name} to ${sinkNames.join(', ')}, then revoke every token issued at or before ${epoch}`,
        changed: false,
        plan: [
          `generate a new key (64 random bytes, base64url) and record it encrypted (key "${ring.currentId}") in firebreak.pending_secrets of Firebreak's database`,
          `publish ${name} to ${sinkNames.join(', ')}`,
          `SET ${epochKey} ${epoch} EX ${target.tokens.maxLifetimeSeconds} (only ever raised): every token issued at or before it is rejected`,
          'the app signs with the new key once it is redeployed',
        ],
        output: { secretName: name, sinks: sinkNames, epoch },
      };
    }

    return withRotationLock(input, async (own) => {
      const record = await pendingRecord(own, input, ring, { kind: 'jwt_key', name, fresh: () => randomBytes(64).toString('base64url'), previousVerifierFp: null });
      let readBacks: Record<string, string>;
      let fp = record.fingerprint;
      const earlier = record.completed_at !== null || !record.value_enc;
      if (!earlier && record.value_enc) {
        const key = unseal(ring, record.value_enc, aadFor(input.incidentId, input.stepId, name));
        hush.add(key);
        readBacks = await publish(sinks, name, key);
        fp = fingerprint(key);
      } else {
        readBacks = {};
        for (const sink of sinks) {
          const held = sink.get ? await sink.get(name) : undefined;
          hush.add(held);
          readBacks[sink.describe()] = !sink.get ? 'written (this sink cannot be read back)' : held !== undefined && fingerprint(held) === record.fingerprint ? 'read back: matches' : 'holds another value now (rotated again since?)';
        }
      }
      // Only now: tokens signed before are refused at once, before the redeploy loads the new key.
      heartbeat('revoke');
      const revoked = await raiseEpoch(input, target, epoch);
      await complete(own, input);
      logger.info({ incidentId: input.incidentId, step: input.stepId, secretName: name, fingerprint: fp, sinks: sinkNames, epoch, raised: revoked.raised }, 'JWT signing key rotated');
      return {
        summary:
          `${earlier ? 'already rotated by an earlier attempt: ' : ''}new JWT signing key ${name} (fingerprint ${fp}) published to ${sinkNames.join(', ')}; ` +
          `every token issued at or before ${epoch} is revoked (${revoked.key}${revoked.value > epoch ? ` = ${revoked.value}, raised earlier` : ''}); redeploy the app so it signs with the new key`,
        changed: true,
        proof: { secretName: name, fingerprint: fp, sinks: readBacks, epochKey: revoked.key, epoch: revoked.value },
        output: { secretName: name, fingerprint: fp, sinks: sinkNames, epoch },
      };
    });
  }

  /** Every failure leaves through the scrubber. */
  async function quietly(input: ActionInput, action: string, fn: (hush: Hush) => Promise<ActionResult>): Promise<ActionResult> {
    const hush = new Hush();
    try {
      return await fn(hush);
    } catch (err) {
      const failure = hush.failure(err);
      logger.warn({ incidentId: input.incidentId, step: input.stepId, action, error: failure.message }, 'secret rotation failed');
      throw failure;
    }
  }

  return {
    /** Rotate a PostgreSQL role's password and publish it to the target's sinks; prove the new one works and the old one does not. */
    async secretsRotateDbPassword(input: ActionInput): Promise<ActionResult> {
      return quietly(input, 'secrets.rotate_db_password', (hush) => rotateDbPassword(input, hush));
    },

    /** Publish a new JWT signing key, then revoke every token issued before the step started. */
    async secretsRotateJwtKey(input: ActionInput): Promise<ActionResult> {
      return quietly(input, 'secrets.rotate_jwt_key', (hush) => rotateJwtKey(input, hush));
    },
  };
}
