/**
 * The Lua scripts of ban holds (the layout is described in ./holds.ts): each change to a
 * network's holds and to its ban is one of these, so a hold is never recorded without its
 * effect or the other way round.
 */

/** The field of the unknown holder of a ban an older worker made (no incident id has a `~`). */
export const LEGACY_FIELD = '~legacy';
/** Holder fields a script returns per chunk at most (for "also held by …"). */
const OTHERS_MAX = 200;

// Helpers every script shares: a hold's end, the holds of a network (decode / encode its
// entry: fields in order, field → value), and the list of other holders.
const LUA_COMMON = `
local function untilOf(v) return tonumber(string.match(v or '', '^(%d+)|')) end
local function note(set, list, f)
  if not set[f] and #list < ${OTHERS_MAX} then set[f] = true; list[#list + 1] = f end
end
local function decode(s)
  local fs, vs = {}, {}
  if not s then return fs, vs end
  if not string.find(s, ';', 1, true) then
    local f, v = string.match(s, '^([^=]+)=(.*)$')
    if f then fs[1] = f; vs[f] = v end
    return fs, vs
  end
  for f, v in string.gmatch(s, '([^;=]+)=([^;]*)') do
    if vs[f] == nil then fs[#fs + 1] = f; vs[f] = v end
  end
  return fs, vs
end
local function put(fs, vs, f, v)
  if vs[f] == nil then fs[#fs + 1] = f end
  vs[f] = v
end
local function encode(fs, vs)
  local parts, done = {}, {}
  for _, f in ipairs(fs) do
    if vs[f] and not done[f] then done[f] = true; parts[#parts + 1] = f .. '=' .. vs[f] end
  end
  return table.concat(parts, ';')
end
`;

/**
 * Take this step's hold on a chunk of networks, and ban them until the latest end among their
 * holds (never shortening a ban). Counts what the step found (from its own hold on a retry, so
 * a retry reports what the first attempt did and never counts twice), and which other holds
 * there are. Ended holds met on the way are dropped. An older worker's record of this step
 * (`mine`) marks its own earlier bans; a ban nobody's live hold explains gets the `~legacy` hold.
 * KEYS: registry, step record, holds hash, then the ban key of each network.
 * ARGV: until, record TTL, field, now, networks…
 * Returns: { created, kept, extended, other holder fields… }
 */
