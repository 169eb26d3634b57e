-- Extend a lease on one node: compare-and-PEXPIRE.
-- KEYS[1] lock hash, KEYS[2] and KEYS[3] the lock's readers and their
-- details (see read_acquire.lua). ARGV[1] lease, ARGV[2] ttl in ms ('0'
-- keeps the lease's own TTL).
-- Returns {1, owner, fence, metadata, ttl, byowner, holds, mode} when the
-- lease holds the lock here (holds: a reentrant lease's holds, see
-- acquire.lua, '' for another lease; mode 'r' for a read lease, '' for the
-- writer); {0} when the lock is free here; {-1} when another lease holds
-- it (the writer, or readers without this lease).
local v = redis.call('HMGET', KEYS[1], 'lease', 'owner', 'fence', 'meta', 'ttl', 'byowner', 'holds')
if v[1] then
  if v[1] ~= ARGV[1] then
    return {-1}
  end
  local ttl = ARGV[2]
  if ttl == '0' then
    ttl = v[5] or '10000'
  end
  redis.call('PEXPIRE', KEYS[1], ttl)
  redis.call('HSET', KEYS[1], 'ttl', ttl)
  return {1, v[2] or '', tonumber(v[3]) or 0, v[4] or '', tonumber(ttl), v[6] or '', v[7] or '', ''}
end
if not KEYS[2] then
  return {0}
end
--#include readers
local now = now_ms()
local score = tonumber(redis.call('ZSCORE', KEYS[2], ARGV[1]) or '0')
local d = redis.call('HGET', KEYS[3], ARGV[1])
if score <= now or not d then
  if redis.call('ZCOUNT', KEYS[2], '(' .. now, '+inf') > 0 then
    return {-1}
  end
  return {0}
end
d = cjson.decode(d)
local ttl = ARGV[2]
if ttl == '0' then
  ttl = d.t or '10000'
end
d.t = ttl
-- The keys' expiry first: on a full node (noeviction) Redis refuses a
-- script whose first write adds data, and PEXPIREAT adds none, so a read
-- lease is kept on a full node as the writer's is (PEXPIRE above).
local exp = now + tonumber(ttl)
local top = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
local at = math.max(exp, tonumber(top[2]) or 0)
redis.call('PEXPIREAT', KEYS[2], at)
redis.call('PEXPIREAT', KEYS[3], at)
redis.call('HSET', KEYS[3], ARGV[1], cjson.encode(d))
redis.call('ZADD', KEYS[2], exp, ARGV[1])
top = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[2], top[2])
redis.call('PEXPIREAT', KEYS[3], top[2])
return {1, d.o, tonumber(d.f) or 0, d.m or '', tonumber(ttl), '', '', 'r'}
