-- Extend a lease on one node: compare-and-PEXPIRE.
-- KEYS[1] lock hash. ARGV[1] lease, ARGV[2] ttl in ms.
-- Returns {owner, fence, metadata} when the lease holds the lock here, else nil.
if redis.call('HGET', KEYS[1], 'lease') == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  local v = redis.call('HMGET', KEYS[1], 'owner', 'fence', 'meta')
  return {v[1], tonumber(v[2]) or 0, v[3] or ''}
end
return false
