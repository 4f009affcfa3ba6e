/** How Firebreak reaches a target's PostgreSQL: one place for the target lookup and the connection URLs. */
import type pg from 'pg';
import { readSecret, type TargetConfig } from '../../lib/config.js';
import type { ActionInput } from '../../workflows/definitions.js';
import type { TargetClients } from '../deps.js';
import { assertModeAllowed } from './mode.js';
import { badInput } from './failures.js';

export type PgTarget = NonNullable<TargetConfig['postgres']>;

/** The target's postgres section, after the mode check; a target without one is bad input. */
export function postgresOf(clients: TargetClients, input: Pick<ActionInput, 'target' | 'mode'>): PgTarget {
  const target = clients.target(input.target);
  assertModeAllowed(target, input.target, input.mode);
  if (!target.postgres) throw badInput(`target "${input.target}" has no postgres section in config`);
  return target.postgres;
}

/** A copy of `url` with this password put in it (pg ignores a separate `password` when the URL has none). */
export function withPassword(url: URL, password: string | undefined, extra: pg.ClientConfig = {}): pg.ClientConfig {
  const u = new URL(url.toString());
  if (password !== undefined) u.password = encodeURIComponent(password);
  return { ...extra, connectionString: u.toString() };
}

/** How `role` reaches the app database: `appUrl`, else `adminUrl` on the app database, as that role, with no password in it. */
export function roleUrl(pgc: PgTarget, role: string): URL {
  const url = new URL(pgc.appUrl ?? pgc.adminUrl);
  if (!pgc.appUrl) url.pathname = `/${encodeURIComponent(pgc.database)}`;
  url.username = encodeURIComponent(role);
  url.password = ''; // never log in as the app with the admin's password
  if (!url.port) url.port = '5432';
  return url;
}

/** How the app role logs in, as the app does: `appUrl` (its own user), else `adminUrl` as the app role; `appPassword` when configured. */
export function appRoleConnection(pgc: PgTarget, extra: pg.ClientConfig): pg.ClientConfig {
  const url = pgc.appUrl ? new URL(pgc.appUrl) : roleUrl(pgc, pgc.appRole);
  return withPassword(url, pgc.appPassword ? readSecret(pgc.appPassword) : undefined, extra);
}

/** The admin connection on the app database (`adminUrl` with the target's database). */
export function adminConnection(pgc: PgTarget, extra: pg.ClientConfig): pg.ClientConfig {
  const url = new URL(pgc.adminUrl);
  url.pathname = `/${encodeURIComponent(pgc.database)}`;
  return withPassword(url, pgc.password ? readSecret(pgc.password) : undefined, extra);
}
