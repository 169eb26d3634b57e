-- Read a lock on one node.
-- KEYS[1] lock hash.
-- Returns {lease, owner, fence, metadata, pttl} or nil when the lock is
-- free. The lease only tells holders apart inside the engine; it never
-- leaves it.
local v = redis.call('HMGET', KEYS[1], 'lease', 'owner', 'fence', 'meta')
if not v[1] then
  return false
end
return {v[1], v[2] or '', tonumber(v[3]) or 0, v[4] or '', redis.call('PTTL', KEYS[1])}
