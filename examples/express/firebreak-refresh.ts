/**
 * refreshRevoked: the check an Express / Node app makes before it mints an access token from a
 * refresh token. The refresh token arrives in the refresh endpoint's body, not in a bearer
 * header, so `firebreakGuard` never sees it, and the access token minted from it is new (its
 * own jti, iat = now), so it passes every revocation check: without this call a revoked user
 * keeps minting access tokens until the refresh token expires.
 *
 * It reads the same keys as the middleware for the refresh token's claims, in ONE MGET:
 * `fb:revoked:jti:<jti>`, `fb:revoked_before:user:<sub>`, `fb:revoked_before:all`.
 */
import type { Redis } from 'ioredis';
import type { KeySpace } from '../../lib/redis-keys.js';
import { GuardUnavailableError, readKeys, tokenKeys, tokenRevoked, type TokenClaims } from './firebreak-middleware.js';

export interface RefreshCheckOptions {
  /** The Redis Firebreak writes to (an ioredis client, or anything with its `mget`). */
  redis: Pick<Redis, 'mget'>;
  /** = the target's redis.keyPrefix. Default ''. */
  keyPrefix?: string;
  /** = the target's redis.keyVersion. Default 1. */
  keyVersion?: number;
  /** Give up on Redis after this long (ms). Default 1000. */
  timeoutMs?: number;
}

export { GuardUnavailableError };

/**
 * Builds `(claims) => Promise<boolean>`: true when Firebreak revoked the refresh token with these
 * ALREADY VERIFIED claims (jti, user id as `sub`, iat), so the app must answer 401 and mint
 * nothing. Rejects with GuardUnavailableError when Redis cannot be read in time or holds a
 * malformed epoch: answer 503 (fail closed), never a fresh token.
 */
export function refreshRevoked(options: RefreshCheckOptions): (claims: TokenClaims) => Promise<boolean> {
  const space: KeySpace = { keyPrefix: options.keyPrefix ?? '', keyVersion: options.keyVersion ?? 1 };
  const timeoutMs = options.timeoutMs ?? 1000;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 60_000) throw new RangeError(`refreshRevoked: timeoutMs must be an integer from 1 to 60000, not ${timeoutMs}`);
  return async (claims) => {
    const keys = tokenKeys(space, claims);
    return tokenRevoked(space, claims, await readKeys(options.redis, keys, timeoutMs));
  };
}
