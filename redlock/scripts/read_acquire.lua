-- Acquire a read lease on one node. Readers of a lock live beside its lock
-- hash (the writer's, acquire.lua), never with it: KEYS[3] is a sorted set
-- of the read leases scored by expiry (ms, the node's clock, redis TIME),
-- KEYS[4] a hash of each read lease's details as JSON {o owner, f fence,
-- t ttl, m metadata, a attempt tag} (and 'w' = '1' once a writer waits for
-- the readers, so that the last reader's release is announced), KEYS[5]
-- the writer-waiting mark: a string that a writer refused because of the
-- readers sets with a short expiry ('2' once a reader waits behind it).
-- Expired readers are pruned first, and both reader keys expire with the
-- last reader.
-- KEYS[1] lock hash, KEYS[2] the node's fence counter.
-- ARGV[1] lease, ARGV[2] owner, ARGV[3] ttl in ms, ARGV[4] metadata ('' for
-- none), ARGV[5] '1' when fences are minted elsewhere, ARGV[6] the
-- attempt's tag, ARGV[7] '1' when the caller waits.
-- Returns {2, counter, 0} for a new read lease (counter incremented: its
-- provisional fence, unless minted elsewhere); {1, fence, counter,
-- metadata, 0} when this lease already reads here (a retry: TTL refreshed,
-- tagged with this attempt); {0, owner, pttl} when a writer holds the lock;
-- {3, 'mode'} when this lease holds it as the writer; {4, pttl} when a
-- writer waits for the readers (the mark's remaining ms).
--#include readers
local now = now_ms()
local cur = redis.call('HMGET', KEYS[1], 'lease', 'owner')
if cur[1] then
  if cur[1] == ARGV[1] then
    return {3, 'mode'}
  end
  if ARGV[7] == '1' then
    redis.pcall('HSET', KEYS[1], 'w', '1', 'wi', '*') -- any engine's reader: no hand-off
  end
  return {0, cur[2], redis.call('PTTL', KEYS[1])}
end
prune_readers(KEYS[3], KEYS[4], now)
local exp = now + tonumber(ARGV[3])
local function settle()
  local top = redis.call('ZRANGE', KEYS[3], -1, -1, 'WITHSCORES')
  redis.call('PEXPIREAT', KEYS[3], top[2])
  redis.call('PEXPIREAT', KEYS[4], top[2])
end
local d = redis.call('HGET', KEYS[4], ARGV[1])
if d then
  d = cjson.decode(d)
  d.t, d.a = ARGV[3], ARGV[6]
  if ARGV[4] ~= '' then
    d.m = ARGV[4]
  end
  redis.call('HSET', KEYS[4], ARGV[1], cjson.encode(d))
  redis.call('ZADD', KEYS[3], exp, ARGV[1])
  settle()
  return {1, tonumber(d.f) or 0, tonumber(redis.call('GET', KEYS[2]) or '0'), d.m, 0}
end
local ww = redis.call('GET', KEYS[5])
if ww then
  if ARGV[7] == '1' and ww ~= '2' then
    redis.call('SET', KEYS[5], '2', 'KEEPTTL')
  end
  return {4, redis.call('PTTL', KEYS[5])}
end
local c = redis.call('INCR', KEYS[2])
local f = c
if ARGV[5] == '1' then
  f = 0
end
redis.call('HSET', KEYS[4], ARGV[1], cjson.encode({o = ARGV[2], f = tostring(f), t = ARGV[3], m = ARGV[4], a = ARGV[6]}))
redis.call('ZADD', KEYS[3], exp, ARGV[1])
settle()
return {2, c, 0}
