-- Extend a permit on one node.
-- KEYS[1] semaphore hash, KEYS[2] its details hash. ARGV[1] lease, ARGV[2] ttl in ms ('0' keeps the
-- permit's own TTL).
-- Returns {1, owner, fence, metadata, ttl, slot, limit} when the lease
-- holds a permit here, now extended; {0} when it does not.
local key, dkey, id = KEYS[1], KEYS[2], ARGV[1]
local now = now_ms()
local perms = live(key, dkey, now)
local p = perms[id]
if not p then
  settle(key, dkey, perms, now)
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
settle(key, dkey, perms, now)
put(key, id, p)
return {1, detail(key, dkey, 'o:' .. id), p.fence, detail(key, dkey, 'm:' .. id), ttl, p.slot,
  tonumber(redis.call('HGET', key, 'limit') or '0')}
