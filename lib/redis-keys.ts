/**
 * Redis key names of the contract with the protected app. Django's default
 * cache key function is `<KEY_PREFIX>:<VERSION>:<key>`, so a Django app reads
 * these with `cache.get(key)`.
 */
export interface KeySpace {
  keyPrefix: string;
  keyVersion: number;
}

export const LOCKDOWN_KEY = 'EMERGENCY_LOCKDOWN';

export function djangoKey(space: KeySpace, key: string): string {
  return `${space.keyPrefix}:${space.keyVersion}:${key}`;
}

/** Firebreak's own bookkeeping keys, outside the app's cache namespace. */
export function ownKey(space: KeySpace, ...parts: string[]): string {
  const base = ['firebreak', ...parts].join(':');
  return space.keyPrefix ? `${space.keyPrefix}:${base}` : base;
}

/** Contract keys (the `<key>` part; wrap with djangoKey). Values are integers. */
export const contractKeys = {
  /** `1` while the token id is revoked; TTL = the longest token lifetime. */
  revokedJti: (jti: string) => `fb:revoked:jti:${jti}`,
  /** Unix seconds: the user's tokens with `iat` at or before it are revoked. */
  revokedBeforeUser: (userId: string) => `fb:revoked_before:user:${userId}`,
  /** Unix seconds: every token with `iat` at or before it is revoked. */
  revokedBeforeAll: () => 'fb:revoked_before:all',
  /** Unix seconds when the ban ends; one key per banned network in canonical CIDR form (`203.0.113.7/32`). */
  ban: (network: string) => `fb:ban:${network}`,
} as const;

/** Firebreak's registry of active bans (sorted set, score = expiry in unix seconds), for the nginx deny file. */
export const BAN_REGISTRY = 'bans';

/**
 * Reader heartbeats: every app process running the middleware writes
 * `<prefix>:<version>:fb:reader:<hostname>:<pid>` = unix seconds it was last
 * seen, TTL {@link READER_TTL_SECONDS}, so Firebreak can tell whether anyone
 * reads the namespace it writes to.
 */
export const READER_TTL_SECONDS = 60;
/** The `<key>` part of one app process's heartbeat (wrap with djangoKey). */
export const readerKey = (host: string, pid: number | string) => `fb:reader:${host}:${pid}`;
/** The marker between namespace and process in a reader key, for parsing keys found by SCAN. */
export const READER_MARKER = ':fb:reader:';

/** A Redis glob matching `text` literally (`*`, `?`, `[`, `]` and `\` escaped). */
export function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

/** SCAN MATCH pattern for every reader heartbeat of a namespace. */
export function readerPattern(space: KeySpace): string {
  return `${escapeGlob(djangoKey(space, 'fb:reader:'))}*`;
}

/** The namespace as people write it in messages: `<prefix>:<version>`. */
export function namespaceOf(space: KeySpace): string {
  return `${space.keyPrefix}:${space.keyVersion}`;
}
