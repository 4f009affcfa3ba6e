/**
 * Token revocation the protected app enforces, and user accounts switched off:
 * - `tokens.revoke` (`revoke.ts`): deny-listed jtis, per-user and global
 *   "revoked before" epochs in Redis, plus simplejwt's blacklist tables
 *   (`simplejwt.ts`) when the app database has them. Never undone.
 * - `tokens.disable_users` / `tokens.enable_users` (`users.ts`): Django's
 *   `is_active`; the undo re-enables exactly the users that were active.
 */
import type { ActivityDeps } from '../deps.js';
import { createRevokeActivities } from './revoke.js';
import { createUserActivities } from './users.js';

export { REVOKE_CHUNK } from './common.js';

export function createTokenActivities(deps: ActivityDeps) {
  return {
    ...createRevokeActivities(deps),
    ...createUserActivities(deps),
  };
}
