/**
 * Phase I: an evidence bundle of the target, captured before (and after) containment.
 *
 * Each source is captured on its own: one that fails is recorded as
 * `{ ok: false, error }` in the bundle and never fails the step, so evidence
 * never blocks containment. The bundle is written as one JSON file (sorted
 * keys) into the incident's evidence folder and its SHA-256 goes into the
 * workflow history through the result. Nothing secret is written: query
 * literals, secret-looking `key=value` pairs, tokens and URL credentials are
 * redacted, and the target's configured secrets are scrubbed from every string.
 *
 * The role baseline (elevated roles at the last live/drill snapshot) lives in
 * the target Redis under `ownKey(space, 'baseline', 'roles')`. It carries the
 * incident and step that recorded it and the baseline before that, so a retried
 * step compares against the same baseline as its first attempt instead of
 * against its own record.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Context } from '@temporalio/activity';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { canonicalJson, sha256Hex } from '../lib/canonical.js';
import { readSecret, type SecretRef, type TargetConfig } from '../lib/config.js';
import { BAN_REGISTRY, contractKeys, djangoKey, LOCKDOWN_KEY, ownKey, type KeySpace } from '../lib/redis-keys.js';
import type { ActionInput, ActionResult } from '../workflows/definitions.js';
import type { ActivityDeps } from './deps.js';
import { badInput } from './failures.js';
import { githubClients, type GithubClients } from './github-client.js';
import { incidentDir, writeAtomic } from './report/index.js';

/** Longest one source may take before it is recorded as failed (the others go on). */
export const SOURCE_TIMEOUT_MS = 45_000;
/** Sessions listed at most (the total is always given). */
const MAX_SESSIONS = 1_000;
const QUERY_CHARS = 200;
const SCAN_COUNT = 1_000;
/** Role names listed in the step output at most (the file has them all). */
const OUTPUT_NAMES = 50;

/** Predefined roles whose members can read or write any data or reach the server's files and programs. */
export const POWERFUL_ROLES = [
  'pg_execute_server_program',
  'pg_read_all_data',
  'pg_read_server_files',
  'pg_write_all_data',
  'pg_write_server_files',
] as const;

export type SourceName = 'sessions' | 'roles' | 'redis' | 'github';

export type SourceResult<T> = ({ ok: true } & T) | { ok: false; error: string };

// ---- redaction ------------------------------------------------------------------------------

const SECRET_KEY = String.raw`[A-Za-z0-9_.-]*(?:passw(?:or)?d|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|credentials?|sessionid|auth)[A-Za-z0-9_.-]*`;
/** `password=…`, `"token": "…"`, `secret: …` (the value up to a delimiter). */
const SECRET_PAIR = new RegExp(String.raw`(["']?\b${SECRET_KEY}["']?)(\s*[=:]\s*)("[^"]*"?|'[^']*'?|[^\s,;)&'"]+)`, 'gi');
const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/@'"]+@/gi;
const BEARER = /\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}/gi;
const JWT = /\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g;
const PROVIDER_TOKEN = /\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|xox[abposr]-[A-Za-z0-9-]{10,}|sk_(?:live|test)_[A-Za-z0-9]{10,}|AKIA[0-9A-Z]{16})\b/g;
const KEEP_VALUE = /^(?:\?|'\?'|\$\d+|%s|\[REDACTED\])$/;

/** Redact secrets from free text: `key=value` pairs with secret-looking keys, bearer/JWT/provider tokens, URL credentials. */
export function redactText(text: string): string {
  return text
    .replace(URL_CREDENTIALS, '$1')
    .replace(JWT, '[REDACTED]')
    .replace(PROVIDER_TOKEN, '[REDACTED]')
    .replace(BEARER, '$1 [REDACTED]')
    .replace(SECRET_PAIR, (whole: string, key: string, sep: string, value: string) => (KEEP_VALUE.test(value) ? whole : `${key}${sep}[REDACTED]`));
}

