-- replace-tasks: compare-and-set of the tasks written in one turn of the server (outcomes, pauses,
-- resumes...). For each task whose version is still the expected one: writes the new fields, moves
-- it in the due index, adjusts its project's active count, appends its timeline entries and, when
-- it has finished, sets the retention expiry on its three keys; a new state moves it between the
-- per-state listing indexes; the outcome's attempt record joins the task's attempt log (newest
-- first, cut to ATTEMPT_LOG.maxEntries once longer). A timeline is kept within its bound
-- (boundTimeline, prelude.lua). Tasks are taken in order, as if
-- each were its own call: a second write of the same task in the batch expects the version the
-- first one left. Writes are grouped database by database (one SELECT each in the AOF).
-- KEYS[1] due index (db 1)
-- ARGV[1] wake-up channel; ARGV[2] key prefix; ARGV[3] number of tasks; then, read in order
--   (take and list, from the prelude), for each task: task id, project id, expected version,
--   active count delta (-1, 0, 1), due time or '', 1 when the task holds a lease, expiry in seconds
--   or '' (still active), a list of timeline entries (JSON), a list of the hash's field, value pairs
--   that changed, a list of attempt records (none or one; codec.ts attemptToValue).
-- Returns one code per task, in order: RESULT.DONE written, RESULT.STALE the version changed or
-- the task is gone.
local prefix = ARGV[2]
local take, list = reader(4)
local tasks = {}
for t = 1, tonumber(ARGV[3]) do
  local task = {
    id = take(), projectId = take(), version = take(), delta = tonumber(take()), due = take(),
    leased = take() == '1', expiry = take(),
  }
  task.entries, task.entryCount = list()
  task.fields, task.fieldCount = list()
  task.attempts, task.attemptCount = list()
  task.project = prefix .. 'project:' .. task.projectId
  tasks[t] = task
end

local codes = {}
local leasedKey = prefix .. 'leased'
redis.call('SELECT', 1)
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local earliest = first[2] and tonumber(first[2])
local wake = nil
for t, task in ipairs(tasks) do
  local key = prefix .. 'task:' .. task.id
  -- The stored state is read with the version: a new state moves the task between listing indexes.
  local stored = redis.call('HMGET', key, 'version', 'state')
  if stored[1] ~= task.version then
    codes[t] = RESULT.STALE
  else
    codes[t] = RESULT.DONE
    -- The listing indexes are moved after the HSET below: under maxmemory the HSET is refused
    -- first, and nothing of the task is written.
    local state = pairValue(task.fields, task.fieldCount, 'state')
    local before = stored[2]
    -- The next version in the same HSET as the changed fields: one command and AOF entry, not two.
    local version = string.format('%d', tonumber(task.version) + 1)
    redis.call('HSET', key, 'version', version, unpack(ARGV, task.fields, task.fields + task.fieldCount - 1))
    -- A new state moves the task between the project's per-state listing indexes (prelude.lua).
    if state and before ~= state then
      redis.call('ZREM', listKey(prefix, task.projectId, 'state', before), task.id)
      redis.call('ZADD', listKey(prefix, task.projectId, 'state', state), 0, task.id)
    end
    if task.due == '' then
      redis.call('ZREM', KEYS[1], task.id)
    else
      redis.call('ZADD', KEYS[1], task.due, task.id)
      local due = tonumber(task.due)
      -- Wake the dispatchers only for a new earliest due time: they already wait for any later one.
      if earliest == nil or due < earliest then
        earliest = due
        wake = task.due
      end
    end
    if task.leased then redis.call('SADD', leasedKey, task.id) else redis.call('SREM', leasedKey, task.id) end
    if task.expiry ~= '' then redis.call('EXPIRE', key, task.expiry) end
  end
end
if wake then redis.call('PUBLISH', ARGV[1], wake) end

local deltas = {}
for t, task in ipairs(tasks) do
  if codes[t] == RESULT.DONE and task.delta ~= 0 then deltas[task.project] = (deltas[task.project] or 0) + task.delta end
end
if next(deltas) then
  redis.call('SELECT', 0)
  for project, delta in pairs(deltas) do
    if delta ~= 0 then redis.call('HINCRBY', project, 'active', delta) end
  end
end
local expiring = false
for t, task in ipairs(tasks) do
  if codes[t] == RESULT.DONE and task.expiry ~= '' then expiring = true end
end
if expiring then
  redis.call('SELECT', 2)
  for t, task in ipairs(tasks) do
    if codes[t] == RESULT.DONE and task.expiry ~= '' then redis.call('EXPIRE', prefix .. 'config:' .. task.id, task.expiry) end
  end
end
redis.call('SELECT', 3)
for t, task in ipairs(tasks) do
  if codes[t] == RESULT.DONE then
    local key = prefix .. 'timeline:' .. task.id
    if task.entryCount > 0 then
      boundTimeline(key, redis.call('RPUSH', key, unpack(ARGV, task.entries, task.entries + task.entryCount - 1)))
    end
    if task.expiry ~= '' then redis.call('EXPIRE', key, task.expiry) end
    local log = prefix .. 'attempts:' .. task.id
    if task.attemptCount > 0 then
      local length = redis.call('LPUSH', log, unpack(ARGV, task.attempts, task.attempts + task.attemptCount - 1))
      -- Cut only once the log passes its bound: most tasks never make that many attempts.
      if length > ATTEMPT_LOG.maxEntries then redis.call('LTRIM', log, 0, ATTEMPT_LOG.maxEntries - 1) end
    end
    if task.expiry ~= '' then redis.call('EXPIRE', log, task.expiry) end
  end
end
return codes
