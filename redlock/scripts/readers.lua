-- Included (--#include readers) by the scripts that look at a lock's
-- readers (see read_acquire.lua), and by the semaphore scripts for the
-- clock: one definition of each.

-- now_ms is the node's clock (TIME) in ms: expiries of readers and
-- permits are kept on it.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- prune_readers drops the read leases of the sorted set readers (scored by
-- expiry) that expired by now, with their details in the hash details. It
-- writes only when one expired: Redis checks a full node (noeviction)
-- only before a script's first write, so a write that is not needed would
-- let a grant after it past a full node.
local function prune_readers(readers, details, now)
  local expired = redis.call('ZRANGEBYSCORE', readers, '-inf', now)
  if #expired > 0 then
    for _, id in ipairs(expired) do
      redis.call('HDEL', details, id)
    end
    redis.call('ZREMRANGEBYSCORE', readers, '-inf', now)
  end
end
