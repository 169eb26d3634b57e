-- Force the release of a lock on one node, whatever its lease: an
-- operator's act (lockd.ForceReleaser).
-- KEYS[1] lock hash, KEYS[2] the lock's readers (sorted set), KEYS[3] their
-- details. ARGV[1] the channel on which releases are announced, ARGV[2]
-- the lock's name (the message).
-- Returns {owner, fence} of the writer it deleted, {owner, fence} of the
-- last reader when only readers held it, or nil when the lock was free
-- here. Waiters are woken either way something was deleted.
--#include readers
local v = redis.call('HMGET', KEYS[1], 'owner', 'fence')
local out = false
if v[1] then
  out = {v[1], tonumber(v[2]) or 0}
else
  local ms = now_ms()
  local last = redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. ms, '+inf', 'WITHSCORES')
  if #last > 0 then
    local id = last[#last - 1]
    local d = redis.call('HGET', KEYS[3], id)
    out = {'', 0}
    if d then
      local ok, r = pcall(cjson.decode, d)
      if ok and type(r) == 'table' then
        out = {r.o or '', tonumber(r.f) or 0}
      end
    end
  end
end
if not out then
  return false
end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
redis.call('PUBLISH', ARGV[1], ARGV[2])
return out
