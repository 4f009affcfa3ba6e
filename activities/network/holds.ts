/**
 * Holds on bans: every incident step that bans a network holds it until its own end. The
 * holds of one network are a hash beside its ban key, `firebreak:hold:ban:<canonical CIDR>`,
 * field `<incident>/<step>` = `<until>|<since>|<outcome>` (unix seconds; outcome n = banned
 * it first, k = found a later ban, x = extended it, l = recorded for an older worker's ban).
 * The ban key's end is the latest end among the live holds, the registry's score the same,
 * and the hash expires with the key; every change to a hold and to the ban is one script.
 * A ban no live hold explains (banned by an older worker) is held by `~legacy` until its end;
 * when that is the only hold left, the hash goes and the ban is as the older worker left it.
 */
import type { Redis } from 'ioredis';
import type { Holder, HoldView } from '../../lib/holds.js';
import { compareNetworks, formatNetwork, tryParseNetwork, type IpNetwork } from '../../lib/ip.js';
import { BAN_REGISTRY, ownKey, type KeySpace } from '../../lib/redis-keys.js';

/** The field of the unknown holder of a ban an older worker made (no incident id has a `~`). */
export const LEGACY_FIELD = '~legacy';
/** How the unknown holder of an older worker's ban is shown. */
export const LEGACY_HOLDER = { incidentId: 'unknown', stepId: 'older-worker' } as const;
/** Holder fields a script returns per chunk at most (for "also held by …"). */
const OTHERS_MAX = 200;

/** The key of one network's holds. */
export function banHoldKey(space: KeySpace, network: string): string {
  return ownKey(space, 'hold', 'ban', network);
}

/** `<incident>/<step>`: the field of a step's hold. */
export const holdField = (incidentId: string, stepId: string): string => `${incidentId}/${stepId}`;

/** The incident id of a hold field (`unknown` for an older worker's ban). */
export function holderIncident(field: string): string {
  return field === LEGACY_FIELD ? LEGACY_HOLDER.incidentId : field.slice(0, field.lastIndexOf('/'));
}

// Helpers every script shares: a hold's end, and the live holds of a network.
const LUA_COMMON = `
local function untilOf(v) return tonumber(string.match(v or '', '^(%d+)|')) end
local function note(set, list, f)
  if not set[f] and #list < ${OTHERS_MAX} then set[f] = true; list[#list + 1] = f end
end
`;

/**
 * Take this step's hold on a chunk of networks, and ban them until the latest end among their
 * holds (never shortening a ban). Counts what the step found (from its own hold on a retry, so
 * a retry reports what the first attempt did and never counts twice), and which other holds
 * there are. Ended holds met on the way are dropped. An older worker's record of this step
 * (`mine`) marks its own earlier bans; a ban nobody's live hold explains gets the `~legacy` hold.
 * KEYS: registry, step record, then per network: ban key, hold key.
 * ARGV: until, record TTL, field, now, networks…
 * Returns: { created, kept, extended, other holder fields… }
 */
export const TAKE_SCRIPT = `${LUA_COMMON}
local untilS, field, now = tonumber(ARGV[1]), ARGV[3], tonumber(ARGV[4])
local n = (#KEYS - 2) / 2
local mine = redis.call('SMISMEMBER', KEYS[2], unpack(ARGV, 5, 4 + n))
local banKeys = {}
for i = 1, n do banKeys[i] = KEYS[1 + 2 * i] end
local values = redis.call('MGET', unpack(banKeys))
local fresh = untilS .. '|' .. ARGV[4] .. '|'
local counts = { n = 0, k = 0, x = 0 }
local seen, others, zargs = {}, {}, {}
for i = 1, n do
  local net, bk, hk = ARGV[4 + i], banKeys[i], KEYS[2 + 2 * i]
  local key = tonumber(values[i])
  local cur = key
  local h = redis.call('HGETALL', hk)
  local own, held = nil, 0
  for j = 1, #h, 2 do
    local f, u = h[j], untilOf(h[j + 1])
    if f == field then own = h[j + 1]
    elseif not u or u <= now then redis.call('HDEL', hk, f)
    else
      note(seen, others, f)
      if u > held then held = u end
      if not cur or u > cur then cur = u end
    end
  end
  local ou = own and (untilOf(own) or 0) or 0
  -- an end no recorded hold explains: an older worker's ban (or its extension), held by an unknown holder until then
  if key and key > math.max(held, ou) and (own or mine[i] ~= 1) then
    redis.call('HSET', hk, '${LEGACY_FIELD}', key .. '|' .. ARGV[4] .. '|l')
    note(seen, others, '${LEGACY_FIELD}')
  end
  local o
  if own then
    o = string.match(own, '|(%a)$')
    if not counts[o] then o = 'k' end
    if untilS > ou then
      redis.call('HSET', hk, field, untilS .. '|' .. (string.match(own, '^%d+|(%d+)|') or ARGV[4]) .. '|' .. o)
    end
    if ou > untilS and (not cur or ou > cur) then cur = ou end
  else
    if not cur or mine[i] == 1 then o = 'n'
    elseif cur >= untilS then o = 'k'
    else o = 'x' end
    redis.call('HSET', hk, field, fresh .. o)
  end
  counts[o] = counts[o] + 1
  local e = untilS
  if cur and cur > e then e = cur end
  if key ~= e then redis.call('SET', bk, e, 'EXAT', e) end
  -- the holds expire with the ban: set when the end moved or the hash is new
  if key ~= e or #h == 0 then redis.call('EXPIREAT', hk, e) end
  zargs[#zargs + 1] = e
  zargs[#zargs + 1] = net
end
redis.call('SADD', KEYS[2], unpack(ARGV, 5, 4 + n))
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[2]))
redis.call('ZADD', KEYS[1], unpack(zargs))
local out = { counts.n, counts.k, counts.x }
for _, f in ipairs(others) do out[#out + 1] = f end
return out
`;

