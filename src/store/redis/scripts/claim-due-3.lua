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
-- Flow control (core/flow.ts; flowRoom and flowWake below mirror flowRoom and flowWakeAt): a due
-- task with a flow key whose project set limits for it (<prefix>flow:<project>:<key>, a hash) is
-- claimed only while the key has room; otherwise it waits in <prefix>flow:<project>:<key>:waiting
-- (scored by its execution time), out of the due index. What a key uses lives beside it: :running
-- (its leased tasks, scored by the lease's end as claimed; one whose end passed is checked on its
-- task, so renewals keep counting and a dead node's leases stop), :starts (the starts in its rate
-- window) and :active (its active tasks in subscription order; the first is an ordered key's head).
-- <prefix>flow-wake (scored by time) holds the keys with waiting tasks and when a claim should look
-- at them: each claim first puts back as many waiting tasks as those keys have room for. A task
-- without a flow key reads one field more and nothing else.
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

local flows = {}
local flowWakeKey = prefix .. 'flow-wake'
-- core/flow.ts paceBase, paceRoom.
local function paceBase(f)
  if f.pace < tonumber(now) - f.catchUp then return tonumber(now) end
  return f.pace
end
local function paceRoom(f)
  local base = paceBase(f)
  if base > tonumber(now) + 1e-9 then return 0 end
  return math.floor((tonumber(now) - base) / f.spacing + 1e-9) + 1
end
local function flowRoom(f)
  if f.paused then return 0 end
  local room = math.huge
  if f.rate > 0 then room = math.min(room, f.rate - f.starts, paceRoom(f)) end
  if f.parallelism > 0 then room = math.min(room, f.parallelism - f.inFlight) end
  if f.ordered then room = math.min(room, f.inFlight > 0 and 0 or 1) end
  return math.max(0, room)
end
local function flowWake(f)
  if f.paused then return nil end
  if flowRoom(f) > 0 and (not f.ordered or f.headWaits) then return tonumber(now) end
  local wake = tonumber(now) + FLOW.recheckMs
  if f.rate > 0 then
    local free = math.max(math.ceil(f.pace), tonumber(now) + FLOW.paceLookMs)
    if f.starts >= f.rate and f.oldestStart then free = math.max(free, f.oldestStart + f.period) end
    if free > tonumber(now) then wake = math.min(wake, free) end
  end
  if f.leaseEnd then wake = math.min(wake, f.leaseEnd) end
  return math.max(tonumber(now), wake)
end
-- The key's oldest active task; entries of tasks that ended (or expired) are dropped on the way.
local function headOf(f)
  while true do
    local first = redis.call('ZRANGE', f.key .. ':active', 0, 0)
    if #first == 0 then return nil end
    local state = redis.call('HGET', prefix .. 'task:' .. first[1], 'state')
    if state == 'RUNNING' or state == 'PAUSED' then return first[1] end
    redis.call('ZREM', f.key .. ':active', first[1])
  end
end
-- A key as this claim sees it, read once: its limits and what it uses.
local function flowOf(group)
  local f = flows[group]
  if f then return f end
  local key = prefix .. 'flow:' .. group
  local s = redis.call('HMGET', key, 'rateLimit', 'ratePeriodMs', 'parallelism', 'ordered', 'paused', 'pace')
  f = { group = group, key = key, limited = s[5] ~= false, rate = tonumber(s[1]) or 0, period = tonumber(s[2]) or 0,
    parallelism = tonumber(s[3]) or 0, ordered = s[4] == '1', paused = s[5] == '1', inFlight = 0, starts = 0, headWaits = false,
    pace = tonumber(s[6]) or 0 }
  f.loadedPace = f.pace
  if f.rate > 0 then
    -- core/flow.ts rateSpacing and rateCatchUp.
    f.spacing = f.period / f.rate
    f.catchUp = math.min(f.period, FLOW.catchUpMs)
  end
  flows[group] = f
  if not f.limited then
    f.room = math.huge
    return f
  end
  local running = key .. ':running'
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', running, '-inf', now)) do
    local v = redis.call('HMGET', prefix .. 'task:' .. id, 'leaseToken', 'leaseUntil')
    if v[1] and v[1] ~= '' and tonumber(v[2]) and tonumber(v[2]) > tonumber(now) then
      redis.call('ZADD', running, v[2], id)
    else
      redis.call('ZREM', running, id)
    end
  end
  f.inFlight = redis.call('ZCARD', running)
  local first = redis.call('ZRANGE', running, 0, 0, 'WITHSCORES')
  f.leaseEnd = first[2] and tonumber(first[2])
  if f.rate > 0 then
    redis.call('ZREMRANGEBYSCORE', key .. ':starts', '-inf', tonumber(now) - f.period)
    f.starts = redis.call('ZCARD', key .. ':starts')
    local oldest = redis.call('ZRANGE', key .. ':starts', 0, 0, 'WITHSCORES')
    f.oldestStart = oldest[2] and tonumber(oldest[2])
  end
  if f.ordered then
    f.head = headOf(f)
    f.headWaits = f.head ~= nil and redis.call('ZSCORE', key .. ':waiting', f.head) ~= false
  end
  f.room = flowRoom(f)
  return f
end
-- Puts back what a waiting entry stands for, if it still is a waiting task: RUNNING, unleased and
-- not in the due index (the task may have been written, claimed or deleted since).
local function putBack(id)
  local v = redis.call('HMGET', prefix .. 'task:' .. id, 'state', 'leaseToken', 'execAt')
  if v[1] == 'RUNNING' and (not v[2] or v[2] == '') and v[3] and not redis.call('ZSCORE', KEYS[1], id) then
    redis.call('ZADD', KEYS[1], tonumber(v[3]), id)
  end
end
for _, group in ipairs(redis.call('ZRANGEBYSCORE', flowWakeKey, '-inf', now, 'LIMIT', 0, 64)) do
  local f = flowOf(group)
  local waiting = f.key .. ':waiting'
  local ids = {}
  if f.ordered then
    if f.room > 0 and f.headWaits then
      ids = { f.head }
      f.headWaits = false
    end
  elseif f.room > 0 then
    ids = redis.call('ZRANGE', waiting, 0, math.min(f.room, limit + window) - 1)
  end
  for _, id in ipairs(ids) do putBack(id) end
  if #ids > 0 then redis.call('ZREM', waiting, unpack(ids)) end
end

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
-- Groups this claim has added to KEYS[3]: one SADD per group, beside its first parked task.
local parkedGroups = {}
-- Claimed and parked tasks leave [-inf, now] of the index, so every read starts at its head.
while #claimed < limit and read < limit + window do
  local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, math.min(limit - #claimed, 256))
  if #ids == 0 then break end
  for _, id in ipairs(ids) do
    read = read + 1
    local key = prefix .. 'task:' .. id
    -- Under shares, the decision reads a few short fields (SHARE_FIELDS): a task that is parked is never read whole.
    local values = redis.call('HMGET', key, unpack(shared and SHARE_FIELDS or FIELDS))
    if not values[shared and SHARE_AT.version or AT.version] then
      -- The record expired or was deleted without leaving the index: drop the stale entry.
      redis.call('ZREM', KEYS[1], id)
    else
      local leased = values[shared and SHARE_AT.leaseToken or AT.leaseToken]
      leased = leased and leased ~= ''
      local flowKey = values[shared and SHARE_AT.flowKey or AT.flowKey]
      local flow = nil
      local waits = false
      if flowKey and flowKey ~= '' then
        flow = flowOf(values[shared and SHARE_AT.projectId or AT.projectId] .. ':' .. flowKey)
        -- A task whose lease ran out needs room too (a dead node's tasks must not push the key past
        -- its limits), though not the head's turn.
        waits = flow.limited and not (flow.room > 0 and (not flow.ordered or flow.head == id or leased))
      end
      local full = nil
      if waits and leased then
        -- Parking it would hide it from the renewals and releases of its lease: due again when the
        -- key may have room, never now.
        redis.call('ZADD', KEYS[1], math.max(tonumber(now) + 1, flowWake(flow) or (tonumber(now) + FLOW.recheckMs)), id)
      elseif waits then
        redis.call('ZREM', KEYS[1], id)
        redis.call('ZADD', flow.key .. ':waiting', tonumber(values[shared and SHARE_AT.execAt or AT.execAt]) or 0, id)
        if flow.ordered and flow.head == id then flow.headWaits = true end
      elseif shared then
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
      if waits then
        -- waiting for its flow key (above)
      elseif full and not values[SHARE_AT.leaseToken] then
        redis.call('ZREM', KEYS[1], id)
        redis.call('ZADD', prefix .. 'parked:' .. full, tonumber(values[SHARE_AT.execAt]) or 0, id)
        if not parkedGroups[full] then
          redis.call('SADD', KEYS[3], full)
          parkedGroups[full] = true
        end
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
        if flow then
          redis.call('ZADD', flow.key .. ':running', tonumber(leaseEnd), id)
          if flow.limited then
            flow.room = math.max(0, flow.room - 1)
            flow.inFlight = flow.inFlight + 1
            if flow.rate > 0 then
              flow.starts = flow.starts + 1
              flow.oldestStart = flow.oldestStart or tonumber(now)
              flow.pace = paceBase(flow) + flow.spacing
              redis.call('ZADD', flow.key .. ':starts', tonumber(now), token .. ':' .. id)
            end
          end
        end
      end
    end
  end
end
-- Each key met: when a claim should look at it next, while tasks of it wait.
for group, f in pairs(flows) do
  if f.limited and f.pace ~= f.loadedPace then redis.call('HSET', f.key, 'pace', string.format('%.17g', f.pace)) end
  local wake = nil
  if redis.call('EXISTS', f.key .. ':waiting') == 1 then
    -- Not `limited and flowWake(f) or now`: a paused key's wake is nil.
    if f.limited then wake = flowWake(f) else wake = tonumber(now) end
  end
  if wake then
    redis.call('ZADD', flowWakeKey, wake, group)
  else
    redis.call('ZREM', flowWakeKey, group)
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
