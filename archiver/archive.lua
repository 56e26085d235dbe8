#!lua name=rcparch

-- The archiver's Redis Functions (package archiver). Every key of one call
-- carries the same {pN} hash tag. Bump LIBRARY_VERSION whenever this file
-- changes: rcpd reloads the library when the version on the server differs.

local LIBRARY_VERSION = '2'

-- Stream ids compare as (ms, seq) pairs of integers.
local function parse(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end

local function less(a, b)
  local am, as = parse(a)
  local bm, bs = parse(b)
  return am < bm or (am == bm and as < bs)
end

-- successor is the smallest id greater than id: XTRIM MINID successor(id)
-- removes id and everything older.
local function successor(id)
  local ms, seq = parse(id)
  return string.format('%.0f-%.0f', ms, seq + 1)
end

-- lease: KEYS lease; ARGV owner, ttl ms. Takes or renews the lease; returns
-- 1 when the caller holds it, 0 when someone else does.
local function lease(keys, args)
  local holder = redis.call('GET', keys[1])
  if not holder then
    redis.call('SET', keys[1], args[1], 'PX', args[2])
    return 1
  end
  if holder == args[1] then
    redis.call('PEXPIRE', keys[1], args[2])
    return 1
  end
  return 0
end

-- release: KEYS lease; ARGV owner. Drops the lease if the caller holds it.
local function release(keys, args)
  if redis.call('GET', keys[1]) == args[1] then
    return redis.call('DEL', keys[1])
  end
  return 0
end

-- commit: KEYS room stream, cursor hash; ARGV room, upto ('' = none),
-- expire_before_ms.
-- Moves the room's archive cursor forward to upto (never back: everything
-- up to the cursor is in MySQL), then trims the stream up to the cursor but
-- never past an entry some member still has pending (the PEL is the whole
-- ledger: rcp_send adds each member's entry with XCLAIM FORCE, so a group's
-- last-delivered-id says nothing). Pending entries older than
-- expire_before_ms do not hold the trim back for good: they are returned,
-- and the caller escalates, acknowledges them and calls again.
-- Returns {trimmed, held (0|1), cursor, group1, oldest1, group2, oldest2,
-- ...} with the groups whose expired entries block the trim.
local function commit(keys, args)
  local stream, cursors = keys[1], keys[2]
  local room, upto, expire_ms = args[1], args[2], tonumber(args[3])
  local cur = redis.call('HGET', cursors, room)
  if upto ~= '' and (not cur or less(cur, upto)) then
    redis.call('HSET', cursors, room, upto)
    cur = upto
  end
  if not cur then
    return { 0, 0, '' }
  end
  if redis.call('EXISTS', stream) == 0 then
    return { 0, 0, cur }
  end
  local bound = successor(cur)
  local held, blockers = 0, {}
  for _, g in ipairs(redis.call('XINFO', 'GROUPS', stream)) do
    local info = {}
    for i = 1, #g, 2 do
      info[g[i]] = g[i + 1]
    end
    if info['pending'] > 0 then
      local oldest = redis.call('XPENDING', stream, info['name'])[2]
      if less(oldest, bound) then
        bound = oldest
        local oldest_ms = parse(oldest)
        if oldest_ms < expire_ms then
          table.insert(blockers, info['name'])
          table.insert(blockers, oldest)
        else
          held = 1
        end
      end
    end
  end
  local trimmed = redis.call('XTRIM', stream, 'MINID', bound)
  local out = { trimmed, held, cur }
  for _, v in ipairs(blockers) do
    table.insert(out, v)
  end
  return out
end

-- drop_room: KEYS room stream, members, heads, cursor hash, due; ARGV room.
-- An expired room leaves Redis: its stream (with every member's ledger),
-- its member set, its head, its archive cursor and its escalation due time.
local function drop_room(keys, args)
  local n = redis.call('DEL', keys[1], keys[2])
  redis.call('HDEL', keys[3], args[1])
  redis.call('HDEL', keys[4], args[1])
  redis.call('ZREM', keys[5], args[1])
  return n
end

local function version()
  return LIBRARY_VERSION
end

redis.register_function('rcparch_lease', lease)
redis.register_function('rcparch_release', release)
redis.register_function('rcparch_commit', commit)
redis.register_function('rcparch_drop_room', drop_room)
redis.register_function{ function_name = 'rcparch_version', callback = version, flags = { 'no-writes' } }
