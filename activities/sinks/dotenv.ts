/**
 * The dotenv sink: `NAME=value` in a `.env` file (docker-compose, python-dotenv).
 *
 * - Only the value of NAME changes (every assignment of it, so whichever one a
 *   reader honours is the new value); every other byte of the file survives,
 *   CRLF line ends, comments, `export NAME=` and a missing final newline too.
 *   The file is handled as bytes (latin1 in, latin1 out), so even bytes that are
 *   not UTF-8 come back unchanged.
 * - Writes are atomic (lib/atomic-file.ts: a temporary file in the same folder,
 *   fsync, rename over the file, fsync of the folder). The result is always 0600.
 * - Writers serialise on an exclusive lock file `<path>.lock` (created with
 *   O_EXCL, retried with backoff). Its holder refreshes its mtime; one older than
 *   STALE_LOCK_MS is from a dead writer and is taken over.
 */
import { randomBytes } from 'node:crypto';
import { link, open, readFile, realpath, rename, stat, unlink, utimes } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ApplicationFailure } from '@temporalio/common';
import { writeFileAtomic } from '../../lib/atomic-file.js';
import { badInput, targetUnavailable } from '../support/failures.js';
import type { SecretSink } from './types.js';

/** A lock file whose mtime is older than this belongs to a writer that died. */
export const STALE_LOCK_MS = 30_000;
/** How often the holder refreshes its lock's mtime (well under STALE_LOCK_MS). */
const LOCK_REFRESH_MS = 5_000;
/** Give up waiting for a live writer after this (the attempt fails and is retried). */
const LOCK_WAIT_MS = 60_000;

/** Names docker-compose and python-dotenv both accept. */
const NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
/** Written bare; anything else is double-quoted. */
const BARE = /^[A-Za-z0-9_./:@+-]*$/;
/** `[export ]NAME=` at the start of a line (the name pattern is what readers accept, wider than NAME). */
const ASSIGNMENT = /^([ \t]*(?:export[ \t]+)?)([A-Za-z_][A-Za-z0-9_.-]*)[ \t]*=([ \t]*)/;

/** Codes that mean the path is wrong or forbidden: retrying the same attempt cannot help. */
const PERMANENT = new Set(['ENOENT', 'ENOTDIR', 'EISDIR', 'EACCES', 'EPERM', 'EROFS', 'ELOOP', 'ENAMETOOLONG']);

export interface DotenvOptions {
  /** Default STALE_LOCK_MS. */
  staleLockMs?: number;
  /** Default LOCK_WAIT_MS. */
  lockWaitMs?: number;
}

// ---- parsing (on latin1 strings: one char per byte) -----------------------------------------

interface Assignment {
  name: string;
  /** Offsets of the value as written (quotes included), in the file text. */
  valueStart: number;
  valueEnd: number;
  /** The value as a reader sees it (still latin1: one char per byte). */
  value: string;
}