const isWordChar = (ch: string | undefined): boolean => ch !== undefined && /[A-Za-z0-9_$\u0080-\uffff]/.test(ch);

/**
 * Replace every string literal (`'…'`, `E'…'`, `$tag$…$tag$`, an unterminated one
 * at the end of a truncated query) with `'?'` and every number with `?`; keep
 * quoted identifiers, `$1` parameters and comments (run through {@link redactText},
 * like the rest). SQL as PostgreSQL lexes it, without needing it to be valid.
 */
export function redactSql(sql: string): string {
  let out = '';
  let i = 0;
  const n = sql.length;
  while (i < n) {
    const ch = sql[i] as string;
    const next = sql[i + 1];
    // Comments: kept (ORM tags name the view that ran the query), secrets redacted below.
    if (ch === '-' && next === '-') {
      const end = sql.indexOf('\n', i);
      const stop = end === -1 ? n : end;
      out += sql.slice(i, stop);
      i = stop;
      continue;
    }
    if (ch === '/' && next === '*') {
      let depth = 1;
      let j = i + 2;
      while (j < n && depth > 0) {
        if (sql[j] === '/' && sql[j + 1] === '*') {
          depth += 1;
          j += 2;
        } else if (sql[j] === '*' && sql[j + 1] === '/') {
          depth -= 1;
          j += 2;
        } else j += 1;
      }
      out += sql.slice(i, j);
      i = j;
      continue;
    }
    if (ch === '"') {
      let j = i + 1;
      while (j < n) {
        if (sql[j] === '"' && sql[j + 1] === '"') j += 2;
        else if (sql[j] === '"') break;
        else j += 1;
      }
      out += sql.slice(i, Math.min(j + 1, n));
      i = j + 1;
      continue;
    }
    if (ch === "'") {
      // E'…' allows backslash escapes; the word before the quote was already copied.
      const escapes = /(^|[^A-Za-z0-9_$])[eE]$/.test(out);
      let j = i + 1;
      while (j < n) {
        if (escapes && sql[j] === '\\') j += 2;
        else if (sql[j] === "'" && sql[j + 1] === "'") j += 2;
        else if (sql[j] === "'") break;
        else j += 1;
      }
      out += "'?'";
      i = j + 1;
      continue;
    }
    if (ch === '$') {
      const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i));
      if (tag && !isWordChar(sql[i - 1])) {
        const close = sql.indexOf(tag[0], i + tag[0].length);
        out += "'?'";
        i = close === -1 ? n : close + tag[0].length;
        continue;
      }
    }
    if (/[0-9]/.test(ch) || (ch === '.' && next !== undefined && /[0-9]/.test(next))) {
      if (!isWordChar(sql[i - 1]) && sql[i - 1] !== '$') {
        let j = i + 1;
        while (j < n && /[0-9A-Za-z_.]/.test(sql[j] as string)) {
          if ((sql[j] === 'e' || sql[j] === 'E') && (sql[j + 1] === '+' || sql[j + 1] === '-')) j += 2;
          else j += 1;
        }
        out += '?';
        i = j;
        continue;
      }
    }
    if (isWordChar(ch)) {
      let j = i + 1;
      while (j < n && isWordChar(sql[j])) j += 1;
      out += sql.slice(i, j);
      i = j;
      continue;
    }
    out += ch;
    i += 1;
  }
  return redactText(out);
}

/** Every string in `value`, with the exact known secrets replaced (a last line of defence). */
function scrubKnown<T>(value: T, secrets: string[]): T {
  if (!secrets.length) return value;
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') {
      let s = v;
      for (const secret of secrets) if (s.includes(secret)) s = s.split(secret).join('[REDACTED]');
      return s;
    }
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return walk(value) as T;
}

