-- prelude: put before every script, after the generated tables (lua-script.ts).

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