/**
 * Release holds on a chunk of networks, and lift each network no live hold is left on; one
 * still held gets the latest remaining end (key, hash and registry alike).
 * mode `own`: drop `field` only (a network this step does not hold is left alone: a retry never
 * releases anyone else's hold). mode `legacy` (an older worker's undo, whose record says the step
 * banned it first): drop `field`, else the `~legacy` hold, else lift a ban with no holds at all.
 * mode `all` (an explicit lift): end every hold, and say whose.
 * KEYS: registry, then per network: ban key, hold key. ARGV: mode, field, now, networks…
 * Returns: { lifted, still held, not held, #others, other holder fields…, ended holder fields… }
 */
export const RELEASE_SCRIPT = `${LUA_COMMON}
local mode, field, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local n = (#KEYS - 1) / 2
local lifted, still, notHeld = 0, 0, 0
local seen, others, endedSeen, ended = {}, {}, {}, {}
local zrem, zadd = {}, {}
local banKeys = {}
for i = 1, n do banKeys[i] = KEYS[2 * i] end
local values = redis.call('MGET', unpack(banKeys))
for i = 1, n do
  local net, bk, hk = ARGV[3 + i], banKeys[i], KEYS[2 * i + 1]
  local cur = tonumber(values[i])
  local h = redis.call('HGETALL', hk)
  local live, liveN = {}, 0
  for j = 1, #h, 2 do
    local u = untilOf(h[j + 1])
    if u and u > now then live[h[j]] = u; liveN = liveN + 1 end
  end
  local victim, unexplained = nil, nil
  if mode == 'all' then
    if cur or liveN > 0 then victim = '*' end
  elseif live[field] then victim = field
  elseif mode == 'legacy' and live['${LEGACY_FIELD}'] then victim = '${LEGACY_FIELD}'
  elseif mode == 'legacy' and liveN == 0 and cur then victim = '*'
  end
  if not victim then
    notHeld = notHeld + 1
    if cur and liveN == 0 then note(seen, others, '${LEGACY_FIELD}')
    elseif cur then for f in pairs(live) do note(seen, others, f) end end
  else
    local e = 0
    if victim ~= '*' and victim ~= '${LEGACY_FIELD}' and cur then
      -- an end beyond every recorded hold (an older worker extended it): it stays, held by an unknown holder
      local most = 0
      for _, u in pairs(live) do if u > most then most = u end end
      if cur > most then live['${LEGACY_FIELD}'] = cur; unexplained = cur end
    end
    if victim == '*' then
      for f in pairs(live) do note(endedSeen, ended, f) end
      if liveN == 0 and mode == 'all' then note(endedSeen, ended, '${LEGACY_FIELD}') end
    else
      live[victim] = nil
      for f, u in pairs(live) do
        if u > e then e = u end
        note(seen, others, f)
      end
    end
    if e == 0 then
      redis.call('DEL', bk, hk)
      zrem[#zrem + 1] = net
      lifted = lifted + 1
    else
      local onlyLegacy = live['${LEGACY_FIELD}'] and next(live, next(live)) == nil
      if onlyLegacy then
        -- back to an older worker's ban as it was: no hold records, held until its end
        redis.call('DEL', hk)
      else
        local gone = { victim }
        for j = 1, #h, 2 do
          if not live[h[j]] and h[j] ~= victim then gone[#gone + 1] = h[j] end
        end
        redis.call('HDEL', hk, unpack(gone))
        if unexplained then redis.call('HSET', hk, '${LEGACY_FIELD}', unexplained .. '|' .. ARGV[3] .. '|l') end
        if cur ~= e then redis.call('EXPIREAT', hk, e) end
      end
      if cur ~= e then redis.call('SET', bk, e, 'EXAT', e) end
      zadd[#zadd + 1] = e
      zadd[#zadd + 1] = net
      still = still + 1
    end
  end
end
if #zrem > 0 then redis.call('ZREM', KEYS[1], unpack(zrem)) end
if #zadd > 0 then redis.call('ZADD', KEYS[1], unpack(zadd)) end
local out = { lifted, still, notHeld, #others }
for _, f in ipairs(others) do out[#out + 1] = f end
for _, f in ipairs(ended) do out[#out + 1] = f end
return out
`;

