-- Second round of an acquire: make the fence durable on this node and bind
-- the owner's entry to the granted lease.
-- KEYS[1] lock hash, KEYS[2] per-lock fence counter.
-- ARGV[1] lease, ARGV[2] owner, ARGV[3] fence.
-- Returns 1 when the owner holds the lock here (now under ARGV[1]), else 0.
-- Either way the counter is raised to at least the fence.
local f = tonumber(ARGV[3])
if tonumber(redis.call('GET', KEYS[2]) or '0') < f then
  redis.call('SET', KEYS[2], f)
end
if redis.call('HGET', KEYS[1], 'owner') == ARGV[2] then
  redis.call('HSET', KEYS[1], 'lease', ARGV[1], 'fence', f)
  return 1
end
return 0
