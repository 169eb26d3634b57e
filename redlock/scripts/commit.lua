-- Second round of an acquire: make the fence durable on this node and
-- store it with the granted lease.
-- KEYS[1] lock hash, KEYS[2] the node's fence counter, KEYS[3] (optional)
-- the lock's reader details (see read_acquire.lua), for a read lease.
-- ARGV[1] lease, ARGV[2] fence.
-- Returns 1 when the lease holds the lock here, else 0. Either way the
-- counter is raised to at least the fence.
local f = tonumber(ARGV[2])
if tonumber(redis.call('GET', KEYS[2]) or '0') < f then
  redis.call('SET', KEYS[2], f)
end
if redis.call('HGET', KEYS[1], 'lease') == ARGV[1] then
  redis.call('HSET', KEYS[1], 'fence', f)
  return 1
end
if KEYS[3] then
  local d = redis.call('HGET', KEYS[3], ARGV[1])
  if d then
    d = cjson.decode(d)
    d.f = tostring(f)
    redis.call('HSET', KEYS[3], ARGV[1], cjson.encode(d))
    return 1
  end
end
return 0
