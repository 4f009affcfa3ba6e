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