/**
 * Drop the holds that ended by `cutoff` on a chunk of networks (a ban step's expiry), and lift
 * each network whose holds have all ended. Networks without hold records are left to the registry.
 * KEYS: registry, then per network: ban key, hold key. ARGV: cutoff, networks…
 * Returns: { networks lifted, holds dropped }
 */
export const EXPIRE_SCRIPT = `${LUA_COMMON}
local cutoff = tonumber(ARGV[1])
local n = (#KEYS - 1) / 2
local lifted, dropped = 0, 0
local zrem = {}
for i = 1, n do
  local net, bk, hk = ARGV[1 + i], KEYS[2 * i], KEYS[2 * i + 1]
  local h = redis.call('HGETALL', hk)
  if #h > 0 then
    local e, left = 0, {}
    for j = 1, #h, 2 do
      local u = untilOf(h[j + 1])
      if not u or u <= cutoff then
        redis.call('HDEL', hk, h[j])
        dropped = dropped + 1
      else
        left[#left + 1] = h[j]
        if u > e then e = u end
      end
    end
    if #left == 1 and left[1] == '${LEGACY_FIELD}' then redis.call('DEL', hk) end
    if e == 0 then
      redis.call('DEL', bk, hk)
      zrem[#zrem + 1] = net
      lifted = lifted + 1
    elseif tonumber(redis.call('GET', bk)) ~= e then
      redis.call('SET', bk, e, 'EXAT', e)
      redis.call('EXPIREAT', hk, e)
      redis.call('ZADD', KEYS[1], e, net)
    end
  end
end
if #zrem > 0 then redis.call('ZREM', KEYS[1], unpack(zrem)) end
return { lifted, dropped }
`;

/**
 * Read-only check after a release: the step's hold is gone from every network, and each
 * network's ban key, registry entry and holds agree (a key ⇔ a registry entry with its end).
 * A registry entry whose end has passed is the expiry's to drop, not a problem.
 * KEYS: registry, then per network: ban key, hold key. ARGV: field ('' for none), now, networks…
 * Returns: the count of problems, then the first 10.
 */
export const CHECK_SCRIPT = `
local field, now = ARGV[1], tonumber(ARGV[2])
local n = (#KEYS - 1) / 2
local problems, count = {}, 0
local function bad(text)
  count = count + 1
  if #problems < 10 then problems[#problems + 1] = text end
end
local banKeys = {}
for i = 1, n do banKeys[i] = KEYS[2 * i] end
local values = redis.call('MGET', unpack(banKeys))
local scores = redis.call('ZMSCORE', KEYS[1], unpack(ARGV, 3, 2 + n))
for i = 1, n do
  local net, bk, hk = ARGV[2 + i], banKeys[i], KEYS[2 * i + 1]
  local cur, score = values[i], scores[i]
  if cur then
    if field ~= '' and redis.call('HEXISTS', hk, field) == 1 then bad(net .. ' still held by ' .. field) end
    if tostring(score) ~= cur then bad(bk .. ' = ' .. cur .. ' but registry ' .. tostring(score)) end
  else
    if score and tonumber(score) > now then bad(net .. ' in the registry without its ban key') end
    if redis.call('EXISTS', hk) == 1 then bad(hk .. ' left without a ban') end
  end
end
local out = { count }
for _, p in ipairs(problems) do out[#out + 1] = p end
return out
`;

/**
 * Read-only proof after a take: each network's ban key holds at least `until` with a TTL, the
 * registry has the key's end, and the step's hold is there until at least `until`.
 * KEYS: registry, then per network: ban key, hold key. ARGV: field, until, networks…
 * Returns: the count of problems, the first network's value and TTL, then the first 10 problems.
 */
