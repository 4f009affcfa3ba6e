import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { chmodSync, closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Connection } from '@temporalio/client';
// @temporalio/proto is CommonJS without named ESM exports: take its module.exports.
import proto from '@temporalio/proto';
import { SEARCH_ATTRIBUTES, devServerSearchAttributeArgs } from './search-attributes.js';
import { findTemporalCli } from './temporal-bin.js';

const { IndexedValueType } = proto.temporal.api.enums.v1;
type IndexedValueTypeValue = proto.temporal.api.enums.v1.IndexedValueType;

const INDEXED_TYPES: Record<string, IndexedValueTypeValue> = {
  Text: IndexedValueType.INDEXED_VALUE_TYPE_TEXT,
  Keyword: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  Int: IndexedValueType.INDEXED_VALUE_TYPE_INT,
  Double: IndexedValueType.INDEXED_VALUE_TYPE_DOUBLE,
  Bool: IndexedValueType.INDEXED_VALUE_TYPE_BOOL,
  Datetime: IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
  KeywordList: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
};

const READY_TIMEOUT_MS = 30_000;
const RETRY_EVERY_MS = 100;
const STOP_GRACE_MS = 5_000;
const STDERR_TAIL_BYTES = 8 * 1024;

export interface DevServerOptions {
  /** gRPC frontend port; 0 or undefined picks a free one. */
  port?: number;
  /** Web UI port; false runs headless; 0 or undefined picks a free one. */
  uiPort?: number | false;
  /** SQLite file to persist state in; undefined keeps everything in memory. */
  dbFile?: string;
  /** Extra namespace to create (the `default` namespace always exists). */
  namespace?: string;
  /** Append the server's stdout and stderr to this file (overrides `stdio`). */
  logFile?: string;
  /** Address to bind; default 127.0.0.1. */
  ip?: string;
  /**
   * What to do with the server's output; default 'ignore' (stderr is still kept
   * for startup errors). With 'pipe', read `process.stdout`/`process.stderr`
   * yourself: an unread pipe eventually blocks the server.
   */
  stdio?: 'ignore' | 'inherit' | 'pipe';
  /** Server log level; default 'warn'. */
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /** How long to wait for the server to answer; default 30 s. */
  readyTimeoutMs?: number;
}

export interface DevServer {
  /** host:port of the gRPC frontend, e.g. '127.0.0.1:40123'. */
  address: string;
  /** Namespace the search attributes were checked in (`namespace` option, else 'default'). */
  namespace: string;
  /** Web UI, unless headless. */
  uiUrl?: string;
  pid: number;
  /** SIGTERM, wait for exit, SIGKILL after 5 s. Safe to call twice. */
  stop(): Promise<void>;
  process: ChildProcess;
}

/** A port that was free a moment ago on `host` (listen on 0, read, close). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close((err) => (err ? reject(err) : port ? resolve(port) : reject(new Error('freePort: no port assigned'))));
    });
  });
}

/**
 * Make sure every name in SEARCH_ATTRIBUTES is registered in `namespace` with
 * its type, adding the missing ones (an older dev-server db file may lack some).
 * Throws if one exists with a different type, which cannot be fixed in place.
 * Meant for dev servers; on a real cluster an operator runs
 * `temporal operator search-attribute create` instead.
 * @returns the names that were added
 */
export async function ensureSearchAttributes(connection: Connection, namespace: string): Promise<string[]> {
  const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
  const missing: Record<string, IndexedValueTypeValue> = {};
  const wrong: string[] = [];
  for (const [name, typeName] of Object.entries(SEARCH_ATTRIBUTES)) {
    const want = INDEXED_TYPES[typeName];
    if (want === undefined) throw new Error(`search attribute ${name}: unknown type ${typeName}`);
    const have = customAttributes[name];
    if (have === undefined) missing[name] = want;
    else if (have !== want) wrong.push(`${name} is ${IndexedValueType[have]}, want ${typeName}`);
  }
  if (wrong.length) throw new SearchAttributeTypeMismatch(`namespace ${namespace}: search attributes registered with the wrong type: ${wrong.join('; ')}`);
  const names = Object.keys(missing);
  if (names.length) await connection.operatorService.addSearchAttributes({ namespace, searchAttributes: missing });
  return names;
}

// Without this, a busy port would look ready: the probe would reach whoever
// holds it while our server fails to bind and exits a second later.
async function assertPortFree(host: string, port: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', (err: NodeJS.ErrnoException) =>
      reject(err.code === 'EADDRINUSE' ? new Error(`temporal dev server: port ${hostPort(host, port)} is already in use`) : err),
    );
    srv.listen(port, host, () => srv.close(() => resolve()));
  });
}

function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * Start `temporal server start-dev` (the binary from findTemporalCli(); nothing
 * is downloaded) and resolve once it answers getSystemInfo and has Firebreak's
 * search attributes. Rejects with the tail of its stderr if it exits first.
 */
