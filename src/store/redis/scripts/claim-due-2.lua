-- claim-due: claims up to `limit` tasks due at `now`, earliest first. Each gets the lease token and
-- is due again when the lease ends (should its holder vanish); the tasks are returned so the
-- dispatcher needs no second round trip.
-- KEYS[1] due index (db 1)  KEYS[2] leased set (db 1)
-- ARGV[1] now; ARGV[2] limit; ARGV[3] lease token; ARGV[4] lease end; ARGV[5] key prefix
-- Task and config keys are derived from the ids in the index: <prefix>task:<id> (db 1) and
-- <prefix>config:<id> (db 2). FIELDS, AT and LINE come from the generated table before this.
-- Returns four values per claimed task: its id; the values of the first LINE of FIELDS joined by
-- '\n' (a missing field ''); its sealed request; its config JSON. No joined value holds a newline:
-- ids, numbers, states and lease tokens are the server's own. The short values are joined rather
-- than answered one by one because the client decodes each element of a reply on its own; the
-- sealed request and the config stay apart so that no script builds a long string per task (Lua
-- collects its garbage in steps between scripts, and a long string per task made those steps
-- long enough to be seen as late deliveries).
redis.call('SELECT', 1)
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local claimed = {}
for _, id in ipairs(ids) do
  local key = ARGV[5] .. 'task:' .. id
  local values = redis.call('HMGET', key, unpack(FIELDS))
  if values[AT.version] then
    -- Read first, then one HSET with the next version: a command (and an AOF entry) fewer than
    -- HINCRBY, and the answer is patched here instead of read again.
    local version = string.format('%d', tonumber(values[AT.version]) + 1)
    redis.call('HSET', key, 'leaseToken', ARGV[3], 'leaseUntil', ARGV[4], 'version', version)
    values[AT.leaseToken], values[AT.leaseUntil], values[AT.version] = ARGV[3], ARGV[4], version
    redis.call('ZADD', KEYS[1], tonumber(ARGV[4]), id)
    redis.call('SADD', KEYS[2], id)
    claimed[#claimed + 1] = { id = id, values = values }
  else
    -- The record expired or was deleted without leaving the index: drop the stale entry.
    redis.call('ZREM', KEYS[1], id)
  end
end
redis.call('SELECT', 2)
local result = {}
for _, task in ipairs(claimed) do
  local id, values = task.id, task.values
  local line = {}
  for f = 1, LINE do line[f] = values[f] or '' end
  result[#result + 1] = id
  result[#result + 1] = table.concat(line, '\n')
  result[#result + 1] = values[AT.request] or ''
  result[#result + 1] = redis.call('GET', ARGV[5] .. 'config:' .. id) or ''
end
return result
