/**
 * Evidence source `roles`: the elevated roles of the app's PostgreSQL, compared
 * with the role baseline. The baseline (elevated roles at the last live/drill
 * snapshot) lives in the target Redis under `ownKey(space, 'baseline', 'roles')`.
 * It carries the incident and step that recorded it and the baseline before that,
 * so a retried step compares against the same baseline as its first attempt
 * instead of against its own record.
 */
import type { Redis } from 'ioredis';
import type pg from 'pg';
import { z } from 'zod';
import type { ActionInput } from '../../workflows/definitions.js';
import { errorText } from './capture.js';

/** Predefined roles whose members can read or write any data or reach the server's files and programs. */
export const POWERFUL_ROLES = [
  'pg_execute_server_program',
  'pg_read_all_data',
  'pg_read_server_files',
  'pg_write_all_data',
  'pg_write_server_files',
] as const;

export interface ElevatedRole {
  name: string;
  oid: number;
  canLogin: boolean;
  /** SUPERUSER, CREATEROLE, CREATEDB, BYPASSRLS, REPLICATION it holds itself. */
  attributes: string[];
  /** Elevated or powerful predefined roles it is a member of (directly or not). */
  memberOf: string[];
}

export interface RoleChange {
  name: string;
  before: Omit<ElevatedRole, 'name'>;
  after: Omit<ElevatedRole, 'name'>;
}

export interface RoleDiff {
  added: string[];
  removed: string[];
  changed: RoleChange[];
}

const roleSchema = z.object({
  name: z.string(),
  oid: z.number(),
  canLogin: z.boolean(),
  attributes: z.array(z.string()),
  memberOf: z.array(z.string()),
});
const baselineCore = z.object({
  version: z.literal(1),
  recordedAt: z.string(),
  incidentId: z.string(),
  stepId: z.string(),
  roles: z.array(roleSchema),
});
const baselineSchema = baselineCore.extend({ previous: baselineCore.nullable() });
export type BaselineCore = z.infer<typeof baselineCore>;
export type BaselineRecord = z.infer<typeof baselineSchema>;

/** Stable order, independent of the locale. */
const byCode = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

export function diffRoles(before: ElevatedRole[], after: ElevatedRole[]): RoleDiff {
  const old = new Map(before.map((r) => [r.name, r]));
  const now = new Map(after.map((r) => [r.name, r]));
  const same = (a: ElevatedRole, b: ElevatedRole): boolean =>
    a.oid === b.oid && a.canLogin === b.canLogin && a.attributes.join() === b.attributes.join() && a.memberOf.join() === b.memberOf.join();
  const strip = ({ name: _name, ...rest }: ElevatedRole) => rest;
  return {
    added: [...now.keys()].filter((k) => !old.has(k)).sort(byCode),
    removed: [...old.keys()].filter((k) => !now.has(k)).sort(byCode),
    changed: [...now.values()]
      .filter((r) => {
        const o = old.get(r.name);
        return o !== undefined && !same(o, r);
      })
      .map((r) => ({ name: r.name, before: strip(old.get(r.name) as ElevatedRole), after: strip(r) }))
      .sort((a, b) => byCode(a.name, b.name)),
  };
}

const ELEVATED_SQL = `
  WITH elevated AS (
    SELECT oid, rolname FROM pg_roles
    WHERE rolsuper OR rolcreaterole OR rolcreatedb OR rolbypassrls OR rolreplication OR rolname = ANY($1::text[])
  ), roles AS (
    SELECT r.oid, r.rolname, r.rolcanlogin, r.rolsuper, r.rolcreaterole, r.rolcreatedb, r.rolbypassrls, r.rolreplication,
      CASE WHEN r.rolsuper THEN ARRAY[]::text[] ELSE ARRAY(
        SELECT e.rolname::text FROM elevated e WHERE e.oid <> r.oid AND pg_has_role(r.oid, e.oid, 'MEMBER') ORDER BY e.rolname COLLATE "C"
      ) END AS member_of
    FROM pg_roles r
    WHERE r.rolname !~ '^pg_'
  )
  SELECT * FROM roles
  WHERE rolsuper OR rolcreaterole OR rolcreatedb OR rolbypassrls OR rolreplication OR cardinality(member_of) > 0
  ORDER BY rolname COLLATE "C"`;

async function readBaseline(redis: Redis, key: string, input: ActionInput): Promise<{ against: BaselineCore | null; previous: BaselineCore | null; error?: string }> {
  let raw: string | null;
  try {
    raw = await redis.get(key);
  } catch (err) {
    return { against: null, previous: null, error: `baseline unreadable: ${errorText(err)}` };
  }
  if (raw === null) return { against: null, previous: null };
  let parsed: BaselineRecord;
  try {
    parsed = baselineSchema.parse(JSON.parse(raw));
  } catch {
    return { against: null, previous: null, error: `baseline at ${key} is not a Firebreak role baseline (ignored; a live snapshot records a new one)` };
  }
  const { previous, ...core } = parsed;
  // A retry of the step that recorded it compares against what that step compared against.
  if (parsed.incidentId === input.incidentId && parsed.stepId === input.stepId) return { against: previous, previous };
  return { against: core, previous: core };
}

/** The elevated roles now, and how they differ from the baseline at `baselineKey`. */
export async function captureRoles(pool: pg.Pool, redis: () => Redis, input: ActionInput, baselineKey: string) {
  const { rows } = await pool.query<{
    oid: number;
    rolname: string;
    rolcanlogin: boolean;
    rolsuper: boolean;
    rolcreaterole: boolean;
    rolcreatedb: boolean;
    rolbypassrls: boolean;
    rolreplication: boolean;
    member_of: string[];
  }>(ELEVATED_SQL, [POWERFUL_ROLES]);
  const current: ElevatedRole[] = rows.map((r) => ({
    name: r.rolname,
    oid: Number(r.oid),
    canLogin: r.rolcanlogin,
    attributes: [
      ...(r.rolsuper ? ['SUPERUSER'] : []),
      ...(r.rolcreaterole ? ['CREATEROLE'] : []),
      ...(r.rolcreatedb ? ['CREATEDB'] : []),
      ...(r.rolbypassrls ? ['BYPASSRLS'] : []),
      ...(r.rolreplication ? ['REPLICATION'] : []),
    ],
    memberOf: r.member_of,
  }));
  const base = await readBaseline(redis(), baselineKey, input);
  const diff = base.against ? diffRoles(base.against.roles, current) : null;
  return {
    elevated: current,
    baseline: base.against
      ? { key: baselineKey, recordedAt: base.against.recordedAt, recordedBy: `${base.against.incidentId}/${base.against.stepId}` }
      : { key: baselineKey, none: base.error ?? 'no baseline yet' },
    diff,
    /** What a new baseline keeps as `previous` (not written to the bundle). */
    previous: base.previous,
  };
}
