-- Shared by the semaphore scripts: the engine puts it before each one.
-- A semaphore is one hash per node:
--   limit      the limit its live permits were granted under
--   w          '1' once an acquire waited here: releases are announced
--   p:<lease>  '<slot>:<fence>:<expiry>:<ttl>:<attempt>': the lease holds
--              slot <slot>, in [0, limit), until <expiry>, in ms of this
--              node's clock (TIME); the ttl in ms
--   o:<lease>  the owner
--   m:<lease>  the metadata ('' for none)
-- Expired permits are dropped by the first script that finds them, and the
-- hash expires with its last permit, its limit with it.

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function parse(v)
  local slot, fence, exp, ttl, att = string.match(v, '^(%d+):(%d+):(%d+):(%d+):(.*)$')
  return {slot = tonumber(slot), fence = tonumber(fence), exp = tonumber(exp), ttl = tonumber(ttl), att = att}
end

local function put(key, id, p)
  redis.call('HSET', key, 'p:' .. id, string.format('%d:%d:%d:%d:%s', p.slot, p.fence, p.exp, p.ttl, p.att))
end

-- drop deletes a permit, and so frees its slot.
local function drop(key, id)
  redis.call('HDEL', key, 'p:' .. id, 'o:' .. id, 'm:' .. id)
end

-- live drops the expired permits and returns the live ones by lease, and
-- how many there are.
local function live(key, now)
  local all = redis.call('HGETALL', key)
  local out, n = {}, 0
  for i = 1, #all, 2 do
    if string.sub(all[i], 1, 2) == 'p:' then
      local id = string.sub(all[i], 3)
      local p = parse(all[i + 1])
      if p.exp <= now then
        drop(key, id)
      else
        out[id] = p
        n = n + 1
      end
    end
  end
  return out, n
end

-- settle makes the hash expire with the last of perms, or deletes it when
-- none is left.
local function settle(key, perms, now)
  local last = 0
  for _, p in pairs(perms) do
    if p.exp > last then
      last = p.exp
    end
  end
  if last <= now then
    redis.call('DEL', key)
  else
    redis.call('PEXPIRE', key, last - now)
  end
end
