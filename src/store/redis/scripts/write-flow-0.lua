-- write-flow: changes a flow key's limits (core/flow.ts), kept in <prefix>flow:<project>:<key> (db 1,
-- a hash with every field written: rateLimit, ratePeriodMs, parallelism, ordered, paused; 0 none),
-- and the project's set of keys <prefix>flows:<project> (lex). A change that may give the key room
-- makes the next claim look at its waiting tasks (<prefix>flow-wake, score 0: before any claim's
-- time) and wakes the dispatchers.
-- ARGV: key prefix; wake-up channel; project id; flow key; operation; then by operation:
--   put: rate limit, rate period (ms), parallelism, ordered (0/1), most keys per project
--   pause: most keys per project; resume | delete: nothing
-- Returns 1 done; 0 refused (put: the project holds the most keys; resume, delete: no such key).
local prefix, channel, project, flowKey, op = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
redis.call('SELECT', 1)
local group = project .. ':' .. flowKey
local key = prefix .. 'flow:' .. group
local keys = prefix .. 'flows:' .. project
local wakeKey = prefix .. 'flow-wake'
local exists = redis.call('EXISTS', key) == 1
local function wake()
  if redis.call('EXISTS', key .. ':waiting') == 1 then
    redis.call('ZADD', wakeKey, 0, group)
    redis.call('PUBLISH', channel, '0')
  end
end
if op == 'put' then
  if not exists and redis.call('ZCARD', keys) >= tonumber(ARGV[10]) then return 0 end
  redis.call('HSET', key, 'rateLimit', ARGV[6], 'ratePeriodMs', ARGV[7], 'parallelism', ARGV[8], 'ordered', ARGV[9])
  if not exists then redis.call('HSET', key, 'paused', '0') end
  redis.call('ZADD', keys, 0, flowKey)
  if redis.call('HGET', key, 'paused') ~= '1' then wake() end
  return 1
elseif op == 'pause' then
  if not exists then
    if redis.call('ZCARD', keys) >= tonumber(ARGV[6]) then return 0 end
    redis.call('HSET', key, 'rateLimit', '0', 'ratePeriodMs', '0', 'parallelism', '0', 'ordered', '0')
  end
  redis.call('HSET', key, 'paused', '1')
  redis.call('ZADD', keys, 0, flowKey)
  redis.call('ZREM', wakeKey, group)
  return 1
elseif op == 'resume' then
  if not exists then return 0 end
  redis.call('HSET', key, 'paused', '0')
  wake()
  return 1
elseif op == 'delete' then
  if not exists then return 0 end
  redis.call('DEL', key, key .. ':starts')
  redis.call('ZREM', keys, flowKey)
  wake()
  return 1
end
return redis.error_reply('unknown operation ' .. tostring(op))
