-- Read a semaphore on one node.
-- KEYS[1] semaphore hash, KEYS[2] its details hash.
-- Returns {limit, then for each live permit: lease, owner, fence,
-- metadata, pttl, slot}; limit is 0 when no permit is live. Leases only
-- tell permits apart inside the engine; they never leave it.
local key, dkey = KEYS[1], KEYS[2]
local now = now_ms()
local perms, n = live(key, dkey, now)
settle(key, dkey, perms, now)
local out = {0}
if n > 0 then
  out[1] = tonumber(redis.call('HGET', key, 'limit') or '0')
end
for id, p in pairs(perms) do
  local i = #out
  out[i + 1] = id
  out[i + 2] = detail(key, dkey, 'o:' .. id)
  out[i + 3] = p.fence
  out[i + 4] = detail(key, dkey, 'm:' .. id)
  out[i + 5] = p.exp - now
  out[i + 6] = p.slot
end
return out
