/**
 * Token revocation the protected app enforces, and user accounts switched off:
 * - `tokens.revoke`: deny-listed jtis, per-user and global "revoked before"
 *   epochs (Django cache keys with integer values, TTL = the longest token
 *   lifetime), plus djangorestframework-simplejwt's blacklist tables when the
 *   app database has them. Never undone.
 * - `tokens.disable_users` / `tokens.enable_users`: Django's `is_active` in the
 *   app's user table; the undo re-enables exactly the users that were active.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { isAbsolute } from 'node:path';
import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { Redis } from 'ioredis';
import pg from 'pg';
import type { TargetConfig } from '../lib/config.js';
import { contractKeys, djangoKey, ownKey, type KeySpace } from '../lib/redis-keys.js';
import type { ActionInput, ActionResult } from '../workflows/definitions.js';
import { assertModeAllowed, type ActivityDeps } from './deps.js';
import { badInput, onTarget, targetUnavailable, verificationFailed } from './support/failures.js';
import { FOREIGN_ARGS, INLINE_MAX, JTI, USER_ID } from '../lib/args/rules.js';
import { withReaders } from './readers.js';
import { RAISE_EPOCH_SCRIPT } from './support/redis-scripts.js';

/** Ids per Redis pipeline; progress is recorded and heartbeated after each. */
export const REVOKE_CHUNK = 10_000;
/** Keys per EVALSHA inside a chunk: ~1 ms of Redis time each, so the app's commands interleave. */
const SCRIPT_BATCH = 500;
/** Read-back: the first and last chunk in full, plus this many random positions. */
const RANDOM_SAMPLES = 1_000;
/** Bounds the worker's memory (about 100 bytes per id). */
const FILE_MAX = 5_000_000;
/** Progress records only serve retries, which come within minutes; a later one just rewrites (idempotent). */
const PROGRESS_TTL_SECONDS = 24 * 3600;
/** Undo records outlive any incident we expect to keep open (as lockdown's). */
const UNDO_TTL_SECONDS = 30 * 24 * 3600;

const BLANK = /^\s*$/;

const SIMPLEJWT_OUTSTANDING = 'token_blacklist_outstandingtoken';
const SIMPLEJWT_BLACKLISTED = 'token_blacklist_blacklistedtoken';

// One SET per key, as a pipeline of plain SETs would do, but one command per
// SCRIPT_BATCH keys: the client-side cost per command (not Redis) is what limits
// a pipeline of a million SETs from Node.
const SET_MANY_SCRIPT = `
for i = 1, #KEYS do
  redis.call('SET', KEYS[i], '1', 'EX', ARGV[1])
end
return #KEYS
`;


type Scope = 'jti' | 'user' | 'all';
/** Arguments of the other scopes: given by mistake, they would silently revoke something else. */

/** The running activity's context, or undefined when called directly (tests, bench). */
function activityContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined;
  }
}

function throwIfCancelled(ctx: Context | undefined): void {
  if (ctx?.cancellationSignal.aborted) throw new CancelledFailure('tokens.revoke cancelled between chunks');
}

// ---------------------------------------------------------------------------
// Argument parsing: everything is validated before anything is written.

function optionalString(args: Record<string, unknown>, name: string, max: number): string | undefined {
  const v = args[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || v.length > max) throw badInput(`${name} must be a string of at most ${max} characters`);
  return v;
}

function stringList(args: Record<string, unknown>, name: string): unknown[] | undefined {
  const v = args[name];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) throw badInput(`${name} must be a list of strings`);
  if (v.length > INLINE_MAX) throw badInput(`${name}: ${v.length} entries, at most ${INLINE_MAX} inline (put more in a file)`);
  return v as unknown[];
}

function describeInvalid(what: string, count: number, where: string[], rule: string): string {
  return `${what}: ${count} invalid ${count === 1 ? 'entry' : 'entries'} (${rule}) at ${where.join(', ')}${count > where.length ? ', …' : ''}; nothing was changed`;
}

/** User ids: Django's are integers, custom user models may use other keys; always a safe charset. */
export function parseUserIds(args: Record<string, unknown>, name = 'user_ids'): string[] {
  const list = stringList(args, name);
  if (!list || list.length === 0) throw badInput(`${name} is required and must not be empty`);
  const where: string[] = [];
  let bad = 0;
  list.forEach((v, i) => {
    if (typeof v !== 'string' || !USER_ID.test(v)) {
      bad += 1;
      if (where.length < 5) where.push(`${name}[${i}]`);
    }
  });
  if (bad) throw badInput(describeInvalid(name, bad, where, '1–128 characters of A-Z a-z 0-9 _ . @ : -'));
  return [...new Set(list as string[])];
}

