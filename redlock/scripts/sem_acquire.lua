-- Acquire a permit on one node: one slot of the semaphore for the lease.
-- KEYS[1] semaphore hash, KEYS[2] the node's fence counter (the locks'),
-- KEYS[3] the semaphore's details hash (see sem_lib.lua).
-- ARGV[1] lease, ARGV[2] owner, ARGV[3] ttl in ms, ARGV[4] metadata (''
-- for none), ARGV[5] '1' when fences are minted elsewhere (a store),
-- ARGV[6] the attempt's tag (see sem_release.lua), ARGV[7] the limit,
-- ARGV[8] the slot wanted, or '-1' for the lowest free one, ARGV[9] '1'
-- when the caller waits: a refusal then marks the semaphore ('w') so that
-- releases wake the waiters, ARGV[10] '1' when others wait behind the
-- caller: a grant then marks it.
-- Returns {status, slot, fence, counter, metadata, owner, pttl, limit,
-- taken}, where taken lists the slots other leases hold here ('1,4'):
-- status 2 when the lease now holds slot here; counter was incremented
-- (the provisional fence, stored unless fences are minted elsewhere);
-- status 1 when the lease already held slot here (a retry): its TTL is
-- refreshed, its metadata replaced when ARGV[4] is not '', the entry
-- tagged with this attempt; fence and metadata are those stored;
-- status 0 when no slot (or not the one wanted) is free: owner and pttl
-- are those of the permit that expires first;
-- status 3 when the live permits here were granted under another limit,
-- given as limit; nothing is written.
local key, dkey, id = KEYS[1], KEYS[3], ARGV[1]
local ttl, limit, want = tonumber(ARGV[3]), tonumber(ARGV[7]), tonumber(ARGV[8])
local now = now_ms()
local perms, n = live(key, dkey, now)
local stored = tonumber(redis.call('HGET', key, 'limit') or '0')
if n > 0 and stored ~= limit then
  return {3, -1, 0, 0, '', '', 0, stored, ''}
end
local taken, busy, first = {}, {}, nil
for other, p in pairs(perms) do
  if other ~= id then
    taken[#taken + 1] = p.slot
    busy[p.slot] = true
    if first == nil or p.exp < perms[first].exp then
      first = other
    end
  end
end
local takenList = table.concat(taken, ',')
local counter = function()
  return tonumber(redis.call('GET', KEYS[2]) or '0')
end

local mine = perms[id]
if mine then
  mine.exp, mine.ttl, mine.att = now + ttl, ttl, ARGV[6]
  put(key, id, mine)
  local meta = detail(key, dkey, 'm:' .. id)
  if ARGV[4] ~= '' then
    meta = ARGV[4]
    redis.call('HSET', dkey, 'm:' .. id, meta)
  end
  if ARGV[10] == '1' then
    redis.call('HSET', key, 'w', '1')
  end
  settle(key, dkey, perms, now)
  return {1, mine.slot, mine.fence, counter(), meta, '', 0, limit, takenList}
end

local slot = -1
if want >= 0 then
  if want < limit and not busy[want] then
    slot = want
  end
else
  for s = 0, limit - 1 do
    if not busy[s] then
      slot = s
      break
    end
  end
end
if slot < 0 then
  if ARGV[9] == '1' then
    -- Only a hint: on a full node (noeviction) the write is refused, and
    -- the refusal must still be told.
    redis.pcall('HSET', key, 'w', '1')
  end
  local owner, pttl = '', -1
  if first then
    owner, pttl = detail(key, dkey, 'o:' .. first), perms[first].exp - now
  end
  return {0, -1, 0, 0, '', owner, pttl, limit, takenList}
end

local c = redis.call('INCR', KEYS[2])
local f = c
if ARGV[5] == '1' then
  f = 0
end
local p = {slot = slot, fence = f, exp = now + ttl, ttl = ttl, att = ARGV[6]}
perms[id] = p
redis.call('HSET', key, 'limit', limit)
redis.call('HSET', dkey, 'o:' .. id, ARGV[2], 'm:' .. id, ARGV[4])
put(key, id, p)
if ARGV[10] == '1' then
  redis.call('HSET', key, 'w', '1')
end
settle(key, dkey, perms, now)
return {2, slot, 0, c, '', '', 0, limit, takenList}
