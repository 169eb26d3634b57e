-- Acquire a lock on one node.
-- KEYS[1] lock hash, KEYS[2] per-lock fence counter.
-- ARGV[1] lease, ARGV[2] owner, ARGV[3] ttl in ms, ARGV[4] metadata ('' for none).
-- Returns {2, lease, counter} when the lock was free: it is now ours and the
-- counter was incremented (the provisional fence);
-- {1, lease, fence, counter, metadata} when the same owner already holds it:
-- its TTL is refreshed (and its metadata replaced when ARGV[4] is not '') and
-- its lease and fence are returned unchanged;
-- {0, owner, pttl} when another owner holds it.
local cur = redis.call('HMGET', KEYS[1], 'lease', 'owner', 'fence', 'meta')
if cur[1] then
  if cur[2] == ARGV[2] then
    redis.call('PEXPIRE', KEYS[1], ARGV[3])
    local meta = cur[4] or ''
    if ARGV[4] ~= '' then
      redis.call('HSET', KEYS[1], 'meta', ARGV[4])
      meta = ARGV[4]
    end
    return {1, cur[1], tonumber(cur[3]) or 0, tonumber(redis.call('GET', KEYS[2]) or '0'), meta}
  end
  return {0, cur[2], redis.call('PTTL', KEYS[1])}
end
local c = redis.call('INCR', KEYS[2])
if ARGV[4] ~= '' then
  redis.call('HSET', KEYS[1], 'lease', ARGV[1], 'owner', ARGV[2], 'fence', c, 'meta', ARGV[4])
else
  redis.call('HSET', KEYS[1], 'lease', ARGV[1], 'owner', ARGV[2], 'fence', c)
end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {2, ARGV[1], c}
