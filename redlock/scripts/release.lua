-- Release a lock on one node: compare-and-DEL. Another holder's lock is
-- never touched.
-- KEYS[1] lock hash. ARGV[1] lease, or '' to match by owner: then ARGV[2]
-- is the owner, and only a lock acquired with release by owner matches.
-- ARGV[3], when not '', is an attempt's tag: only that attempt's write is
-- deleted (the cleanup of a failed attempt must not delete what a later
-- attempt with the same lease wrote).
-- ARGV[4], when not '', is the channel on which a release of a lock that
-- someone waits for (marked 'w' by acquire.lua) is announced, with ARGV[5],
-- the lock's name, as the message: waiters wake at once instead of polling.
-- ARGV[6], when not '', is a hold of a reentrant lease (see acquire.lua):
-- only that hold is removed. Without it, a release of a reentrant lease
-- removes its most recent hold (and a cleanup, which names its hold,
-- nothing). The lock is deleted with its last hold.
-- KEYS[2] and KEYS[3] (optional) are the lock's readers and their details
-- (see read_acquire.lua): when the lock hash is not the lease's, a read
-- lease of that value is released instead, and the release of the last
-- reader is announced when a writer waited for it.
-- Returns {owner, fence, holds left} when it deleted the lock, a hold or a
-- read lease, else nil.
--#include readers
local v = redis.call('HMGET', KEYS[1], 'lease', 'owner', 'fence', 'byowner', 'att', 'w', 'holds')
local att = ARGV[3] or ''
local hold = ARGV[6] or ''
if not v[1] or ARGV[1] ~= '' and v[1] ~= ARGV[1] then
  if v[1] or ARGV[1] == '' or hold ~= '' or not KEYS[3] then
    return false
  end
  local d = redis.call('HGET', KEYS[3], ARGV[1])
  if not d then
    return false
  end
  d = cjson.decode(d)
  if att ~= '' and d.a ~= att then
    return false
  end
  local now = now_ms()
  local live = tonumber(redis.call('ZSCORE', KEYS[2], ARGV[1]) or '0') > now
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('HDEL', KEYS[3], ARGV[1])
  if redis.call('ZCOUNT', KEYS[2], '(' .. now, '+inf') == 0 then
    local w = redis.call('HGET', KEYS[3], 'w')
    redis.call('DEL', KEYS[2], KEYS[3])
    if w == '1' and (ARGV[4] or '') ~= '' then
      redis.call('PUBLISH', ARGV[4], ARGV[5])
    end
  end
  if not live then
    return false
  end
  return {d.o, tonumber(d.f) or 0, 0}
end
if ARGV[1] == '' and (v[2] ~= ARGV[2] or v[4] ~= '1') then
  return false
end
if v[7] then
  local holds = ' ' .. v[7] .. ' '
  if hold == '' then
    if att ~= '' then
      return false
    end
    hold = string.match(v[7], '(%S+)$')
  elseif not string.find(holds, ' ' .. hold .. ' ', 1, true) then
    return false
  end
  if att ~= '' and redis.call('HGET', KEYS[1], 'a:' .. hold) ~= att then
    return false
  end
  -- Hold values are hex digits: no pattern characters.
  holds = string.gsub(holds, ' ' .. hold .. ' ', ' ', 1)
  local n = select(2, string.gsub(holds, '%S+', ''))
  if n > 0 then
    redis.call('HSET', KEYS[1], 'holds', string.match(holds, '^%s*(.-)%s*$'))
    redis.call('HDEL', KEYS[1], 'a:' .. hold)
    return {v[2] or '', tonumber(v[3]) or 0, n}
  end
elseif hold ~= '' then
  return false
elseif att ~= '' and v[5] ~= att then
  return false
end
redis.call('DEL', KEYS[1])
if v[6] == '1' and (ARGV[4] or '') ~= '' then
  redis.call('PUBLISH', ARGV[4], ARGV[5])
end
return {v[2] or '', tonumber(v[3]) or 0, 0}
