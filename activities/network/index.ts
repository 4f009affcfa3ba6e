/**
 * IP bans (phase II containment). Every banned network is a contract key the
 * app's middleware reads, `djangoKey(fb:ban:<canonical CIDR>)` = unix seconds
 * when the ban ends, expiring at that moment; Firebreak's own sorted set (the
 * ban registry, score = end) lists every ban (`registry.ts`), and the nginx
 * deny file is rendered from it, tested and reloaded (`deny-file.ts`). Expired
 * bans leave the registry and the deny file when the ban's durable timer runs
 * `network.expire_bans` (`expire.ts`). Several incidents can hold one ban: each
 * step's hold is recorded with its own end in the target's holds hash, one field
 * per network (`holds.ts`); the ban lasts until the latest and goes with its last
 * holder.
 */
import type { ActivityDeps } from '../deps.js';
import { createBanActivities } from './ban.js';
import { createExpireActivities } from './expire.js';
import { createUnbanActivities } from './unban.js';

export { renderDenyFile } from './deny-file.js';
export { checkBanInput } from './inputs.js';
export { countActiveBans, listBanHolds } from './holds.js';

export function createNetworkActivities(deps: ActivityDeps) {
  return {
    ...createBanActivities(deps),
    ...createUnbanActivities(deps),
    ...createExpireActivities(deps),
  };
}
