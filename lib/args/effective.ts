/**
 * The arguments a step will really act with: the runbook's arguments plus
 * what the worker takes from the target's config. Approvers see these and an
 * approval's hash covers them, so a config change after the approval is
 * noticed. Never holds secrets (names and identifiers only).
 */
import type { TargetConfig } from '../config.js';

export function effectiveArgs(action: string, args: Record<string, unknown>, target: TargetConfig): Record<string, unknown> {
  const pg = target.postgres;
  switch (action) {
    case 'database.read_only':
      return { ...args, database: pg?.database ?? null, role: pg?.appRole ?? null, schemas: pg ? [...new Set(pg.schemas)].sort() : null };
    case 'secrets.rotate_db_password':
      return { ...args, role: args.role ?? pg?.appRole ?? null, database: pg?.database ?? null };
    case 'network.ban_ips':
      return { ...args, ttl_seconds: args.ttl_seconds ?? target.network.banTtlSeconds, never_ban: [...target.network.neverBan] };
    case 'tokens.disable_users':
    case 'tokens.enable_users':
      return { ...args, database: pg?.database ?? null };
    default:
      return { ...args };
  }
}
