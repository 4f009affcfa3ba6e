/**
 * Argument rules shared by the actions that enforce them and by the up-front
 * validation (front door and worker), so a rule exists once.
 */
export const JTI = /^[\x21-\x7e]{1,255}$/;
export const USER_ID = /^[A-Za-z0-9_.@:-]{1,128}$/;
/** Inline list entries (tokens); bulk goes through a file. */
export const INLINE_MAX = 10_000;
export const SECRET_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
export const ROLE = /^[A-Za-z_][A-Za-z0-9_$]{0,62}$/;
export const FULL_SHA = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;
export const SHA_PREFIX = /^[0-9a-f]{7,64}$/;
/** deploy.redeploy runs at most 2 h (its start-to-close timeout). */
export const MAX_TIMEOUT_MINUTES = 120;
export const REVOKE_SCOPES = ['jti', 'user', 'all'] as const;
export type RevokeScope = (typeof REVOKE_SCOPES)[number];
/** Arguments a revoke scope does not take. */
export const FOREIGN_ARGS: Record<RevokeScope, string[]> = { jti: ['user_ids'], user: ['jtis', 'jtis_file'], all: ['jtis', 'jtis_file', 'user_ids'] };
/** `network.unban_ips` `from_record`: `<incident>/<step>` of the ban whose record lists what to lift. */
export const FROM_RECORD = /^([A-Za-z0-9._-]{1,120})\/([a-z][a-z0-9_-]{0,119})$/;

/** Longest file argument accepted (a path, not the file). */
export const MAX_INPUT_PATH = 4096;

/**
 * A file argument (`addresses_file`, `jtis_file`) names a file in the worker's inputs folder:
 * relative to it, or absolute inside it. `..` is refused here already; the worker resolves
 * symlinks too (activities/support/input-file.ts). The problem, or undefined when the name is fine.
 */
export function inputFileProblem(name: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.trim() === '') return `${name} must name a file in the worker's inputs folder`;
  if (value.length > MAX_INPUT_PATH) return `${name} must be a path of at most ${MAX_INPUT_PATH} characters`;
  if (value.includes('\0')) return `${name} must not contain a NUL character`;
  if (value.split(/[\\/]/).includes('..')) return `${name} must name a file in the worker's inputs folder, without ".." (got a path that climbs out of it)`;
  return undefined;
}
