import { UsageError } from '../../lib/errors.js';

/** `--timeout <sec>` of the commands that wait for the worker: whole seconds from 1 to 600, in ms. */
export function timeoutMs(value: string | undefined, fallbackSeconds: number): number {
  const s = Number(value ?? fallbackSeconds);
  if (!Number.isInteger(s) || s < 1 || s > 600) throw new UsageError('--timeout: whole seconds from 1 to 600');
  return s * 1000;
}
