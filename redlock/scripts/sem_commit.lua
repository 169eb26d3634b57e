-- Second round of a permit's acquire: make the fence durable on this node
-- and store it with the permit.
-- KEYS[1] semaphore hash, KEYS[2] the node's fence counter.
-- ARGV[1] lease, ARGV[2] fence, ARGV[3] the permit's slot.
-- Returns 1 when the lease holds that slot here, else 0. Either way the
-- counter is raised to at least the fence.
local f = tonumber(ARGV[2])
if tonumber(redis.call('GET', KEYS[2]) or '0') < f then
  redis.call('SET', KEYS[2], f)
end
local v = redis.call('HGET', KEYS[1], 'p:' .. ARGV[1])
if not v then
  return 0
end
local p = parse(v)
if p.slot ~= tonumber(ARGV[3]) or p.exp <= now_ms() then
  return 0
end
p.fence = f
put(KEYS[1], ARGV[1], p)
return 1
