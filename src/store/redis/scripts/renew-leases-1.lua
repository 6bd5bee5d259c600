#!lua flags=allow-oom
-- renew-leases: extends the leases still held by the given tokens. A task that is due (RUNNING)
-- becomes due at the new lease end; a paused one keeps its lease but stays out of the index.
-- KEYS[1] due index (db 1)
-- ARGV[1] new lease end; ARGV[2] key prefix; ARGV[3 ..] id, token pairs
-- Returns how many leases were renewed.
-- allow-oom: a renewal runs while Redis is at maxmemory and refuses other writes. It rewrites fields
-- that exist with values of the same size, so it takes no memory, and it keeps the lease of an
-- attempt whose outcome waits for memory to be freed: the task is not sent again meanwhile.
redis.call('SELECT', 1)
local renewed = 0
for i = 3, #ARGV, 2 do
  local id, token = ARGV[i], ARGV[i + 1]
  local key = ARGV[2] .. 'task:' .. id
  if redis.call('HGET', key, 'leaseToken') == token then
    redis.call('HSET', key, 'leaseUntil', ARGV[1])
    redis.call('HINCRBY', key, 'version', 1)
    if redis.call('ZSCORE', KEYS[1], id) then redis.call('ZADD', KEYS[1], tonumber(ARGV[1]), id) end
    renewed = renewed + 1
  end
end
return renewed
