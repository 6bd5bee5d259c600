-- insert-tasks: stores the new tasks of one turn of the server, each with its configuration and
-- first timeline entries, and counts each against its project's queue limit. Every task is checked
-- before anything is written, then all accepted tasks are written database by database (a SELECT is
-- written to the AOF each time the database changes, so grouping them saves four per task).
-- KEYS[1] due index (db 1, sorted set)
-- ARGV[1] wake-up channel; ARGV[2] key prefix; ARGV[3] number of tasks; then for each task:
--   project id, task id, queue limit, 1 when the task counts as active, due time or '',
--   config JSON, number of timeline entries n, n entries (JSON), number of hash values 2m,
--   m field, value pairs of the task hash
-- Returns one code per task, in order: 1 stored, -1 the project's queue is full, -2 the project
-- does not exist, -3 a task with this id exists.
local prefix = ARGV[2]
local tasks = {}
local pos = 4
for t = 1, tonumber(ARGV[3]) do
  local n = tonumber(ARGV[pos + 6])
  local m = tonumber(ARGV[pos + 7 + n])
  tasks[t] = {
    project = prefix .. 'project:' .. ARGV[pos], id = ARGV[pos + 1], limit = tonumber(ARGV[pos + 2]),
    active = ARGV[pos + 3] == '1', due = ARGV[pos + 4], config = ARGV[pos + 5],
    entries = pos + 7, entryCount = n, fields = pos + 8 + n, fieldCount = m,
  }
  pos = pos + 8 + n + m
end

-- Checks, in order: a task refused here changes nothing, and the tasks after it see the counts as
-- they are without it.
local codes = {}
local seen = {}
redis.call('SELECT', 1)
for t, task in ipairs(tasks) do
  if seen[task.id] or redis.call('EXISTS', prefix .. 'task:' .. task.id) == 1 then codes[t] = -3 end
  seen[task.id] = true
end
redis.call('SELECT', 0)
local active = {}
local added = {}
for t, task in ipairs(tasks) do
  if codes[t] == nil then
    if active[task.project] == nil then
      if redis.call('EXISTS', task.project) == 0 then
        active[task.project] = false
      else
        active[task.project] = tonumber(redis.call('HGET', task.project, 'active') or '0')
        added[task.project] = 0
      end
    end
    local count = active[task.project]
    if count == false then
      codes[t] = -2
    elseif task.active and count >= task.limit then
      codes[t] = -1
    else
      codes[t] = 1
      if task.active then
        active[task.project] = count + 1
        added[task.project] = added[task.project] + 1
      end
    end
  end
end

-- Writes, database by database.
for project, count in pairs(added) do
  if count > 0 then redis.call('HINCRBY', project, 'active', count) end
end
redis.call('SELECT', 1)
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local earliest = first[2] and tonumber(first[2])
local wake = nil
for t, task in ipairs(tasks) do
  if codes[t] == 1 then
    redis.call('HSET', prefix .. 'task:' .. task.id, unpack(ARGV, task.fields, task.fields + task.fieldCount - 1))
    if task.due ~= '' then
      redis.call('ZADD', KEYS[1], task.due, task.id)
      local due = tonumber(task.due)
      -- Wake the dispatchers only for a new earliest due time: they already wait for any later one.
      if earliest == nil or due < earliest then
        earliest = due
        wake = task.due
      end
    end
  end
end
if wake then redis.call('PUBLISH', ARGV[1], wake) end
redis.call('SELECT', 2)
for t, task in ipairs(tasks) do
  if codes[t] == 1 then redis.call('SET', prefix .. 'config:' .. task.id, task.config) end
end
redis.call('SELECT', 3)
for t, task in ipairs(tasks) do
  if codes[t] == 1 and task.entryCount > 0 then
    redis.call('RPUSH', prefix .. 'timeline:' .. task.id, unpack(ARGV, task.entries, task.entries + task.entryCount - 1))
  end
end
return codes
