-- After an extend confirmed a permit on a quorum, write it back on a node
-- that answered without it (a node restarted empty, say), so one more
-- outage does not lose a live permit. Only into a free slot under the same
-- limit: never over another permit. The permit holds its slot on a quorum,
-- so no other live permit can hold that slot on a quorum.
-- KEYS[1] semaphore hash, KEYS[2] the node's fence counter, KEYS[3] the
-- semaphore's details hash.
-- ARGV[1] lease, ARGV[2] owner, ARGV[3] fence, ARGV[4] metadata, ARGV[5]
-- ttl in ms (the permit's), ARGV[6] remaining ms, ARGV[7] limit, ARGV[8]
-- slot. No attempt tag is written, so no failed attempt's cleanup
-- removes it.
-- Returns 1 when it wrote the permit, else 0. The counter is raised to at
-- least the fence either way.
local f = tonumber(ARGV[3])
if tonumber(redis.call('GET', KEYS[2]) or '0') < f then
  redis.call('SET', KEYS[2], f)
end
local key, dkey, id = KEYS[1], KEYS[3], ARGV[1]
local limit, slot = tonumber(ARGV[7]), tonumber(ARGV[8])
local now = now_ms()
local perms, n = live(key, dkey, now)
if perms[id] or n > 0 and tonumber(redis.call('HGET', key, 'limit') or '0') ~= limit then
  return 0
end
for _, p in pairs(perms) do
  if p.slot == slot then
    return 0
  end
end
local p = {slot = slot, fence = f, exp = now + tonumber(ARGV[6]), ttl = tonumber(ARGV[5]), att = ''}
perms[id] = p
redis.call('HSET', key, 'limit', limit)
redis.call('HSET', dkey, 'o:' .. id, ARGV[2], 'm:' .. id, ARGV[4])
put(key, id, p)
settle(key, dkey, perms, now)
return 1
