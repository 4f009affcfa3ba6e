/**
 * Operator commands (nginx -t, nginx -s reload) are started by a small helper process, not
 * forked from the worker. Node forks synchronously: the worker's event loop stops while the
 * kernel copies its page tables and the child reaches exec, which grows with the worker's
 * memory and with load — on this 2-core VM 11–35 ms from a 55 MB process and 110–145 ms from a
 * 550 MB one at load 19 (bench/RESULTS.md, "Faster containment"). For that time no other
 * activity, heartbeat or workflow task of the worker moves. The helper is a bare `node -e`
 * that stays up and runs `execFile` for us over IPC.
 *
 * When the helper cannot be started, or exits with a command in flight, the command runs here
 * as before (the commands are tests and reloads: running one again is harmless).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';

export interface Outcome {
  err: (Error & { code?: number | string | null; killed?: boolean; signal?: string | null }) | null;
  stdout: string;
  stderr: string;
}

interface Request {
  file: string;
  args: readonly string[];
  timeoutMs: number;
  maxBuffer: number;
}

/** The helper: one execFile per message, the same options as the worker would pass; exits with its parent. */
const HELPER = `
const { execFile } = require('node:child_process');
process.on('message', (m) => {
  execFile(m.file, m.args, { timeout: m.timeoutMs, maxBuffer: m.maxBuffer, windowsHide: true }, (err, stdout, stderr) => {
    const e = err ? { message: err.message, code: err.code, killed: err.killed, signal: err.signal } : null;
    process.send({ id: m.id, err: e, stdout: String(stdout), stderr: String(stderr) });
  });
});
process.on('disconnect', () => process.exit(0));
process.send({ ready: true });
`;

class HelperGone extends Error {}

let helper: ChildProcess | undefined;
/** Resolves once the helper listens (messages sent before that could be lost). */
let ready: Promise<boolean> = Promise.resolve(false);
let nextId = 1;
const pending = new Map<number, { resolve(o: Outcome): void; reject(e: Error): void }>();
/** Callers waiting for the helper to come up. */
let waiting = 0;

function start(): ChildProcess | undefined {
  if (helper?.connected) return helper;
  let child: ChildProcess;
  try {
    child = spawn(process.execPath, ['-e', HELPER], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], windowsHide: true });
  } catch {
    return undefined;
  }
  let isReady: (up: boolean) => void = () => undefined;
  ready = new Promise((r) => (isReady = r));
  child.on('message', (m: { ready?: true; id: number; err: (Record<string, unknown> & { message: string }) | null; stdout: string; stderr: string }) => {
    if (m.ready) return isReady(true);
    const p = pending.get(m.id);
    if (!p) return;
    pending.delete(m.id);
    idle();
    p.resolve({ err: m.err ? Object.assign(new Error(m.err.message), m.err) : null, stdout: m.stdout, stderr: m.stderr });
  });
  const gone = () => {
    isReady(false);
    if (helper === child) helper = undefined;
    for (const [id, p] of pending) {
      pending.delete(id);
      p.reject(new HelperGone('command helper exited'));
    }
  };
  child.on('exit', gone);
  child.on('error', gone);
  child.unref();
  helper = child;
  idle();
  return child;
}

/** The helper never keeps the worker alive on its own: its channel counts only while a command runs. */
function idle(): void {
  const channel = helper?.channel as { ref(): void; unref(): void } | undefined;
  if (pending.size || waiting) channel?.ref();
  else channel?.unref();
}

function direct(r: Request): Promise<Outcome> {
  return new Promise((resolve) => {
    execFile(r.file, [...r.args], { timeout: r.timeoutMs, maxBuffer: r.maxBuffer, windowsHide: true }, (err, stdout, stderr) => resolve({ err, stdout: String(stdout), stderr: String(stderr) }));
  });
}

async function viaHelper(r: Request): Promise<Outcome> {
  const child = start();
  waiting += 1;
  idle();
  const up = child ? await ready.finally(() => (waiting -= 1)) : (waiting -= 1, false);
  if (!child || !up || !child.connected) {
    idle();
    throw new HelperGone('command helper not started');
  }
  const id = nextId++;
  return new Promise<Outcome>((resolve, reject) => {
    pending.set(id, { resolve, reject });
    idle();
    try {
      child.send({ id, ...r }, (err) => {
        if (!err) return;
        pending.delete(id);
        idle();
        reject(new HelperGone(err.message));
      });
    } catch (err) {
      pending.delete(id);
      idle();
      reject(new HelperGone((err as Error).message));
    }
  });
}

/** Run `file args` the way `execFile` would, started by the helper when it is up. */
export async function execCommand(r: Request): Promise<Outcome> {
  try {
    return await viaHelper(r);
  } catch (err) {
    if (err instanceof HelperGone) return direct(r);
    throw err;
  }
}

/** Start the helper now, so the first command of an incident does not wait for it to boot. */
export function warmCommandHelper(): void {
  start();
}
