-- insert-project: registers a project unless its email is taken.
-- Database 0 (projects and authorization).
-- KEYS[1] email key   (kt:email:<lower-case email>)
-- KEYS[2] project key (kt:project:<id>)
-- ARGV[1] project id; ARGV[2..] field, value pairs of the project hash
-- Returns RESULT.DONE when inserted, RESULT.STALE when the email is already registered.
redis.call('SELECT', 0)
if redis.call('SET', KEYS[1], ARGV[1], 'NX') == false then
  return RESULT.STALE
end
local fields = {}
for i = 2, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[2], unpack(fields))
return RESULT.DONE