export async function startDevServer(opts: DevServerOptions = {}): Promise<DevServer> {
  const cli = findTemporalCli();
  const ip = opts.ip ?? '127.0.0.1';
  // A wildcard bind is reachable on loopback; that is where we probe.
  const probeHost = ip === '0.0.0.0' ? '127.0.0.1' : ip === '::' ? '::1' : ip;
  if (opts.port) await assertPortFree(probeHost, opts.port);
  const port = opts.port || (await freePort(probeHost));
  const uiPort = opts.uiPort === false ? undefined : opts.uiPort || (await freePort(probeHost));
  const namespace = opts.namespace ?? 'default';
  const address = hostPort(probeHost, port);

  const args = ['server', 'start-dev', '--ip', ip, '--port', String(port)];
  if (uiPort === undefined) args.push('--headless');
  else args.push('--ui-port', String(uiPort));
  if (opts.dbFile) {
    if (existsSync(opts.dbFile)) chmodSync(opts.dbFile, 0o600);
    args.push('--db-filename', opts.dbFile);
  }
  if (opts.namespace && opts.namespace !== 'default') args.push('--namespace', opts.namespace);
  args.push('--log-level', opts.logLevel ?? 'warn', ...devServerSearchAttributeArgs());

  let logFd: number | undefined;
  let stdio: StdioOptions;
  if (opts.logFile) {
    logFd = openSync(opts.logFile, 'a', 0o600);
    chmodSync(opts.logFile, 0o600);
    stdio = ['ignore', logFd, logFd];
  } else if (opts.stdio === 'inherit') {
    stdio = ['ignore', 'inherit', 'inherit'];
  } else if (opts.stdio === 'pipe') {
    stdio = ['ignore', 'pipe', 'pipe'];
  } else {
    // Keep stderr even when output is unwanted: it explains a failed start.
    stdio = ['ignore', 'ignore', 'pipe'];
  }

  // The SQLite file (and its -wal / -shm) holds every incident's history: owner-only.
  // A child inherits the umask at spawn, and the server creates the file itself.
  const umask = process.umask(0o077);
  let child: ReturnType<typeof spawn>;
  try {
    child = spawn(cli, args, { stdio });
  } finally {
    process.umask(umask);
  }
  if (logFd !== undefined) closeSync(logFd); // the child has its own copy

  let stderrTail = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderrTail = (stderrTail + chunk.toString('utf8')).slice(-STDERR_TAIL_BYTES);
  });
  const tail = (): string => {
    if (opts.logFile) {
      try {
        return readFileSync(opts.logFile, 'utf8').slice(-STDERR_TAIL_BYTES).trim();
      } catch {
        return '';
      }
    }
    return opts.stdio === 'inherit' ? '(see its output above)' : stderrTail.trim();
  };

  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  let spawnError: Error | undefined;
  child.once('error', (err) => {
    spawnError = err;
  });
  const hasExited = (): boolean => child.exitCode !== null || child.signalCode !== null || spawnError !== undefined;

  // If this process dies without calling stop(), do not leave the server behind.
  const killOnExit = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      process.removeListener('exit', killOnExit);
      if (hasExited()) return;
      child.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const forced = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), STOP_GRACE_MS);
      });
      const outcome = await Promise.race([exited, forced]);
      clearTimeout(timer);
      if (outcome === 'timeout' && !hasExited()) {
        child.kill('SIGKILL');
        await exited;
      }
    })();
    return stopping;
  };

  try {
    await waitUntilReady(address, namespace, opts.readyTimeoutMs ?? READY_TIMEOUT_MS, hasExited, () => {
      if (spawnError) return `cannot run ${cli}: ${spawnError.message}`;
      const how = child.signalCode ? `signal ${child.signalCode}` : `code ${child.exitCode}`;
      return `temporal dev server exited with ${how} before it was ready:\n${tail() || '(no output)'}`;
    });
  } catch (err) {
    await stop();
    if (err instanceof Error && !(err instanceof ServerExited)) {
      err.message += `\n${cli} ${args.join(' ')}\n${tail()}`;
    }
    throw err;
  }

  return {
    address,
    namespace,
    ...(uiPort !== undefined ? { uiUrl: `http://${hostPort(probeHost, uiPort)}` } : {}),
    pid: child.pid ?? -1,
    stop,
    process: child,
  };
}

class ServerExited extends Error {
  override name = 'ServerExited';
}

/** A search attribute exists with another type; retrying cannot fix it. */
export class SearchAttributeTypeMismatch extends Error {
  override name = 'SearchAttributeTypeMismatch';
}

async function waitUntilReady(
  address: string,
  namespace: string,
  timeoutMs: number,
  hasExited: () => boolean,
  exitMessage: () => string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    if (hasExited()) throw new ServerExited(exitMessage());
    const remaining = deadline - Date.now();
    if (remaining <= 0) {
      const why = lastError instanceof Error ? lastError.message : String(lastError);
      throw new Error(`temporal dev server at ${address} not ready after ${timeoutMs} ms (last error: ${why})`);
    }
    let connection: Connection | undefined;
    try {
      // Short per-attempt timeout so an early exit is noticed within ~1 s.
      connection = await Connection.connect({ address, connectTimeout: Math.min(1_000, remaining) });
      await connection.workflowService.getSystemInfo({});
      // The namespace may be registered a moment after the frontend answers.
      await ensureSearchAttributes(connection, namespace);
      return;
    } catch (err) {
      if (err instanceof SearchAttributeTypeMismatch) throw err;
      lastError = err;
    } finally {
      await connection?.close().catch(() => undefined);
    }
    await sleep(RETRY_EVERY_MS);
  }
}

