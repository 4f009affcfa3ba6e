/**
 * Runs the Django example projects (examples/django/<project>) with `manage.py runserver`
 * against the real Redis, for the middleware and refresh-revocation integration tests.
 * Django, DRF and simplejwt come from .tools/django (scripts/setup-django.mjs).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../../lib/dev-server.js';
import { PROJECT_ROOT } from '../../lib/config.js';
import type { HttpReply } from './http.js';

export const run = promisify(execFile);
export const DJANGO_TOOLS = join(PROJECT_ROOT, '.tools', 'django');
export const DJANGO_EXAMPLE = join(PROJECT_ROOT, 'examples', 'django');

export type DjangoProject = 'testproject' | 'jwtproject';

export interface DjangoServer {
  port: number;
  /** The runserver process (with --noreload it is the one serving requests). */
  pid: number;
  output(): string;
  stop(): Promise<void>;
}

export function pythonEnv(project: DjangoProject, extra: Record<string, string>): NodeJS.ProcessEnv {
  return {
    ...process.env,
    PYTHONPATH: [DJANGO_TOOLS, DJANGO_EXAMPLE].join(':'),
    // Byte-code cache in the git-ignored tools folder, never next to the example sources.
    PYTHONPYCACHEPREFIX: join(DJANGO_TOOLS, '.pycache'),
    // …and do write it there (an inherited PYTHONDONTWRITEBYTECODE=1 would make every
    // runserver compile Django, DRF and simplejwt from source: seconds of CPU per start).
    PYTHONDONTWRITEBYTECODE: '',
    PYTHONUNBUFFERED: '1',
    DJANGO_SETTINGS_MODULE: `${project}.settings`,
    ...extra,
  };
}

/** scripts/setup.mjs installs it for `npm test`; a direct `vitest run` may come first. */
export async function ensureDjangoTools(): Promise<void> {
  const current = existsSync(join(DJANGO_TOOLS, 'VERSION')) && existsSync(join(DJANGO_TOOLS, 'rest_framework_simplejwt', '__init__.py'));
  if (!current) await run(process.execPath, [join(PROJECT_ROOT, 'scripts', 'setup-django.mjs')], { cwd: PROJECT_ROOT, timeout: 300_000 });
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** `manage.py runserver --noreload` on a free port; resolves once it listens. */
export async function startDjango(project: DjangoProject, env: Record<string, string>): Promise<DjangoServer> {
  const port = await freePort();
  const child: ChildProcess = spawn('python3', [join(DJANGO_EXAMPLE, project, 'manage.py'), 'runserver', '--noreload', `127.0.0.1:${port}`], {
    cwd: PROJECT_ROOT,
    env: pythonEnv(project, env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const server: DjangoServer = {
    port,
    pid: child.pid ?? -1,
    output: () => out,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
  const deadline = Date.now() + 60_000;
  while (!(await portOpen(port))) {
    if (child.exitCode !== null) throw new Error(`runserver exited with ${child.exitCode}:\n${out}`);
    if (Date.now() > deadline) {
      await server.stop();
      throw new Error(`runserver not listening on ${port} after 60 s:\n${out}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return server;
}

/** One HTTP request with an optional JSON body to a loopback server. */
export function httpJson(port: number, opts: { method?: string; path: string; json?: unknown; headers?: Record<string, string>; timeoutMs?: number }): Promise<HttpReply> {
  const body = opts.json === undefined ? undefined : JSON.stringify(opts.json);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: opts.path,
        method: opts.method ?? (body === undefined ? 'GET' : 'POST'),
        headers: { ...(body === undefined ? {} : { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(body)) }), ...opts.headers },
        agent: false,
        timeout: opts.timeoutMs ?? 10_000,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, headers: res.headers }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(body);
  });
}
