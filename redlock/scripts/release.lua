-- Release a lock on one node: compare-and-DEL. Another holder's lock is
-- never touched.
-- KEYS[1] lock hash. ARGV[1] lease, or '' to match by owner: then ARGV[2]
-- is the owner, and only a lock acquired with release by owner matches.
-- ARGV[3], when not '', is an attempt's tag: only that attempt's write is
-- deleted (the cleanup of a failed attempt must not delete what a later
-- attempt with the same lease wrote).
-- ARGV[4], when not '', is the channel on which a release of a lock that
-- someone waits for (marked 'w' by acquire.lua) is announced, with ARGV[5],
-- the lock's name, as the message: waiters wake at once instead of polling.
-- Returns {owner, fence} when it deleted the lock, else nil.
local v = redis.call('HMGET', KEYS[1], 'lease', 'owner', 'fence', 'byowner', 'att', 'w')
if not v[1] then
  return false
end
if ARGV[1] ~= '' then
  if v[1] ~= ARGV[1] then
    return false
  end
elseif v[2] ~= ARGV[2] or v[4] ~= '1' then
  return false
end
local att = ARGV[3] or ''
if att ~= '' and v[5] ~= att then
  return false
end
redis.call('DEL', KEYS[1])
if v[6] == '1' and (ARGV[4] or '') ~= '' then
  redis.call('PUBLISH', ARGV[4], ARGV[5])
end
return {v[2] or '', tonumber(v[3]) or 0}
