#!lua name=rcp

-- RCP's Redis Functions. Every key of one call carries the same {pN} hash
-- tag, so each call is atomic on a single Redis or a Cluster primary.
-- Bump LIBRARY_VERSION whenever this file changes: rcpd loads the library
-- (FUNCTION LOAD REPLACE) when the version on the server differs.

local LIBRARY_VERSION = '5'

local function group_of(user)
  return 'u:' .. user
end

-- head returns the newest stream id and sequence number of a room.
local function head(heads, room)
  local v = redis.call('HGET', heads, room)
  if not v then
    return nil, 0
  end
  local id, seq = string.match(v, '^(%S+) (%d+)$')
  return id, tonumber(seq)
end

-- take_into_pel makes entry `id` pending for `group`: XCLAIM FORCE adds it
-- to the group's PEL without reading the entry back (XREADGROUP would
-- return the whole entry into Lua: about 7 us more per recipient, measured
-- in docs/benchmarks.md). The group's last-delivered-id stays where join
-- put it: the PEL alone is the ledger. A lost group is created again.
local function take_into_pel(room, group, id)
  local res = redis.pcall('XCLAIM', room, group, group, '0', id, 'FORCE', 'JUSTID')
  if type(res) == 'table' and res['err'] then
    if not string.find(res['err'], 'NOGROUP') then
      return redis.error_reply(res['err'])
    end
    redis.call('XGROUP', 'CREATE', room, group, id)
    redis.call('XGROUP', 'CREATECONSUMER', room, group, group)
    redis.call('XCLAIM', room, group, group, '0', id, 'FORCE', 'JUSTID')
  end
  return nil
end

-- send: KEYS room, members, feed, heads, due, dedup (dedup may be '')
-- ARGV room, sender, type, body, client id, due delay ms, feed maxlen, dedup ttl s
-- Returns {id, seq, duplicate(0|1)}; a client id already used for a message
-- of another type is refused (CLIENTIDUSED).
local function send(keys, args)
  local room_key, members, feed, heads, due, dedup =
    keys[1], keys[2], keys[3], keys[4], keys[5], keys[6]
  local room, sender, typ, body, cid = args[1], args[2], args[3], args[4], args[5]
  local due_ms, feed_max, dedup_ttl = tonumber(args[6]), args[7], args[8]

  if redis.call('SISMEMBER', members, sender) == 0 then
    return redis.error_reply('NOTMEMBER ' .. sender .. ' is not a member of ' .. room)
  end
  if cid ~= '' then
    local prior = redis.call('GET', dedup)
    if prior then
      -- "id seq type" ("id seq" from library version 4 and earlier).
      local id, seq, ptyp = string.match(prior, '^(%S+) (%d+) ?(%S*)$')
      if ptyp ~= '' and ptyp ~= typ then
        return redis.error_reply('CLIENTIDUSED x-client-id ' .. cid .. ' already names a ' .. ptyp .. ' message')
      end
      return { id, tonumber(seq), 1 }
    end
  end

  local prev, seq = head(heads, room)
  seq = seq + 1
  local fields = { 's', sender, 't', typ, 'b', body, 'n', tostring(seq) }
  if cid ~= '' then
    table.insert(fields, 'c'); table.insert(fields, cid)
  end
  if prev then
    table.insert(fields, 'p'); table.insert(fields, prev)
  end
  local id = redis.call('XADD', room_key, '*', unpack(fields))

  -- The sender's own group gets no entry: it has the message already.
  for _, user in ipairs(redis.call('SMEMBERS', members)) do
    if user ~= sender then
      local err = take_into_pel(room_key, group_of(user), id)
      if err then
        return err
      end
    end
  end

  redis.call('XADD', feed, 'MAXLEN', '~', feed_max, '*', 'r', room, 'i', id, unpack(fields))
  redis.call('HSET', heads, room, id .. ' ' .. seq)
  local now = redis.call('TIME')
  local at = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) + due_ms
  redis.call('ZADD', due, 'NX', at, room)
  if cid ~= '' then
    redis.call('SET', dedup, id .. ' ' .. seq .. ' ' .. typ, 'EX', dedup_ttl)
  end
  return { id, seq, 0 }
end

-- join: KEYS room, members, heads; ARGV room, user.
-- The member's group starts at the room's newest entry: history is read
-- through sync, not through the ledger. Returns 1 if the user is new.
local function join(keys, args)
  local room_key, members, heads = keys[1], keys[2], keys[3]
  local room, user = args[1], args[2]
  local g = group_of(user)
  local start = head(heads, room) or '0'
  local ok, err = pcall(redis.call, 'XGROUP', 'CREATE', room_key, g, start, 'MKSTREAM')
  if not ok and not string.find(tostring(err['err'] or err), 'BUSYGROUP') then
    error(err)
  end
  redis.call('XGROUP', 'CREATECONSUMER', room_key, g, g)
  return redis.call('SADD', members, user)
end

-- leave: KEYS room, members; ARGV user. Drops the member's group and its
-- pending entries. Returns 1 if the user was a member.
local function leave(keys, args)
  local room_key, members = keys[1], keys[2]
  local user = args[1]
  if redis.call('EXISTS', room_key) == 1 then
    redis.call('XGROUP', 'DESTROY', room_key, group_of(user))
  end
  return redis.call('SREM', members, user)
end

-- ack_upto: KEYS room; ARGV user, id. Acknowledges every entry pending for
-- the user up to and including id, at most 1,000 a call.
-- Returns {acked, more(0|1)}.
local function ack_upto(keys, args)
  local room_key, g, upto = keys[1], group_of(args[1]), args[2]
  local ok, pending = pcall(redis.call, 'XPENDING', room_key, g, '-', upto, 1000)
  if not ok then
    return redis.error_reply('NOGROUP ' .. g .. ' has no group on ' .. room_key)
  end
  if #pending == 0 then
    return { 0, 0 }
  end
  local ids = {}
  for i, p in ipairs(pending) do
    ids[i] = p[1]
  end
  local n = redis.call('XACK', room_key, g, unpack(ids))
  local more = 0
  if #pending == 1000 then
    more = 1
  end
  return { n, more }
end

local function version()
  return LIBRARY_VERSION
end

redis.register_function('rcp_send', send)
redis.register_function('rcp_join', join)
redis.register_function('rcp_leave', leave)
redis.register_function('rcp_ack_upto', ack_upto)
redis.register_function{ function_name = 'rcp_version', callback = version, flags = { 'no-writes' } }
