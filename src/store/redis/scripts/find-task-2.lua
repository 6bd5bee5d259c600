-- find-task: a task and its configuration, if it belongs to the project.
-- KEYS[1] task key (db 1)  KEYS[2] config key (db 2)
-- ARGV[1] project id
-- Returns { task hash (flat field/value list), config JSON } or nil.
redis.call('SELECT', 1)
if redis.call('HGET', KEYS[1], 'projectId') ~= ARGV[1] then return nil end
local hash = redis.call('HGETALL', KEYS[1])
redis.call('SELECT', 2)
return { hash, redis.call('GET', KEYS[2]) or '' }
