-- Release a permit on one node. Another lease's permit is never touched.
-- KEYS[1] semaphore hash, KEYS[2] its details hash. ARGV[1] lease. ARGV[2], when not '', is an
-- attempt's tag: only that attempt's write is deleted (the cleanup of a
-- failed attempt must not delete what a later attempt with the same lease
-- wrote). ARGV[3], when not '', is the channel on which the release is
-- announced when someone waited here ('w', see sem_acquire.lua), with
-- ARGV[4] as the message.
-- Returns {owner, fence} when it deleted the permit, else nil.
local key, dkey, id = KEYS[1], KEYS[2], ARGV[1]
local now = now_ms()
local perms = live(key, dkey, now)
local p = perms[id]
if not p or (ARGV[2] ~= '' and p.att ~= ARGV[2]) then
  settle(key, dkey, perms, now)
  return false
end
local owner = detail(key, dkey, 'o:' .. id)
local waited = redis.call('HGET', key, 'w') == '1'
drop(key, dkey, id)
perms[id] = nil
settle(key, dkey, perms, now)
if waited and ARGV[3] ~= '' then
  redis.call('PUBLISH', ARGV[3], ARGV[4])
end
return {owner, p.fence}