interface JtiList {
  /** As listed: a duplicate is simply written twice (deduplicating a million ids costs more than the SETs it saves). */
  ids: string[];
  /** Identifies the input (inline ids + file bytes): a resume only trusts progress recorded for the same input. */
  fingerprint: string;
}

class InvalidCollector {
  count = 0;
  readonly where: string[] = [];
  add(location: string): void {
    this.count += 1;
    if (this.where.length < 5) this.where.push(location);
  }
}

async function readJtiFile(path: string, hash: Hash, onLine: (line: string, lineNo: number) => void, onChunk: () => void): Promise<void> {
  // latin1: one char per byte, so the hash sees the file's bytes and any non-ASCII byte fails validation.
  const stream = createReadStream(path, { encoding: 'latin1', highWaterMark: 1 << 20 });
  let carry = '';
  let lineNo = 0;
  try {
    for await (const chunk of stream as AsyncIterable<string>) {
      hash.update(chunk, 'latin1');
      const text = carry + chunk;
      let start = 0;
      let nl = text.indexOf('\n', start);
      while (nl !== -1) {
        lineNo += 1;
        onLine(text.slice(start, nl), lineNo);
        start = nl + 1;
        nl = text.indexOf('\n', start);
      }
      carry = text.slice(start);
      onChunk();
    }
  } catch (err) {
    if (err instanceof ApplicationFailure) throw err;
    const code = (err as NodeJS.ErrnoException).code ?? 'read error';
    throw badInput(`jtis_file: cannot read ${path} on the worker: ${code}`);
  }
  if (carry !== '') onLine(carry, lineNo + 1);
}

async function parseJtis(args: Record<string, unknown>, ctx: Context | undefined): Promise<JtiList> {
  const inline = stringList(args, 'jtis');
  const file = optionalString(args, 'jtis_file', 4096);
  if (inline === undefined && file === undefined) throw badInput('scope jti needs jtis or jtis_file');
  if (file !== undefined && !isAbsolute(file)) throw badInput(`jtis_file must be an absolute path on the worker, got "${file}"`);
  const hash = createHash('sha256');
  const ids: string[] = [];
  const invalid = new InvalidCollector();
  (inline ?? []).forEach((v, i) => {
    if (typeof v !== 'string' || !JTI.test(v)) return invalid.add(`jtis[${i}]`);
    hash.update(`${v}\n`);
    ids.push(v);
  });
  hash.update('\0');
  if (file !== undefined) {
    await readJtiFile(file, hash, (raw, lineNo) => {
      const line = raw.charCodeAt(raw.length - 1) === 13 ? raw.slice(0, -1) : raw; // CRLF
      if (!JTI.test(line)) {
        if (!BLANK.test(line)) invalid.add(`line ${lineNo}`);
        return;
      }
      if (ids.length >= FILE_MAX) throw badInput(`jtis_file: more than ${FILE_MAX} ids; split it over several steps`);
      ids.push(line);
    }, () => ctx?.heartbeat(ctx.info.heartbeatDetails)); // alive while reading; what observers see is unchanged
  }
  if (invalid.count) throw badInput(describeInvalid(file === undefined ? 'jtis' : 'jtis/jtis_file', invalid.count, invalid.where, '1–255 printable ASCII characters, no whitespace'));
  if (ids.length === 0) throw badInput('scope jti: no jtis given (the list and the file are empty)');
  return { ids, fingerprint: hash.digest('hex').slice(0, 16) };
}

function parseEpoch(input: ActionInput): number {
  const ms = Date.parse(input.requestedAt);
  if (!Number.isFinite(ms)) throw badInput(`requestedAt is not a timestamp: "${input.requestedAt}"`);
  return Math.floor(ms / 1000);
}

// ---------------------------------------------------------------------------
// Redis helpers.

type PipelineResult = [Error | null, unknown][] | null;

function checkPipeline(results: PipelineResult): unknown[] {
  if (!results) throw new Error('pipeline aborted');
  return results.map(([err, value]) => {
    if (err) throw err;
    return value;
  });
}

