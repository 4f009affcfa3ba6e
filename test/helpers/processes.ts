/** Child processes for tests that must kill things: a worker, a private redis-server. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { inject } from 'vitest';
import { PROJECT_ROOT } from '../../lib/config.js';
import { freePort } from '../../lib/dev-server.js';

export interface WorkerProcess {
  child: ChildProcess;
  output(): string;
  kill(signal: NodeJS.Signals): Promise<void>;
}

/** `firebreak worker` as a real process; resolves once it logged "worker ready". */
export async function spawnWorker(configFile: string, timeoutMs = 60_000): Promise<WorkerProcess> {
  const child = spawn(process.execPath, [join(PROJECT_ROOT, 'bin/firebreak.js'), 'worker'], {
    env: { ...process.env, FIREBREAK_CONFIG: configFile, FIREBREAK_LOG_LEVEL: 'info', FIREBREAK_WORKFLOW_BUNDLE: inject('workflowBundle') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker not ready after ${timeoutMs} ms:\n${out}`)), timeoutMs);
    const check = () => {
      if (out.includes('worker ready')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stderr?.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`worker exited with ${code} before ready:\n${out}`));
    });
  });
  return {
    child,
    output: () => out,
    async kill(signal) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

export interface RedisServer {
  url: string;
  port: number;
  client: Redis;
  stop(): Promise<void>;
}

/** A private redis-server, so a test can pause or break it without touching others. */
export async function startRedisServer(): Promise<RedisServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'fbt-redis-'));
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
  const client = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 50, retryStrategy: () => 50 });
  client.on('error', () => undefined); // refused until the server listens; commands retry
  await client.ping();
  return {
    url: `redis://127.0.0.1:${port}/0`,
    port,
    client,
    async stop() {
      client.disconnect();
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
