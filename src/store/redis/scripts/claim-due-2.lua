-- claim-due: claims up to `limit` tasks due at `now`, earliest first. Each gets the lease token and
-- is due again when the lease ends (should its holder vanish); the task hashes and configurations
-- are returned so the dispatcher needs no second round trip.
-- KEYS[1] due index (db 1)  KEYS[2] leased set (db 1)
-- ARGV[1] now; ARGV[2] limit; ARGV[3] lease token; ARGV[4] lease end; ARGV[5] key prefix
-- Task and config keys are derived from the ids in the index: <prefix>task:<id> (db 1) and
-- <prefix>config:<id> (db 2).
-- Returns three strings per claimed task: its fields' values in the order of FIELDS joined by '\n'
-- (the sealed request's place left empty, a missing field ''), its sealed request, its config JSON.
-- No joined value holds a newline: ids, numbers, states and lease tokens are the server's own.
-- FIELDS must match TASK_FIELDS in codec.ts. Not a nested array of 18: the client decodes each
-- element of a reply on its own, which cost it ~5 µs per task more. Not one string with the
-- request and config joined in too: that made a ~1.6 KB Lua string per task, and the timing
-- scenario on Redis had its clusters of late deliveries every ~3 s instead of every ~7-8 s (p99
-- 5-21 ms against 5-12 in interleaved runs); with only the short values joined, every ~7 s again.
-- (The likely cause: Redis's Lua collects its garbage in steps between scripts, and a step has
-- more to do the more garbage each script leaves.)
local FIELDS = { 'id', 'projectId', 'startAt', 'request', 'state', 'statusCode', 'execAt', 'endAt', 'retrying',
  'repeating', 'retryCount', 'repeatCount', 'attempts', 'pausedLeft', 'leaseToken', 'leaseUntil', 'version' }
local LEASE_TOKEN, LEASE_UNTIL, VERSION = 15, 16, 17
redis.call('SELECT', 1)
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
local configs = {}
for _, id in ipairs(ids) do
  local key = ARGV[5] .. 'task:' .. id
  local hash = redis.call('HMGET', key, unpack(FIELDS))
  if hash[1] then
    -- Read first, then one HSET with the next version: a command (and an AOF entry) fewer than
    -- HINCRBY, and the answer is patched here instead of read again.
    local version = string.format('%d', (tonumber(hash[VERSION]) or 0) + 1)
    redis.call('HSET', key, 'leaseToken', ARGV[3], 'leaseUntil', ARGV[4], 'version', version)
    hash[LEASE_TOKEN], hash[LEASE_UNTIL], hash[VERSION] = ARGV[3], ARGV[4], version
    redis.call('ZADD', KEYS[1], tonumber(ARGV[4]), id)
    redis.call('SADD', KEYS[2], id)
    out[#out + 1] = hash
    configs[#configs + 1] = id
  else
    -- The record expired or was deleted without leaving the index: drop the stale entry.
    redis.call('ZREM', KEYS[1], id)
  end
end
redis.call('SELECT', 2)
local REQUEST = 4
local result = {}
for i, hash in ipairs(out) do
  local request = hash[REQUEST] or ''
  hash[REQUEST] = ''
  for f = 1, #FIELDS do hash[f] = hash[f] or '' end
  result[#result + 1] = table.concat(hash, '\n')
  result[#result + 1] = request
  result[#result + 1] = redis.call('GET', ARGV[5] .. 'config:' .. configs[i]) or ''
end
return result
