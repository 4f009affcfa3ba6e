/**
 * The chaos run's private servers, each on a spare loopback port and in a temp folder, never
 * the shared 127.0.0.1:5432 / 6379 ones: a redis-server (append-only file, fsync on every
 * write, so a SIGKILL loses nothing it acknowledged), a PostgreSQL 15 cluster with SCRAM
 * passwords (initdb + pg_ctl; as root it runs as the `postgres` user), and a Temporal dev
 * server with SQLite persistence. Each can be stopped and started again on the same port
 * with the same data, which is what the faults are made of.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import pg from 'pg';
import { freePort, startDevServer, type DevServer } from '../../lib/dev-server.js';

const run = promisify(execFile);
const PG_BIN = process.env.FIREBREAK_CHAOS_PG_BIN ?? '/usr/lib/postgresql/15/bin';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface PrivateRedis {
  port: number;
  url: string;
  /** A client of the runner's own (retries while the server is down). */
  client: Redis;
  running(): boolean;
  /** SIGKILL: clients see ECONNREFUSED until start(). */
  kill(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export async function startPrivateRedis(dir: string): Promise<PrivateRedis> {
  const port = await freePort();
  const data = join(dir, 'redis');
  mkdirSync(data, { recursive: true });
  let child: ChildProcess | undefined;
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes', '--appendfsync', 'always', '--dir', data];
  const client = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 200, retryStrategy: () => 50, lazyConnect: true });
  client.on('error', () => undefined); // refused while the server is down; commands retry
  const start = async () => {
    child = spawn('redis-server', args, { stdio: 'ignore' });
    const probe = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 100, retryStrategy: () => 50 });
    probe.on('error', () => undefined);
    try {
      await probe.ping();
    } finally {
      probe.disconnect();
    }
  };
  const kill = async () => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGKILL');
    await exited;
  };
  await start();
  await client.connect();
  return {
    port,
    url: `redis://127.0.0.1:${port}/0`,
    client,
    running: () => child !== undefined,
    kill,
    start,
    async stop() {
      client.disconnect();
      await kill();
    },
  };
}

export interface PrivatePostgres {
  port: number;
  /** `postgres://postgres@127.0.0.1:<port>/postgres`; the password is in passwordFile. */
  adminUrl: string;
  passwordFile: string;
  superPassword: string;
  /** A superuser session on `database` (the caller ends it). */
  connect(database?: string): Promise<pg.Client>;
  /** pg_ctl stop -m immediate: every session dies, new ones are refused. */
  kill(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
  log(): string;
}

async function idOf(flag: '-u' | '-g'): Promise<number> {
  return Number((await run('id', [flag, 'postgres'])).stdout.trim());
}

/** Where startPrivatePostgres(dir) keeps the superuser's password (written before its first await). */
export const pgPasswordFile = (dir: string): string => join(dir, 'pg', 'superuser.pw');

/** `port` may be chosen first (freePort), so a config naming it can be written while initdb runs. */
export async function startPrivatePostgres(dir: string, chosenPort?: number): Promise<PrivatePostgres> {
  const root = process.getuid?.() === 0;
  const home = join(dir, 'pg');
  mkdirSync(home, { recursive: true });
  const superPassword = `chaos-${Math.random().toString(36).slice(2)}${Date.now().toString(36)}`;
  const passwordFile = pgPasswordFile(dir);
  writeFileSync(passwordFile, `${superPassword}\n`, { mode: 0o600 });
  const uid = root ? await idOf('-u') : undefined;
  const gid = root ? await idOf('-g') : undefined;
  if (root) {
    chownSync(home, uid as number, gid as number);
    chmodSync(dir, 0o711); // postgres may pass through the run's folder, not list it
  }
  const asPostgres = (cmd: string, args: string[]) =>
    uid === undefined ? run(join(PG_BIN, cmd), args, { timeout: 60_000 }) : run('runuser', ['-u', 'postgres', '--', join(PG_BIN, cmd), ...args], { timeout: 60_000 });
  if (root) chownSync(passwordFile, uid as number, gid as number);
  const data = join(home, 'data');
  const logFile = join(home, 'server.log');
  const port = chosenPort ?? (await freePort());
  await asPostgres('initdb', ['-D', data, '-U', 'postgres', '--auth=scram-sha-256', `--pwfile=${passwordFile}`, '--no-sync']);
  let up = false;
  const start = async () => {
    await asPostgres('pg_ctl', ['-D', data, '-l', logFile, '-w', '-o', `-p ${port} -k ${home} -c listen_addresses=127.0.0.1 -c fsync=off`, 'start']);
    up = true;
  };
  const kill = async () => {
    if (!up) return;
    up = false;
    await asPostgres('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
  };
  await start();
  return {
    port,
    adminUrl: `postgres://postgres@127.0.0.1:${port}/postgres`,
    passwordFile,
    superPassword,
    async connect(database = 'postgres') {
      const c = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password: superPassword, database, connectionTimeoutMillis: 5_000 });
      c.on('error', () => undefined);
      await c.connect();
      return c;
    },
    kill,
    start,
    stop: () => kill().catch(() => undefined),
    log: () => {
      try {
        return readFileSync(logFile, 'utf8');
      } catch {
        return '';
      }
    },
  };
}

export interface PrivateTemporal {
  address: string;
  dbFile: string;
  /** SIGKILL the server (no shutdown), start it again on the same port and SQLite file after `downMs`. */
  restart(downMs: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startPrivateTemporal(dir: string): Promise<PrivateTemporal> {
  const dbFile = join(dir, 'temporal.db');
  const port = await freePort();
  const logFile = join(dir, 'temporal.log');
  const up = () => startDevServer({ port, uiPort: false, dbFile, logLevel: 'error', logFile });
  let server: DevServer = await up();
  return {
    address: server.address,
    dbFile,
    async restart(downMs) {
      const exited = new Promise((r) => server.process.once('exit', r));
      server.process.kill('SIGKILL');
      await exited;
      await server.stop(); // removes its exit hook
      await sleep(downMs);
      // The port can linger a moment after the kill.
      for (let i = 0; ; i++) {
        try {
          server = await up();
          return;
        } catch (err) {
          if (i >= 20 || !/already in use/.test((err as Error).message)) throw err;
          await sleep(250);
        }
      }
    },
    stop: () => server.stop(),
  };
}
