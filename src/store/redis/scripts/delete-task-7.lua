-- delete-task: deletes a task, its configuration, its timeline and its attempt log if its version
-- is still the expected one, and gives its slot back to the project when it was active.
-- KEYS[1] project key (db 0)  KEYS[2] task key (db 1)  KEYS[3] due index (db 1)
-- KEYS[4] leased set (db 1)   KEYS[5] config key (db 2) KEYS[6] timeline key (db 3)
-- KEYS[7] attempt log key (db 3)
-- ARGV[1] expected version; ARGV[2] active count delta (0 or -1); ARGV[3] task id; ARGV[4] key prefix
-- The task leaves its project's listing indexes (prelude.lua).
-- Returns RESULT.DONE when deleted, RESULT.STALE when the version changed or the task is gone.
redis.call('SELECT', 1)
if redis.call('HGET', KEYS[2], 'version') ~= ARGV[1] then return RESULT.STALE end
local v = redis.call('HMGET', KEYS[2], unpack(LIST_FIELDS))
for _, listed in ipairs(listKeysOf(ARGV[4], v[LIST_AT.projectId], function(name) return v[LIST_AT[name]] end)) do
  redis.call('ZREM', listed, ARGV[3])
end
redis.call('DEL', KEYS[2])
redis.call('ZREM', KEYS[3], ARGV[3])
redis.call('SREM', KEYS[4], ARGV[3])
redis.call('SELECT', 2)
redis.call('DEL', KEYS[5])
redis.call('SELECT', 3)
redis.call('DEL', KEYS[6], KEYS[7])
if ARGV[2] ~= '0' then
  redis.call('SELECT', 0)
  redis.call('HINCRBY', KEYS[1], 'active', tonumber(ARGV[2]))
end
return RESULT.DONE
