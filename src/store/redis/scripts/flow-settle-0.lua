-- flow-settle: after a write that may have given up a lease of a task with a flow key (an outcome,
-- a release, a pause, a delete): the task leaves its key's :running set unless it still holds a
-- lease, and its :active set once it is no longer active; when tasks of the key wait and the key is
-- not paused, the next claim looks at it (<prefix>flow-wake, score 0: before any claim's time) and
-- the dispatchers are woken. Sent in the
-- same turn as the write it follows (claim-due-3.lua heals what a lost call would leave).
-- ARGV: key prefix; wake-up channel; then (project id, flow key, task id) triples.
-- Returns how many keys were woken.
local prefix, channel = ARGV[1], ARGV[2]
redis.call('SELECT', 1)
local woken = 0
for i = 3, #ARGV, 3 do
  local group = ARGV[i] .. ':' .. ARGV[i + 1]
  local id = ARGV[i + 2]
  local key = prefix .. 'flow:' .. group
  local v = redis.call('HMGET', prefix .. 'task:' .. id, 'leaseToken', 'state')
  if not v[1] or v[1] == '' then redis.call('ZREM', key .. ':running', id) end
  if v[2] ~= 'RUNNING' and v[2] ~= 'PAUSED' then redis.call('ZREM', key .. ':active', id) end
  if redis.call('HGET', key, 'paused') ~= '1' and redis.call('EXISTS', key .. ':waiting') == 1 then
    redis.call('ZADD', prefix .. 'flow-wake', 0, group)
    woken = woken + 1
  end
end
if woken > 0 then redis.call('PUBLISH', channel, '0') end
return woken
