-- Extend a permit on one node.
-- KEYS[1] semaphore hash. ARGV[1] lease, ARGV[2] ttl in ms ('0' keeps the
-- permit's own TTL).
-- Returns {1, owner, fence, metadata, ttl, slot, limit} when the lease
-- holds a permit here, now extended; {0} when it does not.
local key, id = KEYS[1], ARGV[1]
local now = now_ms()
local perms = live(key, now)
local p = perms[id]
if not p then
  settle(key, perms, now)
  return {0}
end
local ttl = tonumber(ARGV[2])
if ttl == 0 then
  ttl = p.ttl
end
p.exp, p.ttl = now + ttl, ttl
-- The key's expiry first: on a full node (noeviction) Redis refuses a
-- script whose first write adds data, and PEXPIRE adds none, so a permit
-- is kept on a full node as a lock is.
settle(key, perms, now)
put(key, id, p)
return {1, redis.call('HGET', key, 'o:' .. id) or '', p.fence, redis.call('HGET', key, 'm:' .. id) or '', ttl, p.slot,
  tonumber(redis.call('HGET', key, 'limit') or '0')}
