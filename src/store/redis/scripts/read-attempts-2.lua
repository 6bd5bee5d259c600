-- read-attempts: a page of a task's attempt log, newest first, if the task belongs to the project.
-- KEYS[1] task key (db 1)  KEYS[2] attempt log key (db 3)
-- ARGV[1] project id; ARGV[2] only records numbered below this ('' for the newest on); ARGV[3] how
--   many records at most
-- The log is a list, newest first, of at most ATTEMPT_LOG.maxEntries values whose text starts with
-- the record's number (codec.ts attemptToValue).
-- Returns { the number the next page starts below, or '' when this one reaches the end, then the
-- records }, or nil when there is no such task in the project.
redis.call('SELECT', 1)
if redis.call('HGET', KEYS[1], 'projectId') ~= ARGV[1] then return nil end
redis.call('SELECT', 3)
local before, limit = tonumber(ARGV[2]), tonumber(ARGV[3])
local records = { '' }
for _, value in ipairs(redis.call('LRANGE', KEYS[2], 0, -1)) do
  local number = tonumber(string.match(value, '^(%d+),'))
  if before == nil or number < before then
    if #records > limit then
      records[1] = string.format('%d', tonumber(string.match(records[#records], '^(%d+),')))
      return records
    end
    records[#records + 1] = value
  end
end
return records
