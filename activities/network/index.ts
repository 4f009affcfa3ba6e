/**
 * IP bans (phase II containment). Every banned network is a contract key the
 * app's middleware reads, `djangoKey(fb:ban:<canonical CIDR>)` = unix seconds
 * when the ban ends, expiring at that moment; Firebreak's own sorted set (the
 * ban registry, score = end) lists every ban (`registry.ts`), and the nginx
 * deny file is rendered from it, tested and reloaded (`deny-file.ts`). Expired
 * bans leave the registry and the deny file when the ban's durable timer runs
 * `network.expire_bans` (`expire.ts`).
 */
import type { ActivityDeps } from '../deps.js';
import { createBanActivities } from './ban.js';
import { createExpireActivities } from './expire.js';
import { createUnbanActivities } from './unban.js';

export { renderDenyFile } from './deny-file.js';
export { checkBanInput } from './inputs.js';

export function createNetworkActivities(deps: ActivityDeps) {
  return {
    ...createBanActivities(deps),
    ...createUnbanActivities(deps),
    ...createExpireActivities(deps),
  };
}