export const PROOF_SCRIPT = `${LUA_COMMON}
local field, untilS = ARGV[1], tonumber(ARGV[2])
local n = (#KEYS - 1) / 2
local banKeys = {}
for i = 1, n do banKeys[i] = KEYS[2 * i] end
local values = redis.call('MGET', unpack(banKeys))
local scores = redis.call('ZMSCORE', KEYS[1], unpack(ARGV, 3, 2 + n))
local problems, count = {}, 0
local firstTtl = redis.call('TTL', banKeys[1])
for i = 1, n do
  local net, bk, hk, v, score = ARGV[2 + i], banKeys[i], KEYS[2 * i + 1], values[i], scores[i]
  local text
  local ttl = i == 1 and firstTtl or redis.call('TTL', bk)
  if not v or not (tonumber(v) and tonumber(v) >= untilS) or ttl <= 0 then text = bk .. ' = ' .. tostring(v or 'nil') .. ' (ttl ' .. ttl .. ')'
  elseif score ~= v then text = 'registry ' .. net .. ' score ' .. tostring(score or 'nil') .. ', ban key ' .. v
  else
    local u = untilOf(redis.call('HGET', hk, field))
    if not u or u < untilS then text = hk .. ' has no hold of ' .. field .. ' until ' .. untilS end
  end
  if text then
    count = count + 1
    if #problems < 10 then problems[#problems + 1] = text end
  end
end
local out = { count, values[1] or '', firstTtl }
for _, p in ipairs(problems) do out[#out + 1] = p end
return out
`;

/** One hold from its field and value, or null when it is unreadable. */
export function parseHold(field: string, value: string): (Holder & { outcome: string; untilSeconds: number }) | null {
  const m = /^(\d+)\|(\d+)\|([a-z])$/.exec(value);
  if (!m) return null;
  const untilSeconds = Number(m[1]);
  const until = new Date(untilSeconds * 1000).toISOString();
  const since = new Date(Number(m[2]) * 1000).toISOString();
  if (field === LEGACY_FIELD) return { ...LEGACY_HOLDER, since, until, outcome: m[3] as string, untilSeconds };
  const slash = field.lastIndexOf('/');
  if (slash <= 0) return null;
  return { incidentId: field.slice(0, slash), stepId: field.slice(slash + 1), since, until, outcome: m[3] as string, untilSeconds };
}

/** The live holders of one network from its hash (HGETALL), sorted by end then incident; an older worker's ban (no hold, a key until `keyEnd`) has the unknown holder. */
export function holdersOf(hash: Record<string, string>, nowSeconds: number, keyEnd: number | null): Holder[] {
  const holds = Object.entries(hash)
    .map(([f, v]) => parseHold(f, v))
    .filter((h): h is NonNullable<ReturnType<typeof parseHold>> => h !== null && h.untilSeconds > nowSeconds)
    .sort((a, b) => a.untilSeconds - b.untilSeconds || a.incidentId.localeCompare(b.incidentId) || a.stepId.localeCompare(b.stepId));
  if (!holds.length && keyEnd !== null && keyEnd > nowSeconds) {
    return [{ ...LEGACY_HOLDER, since: '', until: new Date(keyEnd * 1000).toISOString() }];
  }
  return holds.map(({ outcome: _o, untilSeconds: _u, ...h }) => h);
}

/** Active bans on a target (registry entries ending after now). */
export async function countActiveBans(redis: Redis, space: KeySpace, nowSeconds = Math.floor(Date.now() / 1000)): Promise<number> {
  return redis.zcount(ownKey(space, BAN_REGISTRY), `(${nowSeconds}`, '+inf');
}

/**
 * Every active ban of a target with its holders, for `firebreak target check`. Reads only.
 * At most `limit` networks (default 1,000: those ending first, listed in address order);
 * countActiveBans gives the total. A ban from an older worker has the holder `unknown`.
 */
export async function listBanHolds(redis: Redis, space: KeySpace, opts: { limit?: number; nowSeconds?: number } = {}): Promise<HoldView[]> {
  const now = opts.nowSeconds ?? Math.floor(Date.now() / 1000);
  const limit = opts.limit ?? 1_000;
  const flat = await redis.zrangebyscore(ownKey(space, BAN_REGISTRY), `(${now}`, '+inf', 'WITHSCORES', 'LIMIT', 0, limit);
  const ends = new Map<string, number>();
  for (let i = 0; i < flat.length; i += 2) ends.set(flat[i] as string, Number(flat[i + 1]));
  const nets: IpNetwork[] = [];
  for (const m of ends.keys()) {
    const r = tryParseNetwork(m);
    if ('network' in r && formatNetwork(r.network) === m) nets.push(r.network);
  }
  const networks = nets.sort(compareNetworks).map(formatNetwork);
  const out: HoldView[] = [];
  for (let i = 0; i < networks.length; i += 1_000) {
    const part = networks.slice(i, i + 1_000);
    const pipe = redis.pipeline();
    for (const net of part) pipe.hgetall(banHoldKey(space, net));
    const res = (await pipe.exec()) ?? [];
    part.forEach((net, j) => {
      const [err, hash] = res[j] ?? [];
      if (err) throw err;
      out.push({ kind: 'ban', subject: net, holders: holdersOf((hash ?? {}) as Record<string, string>, now, ends.get(net) ?? null) });
    });
  }
  return out;
}
