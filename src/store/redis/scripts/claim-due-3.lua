-- claim-due: claims up to `limit` tasks due at `now`, earliest first. Each gets the lease token and
-- is due again when the lease ends (should its holder vanish); the tasks are returned so the
-- dispatcher needs no second round trip.
-- KEYS[1] due index (db 1)  KEYS[2] leased set (db 1)  KEYS[3] set of groups with parked tasks (db 1)
-- ARGV: now; limit; lease token; lease end; key prefix; most due tasks to read beyond those taken;
--   per-project share; per-host share (0: no shares); a list of (group, tasks held) pairs.
-- Task and config keys are derived from the ids in the index: <prefix>task:<id> (db 1) and
-- <prefix>config:<id> (db 2). FIELDS, AT, LINE, SHARE_FIELDS and SHARE_AT come from the generated
-- table before this.
--
-- Shares (task-store.ts ClaimShares): a due task whose project (group `p:<id>`) or host (`h:<tag>`)
-- the claimer holds its share of is parked: it leaves the due index for <prefix>parked:<group>
-- (db 1, scored by its execution time), unchanged, so later claims do not read it again. A claim
-- whose claimer has room in a group first puts that many back. A parked entry may be stale (the
-- task was written, claimed or deleted since): it goes back only while the task is RUNNING,
-- unleased and not in the due index, which is what parked means. A task whose lease ran out is
-- never parked (see below).
--
-- Returns four values per claimed task: its id; the values of the first LINE of FIELDS joined by
-- '\n' (a missing field ''); its sealed request; its config JSON. No joined value holds a newline:
-- ids, numbers, states and lease tokens are the server's own. The short values are joined rather
-- than answered one by one because the client decodes each element of a reply on its own; the
-- sealed request and the config stay apart so that no script builds a long string per task (Lua
-- collects its garbage in steps between scripts, and a long string per task made those steps
-- long enough to be seen as late deliveries).
local take, list = reader(1)
local now, limit, token, leaseEnd, prefix = take(), tonumber(take()), take(), take(), take()
local window, perProject, perHost = tonumber(take()), tonumber(take()), tonumber(take())
local first, n = list()
local shared = perProject > 0
local held = {}
for i = first, first + n - 1, 2 do held[ARGV[i]] = tonumber(ARGV[i + 1]) end
local function capOf(group)
  return string.sub(group, 1, 2) == 'p:' and perProject or perHost
end

redis.call('SELECT', 1)
if shared then
  for _, group in ipairs(redis.call('SMEMBERS', KEYS[3])) do
    local room = capOf(group) - (held[group] or 0)
    if room > 0 then
      local parkedKey = prefix .. 'parked:' .. group
      local ids = redis.call('ZRANGE', parkedKey, 0, room - 1)
      for _, id in ipairs(ids) do
        local v = redis.call('HMGET', prefix .. 'task:' .. id, 'state', 'leaseToken', 'execAt')
        if v[1] == 'RUNNING' and not v[2] and v[3] and not redis.call('ZSCORE', KEYS[1], id) then
          redis.call('ZADD', KEYS[1], tonumber(v[3]), id)
        end
      end
      if #ids > 0 then redis.call('ZREM', parkedKey, unpack(ids)) end
      if #ids < room then redis.call('SREM', KEYS[3], group) end
    end
  end
end

local claimed = {}
local read = 0
local taking = {}
-- Claimed and parked tasks leave [-inf, now] of the index, so every read starts at its head.
while #claimed < limit and read < limit + window do
  local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, math.min(limit - #claimed, 256))
  if #ids == 0 then break end
  for _, id in ipairs(ids) do
    read = read + 1
    local key = prefix .. 'task:' .. id
    -- Under shares, the decision reads four short fields: a task that is parked is never read whole.
    local values = redis.call('HMGET', key, unpack(shared and SHARE_FIELDS or FIELDS))
    if not values[shared and SHARE_AT.version or AT.version] then
      -- The record expired or was deleted without leaving the index: drop the stale entry.
      redis.call('ZREM', KEYS[1], id)
    else
      local full = nil
      if shared then
        local project = 'p:' .. values[SHARE_AT.projectId]
        local host = values[SHARE_AT.hostTag] and ('h:' .. values[SHARE_AT.hostTag]) or nil
        if (taking[project] or held[project] or 0) >= perProject then
          full = project
        elseif host and (taking[host] or held[host] or 0) >= perHost then
          full = host
        else
          taking[project] = (taking[project] or held[project] or 0) + 1
          if host then taking[host] = (taking[host] or held[host] or 0) + 1 end
        end
      end
      -- A task whose lease ran out is claimed whatever the shares: its holder is presumed gone,
      -- and parking a leased task would hide it from the renewals and releases of that lease.
      if full and not values[SHARE_AT.leaseToken] then
        redis.call('ZREM', KEYS[1], id)
        redis.call('ZADD', prefix .. 'parked:' .. full, tonumber(redis.call('HGET', key, 'execAt')) or 0, id)
        redis.call('SADD', KEYS[3], full)
      else
        if shared then values = redis.call('HMGET', key, unpack(FIELDS)) end
        -- Read first, then one HSET with the next version: a command (and an AOF entry) fewer than
        -- HINCRBY, and the answer is patched here instead of read again.
        local version = string.format('%d', tonumber(values[AT.version]) + 1)
        redis.call('HSET', key, 'leaseToken', token, 'leaseUntil', leaseEnd, 'version', version)
        values[AT.leaseToken], values[AT.leaseUntil], values[AT.version] = token, leaseEnd, version
        redis.call('ZADD', KEYS[1], tonumber(leaseEnd), id)
        redis.call('SADD', KEYS[2], id)
        claimed[#claimed + 1] = { id = id, values = values }
      end
    end
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
  result[#result + 1] = redis.call('GET', prefix .. 'config:' .. id) or ''
end
return result
