#!lua name=rcpesc

-- Escalation's Redis Functions (package ackpending). Each call touches the
-- keys of one hash slot only: a room's stream, members and pushed cursors
-- with its partition's due schedule and heads ({pN}), or one user's device
-- cache ({u:<id>}).
-- Bump LIBRARY_VERSION whenever this file changes: rcpd loads the library
-- (FUNCTION LOAD REPLACE) when the version on the server differs.

local LIBRARY_VERSION = '7'

-- How long a room's pushed cursors live after their last change (30 days).
local PUSHED_TTL_MS = 30 * 24 * 3600 * 1000

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function group_of(user)
  return 'u:' .. user
end

-- id_less orders stream ids "ms-seq" as Redis does.
local function id_less(a, b)
  local am, as = string.match(a, '^(%d+)-(%d+)$')
  local bm, bs = string.match(b, '^(%d+)-(%d+)$')
  am, as, bm, bs = tonumber(am), tonumber(as), tonumber(bm), tonumber(bs)
  return am < bm or (am == bm and as < bs)
end

-- claim: KEYS due; ARGV limit, lease ms.
-- Takes up to `limit` rooms whose time has come (score <= now) and moves
-- their score to now + lease: the caller owns them until it reschedules
-- them or the lease runs out (then any node takes them again).
-- Returns {now, lease_until, next, room1, due1, room2, due2, ...} where next
-- is the earliest score left in the schedule, -1 when it is empty.
local function claim(keys, args)
  local due = keys[1]
  local limit, lease = tonumber(args[1]), tonumber(args[2])
  local now = now_ms()
  local lease_until = now + lease
  local got = redis.call('ZRANGE', due, '-inf', now, 'BYSCORE', 'LIMIT', 0, limit, 'WITHSCORES')
  local out = { now, lease_until, -1 }
  for i = 1, #got, 2 do
    redis.call('ZADD', due, 'XX', lease_until, got[i])
    out[#out + 1] = got[i]
    out[#out + 1] = tonumber(got[i + 1])
  end
  local first = redis.call('ZRANGE', due, 0, 0, 'WITHSCORES')
  if #first > 0 then
    out[3] = tonumber(first[2])
  end
  return out
end

-- oldest_pending reads how a room's ledger stands without reading any
-- member's entries: one XINFO GROUPS (pending count per group), then an
-- XPENDING summary of each group with pending entries for its smallest id.
-- Returns true and the millisecond part of the oldest pending id of the
-- room (nil: nobody has a pending entry, or the stream does not exist), or
-- false when the ledger could not be read.
local function oldest_pending(room_key)
  local ok, groups = pcall(redis.call, 'XINFO', 'GROUPS', room_key)
  if not ok then
    return string.find(tostring(groups['err'] or groups), 'no such key') ~= nil, nil
  end
  local oldest = nil
  for _, g in ipairs(groups) do
    local name, pending = nil, 0
    for j = 1, #g - 1, 2 do
      if g[j] == 'name' then
        name = g[j + 1]
      elseif g[j] == 'pending' then
        pending = tonumber(g[j + 1])
      end
    end
    if pending > 0 then
      local summary = redis.call('XPENDING', room_key, name)
      local ms = tonumber(string.match(summary[2] or '', '^(%d+)-'))
      if not ms then
        return false, nil
      end
      if not oldest or ms < oldest then
        oldest = ms
      end
    end
  end
  return true, oldest
end

-- sweep: KEYS due, room1 … roomN (streams); ARGV lease_until, min_idle ms,
-- id1 … idN. Settles, atomically with reading their ledgers, the rooms
-- just claimed that need no pass:
-- - nobody has a pending entry: the room leaves the schedule (the next
--   send puts it back with ZADD NX);
-- - every pending entry is younger than min_idle by its id: none can be
--   due before oldest id + min_idle (an entry becomes pending when it is
--   added, or later when a lagging group reads it, and a push resets its
--   idle time, so its idle never exceeds its id's age), and the room is
--   rescheduled then.
-- The other rooms the caller still holds (score = lease_until) are
-- returned for a full pass (rcpesc_scan … rcpesc_done), and so are those
-- whose ledger could not be read. Rooms another claim took meanwhile are
-- neither changed nor returned: their holder makes the pass.
-- Returns {kept room, ...}.
local function sweep(keys, args)
  local due, lease_until, min_idle = keys[1], tonumber(args[1]), tonumber(args[2])
  local rooms = {}
  for i = 2, #keys do
    rooms[#rooms + 1] = args[i + 1]
  end
  if #rooms == 0 then
    return {}
  end
  local now = now_ms()
  local scores = redis.call('ZMSCORE', due, unpack(rooms))
  local kept, drop, later = {}, {}, {}
  for i, room in ipairs(rooms) do
    if scores[i] and tonumber(scores[i]) == lease_until then
      local ok, oldest = oldest_pending(keys[i + 1])
      if not ok then
        kept[#kept + 1] = room
      elseif not oldest then
        drop[#drop + 1] = room
      elseif oldest + min_idle > now then
        later[#later + 1] = math.min(oldest, now) + min_idle
        later[#later + 1] = room
      else
        kept[#kept + 1] = room
      end
    end
  end
  if #drop > 0 then
    redis.call('ZREM', due, unpack(drop))
  end
  if #later > 0 then
    redis.call('ZADD', due, unpack(later))
  end
  return kept
end

-- scan_member reads one member's ledger: total pending, and the entries
-- after its pushed cursor that are idle >= min_idle (XPENDING … IDLE, at
-- most page). When some are, the younger entries after them follow (up to
-- page in all): a push announces them together.
local function scan_member(room_key, pushed, user, min_idle, page)
  local g = group_of(user)
  local ok, summary = pcall(redis.call, 'XPENDING', room_key, g)
  if not ok or tonumber(summary[1]) == 0 then
    return nil
  end
  local cursor = redis.call('HGET', pushed, user) or ''
  local start = '-'
  if cursor ~= '' then
    start = '(' .. cursor
  end
  local row = { user, tonumber(summary[1]), cursor, -1 }
  local function add(entries)
    for _, p in ipairs(entries) do
      row[#row + 1] = p[1]
      row[#row + 1] = p[3]
      row[#row + 1] = p[4]
    end
  end
  local due = redis.call('XPENDING', room_key, g, 'IDLE', min_idle, start, '+', page)
  add(due)
  if #due == page then
    row[4] = -2 -- a full page: more entries may be due
  elseif #due > 0 then
    local rest = redis.call('XPENDING', room_key, g, '(' .. due[#due][1], '+', page - #due)
    add(rest)
    if #rest == page - #due then
      row[4] = -2
    end
  else
    -- Nothing due: the first entry after the cursor tells when it will be.
    local nxt = redis.call('XPENDING', room_key, g, start, '+', 1)
    if #nxt == 1 then
      row[4] = nxt[1][3]
    end
  end
  return row
end

-- scan: KEYS room, members, heads, pushed; ARGV room, min_idle ms, page.
-- Returns {now, head id ('' if none), row, row, ...}, one row per member
-- with pending entries: {user, total pending, cursor, next, id, idle,
-- deliveries, id, idle, deliveries, ...}. With entries listed, next is -2
-- when more may follow (the page was full), else -1; with none listed it
-- is the idle time of the first entry after the cursor (-1: none).
local function scan(keys, args)
  local room_key, members, heads, pushed = keys[1], keys[2], keys[3], keys[4]
  local room, min_idle, page = args[1], tonumber(args[2]), tonumber(args[3])
  local head = redis.call('HGET', heads, room)
  local out = { now_ms(), head and string.match(head, '^(%S+)') or '' }
  if redis.call('EXISTS', room_key) == 0 then
    return out
  end
  for _, user in ipairs(redis.call('SMEMBERS', members)) do
    local row = scan_member(room_key, pushed, user, min_idle, page)
    if row then
      out[#out + 1] = row
    end
  end
  return out
end

-- done: KEYS room, pushed, due, heads;
-- ARGV room, lease_until, head_seen, not_before, next_at, then per member:
-- user, min_idle, deliveries, cursor, n, id1 … idn.
-- Bumps each member's pushed entries with XCLAIM … IDLE 0 RETRYCOUNT
-- deliveries JUSTID (only entries still idle >= min_idle, the youngest's
-- idle at the scan: one another node bumped meanwhile has its idle reset
-- and is left alone; one acknowledged is gone), advances the member's
-- pushed cursor, then reschedules the room if the caller still holds its
-- lease: at next_at (-1: drop it from the schedule), but no later than
-- not_before when a message arrived after the scan (head moved).
-- Returns {bumped entries, rescheduled (1) or lease lost (0)}.
local function done(keys, args)
  local room_key, pushed, due, heads = keys[1], keys[2], keys[3], keys[4]
  local room, lease_until, head_seen = args[1], tonumber(args[2]), args[3]
  local not_before, next_at = tonumber(args[4]), tonumber(args[5])
  local bumped, moved = 0, false
  local i = 6
  while i <= #args do
    local user, min_idle, deliveries, cursor, n =
      args[i], args[i + 1], args[i + 2], args[i + 3], tonumber(args[i + 4])
    local g = group_of(user)
    if n > 0 then
      local cmd = { 'XCLAIM', room_key, g, g, min_idle }
      for j = i + 5, i + 4 + n do
        cmd[#cmd + 1] = args[j]
      end
      for _, a in ipairs({ 'IDLE', '0', 'RETRYCOUNT', deliveries, 'JUSTID' }) do
        cmd[#cmd + 1] = a
      end
      -- pcall: the member may have left (its group is gone) meanwhile.
      local ok, got = pcall(redis.call, unpack(cmd))
      if ok then
        bumped = bumped + #got
      end
    end
    if cursor ~= '' then
      local cur = redis.call('HGET', pushed, user)
      if not cur or id_less(cur, cursor) then
        redis.call('HSET', pushed, user, cursor)
        moved = true
      end
    end
    i = i + 5 + n
  end
  if moved then
    -- Cursors are only a shortcut past pushed entries (deliveries >= 2 are
    -- passed over anyway): they may expire with the room's activity.
    redis.call('PEXPIRE', pushed, PUSHED_TTL_MS)
  end
  local score = redis.call('ZSCORE', due, room)
  if not score or tonumber(score) ~= lease_until then
    return { bumped, 0 }
  end
  local head = redis.call('HGET', heads, room)
  local head_id = head and string.match(head, '^(%S+)') or ''
  if head_id ~= head_seen and (next_at < 0 or not_before < next_at) then
    next_at = not_before
  end
  if next_at < 0 then
    redis.call('ZREM', due, room)
  else
    redis.call('ZADD', due, next_at, room)
  end
  return { bumped, 1 }
end

-- devices_fill: KEYS devices (a user's cache); ARGV version seen, ttl ms,
-- token1, platform1, ... Replaces the cache with the devices read from
-- MySQL unless a register or delete changed it (its ~v field) since the
-- reader's HGETALL: then the newer state wins and the fill is dropped.
-- Returns 1 when filled.
local function devices_fill(keys, args)
  local key, seen, ttl = keys[1], args[1], args[2]
  local v = redis.call('HGET', key, '~v') or '0'
  if v ~= seen then
    return 0
  end
  redis.call('DEL', key)
  local fields = { '~loaded', '1', '~v', v }
  for i = 3, #args do
    fields[#fields + 1] = args[i]
  end
  redis.call('HSET', key, unpack(fields))
  redis.call('PEXPIRE', key, ttl)
  return 1
end

local function version()
  return LIBRARY_VERSION
end

redis.register_function('rcpesc_claim', claim)
redis.register_function('rcpesc_sweep', sweep)
redis.register_function('rcpesc_scan', scan)
redis.register_function('rcpesc_done', done)
redis.register_function('rcpesc_devices_fill', devices_fill)
redis.register_function{ function_name = 'rcpesc_version', callback = version, flags = { 'no-writes' } }
