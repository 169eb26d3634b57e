-- After an extend confirmed a lease on a quorum, write it back on a node
-- that answered without it (a node restarted empty, say), so one more
-- outage does not lose a live lease. Never overwrites another lease.
-- KEYS[1] lock hash, KEYS[2] the node's fence counter.
-- ARGV[1] lease, ARGV[2] owner, ARGV[3] fence, ARGV[4] metadata,
-- ARGV[5] ttl in ms (the lease's), ARGV[6] remaining ms, ARGV[7] '1' when
-- the owner label may release the lock, ARGV[8] a reentrant lease's holds
-- ('' for another lease; their attempt tags are not written back, so no
-- cleanup removes them).
-- Returns 1 when it wrote the lease, else 0. The counter is raised to at
-- least the fence either way.
local f = tonumber(ARGV[3])
if tonumber(redis.call('GET', KEYS[2]) or '0') < f then
  redis.call('SET', KEYS[2], f)
end
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
redis.call('HSET', KEYS[1], 'lease', ARGV[1], 'owner', ARGV[2], 'fence', f, 'meta', ARGV[4], 'ttl', ARGV[5], 'byowner', ARGV[7])
if (ARGV[8] or '') ~= '' then
  redis.call('HSET', KEYS[1], 'holds', ARGV[8])
end
redis.call('PEXPIRE', KEYS[1], ARGV[6])
return 1
