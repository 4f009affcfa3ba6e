/** The secrets.* step arguments, checked before anything happens. */
import { ROLE, SECRET_NAME } from '../../lib/args/rules.js';
import { badInput } from '../support/failures.js';

export type UrlFormat = 'password' | 'url';

export function secretName(args: Record<string, unknown>, fallback?: string): string {
  const v = args.secret_name ?? fallback;
  if (typeof v !== 'string' || !SECRET_NAME.test(v)) {
    throw badInput(`secret_name must be a variable name (letters, digits and _, not starting with a digit, at most 128), got ${JSON.stringify(v ?? null).slice(0, 140)}`);
  }
  return v;
}

/** The role whose password rotates: `role`, else the target's app role. */
export function roleArg(args: Record<string, unknown>, appRole: string): string {
  const role = args.role ?? appRole;
  if (typeof role !== 'string' || !ROLE.test(role)) throw badInput(`role must be a plain role name (letters, digits, _ and $; at most 63), got ${JSON.stringify(role).slice(0, 80)}`);
  return role;
}

/** What is published: the bare password, or a postgres URL with it. */
export function formatArg(args: Record<string, unknown>): UrlFormat {
  const format = args.format ?? 'password';
  if (format !== 'password' && format !== 'url') throw badInput(`format must be password or url, got ${JSON.stringify(format).slice(0, 80)}`);
  return format;
}
