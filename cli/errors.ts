/** Map any error to one clear line and an exit code (0 ok, 1 failed, 2 usage/validation). */
import { ConfigError } from '../lib/errors.js';

export function exitCodeOf(err: unknown): number {
  if (err && typeof err === 'object' && 'exitCode' in err && typeof err.exitCode === 'number') return err.exitCode;
  return 1;
}

const ERRNO_WORDS: Record<string, string> = {
  ENOENT: 'no such file or folder',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EISDIR: 'it is a folder',
  ENOTDIR: 'a part of the path is not a folder',
  EEXIST: 'it already exists',
  ENOSPC: 'no space left on the device',
  EROFS: 'read-only file system',
  EMFILE: 'too many open files',
  ENAMETOOLONG: 'the name is too long',
};

const SYSCALL_VERBS: Record<string, string> = { open: 'open', mkdir: 'create the folder', rename: 'replace', write: 'write', unlink: 'remove', stat: 'read', lstat: 'read', scandir: 'list', read: 'read', chmod: 'change the mode of' };

/** A file system error in words, `cannot create the folder /x: permission denied (EACCES)`; undefined for other errors. */
export function fileErrorLine(err: unknown): string | undefined {
  const e = err as NodeJS.ErrnoException | undefined;
  if (!(err instanceof Error) || typeof e?.code !== 'string' || typeof e.syscall !== 'string') return undefined;
  const words = ERRNO_WORDS[e.code];
  if (!words) return undefined;
  const verb = SYSCALL_VERBS[e.syscall] ?? e.syscall;
  return `cannot ${verb}${e.path ? ` ${e.path}` : ''}: ${words} (${e.code})`;
}

export function errorLine(err: unknown): string {
  if (err instanceof ConfigError) return err.problems.join('\n');
  const file = fileErrorLine(err);
  if (file) return file;
  if (err instanceof Error) {
    // Runbook validation lists several problems, one per line: keep them all.
    if ('problems' in err && Array.isArray(err.problems)) return err.message;
    return err.message.split('\n')[0] ?? err.name;
  }
  return String(err);
}
