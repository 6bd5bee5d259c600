-- release-leases: drops every lease (only after no server ran, so every holder is dead); RUNNING
-- tasks become due at their execution time again.
-- KEYS[1] due index (db 1)  KEYS[2] leased set (db 1)
-- ARGV[1] key prefix; ARGV[2] wake-up channel
-- Returns how many leases were released.
redis.call('SELECT', 1)
local released = 0
for _, id in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  local key = ARGV[1] .. 'task:' .. id
  local state = redis.call('HGET', key, 'state')
  if state then
    redis.call('HSET', key, 'leaseToken', '', 'leaseUntil', '')
    redis.call('HINCRBY', key, 'version', 1)
    if state == 'RUNNING' then
      redis.call('ZADD', KEYS[1], tonumber(redis.call('HGET', key, 'execAt')), id)
    end
    released = released + 1
  end
  redis.call('SREM', KEYS[2], id)
end
if released > 0 then
  local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  if first[2] then redis.call('PUBLISH', ARGV[2], first[2]) end
end
return released
