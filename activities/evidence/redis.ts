/** Evidence source `redis`: the contract's state in the target Redis (deny-list and ban counts, epochs, the lockdown flag). */
import type { Redis } from 'ioredis';
import { BAN_REGISTRY, contractKeys, djangoKey, escapeGlob, LOCKDOWN_KEY, ownKey, type KeySpace } from '../../lib/redis-keys.js';
import { heartbeatProgress } from '../support/context.js';

const SCAN_COUNT = 1_000;

export async function captureRedis(redis: Redis, space: KeySpace) {
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
    if (++rounds % 50 === 0) heartbeatProgress({ scanned: rounds });
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
