-- write-schedule: inserts, replaces (compare-and-set on its version) or deletes a schedule
-- (core/schedule.ts). A schedule is a hash (db 1): projectId, version, request (sealed), data (the
-- rest as JSON, store/schedule-codec.ts). It is in its project's listing (<prefix>schedule:list:
-- <project>, all scores 0, read by id) and, while it has a due time, in the due index.
-- KEYS[1] schedule key (db 1)  KEYS[2] schedule due index (db 1)
-- ARGV[1] 'insert', 'replace' or 'delete'; ARGV[2] key prefix; ARGV[3] schedule id; ARGV[4] project
--   id; ARGV[5] expected version (replace, delete); ARGV[6] due time or '' (insert, replace);
--   ARGV[7] data (insert, replace); ARGV[8] sealed request (insert); ARGV[9] most schedules the
--   project may hold (insert)
-- Returns RESULT.DONE when written, RESULT.STALE when the version changed or the schedule is gone,
-- RESULT.NO_PROJECT (insert) when the project does not exist, RESULT.FULL (insert) when it holds
-- ARGV[9] schedules already.
local mode, prefix, id, project = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local listKey = prefix .. 'schedule:list:' .. project
if mode == 'insert' then
  redis.call('SELECT', 0)
  if redis.call('EXISTS', prefix .. 'project:' .. project) == 0 then return RESULT.NO_PROJECT end
  redis.call('SELECT', 1)
  if redis.call('ZCARD', listKey) >= tonumber(ARGV[9]) then return RESULT.FULL end
  redis.call('HSET', KEYS[1], 'projectId', project, 'version', 1, 'request', ARGV[8], 'data', ARGV[7])
  redis.call('ZADD', listKey, 0, id)
else
  redis.call('SELECT', 1)
  if redis.call('HGET', KEYS[1], 'version') ~= ARGV[5] then return RESULT.STALE end
  if mode == 'delete' then
    redis.call('DEL', KEYS[1])
    redis.call('ZREM', listKey, id)
    redis.call('ZREM', KEYS[2], id)
    return RESULT.DONE
  end
  redis.call('HSET', KEYS[1], 'data', ARGV[7])
  redis.call('HINCRBY', KEYS[1], 'version', 1)
end
if ARGV[6] == '' then
  redis.call('ZREM', KEYS[2], id)
else
  redis.call('ZADD', KEYS[2], ARGV[6], id)
end
return RESULT.DONE
