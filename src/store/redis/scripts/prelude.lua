-- prelude: put before every script, after the generated tables (lua-script.ts): an ARGV reader and
-- the timeline's bound.

-- A reader of ARGV from `start` on, in order, so no script counts offsets by hand. `take()` answers
-- the next argument; `list()` reads a length n, then skips n arguments and answers where they
-- start and n (for unpack(ARGV, first, first + n - 1)).
local function reader(start)
  local pos = start
  local function take()
    pos = pos + 1
    return ARGV[pos - 1]
  end
  local function list()
    local n = tonumber(take())
    pos = pos + n
    return pos - n, n
  end
  return take, list
end

-- How many entries the Omitted entry of the timeline at `key` (db 3 selected) stands for, or nil
-- when it has none. It can only be the entry after the first TIMELINE.keepFirst.
local function omittedAt(key)
  local at = redis.call('LINDEX', key, TIMELINE.keepFirst)
  if not at then return nil end
  local entry = cjson.decode(at)
  if entry.label ~= TIMELINE.omitted then return nil end
  return tonumber(entry.metadata.omitted)
end

-- Keeps the timeline at `key` (db 3 selected) within TIMELINE.maxEntries (src/core/timeline.ts):
-- the first TIMELINE.keepFirst entries stay, then one Omitted entry that counts every entry left
-- out (with the time of the latest of them), then the latest entries. Called after each append, so
-- it usually drops as many entries as were appended; it costs the first entries and those dropped.
-- `length` is the timeline's length, as the RPUSH of the append answered it.
local function boundTimeline(key, length)
  if length <= TIMELINE.maxEntries then return end
  local keep = TIMELINE.keepFirst
  local before = omittedAt(key)
  local from = before and keep + 1 or keep
  -- Room for the Omitted entry too when there was none.
  local drop = length - TIMELINE.maxEntries + (before and 0 or 1)
  local last = cjson.decode(redis.call('LINDEX', key, from + drop - 1))
  local first = redis.call('LRANGE', key, 0, keep - 1)
  redis.call('LTRIM', key, from + drop, -1)
  -- LPUSH puts each value before the previous one: the Omitted entry first, the first entries reversed.
  local front = {
    string.format('{"label":"%s","description":"","createdAt":%d,"metadata":{"omitted":%d}}', TIMELINE.omitted, last.createdAt,
      (before or 0) + drop),
  }
  for i = #first, 1, -1 do front[#front + 1] = first[i] end
  redis.call('LPUSH', key, unpack(front))
end

-- The listing indexes of a project (db 1; TaskStore.listTasks, list-tasks-0.lua): sorted sets whose
-- members are task ids, all with score 0, so they sort by id (creation order) and are read by lex
-- range from a cursor. One holds all the project's tasks, one per state, one per target host (by its
-- digest), one per tag, one per schedule (its runs) and one per flow key. Entries of a task whose
-- record expired are dropped by the listings that meet them.
local function listKey(prefix, project, kind, value)
  if kind == nil then return prefix .. 'list:' .. project end
  return prefix .. 'list:' .. project .. ':' .. kind .. ':' .. value
end

-- Every listing index a task belongs to (db 1 selected), from its stored fields (`field(name)`
-- answers one, nil or false when the hash holds none): tags is space-separated. Only the state may
-- change after the insert (replace-tasks-1.lua moves the task between state indexes).
local function listKeysOf(prefix, project, field)
  local keys = { listKey(prefix, project), listKey(prefix, project, 'state', field('state')) }
  local function add(kind, value)
    if value and value ~= '' then keys[#keys + 1] = listKey(prefix, project, kind, value) end
  end
  add('host', field('hostTag'))
  add('schedule', field('scheduleId'))
  add('flow', field('flowKey'))
  local tags = field('tags')
  if tags and tags ~= '' then
    for tag in string.gmatch(tags, '%S+') do add('tag', tag) end
  end
  return keys
end

-- The value of `name` in the field, value pairs ARGV[first .. first + count - 1], or nil.
local function pairValue(first, count, name)
  for i = first, first + count - 2, 2 do
    if ARGV[i] == name then return ARGV[i + 1] end
  end
  return nil
end
