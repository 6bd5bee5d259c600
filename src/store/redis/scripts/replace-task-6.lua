-- replace-task: compare-and-set of a task. Writes the new fields, moves it in the due index,
-- adjusts the project's active count, appends timeline entries and, when it has finished, sets
-- the retention expiry on its three keys; only if its version is still the expected one.
-- KEYS[1] project key (db 0)  KEYS[2] task key (db 1)  KEYS[3] due index (db 1)
-- KEYS[4] leased set (db 1)   KEYS[5] config key (db 2) KEYS[6] timeline key (db 3)
-- ARGV[1] expected version; ARGV[2] active count delta (-1, 0, 1); ARGV[3] due time or ''
-- ARGV[4] 1 when the task holds a lease; ARGV[5] expiry in seconds or '' (still active)
-- ARGV[6] task id; ARGV[7] wake-up channel; ARGV[8] number of timeline entries n
-- ARGV[9 .. 8+n] entries (JSON); ARGV[9+n ..] field, value pairs of the task hash that changed (maybe none)
-- Returns 1 when written, 0 when the version changed or the task is gone.
redis.call('SELECT', 1)
if redis.call('HGET', KEYS[2], 'version') ~= ARGV[1] then return 0 end
local n = tonumber(ARGV[8])
local fields = {}
for i = 9 + n, #ARGV do fields[#fields + 1] = ARGV[i] end
if #fields > 0 then redis.call('HSET', KEYS[2], unpack(fields)) end
redis.call('HINCRBY', KEYS[2], 'version', 1)
if ARGV[3] == '' then
  redis.call('ZREM', KEYS[3], ARGV[6])
else
  local due = tonumber(ARGV[3])
  local first = redis.call('ZRANGE', KEYS[3], 0, 0, 'WITHSCORES')
  redis.call('ZADD', KEYS[3], due, ARGV[6])
  -- Wake the dispatchers only when this is now the earliest due time: they already wait for any later one.
  if first[2] == nil or due < tonumber(first[2]) then redis.call('PUBLISH', ARGV[7], ARGV[3]) end
end
if ARGV[4] == '1' then redis.call('SADD', KEYS[4], ARGV[6]) else redis.call('SREM', KEYS[4], ARGV[6]) end
if ARGV[5] ~= '' then redis.call('EXPIRE', KEYS[2], ARGV[5]) end
if ARGV[2] ~= '0' then
  redis.call('SELECT', 0)
  redis.call('HINCRBY', KEYS[1], 'active', tonumber(ARGV[2]))
end
redis.call('SELECT', 2)
if ARGV[5] ~= '' then redis.call('EXPIRE', KEYS[5], ARGV[5]) end
redis.call('SELECT', 3)
for i = 9, 8 + n do redis.call('RPUSH', KEYS[6], ARGV[i]) end
if ARGV[5] ~= '' then redis.call('EXPIRE', KEYS[6], ARGV[5]) end
return 1
