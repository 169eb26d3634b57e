-- Extend a lease on one node: compare-and-PEXPIRE.
-- KEYS[1] lock hash. ARGV[1] lease, ARGV[2] ttl in ms ('0' keeps the
-- lease's own TTL).
-- Returns {1, owner, fence, metadata, ttl, byowner, holds} when the lease
-- holds the lock here (holds: a reentrant lease's holds, see acquire.lua,
-- '' for another lease); {0} when the lock is free here; {-1} when another lease
-- holds it.
local v = redis.call('HMGET', KEYS[1], 'lease', 'owner', 'fence', 'meta', 'ttl', 'byowner', 'holds')
if not v[1] then
  return {0}
end
if v[1] ~= ARGV[1] then
  return {-1}
end
local ttl = ARGV[2]
if ttl == '0' then
  ttl = v[5] or '10000'
end
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('HSET', KEYS[1], 'ttl', ttl)
return {1, v[2] or '', tonumber(v[3]) or 0, v[4] or '', tonumber(ttl), v[6] or '', v[7] or ''}
