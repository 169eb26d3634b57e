-- Shared by the semaphore scripts: the engine puts it before each one.
-- A semaphore is two hashes per node. The permits hash (key):
--   limit      the limit its live permits were granted under
--   w          '1' once an acquire waited here: releases are announced
--   p:<lease>  '<slot>:<fence>:<expiry>:<ttl>:<attempt>': the lease holds
--              slot <slot>, in [0, limit), until <expiry>, in ms of this
--              node's clock (TIME); the ttl in ms
-- and the details hash (dkey), read only for the permits a script names:
--   o:<lease>  the owner
--   m:<lease>  the metadata ('' for none, up to 4 KiB)
-- Every script reads the whole permits hash (live), so the details stay
-- out of it: with them, a semaphore of 1024 permits with metadata made
-- every call read megabytes. (Permits written before the details had a
-- hash of their own keep o: and m: in the permits hash; detail reads
-- them there, and drop deletes them.)
-- Expired permits are dropped by the first script that finds them, and
-- both hashes expire with the last permit, the limit with them.

--#include readers

local function parse(v)
  local slot, fence, exp, ttl, att = string.match(v, '^(%d+):(%d+):(%d+):(%d+):(.*)$')
  return {slot = tonumber(slot), fence = tonumber(fence), exp = tonumber(exp), ttl = tonumber(ttl), att = att}
end

local function put(key, id, p)
  redis.call('HSET', key, 'p:' .. id, string.format('%d:%d:%d:%d:%s', p.slot, p.fence, p.exp, p.ttl, p.att))
end

-- detail returns field ('o:<lease>' or 'm:<lease>') of a permit, '' when
-- there is none.
local function detail(key, dkey, field)
  return redis.call('HGET', dkey, field) or redis.call('HGET', key, field) or ''
end

-- drop deletes a permit, and so frees its slot.
local function drop(key, dkey, id)
  redis.call('HDEL', key, 'p:' .. id, 'o:' .. id, 'm:' .. id)
  redis.call('HDEL', dkey, 'o:' .. id, 'm:' .. id)
end

-- live drops the expired permits and returns the live ones by lease, and
-- how many there are.
local function live(key, dkey, now)
  local all = redis.call('HGETALL', key)
  local out, n = {}, 0
  for i = 1, #all, 2 do
    if string.sub(all[i], 1, 2) == 'p:' then
      local id = string.sub(all[i], 3)
      local p = parse(all[i + 1])
      if p.exp <= now then
        drop(key, dkey, id)
      else
        out[id] = p
        n = n + 1
      end
    end
  end
  return out, n
end

-- settle makes both hashes expire with the last of perms, or deletes them
-- when none is left.
local function settle(key, dkey, perms, now)
  local last = 0
  for _, p in pairs(perms) do
    if p.exp > last then
      last = p.exp
    end
  end
  if last <= now then
    redis.call('DEL', key, dkey)
  else
    redis.call('PEXPIRE', key, last - now)
    redis.call('PEXPIRE', dkey, last - now)
  end
end
