/**
 * A real nginx (the Debian package) for one test: its own prefix in a temp
 * dir (config, pid, logs, temp paths), listening on a free loopback port,
 * serving 200 "ok" and including a deny file. Runs in the foreground as a
 * child process (`daemon off`); `stop()` ends it and removes the dir.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, chmodSync, constants, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { freePort } from '../../lib/dev-server.js';
import { httpGet } from './http.js';

export interface Nginx {
  dir: string;
  port: number;
  url: string;
  conf: string;
  denyFile: string;
  /** `nginx -t` for this instance (argv, no shell). */
  testCommand: string[];
  /** `nginx -s reload` for this instance. */
  reloadCommand: string[];
  /** YAML of a target's `nginx:` section for this instance (one line). */
  targetYaml: string;
  errorLog(): string;
  stop(): Promise<void>;
}

export interface NginxOptions {
  /** Extra directives inside `server { }` (e.g. realip settings). */
  serverExtra?: string[];
}

/** The nginx binary: NGINX_BIN, else /usr/sbin/nginx (Debian), else nginx on PATH. */
export function findNginx(): string {
  const candidates = [process.env.NGINX_BIN, '/usr/sbin/nginx', ...(process.env.PATH ?? '').split(delimiter).filter(Boolean).map((d) => join(d, 'nginx'))];
  for (const c of candidates) {
    if (!c) continue;
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      // next
    }
  }
  throw new Error('nginx not found (set NGINX_BIN, or apt-get install nginx-light)');
}

export interface HttpAnswer {
  status: number;
  body: string;
}

/** GET `path` from the instance, optionally from a given local address or with headers. */
export async function get(port: number, opts: { localAddress?: string; headers?: Record<string, string>; path?: string } = {}): Promise<HttpAnswer> {
  const { status, body } = await httpGet(port, opts);
  return { status, body };
}

/**
 * Poll until `pred` holds for the answer (a reload is asynchronous: old
 * workers finish with the old configuration).
 */
export async function waitForStatus(port: number, want: number, opts: Parameters<typeof get>[1] = {}, timeoutMs = 10_000): Promise<HttpAnswer> {
  const deadline = Date.now() + timeoutMs;
  let last: HttpAnswer | Error = new Error('no answer yet');
  while (Date.now() < deadline) {
    try {
      last = await get(port, opts);
      if (last.status === want) return last;
    } catch (err) {
      last = err as Error;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`expected HTTP ${want} within ${timeoutMs} ms, last: ${last instanceof Error ? last.message : `${last.status} ${last.body}`}`);
}

export async function startNginx(opts: NginxOptions = {}): Promise<Nginx> {
  const bin = findNginx();
  const dir = mkdtempSync(join(tmpdir(), 'fbt-nginx-'));
  // The worker processes run as an unprivileged user when the master is root: let them in.
  chmodSync(dir, 0o755);
  const www = join(dir, 'www');
  mkdirSync(www, { mode: 0o755 });
  mkdirSync(join(dir, 'temp'), { mode: 0o755 });
  mkdirSync(join(dir, 'conf.d'), { mode: 0o755 });
  writeFileSync(join(www, 'index.html'), 'ok\n', { mode: 0o644 });
  const denyFile = join(dir, 'conf.d', 'firebreak-deny.conf');
  writeFileSync(denyFile, '# empty until the first ban\n', { mode: 0o644 });
  const port = await freePort();
  const conf = join(dir, 'nginx.conf');
  const errorLog = join(dir, 'error.log');
  const temp = (name: string) => join(dir, 'temp', name);
  writeFileSync(
    conf,
    [
      'daemon off;',
      'master_process on;',
      'worker_processes 1;',
      `pid ${join(dir, 'nginx.pid')};`,
      `error_log ${errorLog} warn;`,
      'events { worker_connections 64; }',
      'http {',
      '  access_log off;',
      `  client_body_temp_path ${temp('client_body')};`,
      `  proxy_temp_path ${temp('proxy')};`,
      `  fastcgi_temp_path ${temp('fastcgi')};`,
      `  uwsgi_temp_path ${temp('uwsgi')};`,
      `  scgi_temp_path ${temp('scgi')};`,
      '  server {',
      `    listen 127.0.0.1:${port};`,
      // Access rules run in nginx's access phase; `return` would answer before it, so serve a file.
      `    root ${www};`,
      '    index index.html;',
      `    include ${denyFile};`,
      ...(opts.serverExtra ?? []).map((l) => `    ${l}`),
      '  }',
      '}',
      '',
    ].join('\n'),
  );
  const base = ['-p', `${dir}/`, '-c', conf, '-e', errorLog];
  const testCommand = [bin, '-t', '-q', ...base];
  const reloadCommand = [bin, '-s', 'reload', ...base];
  const child: ChildProcess = spawn(bin, base, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const errorLogText = () => {
    try {
      return readFileSync(errorLog, 'utf8');
    } catch {
      return '';
    }
  };
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitForStatus(port, 200, {}, 10_000);
  } catch (err) {
    const why = `nginx did not serve on 127.0.0.1:${port}: ${(err as Error).message}\n${stderr}\n${errorLogText()}`;
    await stop();
    throw new Error(why);
  }
  return {
    dir,
    port,
    url: `http://127.0.0.1:${port}/`,
    conf,
    denyFile,
    testCommand,
    reloadCommand,
    targetYaml: `nginx: { denyFile: ${JSON.stringify(denyFile)}, testCommand: ${JSON.stringify(testCommand)}, reloadCommand: ${JSON.stringify(reloadCommand)} }`,
    errorLog: errorLogText,
    stop,
  };
}
