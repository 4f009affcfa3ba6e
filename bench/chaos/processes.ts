/**
 * `firebreak` child processes of the chaos run (`worker`, `edge <name>`): started from
 * bin/firebreak.js with the stack's config, logged to a file of their own, ready once they
 * log their ready line. The runner SIGKILLs them (and SIGSTOPs them, to freeze one in place).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../lib/config.js';

export interface FirebreakProcess {
  child: ChildProcess;
  pid: number;
  /** Its Temporal identity (`pid@host`, the SDK's default). */
  identity: string;
  alive(): boolean;
  /** Send `signal` and wait for the exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Send a signal that does not end it (SIGSTOP, SIGCONT). */
  signal(signal: NodeJS.Signals): void;
}

export interface SpawnOptions {
  args: string[];
  env: NodeJS.ProcessEnv;
  logFile: string;
  /** The log line that says it is ready (e.g. "worker ready"). */
  ready: string;
  readyTimeoutMs?: number;
}

/** Start `firebreak <args>`; resolves once its log says `ready`, rejects if it exits first. */
export async function spawnFirebreak(opts: SpawnOptions): Promise<FirebreakProcess> {
  const log = createWriteStream(opts.logFile);
  const child = spawn(process.execPath, [join(PROJECT_ROOT, 'bin/firebreak.js'), ...opts.args], { env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const take = (d: Buffer) => {
    log.write(d);
    if (out.length < 100_000) out += d.toString();
  };
  child.stdout?.on('data', take);
  child.stderr?.on('data', take);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exited.then(() => log.end());
  const what = `firebreak ${opts.args.join(' ')}`;
  const timeoutMs = opts.readyTimeoutMs ?? 60_000;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} not ready after ${timeoutMs / 1000} s:\n${out.slice(-2000)}`)), timeoutMs);
    const check = () => {
      if (out.includes(opts.ready)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', check);
    child.stderr?.on('data', check);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited (${signal ?? code}) before ready:\n${out.slice(-2000)}`));
    });
  });
  const p: FirebreakProcess = {
    child,
    pid: child.pid ?? -1,
    identity: `${child.pid}@${hostname()}`,
    alive: () => child.exitCode === null && child.signalCode === null,
    async kill(signal = 'SIGKILL') {
      if (p.alive()) child.kill(signal);
      await exited;
    },
    signal(signal) {
      if (p.alive()) child.kill(signal);
    },
  };
  return p;
}
