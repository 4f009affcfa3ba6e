/**
 * firebreakGuard: Express-compatible middleware that enforces the state Firebreak writes
 * into the protected app's Redis (see README.md beside this file, and "The contract with
 * the protected app" in the project README).
 *
 *   EMERGENCY_LOCKDOWN truthy            → 503 {"error": "System under maintenance for security updates."}
 *   fb:ban:<network CIDR> present        → 403 when the client address is inside the network
 *   fb:revoked:jti:<jti> present         → 401 for the token with that jti
 *   fb:revoked_before:user:<sub> = epoch → 401 for that user's tokens with iat <= epoch
 *   fb:revoked_before:all = epoch        → 401 for every token with iat <= epoch
 *
 * In that order, with exactly one Redis command per request (a single MGET of every key).
 * At most every 10 s per guard, after a successful read, it also sends (without waiting for
 * it) the reader heartbeat `SET <prefix>:<version>:fb:reader:<hostname>:<pid> <unix seconds> EX 60`,
 * so Firebreak can check that an app process reads this namespace.
 * Refresh tokens never pass through a request's bearer header: check them with
 * `refreshRevoked` (firebreak-refresh.ts) before minting from one.
 * Typed structurally on Node's IncomingMessage/ServerResponse, so it works with Express,
 * Connect-style routers and a plain `http.createServer` alike; no express dependency.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import { coveringNetworks } from '../../lib/ip.js';
import { contractKeys, djangoKey, LOCKDOWN_KEY, type KeySpace } from '../../lib/redis-keys.js';

/** Claims of a token the app has ALREADY verified (signature, expiry, audience). */
export interface TokenClaims {
  jti?: string;
  /** The user id, as Firebreak names it in `fb:revoked_before:user:<id>`. */
  sub?: string;
  /** Issued-at, unix seconds. */
  iat?: number;
}

export type NextFunction = (err?: unknown) => void;

export interface FirebreakGuardOptions<Req extends IncomingMessage = IncomingMessage> {
  /** An ioredis client (or anything with its `mget` and `set`) for the Redis Firebreak writes to. */
  redis: Pick<Redis, 'mget' | 'set'>;
  /** Must equal the Firebreak target's `redis.keyPrefix` (Django's KEY_PREFIX). Default ''. */
  keyPrefix?: string;
  /** Must equal the Firebreak target's `redis.keyVersion` (Django's VERSION). Default 1. */
  keyVersion?: number;
  /** Broadest IPv4 network Firebreak may ban; must match the target's config. Default 16. */
  minPrefixV4?: number;
  /** Broadest IPv6 network Firebreak may ban; must match the target's config. Default 48. */
  minPrefixV6?: number;
  /**
   * The client address. Default `req.socket.remoteAddress`, which behind a reverse proxy is
   * the proxy. With Express and `app.set('trust proxy', …)` pass `(req) => req.ip`; never
   * read X-Forwarded-For yourself without knowing which hops to trust: a client can send one.
   */
  clientIp?: (req: Req) => string | undefined;
  /**
   * The already-verified token claims of this request, or undefined when it carries no
   * authenticated token (then only lockdown and bans apply). The guard never verifies a
   * signature. May return a Promise. An exception goes to `next(err)`.
   */
  token?: (req: Req) => TokenClaims | null | undefined | Promise<TokenClaims | null | undefined>;
  /**
   * What to do when the guard cannot decide (Redis unreachable or slower than `timeoutMs`,
   * an unusable client address, a malformed epoch). Default false: answer 503, because this
   * is a security control and an outage must not silently lift a lockdown, a ban or a
   * revocation. true: let the request through (and report it through `onError`).
   */
  failOpen?: boolean;
  /** Give up on Redis after this long (ms) and apply `failOpen`. Default 1000. */
  timeoutMs?: number;
  /** Told about every failure to decide. Default: one line on stderr, at most every 10 s. */
  onError?: (err: Error, req: Req) => void;
}

export type FirebreakGuard<Req extends IncomingMessage = IncomingMessage> = (req: Req, res: ServerResponse, next: NextFunction) => void;

/** Byte for byte the body of the hardening guide's EmergencyLockdownMiddleware (Django's JsonResponse). */
export const LOCKDOWN_BODY = '{"error": "System under maintenance for security updates."}';
export const BANNED_BODY = '{"error": "Forbidden."}';
export const REVOKED_BODY = '{"error": "Token revoked."}';
export const UNAVAILABLE_BODY = '{"error": "Service temporarily unavailable."}';
const REVOKED_CHALLENGE = 'Bearer error="invalid_token", error_description="The access token has been revoked"';