interface Progress {
  done: number;
  fingerprint: string;
}

function parseProgress(raw: string | null): Progress | undefined {
  const m = raw === null ? null : /^(\d+):([0-9a-f]+)$/.exec(raw);
  return m ? { done: Number(m[1]), fingerprint: m[2] as string } : undefined;
}

function heartbeatDone(ctx: Context | undefined): number | undefined {
  const details = ctx?.info.heartbeatDetails as { done?: unknown } | undefined;
  return typeof details?.done === 'number' ? details.done : undefined;
}

/**
 * SET <keyBase><id> 1 EX ttl for ids[from..], REVOKE_CHUNK ids per pipeline,
 * two pipelines in flight. After each chunk, in the same pipeline (so Redis has
 * executed the chunk when it executes this), the progress record is updated:
 * a retry resumes from it. Heartbeats carry the same count.
 */
async function writeJtis(opts: {
  redis: Redis;
  keyBase: string;
  ids: string[];
  from: number;
  ttl: number;
  progressKey: string;
  fingerprint: string;
  ctx: Context | undefined;
}): Promise<void> {
  const { redis, keyBase, ids, ttl, progressKey, fingerprint, ctx } = opts;
  const sha = String(await onTarget('redis', () => redis.script('LOAD', SET_MANY_SCRIPT)));
  const ttlArg = String(ttl);
  // Never outlives the keys it vouches for (if it did, the read-back fails and the record is dropped).
  const progressTtl = Math.min(ttl, PROGRESS_TTL_SECONDS);
  let inflight: { exec: Promise<PipelineResult>; end: number } | undefined;
  const settle = async (chunk: { exec: Promise<PipelineResult>; end: number }): Promise<void> => {
    await onTarget('redis', async () => checkPipeline(await chunk.exec));
    ctx?.heartbeat({ done: chunk.end, total: ids.length });
  };
  for (let start = opts.from; start < ids.length; start += REVOKE_CHUNK) {
    throwIfCancelled(ctx);
    const end = Math.min(ids.length, start + REVOKE_CHUNK);
    const pipeline = redis.pipeline();
    for (let b = start; b < end; b += SCRIPT_BATCH) {
      const e = Math.min(end, b + SCRIPT_BATCH);
      const keys = new Array<string>(e - b);
      for (let i = b; i < e; i += 1) keys[i - b] = keyBase + (ids[i] as string);
      pipeline.evalsha(sha, keys.length, ...keys, ttlArg);
    }
    pipeline.set(progressKey, `${end}:${fingerprint}`, 'EX', progressTtl);
    const exec = pipeline.exec();
    exec.catch(() => undefined); // observed by settle(); never an unhandled rejection if we stop early
    if (inflight) await settle(inflight);
    inflight = { exec, end };
  }
  if (inflight) await settle(inflight);
}

function sampleIndices(n: number): number[] {
  const set = new Set<number>();
  for (let i = 0; i < Math.min(n, REVOKE_CHUNK); i += 1) set.add(i);
  for (let i = Math.max(0, n - REVOKE_CHUNK); i < n; i += 1) set.add(i);
  for (let k = 0; k < RANDOM_SAMPLES && set.size < n; k += 1) set.add(Math.floor(Math.random() * n));
  return [...set];
}

/** EXISTS over a sample of the written keys (multi-key EXISTS, 1,000 keys per command). */
async function verifyJtis(redis: Redis, keyBase: string, ids: string[]): Promise<{ sampled: number; missing: number; ttlSeconds: number }> {
  const idx = sampleIndices(ids.length);
  const pipeline = redis.pipeline();
  for (let b = 0; b < idx.length; b += 1_000) {
    pipeline.exists(...idx.slice(b, b + 1_000).map((i) => keyBase + (ids[i] as string)));
  }
  pipeline.ttl(keyBase + (ids[0] as string));
  const values = checkPipeline(await pipeline.exec()) as number[];
  const ttlSeconds = values.pop() ?? -2;
  const found = values.reduce((a, b) => a + b, 0);
  return { sampled: idx.length, missing: idx.length - found, ttlSeconds };
}

// ---------------------------------------------------------------------------
// simplejwt's blacklist (refresh tokens; simplejwt never checks it for access tokens).

type SimplejwtMatch = { kind: 'jti'; jtis: string[] } | { kind: 'user'; userIds: string[]; epoch: number } | { kind: 'all'; epoch: number };

