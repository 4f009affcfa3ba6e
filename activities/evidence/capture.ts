/** How a source is captured: on its own, within a deadline, a failure recorded as `{ ok: false, error }` and never thrown. */
import { redactText } from '../../lib/redact.js';

export type SourceName = 'sessions' | 'roles' | 'redis' | 'github';

export type SourceResult<T> = ({ ok: true } & T) | { ok: false; error: string };

/** Longest one source may take before it is recorded as failed (the others go on). */
export const SOURCE_TIMEOUT_MS = 45_000;

/** One line for the bundle: the error's code and first message line, redacted. */
export function errorText(err: unknown): string {
  const msg = err instanceof Error ? (err.message.split('\n')[0] ?? err.name) : String(err);
  const code = (err as { code?: unknown } | null)?.code;
  const withCode = typeof code === 'string' && code && !msg.includes(code) ? `${code}: ${msg}` : msg;
  return redactText(withCode || 'unknown error').slice(0, 500);
}

/** Run `fn` with a deadline; a timeout is an ordinary failure of that source. */
export async function withDeadline<T>(ms: number, what: string, fn: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${Math.round(ms / 1000)} s`)), ms);
  });
  try {
    return await Promise.race([fn(), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

export async function capture<T extends object>(name: SourceName, ms: number, fn: () => Promise<T>): Promise<SourceResult<T>> {
  try {
    return { ok: true, ...(await withDeadline(ms, name, fn)) };
  } catch (err) {
    return { ok: false, error: errorText(err) };
  }
}
