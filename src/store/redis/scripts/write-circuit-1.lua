#!lua flags=allow-oom
-- write-circuit: compare-and-set of one circuit breaker (core/circuit.ts) in its project's hash.
-- KEYS[1] the project's circuit hash (db 1): field `policy` and one field per circuit
-- ARGV[1] the circuit's field (<kind>:<key>); ARGV[2] the version expected (0: none stored);
-- ARGV[3] the new record as JSON with its version (empty: delete the circuit)
-- Returns 1 when written, 0 when the stored version was not the one expected.
-- allow-oom: a record is small, and a circuit that cannot open while Redis is full would let the
-- dispatcher hammer a failing target meanwhile.
redis.call('SELECT', 1)
local current = redis.call('HGET', KEYS[1], ARGV[1])
local version = 0
if current then version = cjson.decode(current).version end
if version ~= tonumber(ARGV[2]) then return 0 end
if ARGV[3] == '' then
  redis.call('HDEL', KEYS[1], ARGV[1])
else
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
end
return 1
