-- After an extend confirmed a lease on a quorum, write it back on a node
-- that answered without it (a node restarted empty, say), so one more
-- outage does not lose a live lease. Never overwrites another lease.
-- KEYS[1] lock hash, KEYS[2] the node's fence counter.
-- ARGV[1] lease, ARGV[2] owner, ARGV[3] fence, ARGV[4] metadata,
-- ARGV[5] ttl in ms (the lease's), ARGV[6] remaining ms, ARGV[7] '1' when
-- the owner label may release the lock, ARGV[8] a reentrant lease's holds
-- ('' for another lease; their attempt tags are not written back, so no
-- cleanup removes them).
-- ARGV[9] 'r' for a read lease: it is written back among the readers
-- (KEYS[3], KEYS[4]: see read_acquire.lua) unless a writer holds the lock
-- here. A write lease is not written back while live readers are here.
-- Returns 1 when it wrote the lease, else 0. The counter is raised to at
-- least the fence either way.
local f = tonumber(ARGV[3])
if tonumber(redis.call('GET', KEYS[2]) or '0') < f then
  redis.call('SET', KEYS[2], f)
end
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
--#include readers
local now = now_ms()
if (ARGV[9] or '') == 'r' then
  local exp = now + tonumber(ARGV[6])
  redis.call('HSET', KEYS[4], ARGV[1], cjson.encode({o = ARGV[2], f = tostring(f), t = ARGV[5], m = ARGV[4], a = ''}))
  redis.call('ZADD', KEYS[3], exp, ARGV[1])
  local top = redis.call('ZRANGE', KEYS[3], -1, -1, 'WITHSCORES')
  redis.call('PEXPIREAT', KEYS[3], top[2])
  redis.call('PEXPIREAT', KEYS[4], top[2])
  return 1
end
if KEYS[3] and redis.call('ZCOUNT', KEYS[3], '(' .. now, '+inf') > 0 then
  return 0
end
redis.call('HSET', KEYS[1], 'lease', ARGV[1], 'owner', ARGV[2], 'fence', f, 'meta', ARGV[4], 'ttl', ARGV[5], 'byowner', ARGV[7])
if (ARGV[8] or '') ~= '' then
  redis.call('HSET', KEYS[1], 'holds', ARGV[8])
end
redis.call('PEXPIRE', KEYS[1], ARGV[6])
return 1
