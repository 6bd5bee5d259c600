-- read-flows: a project's flow keys with their limits and use (core/flow.ts): one key, or all of
-- them (<prefix>flows:<project>, by key).
-- ARGV: key prefix; now; project id; flow key, or '' for all.
-- Returns, per key: key, rateLimit, ratePeriodMs, parallelism, ordered, paused, in flight (leases
-- that have not ended), waiting.
local prefix, now, project, only = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4]
redis.call('SELECT', 1)
local keys = only ~= '' and { only } or redis.call('ZRANGE', prefix .. 'flows:' .. project, 0, -1)
local result = {}
for _, flowKey in ipairs(keys) do
  local key = prefix .. 'flow:' .. project .. ':' .. flowKey
  local s = redis.call('HMGET', key, 'rateLimit', 'ratePeriodMs', 'parallelism', 'ordered', 'paused')
  if s[5] then
    local inFlight = 0
    for _, id in ipairs(redis.call('ZRANGE', key .. ':running', 0, -1)) do
      local v = redis.call('HMGET', prefix .. 'task:' .. id, 'leaseToken', 'leaseUntil')
      if v[1] and v[1] ~= '' and (tonumber(v[2]) or 0) > now then inFlight = inFlight + 1 end
    end
    for _, value in ipairs({ flowKey, s[1], s[2], s[3], s[4], s[5], inFlight, redis.call('ZCARD', key .. ':waiting') }) do
      result[#result + 1] = value
    end
  end
end
return result