function unescapeDouble(raw: string): string {
  return raw.replace(/\\([\\"nrt])/g, (_m, c: string) => (c === 'n' ? '\n' : c === 'r' ? '\r' : c === 't' ? '\t' : c));
}

/** Every assignment in the file, in order. Lines that are not assignments are skipped untouched. */
export function parseDotenv(text: string): Assignment[] {
  const out: Assignment[] = [];
  let pos = 0;
  while (pos < text.length) {
    const nl = text.indexOf('\n', pos);
    const lineEnd = nl === -1 ? text.length : nl;
    const contentEnd = lineEnd > pos && text[lineEnd - 1] === '\r' ? lineEnd - 1 : lineEnd;
    const line = text.slice(pos, contentEnd);
    const m = ASSIGNMENT.exec(line);
    let next = nl === -1 ? text.length : nl + 1;
    if (m) {
      const name = m[2] as string;
      const valueStart = pos + m[0].length;
      const quote = text[valueStart];
      let parsed: { valueEnd: number; value: string } | undefined;
      if (quote === '"' || quote === "'") {
        // Quoted values may span lines; the closing quote ends the value.
        let i = valueStart + 1;
        let close = -1;
        while (i < text.length) {
          const ch = text[i];
          if (quote === '"' && ch === '\\') {
            i += 2;
            continue;
          }
          if (ch === quote) {
            close = i;
            break;
          }
          i += 1;
        }
        if (close !== -1) {
          const inner = text.slice(valueStart + 1, close);
          parsed = { valueEnd: close + 1, value: quote === '"' ? unescapeDouble(inner) : inner };
          const after = text.indexOf('\n', close);
          next = after === -1 ? text.length : after + 1;
        }
      }
      if (!parsed) {
        // Unquoted: up to an inline comment (whitespace then #), trailing blanks trimmed.
        const rest = text.slice(valueStart, contentEnd);
        const comment = rest.startsWith('#') && m[3] !== '' ? 0 : rest.search(/[ \t]#/);
        const raw = (comment === -1 ? rest : rest.slice(0, comment)).replace(/[ \t]+$/, '');
        parsed = { valueEnd: valueStart + raw.length, value: raw };
      }
      out.push({ name, valueStart, valueEnd: parsed.valueEnd, value: parsed.value });
    }
    pos = next;
  }
  return out;
}

/** How a value is written: bare when it is plainly safe, else double-quoted with \\ \" \n \r escaped. */
export function encodeDotenvValue(value: string): string {
  if (BARE.test(value)) return value;
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n').replace(/\r/g, '\\r')}"`;
}

const toLatin1 = (s: string): string => Buffer.from(s, 'utf8').toString('latin1');
const fromLatin1 = (s: string): string => Buffer.from(s, 'latin1').toString('utf8');

/** The file text with NAME set to value (latin1 in and out): every assignment of NAME replaced, or one appended. */
export function setDotenvValue(text: string, name: string, value: string): string {
  const encoded = toLatin1(encodeDotenvValue(value));
  const mine = parseDotenv(text).filter((a) => a.name === name);
  if (mine.length === 0) {
    const eol = text.includes('\r\n') ? '\r\n' : '\n';
    const sep = text === '' || text.endsWith('\n') ? '' : eol;
    return `${text}${sep}${name}=${encoded}${eol}`;
  }
  let out = text;
  for (const a of [...mine].reverse()) {
    // `NAME= # note`: keep the comment a comment.
    const gap = out[a.valueEnd] === '#' ? ' ' : '';
    out = out.slice(0, a.valueStart) + encoded + gap + out.slice(a.valueEnd);
  }
  return out;
}

/** The value a reader gets for NAME (the last assignment wins), or undefined. */
export function getDotenvValue(text: string, name: string): string | undefined {
  const mine = parseDotenv(text).filter((a) => a.name === name);
  const last = mine[mine.length - 1];
  return last === undefined ? undefined : fromLatin1(last.value);
}

// ---- file I/O --------------------------------------------------------------------------------

function errCode(err: unknown): string {
  return (err as NodeJS.ErrnoException | undefined)?.code ?? 'error';
}

function fileFailure(path: string, what: string, err: unknown): ApplicationFailure {
  const code = errCode(err);
  if (PERMANENT.has(code)) return badInput(`dotenv sink ${path}: cannot ${what} (${code}); check secrets.sinks for the target and the worker's permissions`);
  return targetUnavailable(`dotenv sink ${path}`, err);
}

interface HeldLock {
  release(): Promise<void>;
}

/** Serialise writers in this process per lock file, so they do not spin on the lock file against each other. */
const localQueues = new Map<string, Promise<unknown>>();

async function acquireLock(path: string, lockPath: string, opts: Required<DotenvOptions>): Promise<HeldLock> {
  const deadline = Date.now() + opts.lockWaitMs;
  let delay = 5;
  for (;;) {
    try {
      const fh = await open(lockPath, 'wx', 0o600);
      let ino: number;
      try {
        await fh.writeFile(`${process.pid}@${hostname()} ${new Date().toISOString()}\n`);
        ino = (await fh.stat()).ino;
      } finally {
        await fh.close();
      }
      const refresh = setInterval(() => {
        const now = new Date();
        utimes(lockPath, now, now).catch(() => undefined);
      }, LOCK_REFRESH_MS);
      refresh.unref();
      return {
        async release() {
          clearInterval(refresh);
          // Only our own lock: if it was taken over (we stalled past STALE_LOCK_MS), it is someone else's now.
          const st = await stat(lockPath).catch(() => undefined);
          if (st?.ino === ino) await unlink(lockPath).catch(() => undefined);
        },
      };
    } catch (err) {
      if (errCode(err) !== 'EEXIST') throw fileFailure(path, `create its lock file ${lockPath}`, err);
    }
    const st = await stat(lockPath).catch((err: unknown) => {
      if (errCode(err) === 'ENOENT') return undefined; // released meanwhile: try again at once
      throw fileFailure(path, `inspect its lock file ${lockPath}`, err);
    });
    if (!st) continue;
    if (Date.now() - st.mtimeMs > opts.staleLockMs) {
      await takeOver(lockPath, st.ino);
      continue;
    }
    if (Date.now() > deadline) {
      const owner = (await readFile(lockPath, 'utf8').catch(() => '')).trim().slice(0, 120) || 'unknown writer';
      throw targetUnavailable(`dotenv sink ${path}`, new Error(`locked by ${owner} (${lockPath}) for more than ${Math.round(opts.lockWaitMs / 1000)} s`));
    }
    await sleep(delay + Math.floor(Math.random() * delay));
    delay = Math.min(delay * 2, 250);
  }
}

/**
 * Remove a stale lock without ever removing a fresh one: move it aside (atomic),
 * and if what moved is not the stale file we looked at (another waiter took it
 * over and a new holder created a fresh lock in between), put that one back.
 */
async function takeOver(lockPath: string, staleIno: number): Promise<void> {
  const aside = `${lockPath}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await rename(lockPath, aside);
  } catch {
    return; // gone already, or someone else moved it: just retry
  }
  const moved = await stat(aside).catch(() => undefined);
  if (moved && moved.ino !== staleIno) await link(aside, lockPath).catch(() => undefined);
  await unlink(aside).catch(() => undefined);
}

async function withLock<T>(path: string, lockPath: string, opts: Required<DotenvOptions>, fn: () => Promise<T>): Promise<T> {
  const previous = localQueues.get(lockPath) ?? Promise.resolve();
  const run = previous.catch(() => undefined).then(async () => {
    const lock = await acquireLock(path, lockPath, opts);
    try {
      return await fn();
    } finally {
      await lock.release();
    }
  });
  const settled = run.catch(() => undefined);
  localQueues.set(lockPath, settled);
  void settled.then(() => {
    if (localQueues.get(lockPath) === settled) localQueues.delete(lockPath);
  });
  return run;
}

/** The file to write: a symlinked .env is written through to its target, not replaced by a regular file. */
async function resolveTarget(path: string): Promise<string> {
  try {
    return await realpath(path);
  } catch (err) {
    if (errCode(err) === 'ENOENT') return path;
    throw fileFailure(path, 'resolve it', err);
  }
}

async function readText(path: string, file: string): Promise<{ text: string; mode?: number; uid?: number; gid?: number }> {
  try {
    const [buf, st] = await Promise.all([readFile(file), stat(file)]);
    return { text: buf.toString('latin1'), mode: st.mode & 0o777, uid: st.uid, gid: st.gid };
  } catch (err) {
    if (errCode(err) === 'ENOENT') return { text: '' };
    throw fileFailure(path, 'read it', err);
  }
}

/** Atomically, 0600 whatever the umask, keeping the file's owner when we can (a root worker writing the app user's file). */
async function writeDotenv(path: string, file: string, text: string, owner: { uid?: number; gid?: number }): Promise<void> {
  try {
    await writeFileAtomic(file, Buffer.from(text, 'latin1'), { mode: 0o600, owner: { uid: owner.uid, gid: owner.gid } });
  } catch (err) {
    // Only the temporary file is opened by path (syscall "open"); everything after it is writing.
    const what = (err as NodeJS.ErrnoException | undefined)?.syscall === 'open' ? `create a temporary file in ${dirname(file)}` : 'write it';
    throw fileFailure(path, what, err);
  }
}

/** A dotenv file as a secret sink. `path` should be absolute (sinksFor resolves config paths). */
export function createDotenvSink(path: string, options: DotenvOptions = {}): SecretSink {
  const opts: Required<DotenvOptions> = { staleLockMs: options.staleLockMs ?? STALE_LOCK_MS, lockWaitMs: options.lockWaitMs ?? LOCK_WAIT_MS };
  const lockPath = `${path}.lock`;
  const checkName = (name: string) => {
    if (!NAME.test(name)) throw badInput(`dotenv sink ${path}: "${name.slice(0, 130)}" is not a variable name (letters, digits and _, not starting with a digit)`);
  };
  return {
    kind: 'dotenv',
    describe: () => `dotenv ${path}`,
    async put(name, value) {
      checkName(name);
      await withLock(path, lockPath, opts, async () => {
        const file = await resolveTarget(path);
        const before = await readText(path, file);
        const text = setDotenvValue(before.text, name, value);
        if (text === before.text && before.mode === 0o600) return;
        await writeDotenv(path, file, text, before);
      });
    },
    async get(name) {
      checkName(name);
      const file = await resolveTarget(path);
      return getDotenvValue((await readText(path, file)).text, name);
    },
  };
}
