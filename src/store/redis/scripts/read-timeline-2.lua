-- read-timeline: a task's timeline, oldest first, if the task belongs to the project.
-- KEYS[1] task key (db 1)  KEYS[2] timeline key (db 3)
-- ARGV[1] project id
-- Returns the list of entries (JSON strings), or nil when there is no such task in the project.
redis.call('SELECT', 1)
if redis.call('HGET', KEYS[1], 'projectId') ~= ARGV[1] then return nil end
redis.call('SELECT', 3)
return redis.call('LRANGE', KEYS[2], 0, -1)
