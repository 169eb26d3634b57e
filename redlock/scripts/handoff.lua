-- Release a lock and grant it to the next in this engine's line, in one
-- call on one node (a hand-off): release.lua, then acquire.lua for the
-- waiter, with their own arguments.
-- KEYS: acquire.lua's (lock hash, fence counter, readers, reader details,
-- writer mark); release.lua gets KEYS[1], KEYS[3] and KEYS[4].
-- ARGV[1..6] release.lua's (lease, owner, attempt, channel, name, hold),
-- ARGV[7] this engine's id, ARGV[8..19] acquire.lua's twelve.
-- A waiter at another engine that the holder refused marked the lock
-- ('w', with 'wi' not this engine's id, see acquire.lua): then this node
-- does a plain release, announced on the channel as release.lua does, and
-- the waiter here is not tried, so the lines of every engine race for the
-- lock as they would without hand-offs. A read lease (no lock hash here)
-- is released the plain way too, and the waiter tried after it.
-- Returns {release.lua's reply, acquire.lua's reply}, or {release.lua's
-- reply, {5}} when the waiter was not tried. When the waiter's attempt
-- fails on this node, its part is that error, and the release's part
-- still says what the release did: a full node (noeviction) refuses the
-- attempt's first write when the release wrote nothing (a lease that
-- holds nothing any more), and the release must not be reported failed.
local function release(KEYS, ARGV)
--#include release
end
local function acquire(KEYS, ARGV)
--#include acquire
end
local relKeys = {KEYS[1], KEYS[3], KEYS[4]}
local relArgs = {ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]}
local acqArgs = {}
for i = 8, 19 do
  acqArgs[#acqArgs + 1] = ARGV[i]
end
local cur = redis.call('HMGET', KEYS[1], 'lease', 'w', 'wi')
if cur[1] and cur[2] and cur[3] ~= ARGV[7] then
  return {release(relKeys, relArgs), {5}}
end
if cur[1] then
  relArgs[4] = '' -- handed on, or still held: nothing to announce
end
local rel = release(relKeys, relArgs)
local ok, acq = pcall(acquire, KEYS, acqArgs)
if not ok then
  if type(acq) ~= 'table' or not acq.err then
    acq = redis.error_reply(tostring(acq))
  end
end
return {rel, acq}
