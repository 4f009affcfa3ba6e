/**
 * PostgreSQL from outside the database steps: the app role's grants as the catalog holds
 * them, and a write tried as the app role itself (`UPDATE … SET c = c WHERE false`: checked
 * for privilege and read-only like any write, changes no row).
 */
import pg from 'pg';
import type { TargetConfig } from '../../lib/config.js';
import type { Baseline, CheckRequest, PostCondition } from '../../workflows/drill-definitions.js';
import { tryAsAppRole, tryWrite } from '../database/proofs.js';
import type { TargetClients } from '../deps.js';

type Pg = NonNullable<TargetConfig['postgres']>;

const GRANTS = `
WITH me AS (SELECT oid FROM pg_roles WHERE rolname = $1)
SELECT line FROM (
  SELECT format('%s %I.%I %s%s', c.relkind, n.nspname, c.relname, a.privilege_type, CASE WHEN a.is_grantable THEN ' (grantable)' ELSE '' END) AS line
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, aclexplode(c.relacl) a
   WHERE a.grantee = (SELECT oid FROM me) AND n.nspname = ANY($2)
  UNION ALL
  SELECT format('column %I.%I.%I %s', n.nspname, c.relname, at.attname, a.privilege_type)
    FROM pg_attribute at JOIN pg_class c ON c.oid = at.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace, aclexplode(at.attacl) a
   WHERE a.grantee = (SELECT oid FROM me) AND n.nspname = ANY($2)
  UNION ALL
  SELECT format('schema %I %s', n.nspname, a.privilege_type)
    FROM pg_namespace n, aclexplode(n.nspacl) a WHERE a.grantee = (SELECT oid FROM me) AND n.nspname = ANY($2)
  UNION ALL
  SELECT 'setting ' || s FROM pg_db_role_setting d, unnest(d.setconfig) s WHERE d.setrole = (SELECT oid FROM me)
) x ORDER BY line`;

const PROBE = `
SELECT n.nspname AS schema, c.relname AS "table", at.attname AS "column"
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_attribute at ON at.attrelid = c.oid AND at.attnum > 0 AND NOT at.attisdropped
 WHERE c.relkind IN ('r', 'p') AND n.nspname = ANY($2) AND has_table_privilege($1, c.oid, 'UPDATE')
 ORDER BY n.nspname, c.relname, at.attnum LIMIT 1`;

export async function pgBaseline(clients: TargetClients, target: string, pgc: Pg): Promise<Pick<Baseline, 'grants' | 'writeProbe'>> {
  const c = await clients.pg(target).connect();
  try {
    const grants = (await c.query<{ line: string }>(GRANTS, [pgc.appRole, pgc.schemas])).rows.map((r) => r.line);
    const probe = (await c.query<{ schema: string; table: string; column: string }>(PROBE, [pgc.appRole, pgc.schemas])).rows[0];
    return { grants, ...(probe && { writeProbe: probe }) };
  } finally {
    c.release();
  }
}

const q = pg.escapeIdentifier;

/**
 * The write as the app role: null when it went through, else the SQLSTATE it was refused with.
 * `asAttacker` first switches the read-only default off, as anyone with the app's connection can:
 * only revoked privileges (42501) refuse that write.
 */
async function writeAsApp(pgc: Pg, probe: NonNullable<Baseline['writeProbe']>, asAttacker: boolean): Promise<{ code: string | null; message?: string } | { login: string }> {
  const sql = `UPDATE ${q(probe.schema)}.${q(probe.table)} SET ${q(probe.column)} = ${q(probe.column)} WHERE false`;
  const r = await tryAsAppRole(pgc, [], (c) => tryWrite(c, sql, asAttacker));
  return r.ok ? r.value : { login: r.reason };
}

export async function pgChecks(clients: TargetClients, target: string, pgc: Pg, req: CheckRequest): Promise<PostCondition[]> {
  const readOnly = req.steps.some((s) => s.action === 'database.read_only' && (s.state === 'succeeded' || s.state === 'undone'));
  if (!readOnly) return [];
  const out: PostCondition[] = [];
  const probe = req.baseline.writeProbe;
  const where = probe ? `${probe.schema}.${probe.table}` : '';
  if (req.when === 'containment') {
    if (!probe) return [{ when: 'containment', system: 'postgres', check: `a write as ${pgc.appRole} is refused`, ok: false, detail: 'before the drill the app role could UPDATE no table, so nothing proves the read-only state' }];
    const w = await writeAsApp(pgc, probe, true);
    const ok = 'code' in w && w.code === '42501';
    const detail = 'login' in w ? `could not log in as the app role: ${w.login}` : w.code === null ? `the write to ${where} went through with the read-only default switched off (a read-only default alone is no control)` : `refused (${w.code}: ${w.message ?? ''})`;
    out.push({ when: 'containment', system: 'postgres', check: `a write as ${pgc.appRole} is refused (with the read-only default switched off)`, ok, detail });
    return out;
  }
  const now = await pgBaseline(clients, target, pgc);
  const before = new Set(req.baseline.grants ?? []);
  const after = new Set(now.grants ?? []);
  const lost = [...before].filter((g) => !after.has(g));
  const gained = [...after].filter((g) => !before.has(g));
  // The lift gives back privileges, never a grant option (database.read_only's record keeps none): say so when that is all.
  const optionOnly = lost.length > 0 && lost.every((g) => g.endsWith(' (grantable)') && gained.includes(g.slice(0, -' (grantable)'.length))) && gained.length === lost.length;
  const hint = optionOnly ? ': the all-clear never gives back WITH GRANT OPTION (by design); an app role should hold none, so revoke it on the drill target (and in production)' : '';
  out.push({
    when: 'restore',
    system: 'postgres',
    check: `${pgc.appRole}'s grants and settings are exactly as before the drill`,
    ok: !lost.length && !gained.length,
    detail: lost.length || gained.length ? `missing: ${lost.join(', ') || 'none'}; extra: ${gained.join(', ') || 'none'}${hint}` : `${before.size} entries compared, all equal`,
  });
  if (probe) {
    const w = await writeAsApp(pgc, probe, false);
    const ok = 'code' in w && w.code === null;
    out.push({ when: 'restore', system: 'postgres', check: `a write as ${pgc.appRole} succeeds`, ok, detail: 'login' in w ? `could not log in: ${w.login}` : ok ? `UPDATE on ${where} accepted (rolled back)` : `refused (${w.code}: ${w.message ?? ''})` });
  }
  return out;
}
