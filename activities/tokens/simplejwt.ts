/**
 * djangorestframework-simplejwt's own blacklist tables, for refresh tokens
 * (simplejwt never checks the blacklist for access tokens): every matching
 * outstanding token gets a blacklist row, then none is left without one.
 */
import type pg from 'pg';
import type { TargetConfig } from '../../lib/config.js';
import type { ActivityDeps } from '../deps.js';
import { badInput, onTarget } from '../support/failures.js';
import { REVOKE_CHUNK } from './common.js';

const SIMPLEJWT_OUTSTANDING = 'token_blacklist_outstandingtoken';
const SIMPLEJWT_BLACKLISTED = 'token_blacklist_blacklistedtoken';

export type SimplejwtMatch = { kind: 'jti'; jtis: string[] } | { kind: 'user'; userIds: string[]; epoch: number } | { kind: 'all'; epoch: number };

export type SimplejwtPlan = { skipped: string } | { skipped?: undefined; pool: pg.Pool; userIdCast?: string };

export interface SimplejwtReport {
  skipped?: string;
  matched?: number;
  blacklisted?: number;
  alreadyBlacklisted?: number;
}

/** Cast for `user_id = ANY($1::<cast>)` by the column's type, and the ids it accepts. */
const USER_ID_TYPES: Record<string, { cast: string; valid: RegExp; what: string }> = {
  integer: { cast: 'bigint[]', valid: /^-?\d{1,18}$/, what: 'integers' },
  bigint: { cast: 'bigint[]', valid: /^-?\d{1,18}$/, what: 'integers' },
  smallint: { cast: 'bigint[]', valid: /^-?\d{1,18}$/, what: 'integers' },
  uuid: { cast: 'uuid[]', valid: /^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$/, what: 'UUIDs' },
  text: { cast: 'text[]', valid: /^/, what: 'strings' },
  'character varying': { cast: 'text[]', valid: /^/, what: 'strings' },
};

/** Everything that could refuse the simplejwt part is checked before Redis is touched. */
export async function prepareSimplejwt(deps: ActivityDeps, target: TargetConfig, targetName: string, match: SimplejwtMatch): Promise<SimplejwtPlan> {
  if (!target.postgres) return { skipped: 'no postgres configured for the target' };
  if (!target.postgres.simplejwtBlacklist) return { skipped: 'disabled (postgres.simplejwtBlacklist: false)' };
  const pool = deps.clients.pg(targetName);
  const { rows } = await onTarget('postgres', () =>
    pool.query<{ present: boolean; user_id_type: string | null }>(
      `SELECT to_regclass($1) IS NOT NULL AND to_regclass($2) IS NOT NULL AS present,
              (SELECT format_type(a.atttypid, NULL) FROM pg_attribute a
                WHERE a.attrelid = to_regclass($1) AND a.attname = 'user_id' AND NOT a.attisdropped) AS user_id_type`,
      [SIMPLEJWT_OUTSTANDING, SIMPLEJWT_BLACKLISTED],
    ),
  );
  if (!rows[0]?.present) return { skipped: 'simplejwt blacklist tables absent' };
  if (match.kind !== 'user') return { pool };
  const type = rows[0].user_id_type ?? 'missing';
  const spec = USER_ID_TYPES[type];
  if (!spec) throw badInput(`simplejwt: ${SIMPLEJWT_OUTSTANDING}.user_id has type ${type}; cannot match user ids against it`);
  const wrong = match.userIds.filter((id) => !spec.valid.test(id));
  if (wrong.length) {
    throw badInput(
      `simplejwt: ${SIMPLEJWT_OUTSTANDING}.user_id is ${type}, so user ids must be ${spec.what}; not: ${wrong.slice(0, 5).join(', ')}${wrong.length > 5 ? ` (+${wrong.length - 5} more)` : ''}; nothing was changed`,
    );
  }
  return { pool, userIdCast: spec.cast };
}

