/**
 * A private PostgreSQL 15 cluster with SCRAM-SHA-256 password authentication,
 * for tests that must see a wrong password refused (the shared server trusts
 * everyone). initdb refuses to run as root, so as root it runs as `postgres`
 * (runuser) in a temporary folder owned by that user. `stop()` removes it all.
 */
import { execFile } from 'node:child_process';
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import { chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort } from '../../lib/dev-server.js';

const run = promisify(execFile);
const BIN = process.env.FIREBREAK_TEST_PG_BIN ?? '/usr/lib/postgresql/15/bin';

export interface ScramPostgres {
  host: '127.0.0.1';
  port: number;
  dir: string;
  /** The superuser `postgres`'s password, and a file holding it (for `{ file: … }` secret refs). */
  superPassword: string;
  passwordFile: string;
  /** `postgres://postgres@127.0.0.1:<port>/postgres` (the password is separate). */
  adminUrl: string;
  /** A connected superuser client on database `postgres`. */
  admin: pg.Client;
  /** A new superuser client on `database` (closed by stop()). */
  connect(database?: string): Promise<pg.Client>;
  /** The server log so far. */
  log(): string;
  stop(): Promise<void>;
}

async function asPostgres(uid: number | undefined, cmd: string, args: string[]): Promise<void> {
  if (uid === undefined) await run(cmd, args, { timeout: 60_000 });
  else await run('runuser', ['-u', 'postgres', '--', cmd, ...args], { timeout: 60_000 });
}

async function idOf(flag: '-u' | '-g'): Promise<number> {
  return Number((await run('id', [flag, 'postgres'])).stdout.trim());
}

export async function startScramPostgres(): Promise<ScramPostgres> {
  const root = process.getuid?.() === 0;
  const dir = mkdtempSync(join(tmpdir(), 'fbt-pg-'));
  const uid = root ? await idOf('-u') : undefined;
  if (root) chownSync(dir, uid as number, await idOf('-g'));
  const superPassword = randomBytes(18).toString('base64url');
  const passwordFile = join(dir, 'superuser.pw');
  writeFileSync(passwordFile, `${superPassword}\n`, { mode: 0o600 });
  if (root) chownSync(passwordFile, uid as number, await idOf('-g'));
  const data = join(dir, 'data');
  const logFile = join(dir, 'server.log');
  const port = await freePort();
  const clients: pg.Client[] = [];
  let started = false;
  const stop = async () => {
    await Promise.allSettled(clients.map((c) => c.end()));
    if (started) await asPostgres(uid, join(BIN, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await asPostgres(uid, join(BIN, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=scram-sha-256', `--pwfile=${passwordFile}`, '--no-sync']);
    await asPostgres(uid, join(BIN, 'pg_ctl'), ['-D', data, '-l', logFile, '-w', '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`, 'start']);
    started = true;
    const connect = async (database = 'postgres') => {
      const c = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password: superPassword, database });
      c.on('error', () => undefined);
      await c.connect();
      clients.push(c);
      return c;
    };
    const admin = await connect();
    return {
      host: '127.0.0.1',
      port,
      dir,
      superPassword,
      passwordFile,
      adminUrl: `postgres://postgres@127.0.0.1:${port}/postgres`,
      admin,
      connect,
      log: () => {
        try {
          return readFileSync(logFile, 'utf8');
        } catch {
          return '';
        }
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Log in as `user` with `password`: 'ok', or the SQLSTATE (or error code) it failed with. */
export async function tryLogin(conn: { host: string; port: number; database: string }, user: string, password: string): Promise<string> {
  const c = new pg.Client({ ...conn, user, password, connectionTimeoutMillis: 5_000 });
  c.on('error', () => undefined);
  try {
    await c.connect();
    await c.query('SELECT 1');
    return 'ok';
  } catch (err) {
    return (err as { code?: string }).code ?? 'error';
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** The test's own SCRAM-SHA-256 check of a pg_authid verifier (independent of the product code). */
export function scramMatches(verifier: string, password: string): boolean {
  const m = /^SCRAM-SHA-256\$(\d+):([^$]+)\$([^:]+):(.+)$/.exec(verifier);
  if (!m) return false;
  const salted = pbkdf2Sync(password, Buffer.from(m[2] as string, 'base64'), Number(m[1]), 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest('base64');
  const serverKey = createHmac('sha256', salted).update('Server Key').digest('base64');
  return storedKey === m[3] && serverKey === m[4];
}

/** The role's rolpassword (verifier), read as superuser. */
export async function verifierOf(admin: pg.ClientBase, role: string): Promise<string | null> {
  const { rows } = await admin.query<{ rolpassword: string | null }>('SELECT rolpassword FROM pg_authid WHERE rolname = $1', [role]);
  return rows[0]?.rolpassword ?? null;
}