/** The target's configured secrets (those readable now), longest first. */
function knownSecrets(target: TargetConfig): string[] {
  const refs: Array<SecretRef | undefined> = [target.redis.password, target.postgres?.password, target.postgres?.appPassword, target.github?.token];
  const found = new Set<string>();
  for (const ref of refs) {
    if (!ref) continue;
    try {
      const s = readSecret(ref);
      if (s.length >= 4) found.add(s);
    } catch {
      // not readable here: it cannot have been used either
    }
  }
  for (const url of [target.redis.url, target.postgres?.adminUrl, target.postgres?.appUrl]) {
    if (!url) continue;
    try {
      const pw = decodeURIComponent(new URL(url).password);
      if (pw.length >= 4) found.add(pw);
    } catch {
      // not a URL
    }
  }
  return [...found].sort((a, b) => b.length - a.length);
}

const errorText = (err: unknown): string => {
  const msg = err instanceof Error ? (err.message.split('\n')[0] ?? err.name) : String(err);
  const code = (err as { code?: unknown } | null)?.code;
  const withCode = typeof code === 'string' && code && !msg.includes(code) ? `${code}: ${msg}` : msg;
  return redactText(withCode || 'unknown error').slice(0, 500);
};

// ---- sources --------------------------------------------------------------------------------

export interface SessionRow {
  pid: number;
  usename: string | null;
  client_addr: string | null;
  application_name: string;
  state: string | null;
  backend_start: string | null;
  xact_start: string | null;
  query_start: string | null;
  wait_event_type: string | null;
  query: string;
}

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
type BaselineCore = z.infer<typeof baselineCore>;

const toIso = (v: Date | string | null): string | null => (v instanceof Date ? v.toISOString() : v);

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

/** Run `fn` with a deadline; a timeout is an ordinary failure of that source. */
async function withDeadline<T>(ms: number, what: string, fn: () => Promise<T>): Promise<T> {
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

async function capture<T extends object>(name: SourceName, ms: number, fn: () => Promise<T>): Promise<SourceResult<T>> {
  try {
    return { ok: true, ...(await withDeadline(ms, name, fn)) };
  } catch (err) {
    return { ok: false, error: errorText(err) };
  }
}

function activityContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined;
  }
}

// Redis MATCH is a glob: the prefix is literal.
const escapeGlob = (s: string): string => s.replace(/[*?[\]\\^]/g, '\\$&');

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

export interface EvidenceOptions {
  /** GitHub clients (default: the worker's shared cache). */
  github?: GithubClients;
  /** Deadline of each source (default {@link SOURCE_TIMEOUT_MS}). */
  sourceTimeoutMs?: number;
}