/** WHERE clause over outstanding tokens `o` and its parameters, in slices for long jti lists. */
function* simplejwtConditions(match: SimplejwtMatch, cast: string | undefined): Generator<{ where: string; params: unknown[] }> {
  // A token issued in the epoch's second has iat = epoch (JWT times are whole seconds): revoked too.
  // One without created_at (legacy rows) may be older than the epoch: revoked too.
  if (match.kind === 'jti') {
    for (let i = 0; i < match.jtis.length; i += REVOKE_CHUNK) yield { where: 'o.jti = ANY($1::text[])', params: [match.jtis.slice(i, i + REVOKE_CHUNK)] };
  } else if (match.kind === 'user') {
    yield {
      where: `o.user_id = ANY($1::${cast ?? 'text[]'}) AND o.expires_at > now() AND (o.created_at IS NULL OR o.created_at < to_timestamp($2))`,
      params: [match.userIds, match.epoch + 1],
    };
  } else {
    yield { where: 'o.expires_at > now() AND (o.created_at IS NULL OR o.created_at < to_timestamp($1))', params: [match.epoch + 1] };
  }
}

/** Dry run: how many outstanding tokens match, and how many of them are blacklisted already. */
export async function countSimplejwt(plan: SimplejwtPlan, match: SimplejwtMatch): Promise<SimplejwtReport> {
  if (plan.skipped !== undefined) return { skipped: plan.skipped };
  let matched = 0;
  let already = 0;
  for (const { where, params } of simplejwtConditions(match, plan.userIdCast)) {
    const { rows } = await onTarget('postgres', () =>
      plan.pool.query<{ matched: number; already: number }>(
        `SELECT count(*)::int AS matched, count(b.id)::int AS already
           FROM ${SIMPLEJWT_OUTSTANDING} o LEFT JOIN ${SIMPLEJWT_BLACKLISTED} b ON b.token_id = o.id
          WHERE ${where}`,
        params,
      ),
    );
    matched += rows[0]?.matched ?? 0;
    already += rows[0]?.already ?? 0;
  }
  return { matched, alreadyBlacklisted: already };
}

/** Blacklist every matching outstanding token; `open` counts those still without a blacklist row after the insert. */
export async function applySimplejwt(plan: SimplejwtPlan, match: SimplejwtMatch, onSlice?: (slices: number) => void): Promise<{ report: SimplejwtReport; open: number }> {
  if (plan.skipped !== undefined) return { report: { skipped: plan.skipped }, open: 0 };
  let matched = 0;
  let inserted = 0;
  let open = 0;
  let slices = 0;
  for (const { where, params } of simplejwtConditions(match, plan.userIdCast)) {
    const { rows } = await onTarget('postgres', () =>
      plan.pool.query<{ matched: number; inserted: number }>(
        `WITH m AS (SELECT o.id FROM ${SIMPLEJWT_OUTSTANDING} o WHERE ${where}),
              ins AS (INSERT INTO ${SIMPLEJWT_BLACKLISTED} (token_id, blacklisted_at)
                      SELECT id, now() FROM m ON CONFLICT (token_id) DO NOTHING RETURNING 1)
         SELECT (SELECT count(*) FROM m)::int AS matched, (SELECT count(*) FROM ins)::int AS inserted`,
        params,
      ),
    );
    matched += rows[0]?.matched ?? 0;
    inserted += rows[0]?.inserted ?? 0;
    // Read back: no matching outstanding token is left without a blacklist row.
    const check = await onTarget('postgres', () =>
      plan.pool.query<{ open: number }>(
        `SELECT count(*)::int AS open FROM ${SIMPLEJWT_OUTSTANDING} o
          WHERE ${where} AND NOT EXISTS (SELECT 1 FROM ${SIMPLEJWT_BLACKLISTED} b WHERE b.token_id = o.id)`,
        params,
      ),
    );
    open += check.rows[0]?.open ?? 0;
    onSlice?.((slices += 1));
  }
  return { report: { matched, blacklisted: inserted, alreadyBlacklisted: matched - inserted }, open };
}

export function simplejwtText(r: SimplejwtReport, dryRun: boolean): string {
  if (r.skipped !== undefined) return `simplejwt: skipped (${r.skipped})`;
  if (dryRun) return `simplejwt: would blacklist ${(r.matched ?? 0) - (r.alreadyBlacklisted ?? 0)} of ${r.matched ?? 0} matching outstanding refresh tokens`;
  return `simplejwt: ${r.blacklisted ?? 0} refresh tokens blacklisted (${r.matched ?? 0} matched, ${r.alreadyBlacklisted ?? 0} already)`;
}
