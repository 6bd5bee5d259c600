-- release-leases: gives leases back; RUNNING tasks become due at their execution time again, at
-- once, and the dispatchers are woken. With id/token pairs, only those leases (a stopping server's
-- attempts in flight); without, every lease (only after no server ran, so every holder is dead).
-- KEYS[1] due index (db 1)  KEYS[2] leased set (db 1)
-- ARGV[1] key prefix; ARGV[2] wake-up channel; ARGV[3 ..] optional id, token pairs
-- Returns how many leases were released.
redis.call('SELECT', 1)
local targets = {}
if #ARGV > 2 then
  for i = 3, #ARGV, 2 do targets[#targets + 1] = { ARGV[i], ARGV[i + 1] } end
else
  for _, id in ipairs(redis.call('SMEMBERS', KEYS[2])) do targets[#targets + 1] = { id, false } end
end
local released = 0
local earliest = nil
for _, target in ipairs(targets) do
  local id, token = target[1], target[2]
  local key = ARGV[1] .. 'task:' .. id
  local held = redis.call('HGET', key, 'leaseToken')
  if held and held ~= '' and (token == false or held == token) then
    local state = redis.call('HGET', key, 'state')
    redis.call('HSET', key, 'leaseToken', '', 'leaseUntil', '')
    redis.call('HINCRBY', key, 'version', 1)
    if state == 'RUNNING' then
      local execAt = tonumber(redis.call('HGET', key, 'execAt'))
      redis.call('ZADD', KEYS[1], execAt, id)
      if earliest == nil or execAt < earliest then earliest = execAt end
    end
    redis.call('SREM', KEYS[2], id)
    -- No longer in flight for its flow key (claim-due-3.lua counts :running).
    local fields = redis.call('HMGET', key, 'flowKey', 'projectId')
    if fields[1] and fields[1] ~= '' then redis.call('ZREM', ARGV[1] .. 'flow:' .. fields[2] .. ':' .. fields[1] .. ':running', id) end
    released = released + 1
  elseif token == false then
    redis.call('SREM', KEYS[2], id)
  end
end
if earliest ~= nil then redis.call('PUBLISH', ARGV[2], string.format('%.0f', earliest)) end
return released