export const TAKE_SCRIPT = `${LUA_COMMON}
local untilS, field, now = tonumber(ARGV[1]), ARGV[3], tonumber(ARGV[4])
local n = #KEYS - 3
local mine = redis.call('SMISMEMBER', KEYS[2], unpack(ARGV, 5, 4 + n))
local values = redis.call('MGET', unpack(KEYS, 4, 3 + n))
local stored = redis.call('HMGET', KEYS[3], unpack(ARGV, 5, 4 + n))
local fresh = untilS .. '|' .. ARGV[4] .. '|'
local counts = { n = 0, k = 0, x = 0 }
local seen, others, zargs, hset = {}, {}, {}, {}
local newHold = field .. '=' .. fresh .. 'n'
local function ban(bk, key, e)
  if key ~= e then redis.call('SET', bk, e, 'EXAT', e) end
end
for i = 1, n do
  local net, bk, s = ARGV[4 + i], KEYS[3 + i], stored[i]
  local key = tonumber(values[i])
  if not s and (not key or mine[i] == 1) then
    -- the common case: no holds, and no ban or this step's own (an older worker's first attempt)
    local e = untilS
    if key and key > e then e = key end
    counts.n = counts.n + 1
    ban(bk, key, e)
    hset[#hset + 1] = net; hset[#hset + 1] = newHold
    zargs[#zargs + 1] = e
    zargs[#zargs + 1] = net
  else
    local cur = key
    local fs, vs = decode(s)
    local own, held = vs[field], 0
    for _, f in ipairs(fs) do
      if f ~= field then
        local u = untilOf(vs[f])
        if not u or u <= now then vs[f] = nil
        else
          note(seen, others, f)
          if u > held then held = u end
          if not cur or u > cur then cur = u end
        end
      end
    end
    local ou = own and (untilOf(own) or 0) or 0
    -- an end no recorded hold explains: an older worker's ban (or its extension), held by an unknown holder until then
    if key and key > math.max(held, ou) and (own or mine[i] ~= 1) then
      put(fs, vs, '${LEGACY_FIELD}', key .. '|' .. ARGV[4] .. '|l')
      note(seen, others, '${LEGACY_FIELD}')
    end
    local o
    if own then
      o = string.match(own, '|(%a)$')
      if not counts[o] then o = 'k' end
      if untilS > ou then
        vs[field] = untilS .. '|' .. (string.match(own, '^%d+|(%d+)|') or ARGV[4]) .. '|' .. o
      end
      if ou > untilS and (not cur or ou > cur) then cur = ou end
    else
      if not cur or mine[i] == 1 then o = 'n'
      elseif cur >= untilS then o = 'k'
      else o = 'x' end
      put(fs, vs, field, fresh .. o)
    end
    counts[o] = counts[o] + 1
    local e = untilS
    if cur and cur > e then e = cur end
    ban(bk, key, e)
    local text = encode(fs, vs)
    if text ~= s then hset[#hset + 1] = net; hset[#hset + 1] = text end
    zargs[#zargs + 1] = e
    zargs[#zargs + 1] = net
  end
end
if #hset > 0 then redis.call('HSET', KEYS[3], unpack(hset)) end
redis.call('SADD', KEYS[2], unpack(ARGV, 5, 4 + n))
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[2]))
redis.call('ZADD', KEYS[1], unpack(zargs))
local out = { counts.n, counts.k, counts.x }
for _, f in ipairs(others) do out[#out + 1] = f end
return out
`;

/**
 * Release holds on a chunk of networks, and lift each network no live hold is left on; one
 * still held gets the latest remaining end (key, holds and registry alike).
 * mode `own`: drop `field` only (a network this step does not hold is left alone: a retry never
 * releases anyone else's hold). mode `legacy` (an older worker's undo, whose record says the step
 * banned it first): drop `field`, else the `~legacy` hold, else lift a ban with no holds at all.
 * mode `all` (an explicit lift): end every hold, and say whose. Ended holds met are dropped.
 * KEYS: registry, holds hash, then the ban key of each network. ARGV: mode, field, now, networks…
 * Returns: { lifted, still held, not held, #others, other holder fields…, ended holder fields… }
 */
