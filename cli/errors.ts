/** Map any error to one clear line and an exit code (0 ok, 1 failed, 2 usage/validation). */
import { ConfigError } from '../lib/errors.js';

export function exitCodeOf(err: unknown): number {
  if (err && typeof err === 'object' && 'exitCode' in err && typeof err.exitCode === 'number') return err.exitCode;
  return 1;
}

export function errorLine(err: unknown): string {
  if (err instanceof ConfigError) return err.problems.join('\n');
  if (err instanceof Error) {
    // Runbook validation lists several problems, one per line: keep them all.
    if ('problems' in err && Array.isArray(err.problems)) return err.message;
    return err.message.split('\n')[0] ?? err.name;
  }
  return String(err);
}
