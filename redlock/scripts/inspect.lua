-- Read a lock on one node.
-- KEYS[1] lock hash, KEYS[2] and KEYS[3] the lock's readers and their
-- details (see read_acquire.lua).
-- Returns {lease, owner, fence, metadata, pttl} for a writer; {'r', owner,
-- fence, metadata, pttl, readers} when readers hold it (those of the reader
-- that runs out last); nil when the lock is free. The lease only tells
-- holders apart inside the engine; it never leaves it.
--#include readers
local v = redis.call('HMGET', KEYS[1], 'lease', 'owner', 'fence', 'meta')
if not v[1] then
  if not KEYS[2] then
    return false
  end
  local now = now_ms()
  local n = redis.call('ZCOUNT', KEYS[2], '(' .. now, '+inf')
  if n == 0 then
    return false
  end
  local last = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
  local d = cjson.decode(redis.call('HGET', KEYS[3], last[1]))
  return {'r', d.o, tonumber(d.f) or 0, d.m or '', tonumber(last[2]) - now, n}
end
return {v[1], v[2] or '', tonumber(v[3]) or 0, v[4] or '', redis.call('PTTL', KEYS[1])}
