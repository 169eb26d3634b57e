-- Release a lease on one node: compare-and-DEL. Another owner's lock is
-- never touched.
-- KEYS[1] lock hash. ARGV[1] lease.
-- Returns 1 when it deleted the lock, else 0.
if redis.call('HGET', KEYS[1], 'lease') == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