// Full Redis keys (`<prefix>:<version>:<key>`) of the contract, for apps and tests.
export const lockdownKey = (space: KeySpace): string => djangoKey(space, LOCKDOWN_KEY);
export const banKey = (space: KeySpace, network: string): string => djangoKey(space, contractKeys.ban(network));
export const revokedJtiKey = (space: KeySpace, jti: string): string => djangoKey(space, contractKeys.revokedJti(jti));
export const revokedBeforeUserKey = (space: KeySpace, userId: string): string => djangoKey(space, contractKeys.revokedBeforeUser(userId));
export const revokedBeforeAllKey = (space: KeySpace): string => djangoKey(space, contractKeys.revokedBeforeAll());
/** The reader heartbeat of this process: `<prefix>:<version>:fb:reader:<hostname>:<pid>`. */
export const readerKey = (space: KeySpace, host = hostname(), pid = process.pid): string => djangoKey(space, `fb:reader:${host}:${pid}`);

/** The agreed heartbeat: TTL 60 s, rewritten at most every 10 s. */
export const HEARTBEAT_TTL_SECONDS = 60;
export const HEARTBEAT_INTERVAL_MS = 10_000;

/** Thrown (internally) when the guard cannot decide; `failOpen` chooses what happens. */
export class GuardUnavailableError extends Error {
  override name = 'GuardUnavailableError';
}

// Python's int() as Django's RedisSerializer applies it (optional sign, surrounding blanks).
const INTEGER = /^\s*[+-]?\d+\s*$/;

/** Django reads the flag with `if cache.get("EMERGENCY_LOCKDOWN")`: only an integer 0 is off (a pickled True is on). */
function lockdownOn(value: string | null): boolean {
  if (value === null) return false;
  return !(INTEGER.test(value) && Number(value) === 0);
}

function epochOf(key: string, value: string): number {
  if (!INTEGER.test(value)) throw new GuardUnavailableError(`${key} is not an integer epoch`);
  return Number(value);
}

function stderrReporter(): (err: Error) => void {
  let last = 0;
  let suppressed = 0;
  return (err) => {
    const now = Date.now();
    if (now - last < 10_000) {
      suppressed += 1;
      return;
    }
    const more = suppressed ? ` (${suppressed} more since the last report)` : '';
    process.stderr.write(`firebreak guard: cannot decide: ${err.message}${more}\n`);
    last = now;
    suppressed = 0;
  };
}

