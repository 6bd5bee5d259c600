-- list-tasks: a page of a project's tasks, newest first (TaskStore.listTasks). The page is driven by
-- the listing indexes (prelude.lua): the schedule's when a schedule is asked for, else the tag's,
-- else the flow key's, else the host's, else one per state asked for (merged by id), else the
-- project's; read by lex range, newest id first, from the cursor on. With more than the driver's
-- condition, every condition is checked on the task record itself (the fields they need read
-- first); an entry whose record expired is dropped from the index it was read from. At most
-- `scan` entries are read: a page that runs out of them before it is full answers the last id
-- read as its next cursor.
-- No KEYS: the index and record keys are derived from the key prefix and the project id (db 1), the
-- config keys from the ids (<prefix>config:<id>, db 2).
-- ARGV, read in order: key prefix; project id; below (ids under it only, '' none); at least (ids at
--   or above it only, '' none); limit; scan (most entries read); next from ('' none); next to ('' none);
--   host tag ('' any); tag ('' any); schedule id ('' any); flow key ('' any); a list of states (none: any).
-- Returns { next cursor ('' none), then for each task: its id, its hash's FIELDS in that order (a
--   field it lacks is nil; prelude.lua), its config JSON }.
local take, list = reader(1)
local prefix, project, below, atLeast = take(), take(), take(), take()
local limit, scan = tonumber(take()), tonumber(take())
local nextFrom, nextTo, hostTag, tag, scheduleId, flowKey = take(), take(), take(), take(), take(), take()
local sFirst, sCount = list()
local states = {}
for i = sFirst, sFirst + sCount - 1 do states[ARGV[i]] = true end
local nextLow, nextHigh = tonumber(nextFrom), tonumber(nextTo)
local byNext = nextFrom ~= '' or nextTo ~= ''

redis.call('SELECT', 1)
local drivers = {}
local function drive(key)
  drivers[#drivers + 1] = { key = key, buf = {}, pos = 1, max = below ~= '' and ('(' .. below) or '+', done = false }
end
if scheduleId ~= '' then
  drive(listKey(prefix, project, 'schedule', scheduleId))
elseif tag ~= '' then
  drive(listKey(prefix, project, 'tag', tag))
elseif flowKey ~= '' then
  drive(listKey(prefix, project, 'flow', flowKey))
elseif hostTag ~= '' then
  drive(listKey(prefix, project, 'host', hostTag))
elseif sCount > 0 then
  for i = sFirst, sFirst + sCount - 1 do drive(listKey(prefix, project, 'state', ARGV[i])) end
else
  drive(listKey(prefix, project))
end
local min = atLeast ~= '' and ('[' .. atLeast) or '-'
local chunk = limit + 1

local function refill(d)
  d.buf = redis.call('ZRANGE', d.key, d.max, min, 'BYLEX', 'REV', 'LIMIT', 0, chunk)
  d.pos = 1
  if #d.buf < chunk then d.done = true end
  if #d.buf > 0 then d.max = '(' .. d.buf[#d.buf] end
end

-- The fields the query's conditions need (of LIST_FIELDS), read with one HMGET per entry checked:
-- a hash's fields are found one by one, so a check reads no more of them than it uses.
local wanted = {
  version = true, projectId = true, state = sCount > 0, hostTag = hostTag ~= '', scheduleId = scheduleId ~= '',
  flowKey = flowKey ~= '', tags = tag ~= '', execAt = byNext,
}
local CHECK_FIELDS, CHECK_AT = {}, {}
for _, name in ipairs(LIST_FIELDS) do
  if wanted[name] then
    CHECK_FIELDS[#CHECK_FIELDS + 1] = name
    CHECK_AT[name] = #CHECK_FIELDS
  end
end

local function matches(v)
  if v[CHECK_AT.projectId] ~= project then return false end
  if sCount > 0 and not states[v[CHECK_AT.state]] then return false end
  if hostTag ~= '' and v[CHECK_AT.hostTag] ~= hostTag then return false end
  if scheduleId ~= '' and v[CHECK_AT.scheduleId] ~= scheduleId then return false end
  if flowKey ~= '' and v[CHECK_AT.flowKey] ~= flowKey then return false end
  if tag ~= '' and not string.find(' ' .. (v[CHECK_AT.tags] or '') .. ' ', ' ' .. tag .. ' ', 1, true) then return false end
  if byNext then
    local execAt = tonumber(v[CHECK_AT.execAt] or '0') or 0
    if execAt <= 0 then return false end
    if nextLow and execAt < nextLow then return false end
    if nextHigh and execAt >= nextHigh then return false end
  end
  return true
end

-- When the driving index is the query's only condition, its entries are true of their records
-- (only a task's state changes after its insert, and replace-tasks-1.lua moves it between the state
-- indexes in the same script): a record is then on the page unless it expired, and is read whole
-- once, with no HMGET of a few fields to check it first.
-- (CHECK_FIELDS holds the version, the project and one field per condition.)
local trusted = #CHECK_FIELDS - 2 <= 1 and not byNext

local found = {}
local records = {}
local read = 0
local lastRead = nil
while #found <= limit and read < scan do
  local best = nil
  for _, d in ipairs(drivers) do
    if d.pos > #d.buf and not d.done then refill(d) end
    if d.pos <= #d.buf and (best == nil or d.buf[d.pos] > best.buf[best.pos]) then best = d end
  end
  if best == nil then break end
  local id = best.buf[best.pos]
  best.pos = best.pos + 1
  read = read + 1
  lastRead = id
  if trusted then
    local record = redis.call('HMGET', prefix .. 'task:' .. id, unpack(FIELDS))
    if not record[AT.version] then
      redis.call('ZREM', best.key, id)
    else
      found[#found + 1] = id
      records[#found] = record
    end
  else
    local v = redis.call('HMGET', prefix .. 'task:' .. id, unpack(CHECK_FIELDS))
    if not v[CHECK_AT.version] then
      redis.call('ZREM', best.key, id)
    elseif matches(v) then
      found[#found + 1] = id
    end
  end
end

local nextCursor = ''
if #found > limit then
  found[#found] = nil
  nextCursor = found[#found]
elseif read >= scan then
  for _, d in ipairs(drivers) do
    if d.pos <= #d.buf or not d.done then nextCursor = lastRead end
  end
end

local result = { nextCursor }
for i, id in ipairs(found) do
  result[3 * i - 1] = id
  result[3 * i] = records[i] or redis.call('HMGET', prefix .. 'task:' .. id, unpack(FIELDS))
end
redis.call('SELECT', 2)
for i, id in ipairs(found) do
  result[3 * i + 1] = redis.call('GET', prefix .. 'config:' .. id) or ''
end
return result
