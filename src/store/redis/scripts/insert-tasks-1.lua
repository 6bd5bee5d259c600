-- insert-tasks: stores the new tasks of one turn of the server, each with its configuration and
-- first timeline entries, and counts each against its project's queue limit. Every task is checked
-- before anything is written, then all accepted tasks are written database by database (a SELECT is
-- written to the AOF each time the database changes, so grouping them saves four per task).
-- KEYS[1] due index (db 1, sorted set)
-- ARGV[1] wake-up channel; ARGV[2] key prefix; ARGV[3] number of tasks; then for each task:
--   project id, task id, queue limit, 1 when the task counts as active, due time or '',
--   config JSON, number of timeline entries n, n entries (JSON), then the values of the task hash
--   in the order of FIELDS (which must match TASK_FIELDS in codec.ts: the names are not sent)
-- Returns one code per task, in order: 1 stored, -1 the project's queue is full, -2 the project
-- does not exist, -3 a task with this id exists.
-- Each task is read from ARGV at the offsets below, counted from where the task starts.
local FIELDS = { 'id', 'projectId', 'startAt', 'request', 'state', 'statusCode', 'execAt', 'endAt', 'retrying',
  'repeating', 'retryCount', 'repeatCount', 'attempts', 'pausedLeft', 'leaseToken', 'leaseUntil', 'version' }
local PROJECT, ID, LIMIT, ACTIVE, DUE, CONFIG, ENTRIES = 0, 1, 2, 3, 4, 5, 6
local prefix = ARGV[2]
local count = tonumber(ARGV[3])
local starts = {}
local pos = 4
for t = 1, count do
  starts[t] = pos
  pos = pos + ENTRIES + 1 + tonumber(ARGV[pos + ENTRIES]) + #FIELDS
end

-- Checks, in order: a task refused here changes nothing, and the tasks after it see the counts as
-- they are without it.
local codes = {}
local taskKeys = {}
local seen = {}
redis.call('SELECT', 1)
for t = 1, count do
  local id = ARGV[starts[t] + ID]
  taskKeys[t] = prefix .. 'task:' .. id
  if seen[id] or redis.call('EXISTS', taskKeys[t]) == 1 then codes[t] = -3 end
  seen[id] = true
end
redis.call('SELECT', 0)
local active = {}
local added = {}
for t = 1, count do
  if codes[t] == nil then
    local at = starts[t]
    local project = ARGV[at + PROJECT]
    if active[project] == nil then
      local key = prefix .. 'project:' .. project
      if redis.call('EXISTS', key) == 0 then
        active[project] = false
      else
        active[project] = tonumber(redis.call('HGET', key, 'active') or '0')
        added[project] = 0
      end
    end
    local current = active[project]
    local counts = ARGV[at + ACTIVE] == '1'
    if current == false then
      codes[t] = -2
    elseif counts and current >= tonumber(ARGV[at + LIMIT]) then
      codes[t] = -1
    else
      codes[t] = 1
      if counts then
        active[project] = current + 1
        added[project] = added[project] + 1
      end
    end
  end
end

-- Writes, database by database.
for project, n in pairs(added) do
  if n > 0 then redis.call('HINCRBY', prefix .. 'project:' .. project, 'active', n) end
end
redis.call('SELECT', 1)
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local earliest = first[2] and tonumber(first[2])
local wake = nil
-- One table of field, value pairs for every HSET: the names are set once, the values per task.
local hash = {}
for i, name in ipairs(FIELDS) do hash[2 * i - 1] = name end
for t = 1, count do
  if codes[t] == 1 then
    local at = starts[t]
    local values = at + ENTRIES + 1 + tonumber(ARGV[at + ENTRIES]) - 1
    for i = 1, #FIELDS do hash[2 * i] = ARGV[values + i] end
    redis.call('HSET', taskKeys[t], unpack(hash))
    local due = ARGV[at + DUE]
    if due ~= '' then
      redis.call('ZADD', KEYS[1], due, ARGV[at + ID])
      local dueAt = tonumber(due)
      -- Wake the dispatchers only for a new earliest due time: they already wait for any later one.
      if earliest == nil or dueAt < earliest then
        earliest = dueAt
        wake = due
      end
    end
  end
end
if wake then redis.call('PUBLISH', ARGV[1], wake) end
redis.call('SELECT', 2)
for t = 1, count do
  if codes[t] == 1 then
    local at = starts[t]
    redis.call('SET', prefix .. 'config:' .. ARGV[at + ID], ARGV[at + CONFIG])
  end
end
redis.call('SELECT', 3)
for t = 1, count do
  if codes[t] == 1 then
    local at = starts[t]
    local n = tonumber(ARGV[at + ENTRIES])
    if n > 0 then
      redis.call('RPUSH', prefix .. 'timeline:' .. ARGV[at + ID], unpack(ARGV, at + ENTRIES + 1, at + ENTRIES + n))
    end
  end
end
return codes
