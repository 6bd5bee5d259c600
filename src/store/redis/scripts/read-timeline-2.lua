-- read-timeline: a page of a task's timeline, oldest first, if the task belongs to the project.
-- KEYS[1] task key (db 1)  KEYS[2] timeline key (db 3)
-- ARGV[1] project id; ARGV[2] the position the page starts at (0: the start); ARGV[3] how many
--   entries at most, -1 for all
-- Positions survive entries being appended and left out (boundTimeline in the prelude): the first
-- TIMELINE.keepFirst entries are at their index; an Omitted entry after them stands for the
-- `omitted` positions from there on; each later entry is at its index - 1 + omitted. A position
-- that was left out since a client was given it reads on from the Omitted entry.
-- Returns { the position where the next page starts, or '' when this one reaches the end, then the
-- entries (JSON strings) }, or nil when there is no such task in the project.
redis.call('SELECT', 1)
if redis.call('HGET', KEYS[1], 'projectId') ~= ARGV[1] then return nil end
redis.call('SELECT', 3)
local from, limit = tonumber(ARGV[2]), tonumber(ARGV[3])
local keep = TIMELINE.keepFirst
local omitted = omittedAt(KEYS[2])
local index = from
if omitted and from > keep then index = math.max(keep, from - omitted + 1) end
-- One entry more than the page tells where the next page starts.
local entries = redis.call('LRANGE', KEYS[2], index, limit < 0 and -1 or index + limit)
local nextAt = ''
if limit >= 0 and #entries > limit then
  table.remove(entries)
  local at = index + limit
  nextAt = string.format('%d', (omitted and at > keep) and at - 1 + omitted or at)
end
table.insert(entries, 1, nextAt)
return entries
