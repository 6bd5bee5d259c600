-- insert-tasks: stores the new tasks of one turn of the server, each with its configuration and
-- first timeline entries (kept within their bound: boundTimeline, prelude.lua), and counts each
-- against its project's queue limit. Every task is checked
-- before anything is written, then all accepted tasks are written database by database (a SELECT is
-- written to the AOF each time the database changes, so grouping them saves four per task).
-- KEYS[1] due index (db 1)
-- ARGV[1] wake-up channel; ARGV[2] key prefix; ARGV[3] number of tasks; then, read in order
--   (take and list, from the prelude), for each task: project id, task id, queue limit, 1 when the
--   task counts as active, due time or '', config JSON, the Idempotency-Key's digest or '', the
--   body's digest, the key's window (ms), a list of timeline entries (JSON), a list of the task
--   hash's field, value pairs, and a list that is empty but for a schedule's run (TaskStore.makeRun):
--   the schedule id, its expected version, its next due time or '', its new data.
-- Each stored task joins its project's listing indexes (listKeysOf, prelude.lua), and a task with
-- a flow key its key's active tasks in subscription order (<prefix>flow:<project>:<key>:active,
-- scored by <prefix>flow-seq: the head of an ordered key, claim-due-3.lua). A task given an
-- Idempotency-Key records it (db 0, <prefix>idem:<project>:<key digest> = "<task id> <body
-- digest>", expiring after the window) in this same script, so concurrent subscribes with one key,
-- from any node, make one task.
-- A run is stored only while its schedule (<prefix>schedule:<id>, db 1) still has the expected
-- version, and writes the schedule with it (as write-schedule-2.lua replaces it): two servers that
-- read the schedule at one version cannot both make its run.
-- Returns one reply per task, in order (script-results.ts): DONE stored, STALE its schedule moved
-- on (nothing written), QUEUE_FULL the project's
-- queue is full, NO_PROJECT the project does not exist, ID_TAKEN a task with this id exists; or
-- the record of its Idempotency-Key ("<task id> <body digest>"), when that key was used already:
-- nothing of the task was written.
local prefix = ARGV[2]
local count = tonumber(ARGV[3])
local take, list = reader(4)
local tasks = {}
for t = 1, count do
  local task = { project = take(), id = take(), limit = tonumber(take()), active = take() == '1', due = take(), config = take() }
  task.idemKey, task.bodyDigest, task.window = take(), take(), take()
  task.entries, task.entryCount = list()
  task.fields, task.fieldCount = list()
  local schedule, scheduleCount = list()
  if scheduleCount > 0 then
    task.schedule = { id = ARGV[schedule], version = ARGV[schedule + 1], due = ARGV[schedule + 2], data = ARGV[schedule + 3] }
    task.schedule.key = prefix .. 'schedule:' .. task.schedule.id
  end
  tasks[t] = task
end

-- Checks, in order: a task refused here changes nothing, and the tasks after it see the counts as
-- they are without it.
local codes = {}
local seen = {}
redis.call('SELECT', 1)
for t, task in ipairs(tasks) do
  task.key = prefix .. 'task:' .. task.id
  if seen[task.id] or redis.call('EXISTS', task.key) == 1 then codes[t] = RESULT.ID_TAKEN end
  seen[task.id] = true
  -- A schedule takes one run per call: a second run from the same version (another writer's, in
  -- the same turn) finds it moved on, as it would after the first's write.
  if codes[t] == nil and task.schedule then
    if seen[task.schedule.key] or redis.call('HGET', task.schedule.key, 'version') ~= task.schedule.version then
      codes[t] = RESULT.STALE
    end
    seen[task.schedule.key] = true
  end
end
redis.call('SELECT', 0)
local active = {}
local added = {}
-- Idempotency-Key records: those stored, and those of the earlier tasks of this call.
local recorded = {}
for t, task in ipairs(tasks) do
  -- A key used already answers its record, before the queue's limit is looked at.
  if codes[t] == nil and task.idemKey ~= '' then
    task.idem = prefix .. 'idem:' .. task.project .. ':' .. task.idemKey
    local record = recorded[task.idem] or redis.call('GET', task.idem)
    if record then codes[t] = record end
  end
  if codes[t] == nil then
    local project = task.project
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
    if current == false then
      codes[t] = RESULT.NO_PROJECT
    elseif task.active and current >= task.limit then
      codes[t] = RESULT.QUEUE_FULL
    else
      codes[t] = RESULT.DONE
      if task.idem then recorded[task.idem] = task.id .. ' ' .. task.bodyDigest end
      if task.active then
        active[project] = current + 1
        added[project] = added[project] + 1
      end
    end
  end
end

-- The fields of a task that the listing and flow indexes read (listKeysOf and below).
local INDEXED_FIELDS = { state = true, hostTag = true, scheduleId = true, flowKey = true, tags = true }

-- Writes, database by database.
for project, n in pairs(added) do
  if n > 0 then redis.call('HINCRBY', prefix .. 'project:' .. project, 'active', n) end
end
for t, task in ipairs(tasks) do
  if codes[t] == RESULT.DONE and task.idem then
    redis.call('SET', task.idem, recorded[task.idem], 'PX', task.window)
  end
end
redis.call('SELECT', 1)
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local earliest = first[2] and tonumber(first[2])
local wake = nil
for t, task in ipairs(tasks) do
  if codes[t] == RESULT.DONE then
    redis.call('HSET', task.key, unpack(ARGV, task.fields, task.fields + task.fieldCount - 1))
    local schedule = task.schedule
    if schedule then
      redis.call('HSET', schedule.key, 'data', schedule.data)
      redis.call('HINCRBY', schedule.key, 'version', 1)
      if schedule.due == '' then
        redis.call('ZREM', prefix .. 'schedule:due', schedule.id)
      else
        redis.call('ZADD', prefix .. 'schedule:due', schedule.due, schedule.id)
      end
    end
    -- The fields the indexes read, in one pass over the task's pairs rather than one per field.
    local indexed = {}
    for i = task.fields, task.fields + task.fieldCount - 2, 2 do
      if INDEXED_FIELDS[ARGV[i]] then indexed[ARGV[i]] = ARGV[i + 1] end
    end
    local function field(name) return indexed[name] end
    for _, listed in ipairs(listKeysOf(prefix, task.project, field)) do redis.call('ZADD', listed, 0, task.id) end
    local flowKey = indexed.flowKey
    if flowKey then
      local order = redis.call('INCR', prefix .. 'flow-seq')
      redis.call('ZADD', prefix .. 'flow:' .. task.project .. ':' .. flowKey .. ':active', order, task.id)
    end
    if task.due ~= '' then
      redis.call('ZADD', KEYS[1], task.due, task.id)
      local dueAt = tonumber(task.due)
      -- Wake the dispatchers only for a new earliest due time: they already wait for any later one.
      if earliest == nil or dueAt < earliest then
        earliest = dueAt
        wake = task.due
      end
    end
  end
end
if wake then redis.call('PUBLISH', ARGV[1], wake) end
redis.call('SELECT', 2)
for t, task in ipairs(tasks) do
  if codes[t] == RESULT.DONE then redis.call('SET', prefix .. 'config:' .. task.id, task.config) end
end
redis.call('SELECT', 3)
for t, task in ipairs(tasks) do
  if codes[t] == RESULT.DONE and task.entryCount > 0 then
    local key = prefix .. 'timeline:' .. task.id
    boundTimeline(key, redis.call('RPUSH', key, unpack(ARGV, task.entries, task.entries + task.entryCount - 1)))
  end
end
return codes