export const RELEASE_SCRIPT = `${LUA_COMMON}
local mode, field, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local n = #KEYS - 2
local lifted, still, notHeld = 0, 0, 0
local seen, others, endedSeen, ended = {}, {}, {}, {}
local zrem, zadd, hset, hdel, del = {}, {}, {}, {}, {}
local values = redis.call('MGET', unpack(KEYS, 3, 2 + n))
local stored = redis.call('HMGET', KEYS[2], unpack(ARGV, 4, 3 + n))
for i = 1, n do
  local net, bk, s = ARGV[3 + i], KEYS[2 + i], stored[i]
  local cur = tonumber(values[i])
  local fs, vs = decode(s)
  local live, liveN = {}, 0
  for _, f in ipairs(fs) do
    local u = untilOf(vs[f])
    if u and u > now then live[f] = u; liveN = liveN + 1 end
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
    -- ended holds met on the way are dropped
    if s and liveN < #fs then
      if liveN == 0 then hdel[#hdel + 1] = net
      else
        for _, f in ipairs(fs) do if not live[f] then vs[f] = nil end end
        hset[#hset + 1] = net; hset[#hset + 1] = encode(fs, vs)
      end
    end
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
      if cur then del[#del + 1] = bk end
      if s then hdel[#hdel + 1] = net end
      zrem[#zrem + 1] = net
      lifted = lifted + 1
    else
      local onlyLegacy = live['${LEGACY_FIELD}'] and next(live, next(live)) == nil
      if onlyLegacy then
        -- back to an older worker's ban as it was: no hold records, held until its end
        if s then hdel[#hdel + 1] = net end
      else
        for _, f in ipairs(fs) do if not live[f] then vs[f] = nil end end
        if unexplained then put(fs, vs, '${LEGACY_FIELD}', unexplained .. '|' .. ARGV[3] .. '|l') end
        local text = encode(fs, vs)
        if text ~= s then hset[#hset + 1] = net; hset[#hset + 1] = text end
      end
      if cur ~= e then redis.call('SET', bk, e, 'EXAT', e) end
      zadd[#zadd + 1] = e
      zadd[#zadd + 1] = net
      still = still + 1
    end
  end
end
if #del > 0 then redis.call('DEL', unpack(del)) end
if #hdel > 0 then redis.call('HDEL', KEYS[2], unpack(hdel)) end
if #hset > 0 then redis.call('HSET', KEYS[2], unpack(hset)) end
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
 * KEYS: registry, holds hash, then the ban key of each network. ARGV: cutoff, networks…
 * Returns: { networks lifted, holds dropped }
 */
export const EXPIRE_SCRIPT = `${LUA_COMMON}
local cutoff = tonumber(ARGV[1])
local n = #KEYS - 2
local lifted, dropped = 0, 0
local zrem, hset, hdel, del = {}, {}, {}, {}
local values = redis.call('MGET', unpack(KEYS, 3, 2 + n))
local stored = redis.call('HMGET', KEYS[2], unpack(ARGV, 2, 1 + n))
for i = 1, n do
  local net, bk, s = ARGV[1 + i], KEYS[2 + i], stored[i]
  if s then
    local fs, vs = decode(s)
    local e, left, last = 0, 0, nil
    for _, f in ipairs(fs) do
      local u = untilOf(vs[f])
      if not u or u <= cutoff then
        vs[f] = nil
        dropped = dropped + 1
      else
        left = left + 1
        last = f
        if u > e then e = u end
      end
    end
    if e == 0 then
      if values[i] then del[#del + 1] = bk end
      hdel[#hdel + 1] = net
      zrem[#zrem + 1] = net
      lifted = lifted + 1
    else
      if left == 1 and last == '${LEGACY_FIELD}' then hdel[#hdel + 1] = net
      else
        local text = encode(fs, vs)
        if text ~= s then hset[#hset + 1] = net; hset[#hset + 1] = text end
      end
      if tonumber(values[i]) ~= e then
        redis.call('SET', bk, e, 'EXAT', e)
        redis.call('ZADD', KEYS[1], e, net)
      end
    end
  end
end
if #del > 0 then redis.call('DEL', unpack(del)) end
if #hdel > 0 then redis.call('HDEL', KEYS[2], unpack(hdel)) end
if #hset > 0 then redis.call('HSET', KEYS[2], unpack(hset)) end
if #zrem > 0 then redis.call('ZREM', KEYS[1], unpack(zrem)) end
return { lifted, dropped }
`;

/**
 * The expiry's sweep: drop up to `limit` registry entries that ended by `cutoff`, with their
 * ended holds (a ban whose last holder's own expiry never ran: a terminated incident).
 * A hold still live there is kept.
 * KEYS: registry, holds hash. ARGV: cutoff, limit.
 * Returns: registry entries dropped.
 */
export const SWEEP_SCRIPT = `${LUA_COMMON}
local cutoff = tonumber(ARGV[1])
local gone = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', cutoff, 'LIMIT', 0, tonumber(ARGV[2]))
if #gone == 0 then return 0 end
local stored = redis.call('HMGET', KEYS[2], unpack(gone))
local hset, hdel = {}, {}
for i, net in ipairs(gone) do
  local s = stored[i]
  if s then
    local fs, vs = decode(s)
    local left = 0
    for _, f in ipairs(fs) do
      local u = untilOf(vs[f])
      if not u or u <= cutoff then vs[f] = nil else left = left + 1 end
    end
    if left == 0 then hdel[#hdel + 1] = net
    else
      local text = encode(fs, vs)
      if text ~= s then hset[#hset + 1] = net; hset[#hset + 1] = text end
    end
  end
end
if #hdel > 0 then redis.call('HDEL', KEYS[2], unpack(hdel)) end
if #hset > 0 then redis.call('HSET', KEYS[2], unpack(hset)) end
redis.call('ZREM', KEYS[1], unpack(gone))
return #gone
`;

/**
 * Read-only check after a release: the step's hold is gone from every network, and each
 * network's ban key, registry entry and holds agree (a key ⇔ a registry entry with its end;
 * no live hold without a key). A registry entry whose end has passed is the expiry's to drop,
 * not a problem.
 * KEYS: registry, holds hash, then the ban key of each network. ARGV: field ('' for none), now, networks…
 * Returns: the count of problems, then the first 10.
 */
export const CHECK_SCRIPT = `${LUA_COMMON}
local field, now = ARGV[1], tonumber(ARGV[2])
local n = #KEYS - 2
local problems, count = {}, 0
local function bad(text)
  count = count + 1
  if #problems < 10 then problems[#problems + 1] = text end
end
local values = redis.call('MGET', unpack(KEYS, 3, 2 + n))
local scores = redis.call('ZMSCORE', KEYS[1], unpack(ARGV, 3, 2 + n))
local stored = redis.call('HMGET', KEYS[2], unpack(ARGV, 3, 2 + n))
for i = 1, n do
  local net, bk, s = ARGV[2 + i], KEYS[2 + i], stored[i]
  local cur, score = values[i], scores[i]
  local fs, vs = decode(s)
  if cur then
    if field ~= '' and vs[field] then bad(net .. ' still held by ' .. field) end
    if tostring(score) ~= cur then bad(bk .. ' = ' .. cur .. ' but registry ' .. tostring(score)) end
  else
    if score and tonumber(score) > now then bad(net .. ' in the registry without its ban key') end
    for _, f in ipairs(fs) do
      local u = untilOf(vs[f])
      if u and u > now then bad(net .. ' held by ' .. f .. ' in ' .. KEYS[2] .. ' without a ban'); break end
    end
  end
end
local out = { count }
for _, p in ipairs(problems) do out[#out + 1] = p end
return out
`;

/**
 * Read-only proof after a take: each network's ban key holds at least `until` with a TTL, the
 * registry has the key's end, and the step's hold is there until at least `until`.
 * KEYS: registry, holds hash, then the ban key of each network. ARGV: field, until, networks…
 * Returns: the count of problems, the first network's value and TTL, then the first 10 problems.
 */
export const PROOF_SCRIPT = `${LUA_COMMON}
local field, untilS = ARGV[1], tonumber(ARGV[2])
local n = #KEYS - 2
local values = redis.call('MGET', unpack(KEYS, 3, 2 + n))
local scores = redis.call('ZMSCORE', KEYS[1], unpack(ARGV, 3, 2 + n))
local stored = redis.call('HMGET', KEYS[2], unpack(ARGV, 3, 2 + n))
local problems, count = {}, 0
local firstTtl = redis.call('TTL', KEYS[3])
for i = 1, n do
  local net, bk, v, score = ARGV[2 + i], KEYS[2 + i], values[i], scores[i]
  local text
  local ttl = i == 1 and firstTtl or redis.call('TTL', bk)
  if not v or not (tonumber(v) and tonumber(v) >= untilS) or ttl <= 0 then text = bk .. ' = ' .. tostring(v or 'nil') .. ' (ttl ' .. ttl .. ')'
  elseif score ~= v then text = 'registry ' .. net .. ' score ' .. tostring(score or 'nil') .. ', ban key ' .. v
  else
    local _, vs = decode(stored[i])
    local u = untilOf(vs[field])
    if not u or u < untilS then text = net .. ' has no hold of ' .. field .. ' until ' .. untilS .. ' in ' .. KEYS[2] end
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