type SimplejwtPlan = { skipped: string } | { skipped?: undefined; pool: pg.Pool; userIdCast?: string };

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
async function prepareSimplejwt(deps: ActivityDeps, target: TargetConfig, targetName: string, match: SimplejwtMatch): Promise<SimplejwtPlan> {
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

async function countSimplejwt(plan: SimplejwtPlan, match: SimplejwtMatch): Promise<SimplejwtReport> {
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

async function applySimplejwt(plan: SimplejwtPlan, match: SimplejwtMatch, onSlice?: (slices: number) => void): Promise<{ report: SimplejwtReport; open: number }> {
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

function simplejwtText(r: SimplejwtReport, dryRun: boolean): string {
  if (r.skipped !== undefined) return `simplejwt: skipped (${r.skipped})`;
  if (dryRun) return `simplejwt: would blacklist ${(r.matched ?? 0) - (r.alreadyBlacklisted ?? 0)} of ${r.matched ?? 0} matching outstanding refresh tokens`;
  return `simplejwt: ${r.blacklisted ?? 0} refresh tokens blacklisted (${r.matched ?? 0} matched, ${r.alreadyBlacklisted ?? 0} already)`;
}

// ---------------------------------------------------------------------------
// Users (Django auth_user.is_active).

function userTable(target: TargetConfig, targetName: string): { sql: string; name: string } {
  if (!target.postgres) throw badInput(`target "${targetName}" has no postgres section in config; tokens.disable_users/enable_users need the app database`);
  const name = target.postgres.userTable;
  return { name, sql: name.split('.').map((part) => pg.escapeIdentifier(part)).join('.') };
}

/** Like onTarget('postgres'), but a missing table or column is a config problem, not worth retrying. */
async function onUserTable<T>(table: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ApplicationFailure) throw err;
    const code = (err as { code?: unknown }).code;
    if (code === '42P01') throw badInput(`user table ${table} does not exist in the app database (config postgres.userTable)`);
    if (code === '42703') throw badInput(`user table ${table} has no id or is_active column (Django's auth_user shape expected)`);
    throw targetUnavailable('postgres', err);
  }
}

interface UserRow {
  id: string;
  is_active: boolean;
}

function unknownUsers(ids: string[], rows: UserRow[]): string[] {
  const found = new Set(rows.map((r) => r.id));
  return ids.filter((id) => !found.has(id));
}

function unknownMessage(table: string, unknown: string[]): string {
  const shown = unknown.slice(0, 20).join(', ');
  return `${unknown.length} unknown user id${unknown.length === 1 ? '' : 's'} in ${table}: ${shown}${unknown.length > 20 ? ', …' : ''}; nothing was changed`;
}

interface DisableRecord {
  wasActive: string[];
  wasInactive: string[];
  at: string;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

// ---------------------------------------------------------------------------

export function createTokenActivities(deps: ActivityDeps) {
  const { clients } = deps;

  function targetFor(input: ActionInput): TargetConfig {
    const target = clients.target(input.target);
    assertModeAllowed(target, input.target, input.mode);
    return target;
  }

  function parseScope(args: Record<string, unknown>): Scope {
    const scope = args.scope;
    if (scope !== 'jti' && scope !== 'user' && scope !== 'all') throw badInput(`scope must be one of jti, user, all (got ${JSON.stringify(scope) ?? 'nothing'})`);
    const stray = FOREIGN_ARGS[scope].filter((k) => args[k] !== undefined);
    if (stray.length) throw badInput(`scope ${scope} does not take ${stray.join(', ')}`);
    return scope;
  }

  async function revokeJtis(input: ActionInput, target: TargetConfig, ttl: number): Promise<ActionResult> {
    const space: KeySpace = target.redis;
    // djangoKey(revokedJti(id)) is this base + id: built once, not per id.
    const keyBase = djangoKey(space, contractKeys.revokedJti(''));
    if (djangoKey(space, contractKeys.revokedJti('x')) !== `${keyBase}x`) throw new Error('contractKeys.revokedJti is no longer a plain prefix; update tokens.revoke');
    const ctx = activityContext();
    const list = await parseJtis(input.args, ctx);
    const { ids } = list;
    const match: SimplejwtMatch = { kind: 'jti', jtis: ids };
    const sj = await prepareSimplejwt(deps, target, input.target, match);

    if (input.mode === 'dry-run') {
      const report = await countSimplejwt(sj, match);
      return {
        summary: `would revoke ${plural(ids.length, 'jti')}; ${simplejwtText(report, true)}`,
        changed: false,
        plan: [`SET ${keyBase}<jti> 1 EX ${ttl} ×${ids.length}`, simplejwtText(report, true)],
        output: { scope: 'jti', revoked: 0, wouldRevoke: ids.length, simplejwt: report },
      };
    }

    const redis = clients.redis(input.target);
    const progressKey = ownKey(space, 'progress', input.incidentId, input.stepId);
    const recorded = parseProgress(await onTarget('redis', () => redis.get(progressKey)));
    // The record is written in order with the SETs, in the target's own Redis: if the
    // data was lost (failover, restart) the record went with it and we start over.
    const from = recorded && recorded.fingerprint === list.fingerprint ? Math.min(recorded.done, ids.length) : 0;
    const beat = heartbeatDone(ctx);
    if (beat !== undefined && beat > from) {
      deps.logger.warn({ incidentId: input.incidentId, step: input.stepId, heartbeat: beat, from }, 'tokens.revoke: progress record behind the last heartbeat; rewriting from the record');
    }
    if (from > 0) deps.logger.info({ incidentId: input.incidentId, step: input.stepId, from, total: ids.length }, 'tokens.revoke: resuming');

    await writeJtis({ redis, keyBase, ids, from, ttl, progressKey, fingerprint: list.fingerprint, ctx });
    const proof = await onTarget('redis', () => verifyJtis(redis, keyBase, ids));
    if (proof.missing > 0 || proof.ttlSeconds <= 0) {
      // Start over on the next attempt rather than trusting progress that did not hold.
      await onTarget('redis', () => redis.del(progressKey));
      throw verificationFailed(`read back ${proof.missing} of ${proof.sampled} sampled deny-list keys missing (TTL of the first: ${proof.ttlSeconds})`);
    }
    const { report, open } = await applySimplejwt(sj, match, (slices) => ctx?.heartbeat({ done: ids.length, total: ids.length, simplejwtSlices: slices }));
    if (open > 0) throw verificationFailed(`simplejwt: ${open} matching outstanding tokens still not blacklisted after insert`);
    deps.logger.info({ incidentId: input.incidentId, step: input.stepId, scope: 'jti', count: ids.length, resumedFrom: from }, 'tokens revoked');
    return {
      summary: `revoked ${plural(ids.length, 'jti')} (${keyBase}<jti> = 1, TTL ${ttl} s${from ? `, resumed at ${from}` : ''}); ${simplejwtText(report, false)}`,
      changed: true,
      proof: { sampled: proof.sampled, missing: 0, ttlSeconds: proof.ttlSeconds, ...(report.skipped === undefined ? { simplejwtOpen: 0 } : {}) },
      output: { scope: 'jti', revoked: ids.length, resumedFrom: from, simplejwt: report },
    };
  }

  async function revokeBefore(input: ActionInput, target: TargetConfig, ttl: number, scope: 'user' | 'all'): Promise<ActionResult> {
    const space: KeySpace = target.redis;
    const epoch = parseEpoch(input);
    const userIds = scope === 'user' ? parseUserIds(input.args) : [];
    const keys = scope === 'user' ? userIds.map((id) => djangoKey(space, contractKeys.revokedBeforeUser(id))) : [djangoKey(space, contractKeys.revokedBeforeAll())];
    const match: SimplejwtMatch = scope === 'user' ? { kind: 'user', userIds, epoch } : { kind: 'all', epoch };
    const sj = await prepareSimplejwt(deps, target, input.target, match);
    const redis = clients.redis(input.target);
    const who = scope === 'user' ? plural(userIds.length, 'user') : 'every user';

    const readValues = async (): Promise<(string | null)[]> => {
      const out: (string | null)[] = [];
      for (let i = 0; i < keys.length; i += 1_000) out.push(...(await onTarget('redis', () => redis.mget(...keys.slice(i, i + 1_000)))));
      return out;
    };

    if (input.mode === 'dry-run') {
      const current = await readValues();
      const report = await countSimplejwt(sj, match);
      const lines = keys.slice(0, 10).map((k, i) => {
        const now = current[i] ?? null;
        const keep = now !== null && Number(now) >= epoch;
        return keep ? `keep ${k} = ${now} (already at or after ${epoch})` : `SET ${k} ${epoch} EX ${ttl} (now: ${now ?? 'unset'})`;
      });
      if (keys.length > 10) lines.push(`… and ${keys.length - 10} more users alike`);
      return {
        summary: `would revoke the tokens of ${who} issued at or before ${epoch}; ${simplejwtText(report, true)}`,
        changed: false,
        plan: [...lines, simplejwtText(report, true)],
        output: { scope, epoch, simplejwt: report },
      };
    }

    let raised = 0;
    for (let i = 0; i < keys.length; i += 1_000) {
      const batch = keys.slice(i, i + 1_000);
      raised += Number(await onTarget('redis', () => redis.eval(RAISE_EPOCH_SCRIPT, batch.length, ...batch, String(epoch), String(ttl))));
    }
    const after = await readValues();
    const low = after.filter((v) => v === null || !(Number(v) >= epoch)).length;
    if (low > 0) throw verificationFailed(`read back ${low} of ${keys.length} "revoked before" keys below ${epoch} or missing`);
    const { report, open } = await applySimplejwt(sj, match);
    if (open > 0) throw verificationFailed(`simplejwt: ${open} matching outstanding tokens still not blacklisted after insert`);
    const minValue = Math.min(...after.map(Number));
    deps.logger.info({ incidentId: input.incidentId, step: input.stepId, scope, count: keys.length, raised }, 'tokens revoked');
    const keyText = scope === 'user' ? djangoKey(space, contractKeys.revokedBeforeUser('<user>')) : keys[0];
    return {
      summary: `revoked the tokens of ${who} issued at or before ${epoch} (${keyText}${raised < keys.length ? `; ${keys.length - raised} already at or after it` : ''}); ${simplejwtText(report, false)}`,
      changed: raised > 0 || (report.blacklisted ?? 0) > 0,
      proof: { keys: keys.length, minValue, epoch, ...(report.skipped === undefined ? { simplejwtOpen: 0 } : {}) },
      output: { scope, epoch, ...(scope === 'user' ? { users: keys.length } : {}), raised, simplejwt: report },
    };
  }

  /** Set is_active for the ids in one transaction, refusing unknown ids; `onLocked` runs before the UPDATE. */
  async function setActive(
    input: ActionInput,
    active: boolean,
    onLocked?: (rows: UserRow[]) => Promise<void>,
  ): Promise<{ table: string; before: UserRow[] }> {
    const target = targetFor(input);
    const ids = parseUserIds(input.args);
    const { sql: table, name } = userTable(target, input.target);
    const pool = clients.pg(input.target);
    const client = await onTarget('postgres', () => pool.connect());
    let broken: Error | undefined;
    try {
      return await onUserTable(name, async () => {
        await client.query('BEGIN');
        try {
          const { rows } = await client.query<UserRow>(`SELECT id::text AS id, is_active FROM ${table} WHERE id::text = ANY($1::text[]) ORDER BY id FOR UPDATE`, [ids]);
          const unknown = unknownUsers(ids, rows);
          if (unknown.length) throw badInput(unknownMessage(name, unknown));
          await onLocked?.(rows);
          await client.query(`UPDATE ${table} SET is_active = $2 WHERE id::text = ANY($1::text[]) AND is_active IS DISTINCT FROM $2`, [ids, active]);
          await client.query('COMMIT');
          return { table: name, before: rows };
        } catch (err) {
          await client.query('ROLLBACK').catch((e: Error) => {
            broken = e;
          });
          throw err;
        }
      });
    } finally {
      client.release(broken);
    }
  }

  async function readActive(input: ActionInput, table: string, ids: string[]): Promise<UserRow[]> {
    const target = clients.target(input.target);
    const { sql } = userTable(target, input.target);
    const { rows } = await onUserTable(table, () => clients.pg(input.target).query<UserRow>(`SELECT id::text AS id, is_active FROM ${sql} WHERE id::text = ANY($1::text[]) ORDER BY id`, [ids]));
    return rows;
  }

  async function planUsers(input: ActionInput, active: boolean): Promise<ActionResult> {
    const target = targetFor(input);
    const ids = parseUserIds(input.args);
    const { name } = userTable(target, input.target);
    const rows = await readActive(input, name, ids);
    const unknown = unknownUsers(ids, rows);
    if (unknown.length) throw badInput(unknownMessage(name, unknown));
    const change = rows.filter((r) => r.is_active !== active).length;
    return {
      summary: `would set is_active = ${active} for ${plural(ids.length, 'user')} in ${name} (${change} would change)`,
      changed: false,
      plan: [`UPDATE ${name} SET is_active = ${active} WHERE id IN (${plural(ids.length, 'id')}) — ${change} would change, ${ids.length - change} already ${active ? 'active' : 'inactive'}`],
    };
  }

  async function verifyActive(input: ActionInput, table: string, ids: string[], active: boolean): Promise<void> {
    const rows = await readActive(input, table, ids);
    const wrong = rows.filter((r) => r.is_active !== active).length + (ids.length - rows.length);
    if (wrong > 0) throw verificationFailed(`read back ${wrong} of ${ids.length} users in ${table} not is_active = ${active}`);
  }

  return {
    /** Revoke tokens: listed jtis, all tokens of some users, or all tokens. Never undone. */
    async tokensRevoke(input: ActionInput): Promise<ActionResult> {
      const target = targetFor(input);
      const scope = parseScope(input.args);
      optionalString(input.args, 'reason', 500);
      const ttl = target.tokens.maxLifetimeSeconds;
      const result = await (scope === 'jti' ? revokeJtis(input, target, ttl) : revokeBefore(input, target, ttl, scope));
      return withReaders(clients.redis(input.target), target.redis, result, deps.logger);
    },

    /** is_active = false; the undo re-enables exactly the users that were active before. */
    async tokensDisableUsers(input: ActionInput): Promise<ActionResult> {
      if (input.mode === 'dry-run') return planUsers(input, false);
      const target = targetFor(input);
      const ids = parseUserIds(input.args);
      const redis = clients.redis(input.target);
      const recordKey = ownKey(target.redis, 'undo', input.incidentId, input.stepId);
      let record: DisableRecord | undefined;
      const { table, before } = await setActive(input, false, async (rows) => {
        // Recorded before the UPDATE, once per (incident, step): a retry after a crash
        // between COMMIT and completion finds them inactive but keeps the first undo.
        const fresh: DisableRecord = {
          wasActive: rows.filter((r) => r.is_active).map((r) => r.id),
          wasInactive: rows.filter((r) => !r.is_active).map((r) => r.id),
          at: new Date().toISOString(),
        };
        const res = await onTarget('redis', async () =>
          checkPipeline(await redis.multi().set(recordKey, JSON.stringify(fresh), 'EX', UNDO_TTL_SECONDS, 'NX').get(recordKey).exec()),
        );
        record = JSON.parse(String(res[1])) as DisableRecord;
      });
      await verifyActive(input, table, ids, false);
      const saved: DisableRecord | undefined = record;
      const inIds = new Set(ids);
      const wasActive = (saved?.wasActive ?? before.filter((r) => r.is_active).map((r) => r.id)).filter((id) => inIds.has(id));
      const stay = ids.length - wasActive.length;
      deps.logger.info({ incidentId: input.incidentId, step: input.stepId, users: ids.length, wasActive: wasActive.length }, 'users disabled');
      return {
        summary: `disabled ${plural(ids.length, 'user')} in ${table} (${wasActive.length} were active${stay ? `, ${stay} already inactive and left so by the undo` : ''})`,
        changed: wasActive.length > 0,
        proof: { table, inactive: ids.length },
        output: { table, users: ids.length, wasActive },
        ...(wasActive.length ? { undo: { action: 'tokens.enable_users', args: { user_ids: wasActive } } } : {}),
      };
    },

    /** is_active = true (the undo of tokens.disable_users). */
    async tokensEnableUsers(input: ActionInput): Promise<ActionResult> {
      if (input.mode === 'dry-run') return planUsers(input, true);
      const ids = parseUserIds(input.args);
      const { table, before } = await setActive(input, true);
      await verifyActive(input, table, ids, true);
      const changed = before.filter((r) => !r.is_active).length;
      deps.logger.info({ incidentId: input.incidentId, step: input.stepId, users: ids.length, changed }, 'users enabled');
      return {
        summary: `enabled ${plural(ids.length, 'user')} in ${table} (${changed} were inactive)`,
        changed: changed > 0,
        proof: { table, active: ids.length },
        output: { table, users: ids.length, enabled: changed },
      };
    },
  };
}