function send(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  // A cache in front of the app must not keep serving a lockdown or a ban after it ends.
  res.setHeader('Cache-Control', 'no-store');
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  res.end(body);
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new GuardUnavailableError(`Redis did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function intOption(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) throw new RangeError(`firebreakGuard: ${name} must be an integer from ${min} to ${max}, not ${value}`);
  return value;
}

type Verdict = { status: 503 | 403 | 401; body: string; headers?: Record<string, string> } | undefined;

/** The user id as Firebreak spells it, or undefined. */
function userOf(claims: TokenClaims): string | undefined {
  return claims.sub === undefined || claims.sub === null || claims.sub === '' ? undefined : String(claims.sub);
}

/** The revocation keys that apply to a token with these claims: global epoch, jti, user epoch. */
export function tokenKeys(space: KeySpace, claims: TokenClaims): string[] {
  const keys = [revokedBeforeAllKey(space)];
  if (claims.jti) keys.push(revokedJtiKey(space, claims.jti));
  const sub = userOf(claims);
  if (sub !== undefined) keys.push(revokedBeforeUserKey(space, sub));
  return keys;
}

/**
 * Whether the values read for `tokenKeys(space, claims)` revoke the token: its jti is listed,
 * or an epoch applies and its `iat` is not after it (a token without a usable `iat` cannot
 * prove it is newer). Throws GuardUnavailableError for an epoch that is not an integer.
 */
export function tokenRevoked(space: KeySpace, claims: TokenClaims, found: ReadonlyMap<string, string>): boolean {
  if (claims.jti && found.has(revokedJtiKey(space, claims.jti))) return true;
  const sub = userOf(claims);
  const epochs: number[] = [];
  for (const k of [revokedBeforeAllKey(space), sub === undefined ? undefined : revokedBeforeUserKey(space, sub)]) {
    const v = k === undefined ? undefined : found.get(k);
    if (k !== undefined && v !== undefined) epochs.push(epochOf(k, v));
  }
  if (!epochs.length) return false;
  const iat = claims.iat;
  return typeof iat !== 'number' || !Number.isFinite(iat) || epochs.some((e) => iat <= e);
}

/** MGET with a deadline; any failure is a GuardUnavailableError. Absent keys are absent from the map. */
export async function readKeys(redis: Pick<Redis, 'mget'>, keys: string[], timeoutMs: number): Promise<Map<string, string>> {
  let values: (string | null)[];
  try {
    values = await withTimeout(redis.mget(...keys), timeoutMs);
  } catch (err) {
    if (err instanceof GuardUnavailableError) throw err;
    throw new GuardUnavailableError(`Redis MGET failed: ${err instanceof Error ? err.message : String(err)}`);
  }
  const found = new Map<string, string>();
  keys.forEach((k, i) => {
    const v = values[i];
    if (v !== null && v !== undefined) found.set(k, v);
  });
  return found;
}

/** Sends the heartbeat at most every HEARTBEAT_INTERVAL_MS; never waits for it, never throws. */
function readerHeartbeat(redis: Pick<Redis, 'set'>, space: KeySpace): () => void {
  let last = -Infinity;
  let lastPid = process.pid;
  return () => {
    const now = performance.now();
    if (process.pid === lastPid && now - last < HEARTBEAT_INTERVAL_MS) return;
    last = now;
    lastPid = process.pid;
    try {
      redis.set(readerKey(space), String(Math.floor(Date.now() / 1000)), 'EX', HEARTBEAT_TTL_SECONDS).catch(() => undefined);
    } catch {
      // a heartbeat never fails a request
    }
  };
}

export function firebreakGuard<Req extends IncomingMessage = IncomingMessage>(options: FirebreakGuardOptions<Req>): FirebreakGuard<Req> {
  const { redis, token, failOpen = false } = options;
  const space: KeySpace = { keyPrefix: options.keyPrefix ?? '', keyVersion: options.keyVersion ?? 1 };
  const minPrefixV4 = intOption('minPrefixV4', options.minPrefixV4 ?? 16, 0, 32);
  const minPrefixV6 = intOption('minPrefixV6', options.minPrefixV6 ?? 48, 0, 128);
  const timeoutMs = intOption('timeoutMs', options.timeoutMs ?? 1000, 1, 60_000);
  const clientIp = options.clientIp ?? ((req: Req) => req.socket.remoteAddress);
  const onError = options.onError ?? stderrReporter();
  const lockKey = lockdownKey(space);
  const beat = readerHeartbeat(redis, space);

  async function decide(req: Req): Promise<Verdict> {
    const ip = clientIp(req);
    let networks: string[];
    try {
      // A zone (`fe80::1%eth0`, link-local clients) does not change which networks contain the address.
      networks = ip ? coveringNetworks(ip.split('%', 1)[0] ?? '', minPrefixV4, minPrefixV6) : [];
    } catch {
      networks = [];
    }
    if (networks.length === 0) throw new GuardUnavailableError(`client address ${JSON.stringify(ip ?? null)} is not an IP address (check clientIp / trust proxy)`);

    const claims = token ? await token(req) : undefined;
    const banKeys = networks.map((n) => banKey(space, n));
    const keys = [lockKey, ...banKeys];
    if (claims) keys.push(...tokenKeys(space, claims));

    const found = await readKeys(redis, keys, timeoutMs);
    beat();

    if (lockdownOn(found.get(lockKey) ?? null)) return { status: 503, body: LOCKDOWN_BODY };
    if (banKeys.some((k) => found.has(k))) return { status: 403, body: BANNED_BODY };
    if (!claims) return undefined;
    if (tokenRevoked(space, claims, found)) return { status: 401, body: REVOKED_BODY, headers: { 'WWW-Authenticate': REVOKED_CHALLENGE } };
    return undefined;
  }

  return (req, res, next) => {
    decide(req).then(
      (verdict) => {
        if (verdict) send(res, verdict.status, verdict.body, verdict.headers);
        else next();
      },
      (err: unknown) => {
        if (!(err instanceof GuardUnavailableError)) {
          next(err); // the app's own callables (token, clientIp) failed: its error handler decides
          return;
        }
        try {
          onError(err, req);
        } catch {
          // a broken reporter must not change the answer
        }
        if (failOpen) next();
        else send(res, 503, UNAVAILABLE_BODY);
      },
    );
  };
}
