/**
 * The secrets.* step arguments, read once the action's schema accepted them
 * (at the activity's entry; `secret_name` included): only the defaults are
 * applied here, and the role is checked against the target's app role from config.
 */
import { ROLE } from '../../lib/args/rules.js';
import type { ArgsOf } from '../../lib/args/schemas.js';
import { foreignRoleProblem } from '../../lib/args/action-rules.js';
import { badInput, refused } from '../support/failures.js';

export type UrlFormat = NonNullable<ArgsOf<'secrets.rotate_db_password'>['format']>;

/** The role whose password rotates: `role`, else the target's app role (a config value, so checked here). */
export function roleArg(args: ArgsOf<'secrets.rotate_db_password'>, appRole: string): string {
  // The entry's schema refuses another role already; this holds however the activity is reached.
  const foreign = foreignRoleProblem(args.role, appRole);
  if (foreign) throw refused(`secrets.rotate_db_password refused, nothing was changed: ${foreign}`);
  if (!ROLE.test(appRole)) throw badInput(`role must be a plain role name (letters, digits, _ and $; at most 63), got ${JSON.stringify(appRole).slice(0, 80)}`);
  return appRole;
}

/** What is published: the bare password (default), or a postgres URL with it. */
export function formatArg(args: ArgsOf<'secrets.rotate_db_password'>): UrlFormat {
  return args.format ?? 'password';
}
