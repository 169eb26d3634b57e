-- Acquire a lock on one node.
-- KEYS[1] lock hash, KEYS[2] the node's fence counter (one for every lock).
-- ARGV[1] lease, ARGV[2] owner, ARGV[3] ttl in ms, ARGV[4] metadata ('' for
-- none), ARGV[5] '1' when the owner label may release the lock, ARGV[6] '1'
-- when fences are minted elsewhere (a store), so the counter is not one,
-- ARGV[7] the attempt's tag (see release.lua), ARGV[8] '1' when the caller
-- waits: a refusal then marks the lock ('w'), so that its release wakes
-- the waiters (see release.lua); ARGV[9] '1' when others wait behind the
-- caller: a grant then marks the lock it makes; ARGV[10] the hold of a
-- reentrant acquire, '' for a lease that is not reentrant; ARGV[11] how
-- long (ms) a caller that waits marks the lock as waited for by a writer
-- when readers refuse it ('' or '0': no mark); ARGV[12] the calling
-- engine's id: a mark 'w' keeps in 'wi' which engine made it, or '*' once
-- two engines did (handoff.lua hands a lock on only within the one engine
-- that waits for it).
-- KEYS[3], KEYS[4], KEYS[5]: the lock's readers, their details and the
-- writer-waiting mark (see read_acquire.lua). A lock free of a writer is
-- still refused while readers hold it; the check costs one EXISTS when
-- no reader ever held it.
-- A reentrant lease keeps its holds, oldest first, space-separated in
-- 'holds', and the tag of the attempt that last wrote each hold in
-- 'a:<hold>' (instead of 'att'), so that the cleanup of a failed attempt
-- removes only its own hold.
-- Returns {2, counter, holds} when the lock was free: it is now ours, and
-- the counter was incremented (our provisional fence, stored with the lease
-- unless fences are minted elsewhere);
-- {1, fence, counter, metadata, holds} when this lease already holds it (a
-- retried acquire, or one more hold): its TTL is refreshed, its metadata
-- replaced when ARGV[4] is not '', the hold added unless it is there
-- already, and the entry (or the hold) tagged with this attempt;
-- {0, owner, pttl} when another lease holds it;
-- {3, field} when this lease holds it but under other terms: field
-- 'reentrant' when it is reentrant and the acquire is not, or the other
-- way round; 'mode' when it holds a read lease. Nothing is written.
--#include readers
local hold = ARGV[10] or ''
local cur = redis.call('HMGET', KEYS[1], 'lease', 'owner', 'fence', 'meta', 'holds', 'w', 'wi')
-- The mark of a caller that others wait behind, or that waits: 'wi' names
-- its engine unless another engine marked the lock already.
local function wi()
  if cur[6] and cur[7] ~= ARGV[12] then
    return '*'
  end
  return ARGV[12] or '*'
end
if cur[1] then
  if cur[1] == ARGV[1] then
    if (hold ~= '') ~= (cur[5] ~= false) then
      return {3, 'reentrant'}
    end
    redis.call('PEXPIRE', KEYS[1], ARGV[3])
    local meta = cur[4] or ''
    if ARGV[4] ~= '' then
      meta = ARGV[4]
    end
    local n = 0
    if hold == '' then
      redis.call('HSET', KEYS[1], 'ttl', ARGV[3], 'meta', meta, 'att', ARGV[7])
    else
      local holds = cur[5]
      if not string.find(' ' .. holds .. ' ', ' ' .. hold .. ' ', 1, true) then
        holds = holds .. ' ' .. hold
      end
      redis.call('HSET', KEYS[1], 'ttl', ARGV[3], 'meta', meta, 'holds', holds, 'a:' .. hold, ARGV[7])
      n = select(2, string.gsub(holds, '%S+', ''))
    end
    if ARGV[9] == '1' then
      redis.call('HSET', KEYS[1], 'w', '1', 'wi', wi())
    end
    return {1, tonumber(cur[3]) or 0, tonumber(redis.call('GET', KEYS[2]) or '0'), meta, n}
  end
  if ARGV[8] == '1' then
    -- Only a hint: on a full node (noeviction) the write is refused, and
    -- the refusal must still say who holds the lock.
    redis.pcall('HSET', KEYS[1], 'w', '1', 'wi', wi())
  end
  return {0, cur[2], redis.call('PTTL', KEYS[1])}
end
if KEYS[3] and redis.call('EXISTS', KEYS[3]) == 1 then
  local now = now_ms()
  prune_readers(KEYS[3], KEYS[4], now)
  local last = redis.call('ZRANGE', KEYS[3], -1, -1, 'WITHSCORES')
  if last[1] then
    if redis.call('HEXISTS', KEYS[4], ARGV[1]) == 1 then
      return {3, 'mode'}
    end
    local ms = tonumber(ARGV[11] or '') or 0
    if ARGV[8] == '1' and ms > 0 then
      -- Hints, like 'w' above: a full node must still refuse.
      redis.pcall('HSET', KEYS[4], 'w', '1')
      redis.pcall('SET', KEYS[5], redis.call('GET', KEYS[5]) or '1', 'PX', ms)
    end
    local d = cjson.decode(redis.call('HGET', KEYS[4], last[1]))
    return {0, d.o, tonumber(last[2]) - now}
  end
end
local c = redis.call('INCR', KEYS[2])
local f = c
if ARGV[6] == '1' then
  f = 0
end
redis.call('HSET', KEYS[1], 'lease', ARGV[1], 'owner', ARGV[2], 'fence', f, 'ttl', ARGV[3], 'meta', ARGV[4], 'byowner', ARGV[5])
local n = 0
if hold == '' then
  redis.call('HSET', KEYS[1], 'att', ARGV[7])
else
  redis.call('HSET', KEYS[1], 'holds', hold, 'a:' .. hold, ARGV[7])
  n = 1
end
if ARGV[9] == '1' then
  redis.call('HSET', KEYS[1], 'w', '1', 'wi', ARGV[12] or '*')
end
if KEYS[5] then
  -- Granted: this writer waits no more. Readers that waited behind its
  -- mark are woken by its release.
  local ww = redis.call('GET', KEYS[5])
  if ww then
    redis.call('DEL', KEYS[5])
    if ww == '2' then
      -- Readers (at any engine) wait behind this writer.
      redis.call('HSET', KEYS[1], 'w', '1', 'wi', '*')
    end
  end
end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {2, c, n}