export function createEvidenceActivities(deps: ActivityDeps, opts: EvidenceOptions = {}) {
  const { clients, logger } = deps;
  const sourceMs = opts.sourceTimeoutMs ?? SOURCE_TIMEOUT_MS;

  async function sessions(targetName: string) {
    const pool = clients.pg(targetName);
    const { rows } = await pool.query<Omit<SessionRow, 'backend_start' | 'xact_start' | 'query_start'> & { backend_start: Date | null; xact_start: Date | null; query_start: Date | null; total: string }>(
      `SELECT pid, usename::text, host(client_addr) AS client_addr, application_name, state, backend_start, xact_start, query_start, wait_event_type,
              coalesce(query, '') AS query, count(*) OVER () AS total
       FROM pg_stat_activity
       WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'
       ORDER BY backend_start, pid
       LIMIT $1`,
      [MAX_SESSIONS],
    );
    const list: SessionRow[] = rows.map((r) => ({
      pid: r.pid,
      usename: r.usename,
      client_addr: r.client_addr,
      application_name: redactText(r.application_name ?? ''),
      state: r.state,
      backend_start: toIso(r.backend_start),
      xact_start: toIso(r.xact_start),
      query_start: toIso(r.query_start),
      wait_event_type: r.wait_event_type,
      // Redacted whole, then cut: a literal cut in half is still redacted.
      query: redactSql(r.query).replace(/\s+/g, ' ').trim().slice(0, QUERY_CHARS),
    }));
    const total = rows.length ? Number(rows[0]?.total) : 0;
    const database = (await pool.query<{ db: string }>('SELECT current_database() AS db')).rows[0]?.db ?? '';
    return { database, count: total, truncated: total > list.length, rows: list };
  }

  async function readBaseline(redis: Redis, key: string, input: ActionInput): Promise<{ against: BaselineCore | null; previous: BaselineCore | null; error?: string }> {
    let raw: string | null;
    try {
      raw = await redis.get(key);
    } catch (err) {
      return { against: null, previous: null, error: `baseline unreadable: ${errorText(err)}` };
    }
    if (raw === null) return { against: null, previous: null };
    let parsed: z.infer<typeof baselineSchema>;
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

  async function roles(targetName: string, input: ActionInput, baselineKey: string) {
    const pool = clients.pg(targetName);
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
    const base = await readBaseline(clients.redis(targetName), baselineKey, input);
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

  async function redisCounts(targetName: string, space: KeySpace) {
    const redis = clients.redis(targetName);
    const ctx = activityContext();
    const jtiPrefix = djangoKey(space, contractKeys.revokedJti(''));
    const userPrefix = djangoKey(space, contractKeys.revokedBeforeUser(''));
    const banPrefix = djangoKey(space, contractKeys.ban(''));
    const match = `${escapeGlob(djangoKey(space, 'fb:'))}*`;
    let revokedJtis = 0;
    let userEpochs = 0;
    let banKeys = 0;
    let cursor = '0';
    let rounds = 0;
    // One pass over the contract's prefix, counted by kind.
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', match, 'COUNT', SCAN_COUNT);
      cursor = next;
      for (const key of keys) {
        if (key.startsWith(jtiPrefix)) revokedJtis += 1;
        else if (key.startsWith(userPrefix)) userEpochs += 1;
        else if (key.startsWith(banPrefix)) banKeys += 1;
      }
      if (++rounds % 50 === 0) ctx?.heartbeat({ scanned: rounds });
    } while (cursor !== '0');
    const globalKey = djangoKey(space, contractKeys.revokedBeforeAll());
    const lockKey = djangoKey(space, LOCKDOWN_KEY);
    const registry = ownKey(space, BAN_REGISTRY);
    const now = Math.floor(Date.now() / 1000);
    const [globalRaw, lockRaw, registered, active] = await Promise.all([
      redis.get(globalKey),
      redis.get(lockKey),
      redis.zcard(registry),
      redis.zcount(registry, `(${now}`, '+inf'),
    ]);
    const globalEpoch = globalRaw !== null && /^\d+$/.test(globalRaw) ? Number(globalRaw) : null;
    return {
      revokedJtis,
      userEpochs,
      globalEpoch: globalRaw === null ? null : { value: globalEpoch ?? globalRaw, at: globalEpoch !== null ? new Date(globalEpoch * 1000).toISOString() : null },
      bans: { registry: registered, active, keys: banKeys },
      lockdown: { on: lockRaw !== null && lockRaw !== '0', raw: lockRaw },
      keys: { match, globalEpoch: globalKey, lockdown: lockKey, registry },
    };
  }

  async function github(targetName: string) {
    const gh = (opts.github ?? githubClients(deps)).for(targetName);
    // The branch head (commits/{ref} takes a branch name), and the latest production deployment.
    // A deployments answer that fails leaves the head captured: "could not read" is not "none".
    const [head, deployments] = await Promise.all([
      gh.call('GET /repos/{owner}/{repo}/commits/{ref}', { ref: gh.branch, per_page: 1 }),
      gh.call('GET /repos/{owner}/{repo}/deployments', { environment: 'production', per_page: 1 }).then(
        (res) => ({ ok: true as const, latest: res.data[0] }),
        (err: unknown) => ({ ok: false as const, error: errorText(err) }),
      ),
    ]);
    const verification = head.data.commit.verification;
    const latest = deployments.ok ? deployments.latest : undefined;
    const deployed = latest?.sha ?? 'unknown';
    return {
      repo: gh.slug,
      branch: gh.branch,
      head: { sha: head.data.sha, verified: verification?.verified ?? false, reason: verification?.reason ?? 'no verification information' },
      deployed: latest
        ? { sha: latest.sha, ref: latest.ref, environment: latest.environment, id: latest.id, createdAt: latest.created_at }
        : deployments.ok
          ? { sha: 'unknown', note: 'no production deployments' }
          : { sha: 'unknown', error: deployments.error },
      deployedIsHead: deployed === head.data.sha,
    };
  }

  return {
    /**
     * evidence.snapshot: capture sessions, elevated roles (against the baseline),
     * the Redis deny-list state and, with `github`, the protected branch head and
     * the deployed sha; write them as one JSON file in the evidence folder.
     * Args: `{ baseline?: boolean }` (default true): record this snapshot's roles
     * as the new baseline (live/drill only, and only when `roles` succeeded).
     */
    async evidenceSnapshot(input: ActionInput): Promise<ActionResult> {
      const target = clients.target(input.target);
      const rawBaseline = input.args.baseline;
      if (rawBaseline !== undefined && typeof rawBaseline !== 'boolean') throw badInput('evidence.snapshot: baseline must be true or false');
      const dir = incidentDir(deps.config.dataDir, input.incidentId);
      const space: KeySpace = target.redis;
      const baselineKey = ownKey(space, 'baseline', 'roles');
      const wantBaseline = rawBaseline !== false;

      const skipped: Partial<Record<SourceName, string>> = {};
      if (!target.postgres) skipped.sessions = skipped.roles = 'the target has no postgres section';
      if (!target.github) skipped.github = 'the target has no github section';

      const started = new Date();
      const [sess, rls, rds, ghr] = await Promise.all([
        target.postgres ? capture('sessions', sourceMs, () => sessions(input.target)) : undefined,
        target.postgres ? capture('roles', sourceMs, () => roles(input.target, input, baselineKey)) : undefined,
        capture('redis', sourceMs, () => redisCounts(input.target, space)),
        target.github ? capture('github', sourceMs, () => github(input.target)) : undefined,
      ]);

      // The role baseline: recorded after a successful roles capture in live/drill mode.
      let baseline: { recorded: boolean; key: string; reason?: string; error?: string } = { recorded: false, key: baselineKey };
      let rolesOut: Record<string, unknown> | undefined;
      if (rls?.ok) {
        const { previous, diff, ...rest } = rls;
        rolesOut = { ...rest, ...(diff ?? {}) };
        if (input.mode === 'dry-run') baseline.reason = 'dry-run never moves the baseline';
        else if (!wantBaseline) baseline.reason = 'baseline: false';
        else {
          const record = {
            version: 1 as const,
            recordedAt: started.toISOString(),
            incidentId: input.incidentId,
            stepId: input.stepId,
            roles: rls.elevated,
            previous,
          };
          try {
            await withDeadline(sourceMs, 'redis (baseline)', () => clients.redis(input.target).set(baselineKey, JSON.stringify(record)));
            baseline = { recorded: true, key: baselineKey };
          } catch (err) {
            baseline.error = errorText(err);
            logger.warn({ target: input.target, err: baseline.error }, 'evidence: role baseline not recorded');
          }
        }
      } else if (rls) {
        rolesOut = rls;
        baseline.reason = 'roles were not captured';
      } else baseline.reason = 'no postgres on this target';

      const results: Partial<Record<SourceName, SourceResult<object> | Record<string, unknown>>> = {};
      if (sess) results.sessions = sess;
      if (rolesOut) results.roles = rolesOut;
      results.redis = rds;
      if (ghr) results.github = ghr;
      const sourcesOk = Object.fromEntries(Object.entries(results).map(([k, v]) => [k, (v as { ok: boolean }).ok])) as Partial<Record<SourceName, boolean>>;

      const bundle = scrubKnown(
        {
          kind: 'firebreak.evidence',
          version: 1,
          incidentId: input.incidentId,
          stepId: input.stepId,
          target: input.target,
          mode: input.mode,
          requestedAt: input.requestedAt,
          capturedAt: started.toISOString(),
          finishedAt: new Date().toISOString(),
          sources: results,
          skipped,
          baseline,
        },
        knownSecrets(target),
      );
      const text = `${JSON.stringify(JSON.parse(canonicalJson(bundle)), null, 2)}\n`;
      const sha256 = sha256Hex(text);
      // Named by the step's start (the same on every retry, so a retry replaces its own file) and the step.
      const stamp = input.requestedAt.replace(/:/g, '');
      const safeStep = input.stepId.replace(/[^A-Za-z0-9._-]/g, '_');
      const file = join(dir, `evidence-${stamp}-${safeStep}.json`);
      await mkdir(dir, { recursive: true });
      await writeAtomic(file, text);

      const summary = summarize(results, sourcesOk);
      const output: Record<string, unknown> = { file, sha256, sources: sourcesOk, baselineRecorded: baseline.recorded };
      if (rls?.ok) {
        const d = rls.diff;
        output.roles = d
          ? { added: d.added.slice(0, OUTPUT_NAMES), removed: d.removed.slice(0, OUTPUT_NAMES), changed: d.changed.slice(0, OUTPUT_NAMES).map((c) => c.name) }
          : { baseline: 'none' };
      }
      if (ghr?.ok) output.github = { head: ghr.head.sha, verified: ghr.head.verified, deployed: ghr.deployed.sha, deployedIsHead: ghr.deployedIsHead };
      return {
        summary,
        changed: false,
        proof: { file, sha256, sources: sourcesOk },
        output,
        ...(input.mode === 'dry-run'
          ? { plan: [`captured ${file} (evidence is read-only, so dry-run captures too)`, ...(rls?.ok && wantBaseline ? ['would record the elevated roles as the new baseline in live or drill mode'] : [])] }
          : {}),
      };
    },
  };
}

function summarize(results: Partial<Record<SourceName, unknown>>, ok: Partial<Record<SourceName, boolean>>): string {
  const parts: string[] = [];
  const order: SourceName[] = ['sessions', 'roles', 'redis', 'github'];
  for (const name of order) {
    const r = results[name] as Record<string, unknown> | undefined;
    if (!r) continue;
    if (!ok[name]) {
      parts.push(`${name} FAILED`);
      continue;
    }
    if (name === 'sessions') parts.push(`sessions ${String(r.count)}`);
    if (name === 'roles') {
      const elevated = (r.elevated as unknown[]).length;
      if (!r.added) parts.push(`roles: ${elevated} elevated, no baseline yet`);
      else {
        const d = r as unknown as RoleDiff;
        const bits = [
          d.added.length ? `${d.added.length} added` : '',
          d.changed.length ? `${d.changed.length} changed` : '',
          d.removed.length ? `${d.removed.length} removed` : '',
        ].filter(Boolean);
        parts.push(bits.length ? `roles: ${bits.join(', ')} since baseline` : `roles: ${elevated} elevated, unchanged since baseline`);
      }
    }
    if (name === 'redis') parts.push((r.lockdown as { on: boolean }).on ? 'redis (lockdown ON)' : 'redis');
    if (name === 'github') {
      const head = r.head as { verified: boolean };
      const deployed = r.deployed as { sha: string; error?: string };
      const rel = deployed.error ? 'deployed unreadable' : deployed.sha === 'unknown' ? 'deployed unknown' : r.deployedIsHead ? 'deployed=head' : 'deployed≠head';
      parts.push(`github ${rel}${head.verified ? '' : ', head NOT verified'}`);
    }
  }
  const total = Object.keys(ok).length;
  const good = Object.values(ok).filter(Boolean).length;
  return `evidence: ${good}/${total} sources (${parts.join(', ')})`;
}
