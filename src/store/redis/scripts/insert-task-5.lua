-- insert-task: stores a new task, its configuration and first timeline entries, and counts it
-- against its project's queue limit, all or nothing.
-- KEYS[1] project key  (db 0)  KEYS[2] task key (db 1)  KEYS[3] due index (db 1, sorted set)
-- KEYS[4] config key   (db 2)  KEYS[5] timeline key (db 3, list)
-- ARGV[1] queue limit; ARGV[2] 1 when the task counts as active; ARGV[3] due time or ''
-- ARGV[4] task id; ARGV[5] config JSON; ARGV[6] wake-up channel; ARGV[7] number of timeline entries n
-- ARGV[8 .. 7+n] timeline entries (JSON); ARGV[8+n ..] field, value pairs of the task hash
-- Returns 1 when stored, -1 when the project's queue is full, -2 when the project does not exist,
-- -3 when a task with this id exists.
redis.call('SELECT', 1)
if redis.call('EXISTS', KEYS[2]) == 1 then return -3 end
redis.call('SELECT', 0)
if redis.call('EXISTS', KEYS[1]) == 0 then return -2 end
if ARGV[2] == '1' then
  local active = tonumber(redis.call('HGET', KEYS[1], 'active') or '0')
  if active >= tonumber(ARGV[1]) then return -1 end
  redis.call('HINCRBY', KEYS[1], 'active', 1)
end
redis.call('SELECT', 1)
local n = tonumber(ARGV[7])
local fields = {}
for i = 8 + n, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[2], unpack(fields))
if ARGV[3] ~= '' then
  local due = tonumber(ARGV[3])
  local first = redis.call('ZRANGE', KEYS[3], 0, 0, 'WITHSCORES')
  redis.call('ZADD', KEYS[3], due, ARGV[4])
  -- Wake the dispatchers only when this is now the earliest due time: they already wait for any later one.
  if first[2] == nil or due < tonumber(first[2]) then redis.call('PUBLISH', ARGV[6], ARGV[3]) end
end
redis.call('SELECT', 2)
redis.call('SET', KEYS[4], ARGV[5])
redis.call('SELECT', 3)
for i = 8, 7 + n do redis.call('RPUSH', KEYS[5], ARGV[i]) end
return 1
