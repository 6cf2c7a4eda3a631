// The Lua that runs on Redis. Each script works on the seven keys of one or more tables
// (keys.ts: KEYS[b+1..b+7] for table b/7) and is atomic there; the client does everything that
// must look inside a value (it decodes msgpack, Lua's cmsgpack cannot: see the README), so Lua
// only ever moves opaque bytes, checks table types, keeps deadlines, order and recency, and
// refuses a commit whose tables changed since they were read (the optimistic path, tables.ts).
// Errors are 'CDB CODE detail' replies; the transport turns them into CyberErrors.

// --- shared helpers: b is the table's offset into KEYS (0, 7, 14, ...) ---
export const PRELUDE = `
local now = tonumber(ARGV[1])
local function fail(code, detail) error({err = 'CDB ' .. code .. ' ' .. (detail or '')}) end
-- The change feed (one node only, feed.ts): the client then passes the feed's stream, its seq
-- counter and its length bound as the last three keys. Each write appends its logged op,
-- msgpack [table, op, args], at the next seq: one stream in commit order for every table.
local FEED = #KEYS % 7 == 3
local function P(x) return cmsgpack.pack(x) end
local function hdr(n)
  if n < 16 then return string.char(0x90 + n) end
  if n < 65536 then return string.char(0xdc, math.floor(n / 256), n % 256) end
  return string.char(0xdd, math.floor(n / 16777216) % 256, math.floor(n / 65536) % 256, math.floor(n / 256) % 256, n % 256)
end
local function keyOf(f)
  if string.sub(f, 1, 1) == 's' then return string.sub(f, 2) end
  return tonumber(string.sub(f, 2))
end
local function record(bytes)
  if not FEED then return 0 end
  local seq = redis.call('INCR', KEYS[#KEYS - 1])
  local history = tonumber(redis.call('GET', KEYS[#KEYS]) or '') or 10000
  redis.call('XADD', KEYS[#KEYS - 2], 'MAXLEN', history, '0-' .. seq, 'r', bytes)
  return seq
end
-- op's record on table b: n arguments, already msgpack, concatenated
local function rec(b, op, n, args)
  if not FEED then return 0 end
  return record('\\147' .. P(redis.call('HGET', KEYS[b + 1], 'name') or '') .. P(op) .. hdr(n) .. args)
end
-- a removal by the database itself (dict.expire, dict.evict): one commit for its keys
local function removal(b, op, fields)
  if not FEED or #fields == 0 then return end
  local keys = {}
  for i, f in ipairs(fields) do keys[i] = P(keyOf(f)) end
  rec(b, op, 1, hdr(#fields) .. table.concat(keys))
end
-- Time never goes back for a table (as in the engine): a clock set back finds the latest time
-- a write ran at, so nothing that had expired comes back.
local function since(b)
  local seen = tonumber(redis.call('HGET', KEYS[b + 1], 'now') or '')
  if seen and seen > now then now = seen end
end
local function check(b, want)
  local meta = redis.call('HMGET', KEYS[b + 1], 'type', 'now')
  local ty = meta[1]
  if not ty then fail('TABLE_NOT_FOUND') end
  if ty ~= want then fail('WRONG_TABLE_TYPE', ty) end
  local seen = tonumber(meta[2] or '')
  if seen and seen > now then now = seen end
end
local function bump(b)
  redis.call('INCR', KEYS[b + 7])
  if redis.call('EXISTS', KEYS[b + 1]) == 1 then redis.call('HSET', KEYS[b + 1], 'now', tostring(now)) end
end
local function remove(b, f)
  local v = redis.call('HGET', KEYS[b + 2], f)
  if not v then return false end
  redis.call('HDEL', KEYS[b + 2], f)
  redis.call('ZREM', KEYS[b + 3], f)
  redis.call('ZREM', KEYS[b + 4], f)
  redis.call('ZREM', KEYS[b + 5], f)
  redis.call('HINCRBY', KEYS[b + 1], 'bytes', -(#f + #v))
  return true
end
local function expired(b, f)
  local d = redis.call('ZSCORE', KEYS[b + 4], f)
  return d and tonumber(d) <= now
end
-- a live value, or false; an expired one is removed on the way (a write: the version moves)
local function live(b, f)
  if expired(b, f) then
    if remove(b, f) then
      redis.call('HINCRBY', KEYS[b + 1], 'expired', 1)
      removal(b, 'dict.expire', {f})
    end
    bump(b)
    return false
  end
  return redis.call('HGET', KEYS[b + 2], f)
end
local function touch(b, f)
  if redis.call('HGET', KEYS[b + 1], 'bounded') then
    redis.call('ZADD', KEYS[b + 5], redis.call('HINCRBY', KEYS[b + 1], 'lru', 1), f)
  end
end
-- least recently used first, until the table is within maxEntries and maxBytes
local function evict(b)
  local maxE = tonumber(redis.call('HGET', KEYS[b + 1], 'maxEntries') or '')
  local maxB = tonumber(redis.call('HGET', KEYS[b + 1], 'maxBytes') or '')
  if not maxE and not maxB then return end
  local victims = {}
  for _ = 1, 100000 do
    local size = redis.call('HLEN', KEYS[b + 2])
    local bytes = tonumber(redis.call('HGET', KEYS[b + 1], 'bytes') or '0')
    if (not maxE or size <= maxE) and (not maxB or bytes <= maxB) then break end
    local victim = redis.call('ZRANGE', KEYS[b + 5], 0, 0)[1]
    if not victim then break end
    if remove(b, victim) then
      redis.call('HINCRBY', KEYS[b + 1], 'evicted', 1)
      victims[#victims + 1] = victim
    end
  end
  removal(b, 'dict.evict', victims)
end
-- Waiting takes (takes.ts): a line of take ids per list, and a hand-over key per take that its
-- own connection blocks on. A write that leaves elements moves them, first to first, to the
-- takes first in line (so the line's order is the order they are served in); a write to a table
-- that is gone, or not a list, wakes every take with an empty marker, to find out.
local function waiters(b) return string.sub(KEYS[b + 1], 1, -2) .. 'w' end
local function wake(b)
  local w = waiters(b)
  if redis.call('LLEN', w) == 0 then return end
  local isList = redis.call('HGET', KEYS[b + 1], 'type') == 'list'
  for _ = 1, 100000 do
    if isList and redis.call('LLEN', KEYS[b + 6]) == 0 then return end
    local id = redis.call('LPOP', w)
    if not id then return end
    local key = w .. ':' .. id
    if isList then
      redis.call('LMOVE', KEYS[b + 6], key, 'LEFT', 'RIGHT')
      rec(b, 'list.shift', 0, '') -- what a take is in the feed (as the host logs it)
    else
      redis.call('RPUSH', key, '')
    end
    redis.call('PEXPIRE', key, 86400000)
  end
end
-- the sweep: each write reclaims a few expired keys, so memory is freed without reads
local function sweep(b)
  local due = redis.call('ZRANGEBYSCORE', KEYS[b + 4], '-inf', now, 'LIMIT', 0, 16)
  local gone = {}
  for _, f in ipairs(due) do
    if remove(b, f) then
      redis.call('HINCRBY', KEYS[b + 1], 'expired', 1)
      gone[#gone + 1] = f
    end
  end
  removal(b, 'dict.expire', gone)
end
`

/** dict.get: [now, field] -> value bytes or nil. */
export const DICT_GET = PRELUDE + `
check(0, 'dict')
local v = live(0, ARGV[2])
if v then touch(0, ARGV[2]) end
return v
`

/** dict.has: [now, field] -> 1 | 0. */
export const DICT_HAS = PRELUDE + `
check(0, 'dict')
if live(0, ARGV[2]) then return 1 end
return 0
`

/** dict.size: [now] -> live keys. */
export const DICT_SIZE = PRELUDE + `
check(0, 'dict')
return redis.call('HLEN', KEYS[2]) - redis.call('ZCOUNT', KEYS[4], '-inf', now)
`

/** dict.delete: [now, field] -> 1 | 0. */
export const DICT_DELETE = PRELUDE + `
check(0, 'dict')
local was = live(0, ARGV[2])
rec(0, 'dict.delete', 1, P(keyOf(ARGV[2])))
if not was then return 0 end
remove(0, ARGV[2])
bump(0)
sweep(0)
return 1
`

/** dict.set without options: [now, field, value] (the table's default ttl, or none). */
export const DICT_SET = PRELUDE + `
check(0, 'dict')
local f, v = ARGV[2], ARGV[3]
rec(0, 'dict.set', 2, P(keyOf(f)) .. v)
local old = redis.call('HGET', KEYS[2], f)
if old and expired(0, f) then
  remove(0, f)
  old = false
end
bump(0)
local ttl = tonumber(redis.call('HGET', KEYS[1], 'ttl') or '')
local deadline = ttl and math.ceil(now + ttl)
if deadline and deadline <= now then
  remove(0, f)
  return 0
end
redis.call('HSET', KEYS[2], f, v)
if old then
  redis.call('HINCRBY', KEYS[1], 'bytes', #v - #old)
else
  redis.call('HINCRBY', KEYS[1], 'bytes', #f + #v)
  redis.call('ZADD', KEYS[3], redis.call('HINCRBY', KEYS[1], 'seq', 1), f)
end
if deadline then redis.call('ZADD', KEYS[4], deadline, f) else redis.call('ZREM', KEYS[4], f) end
touch(0, f)
evict(0)
sweep(0)
return 1
`

/** list.push: [now, maxLength or '', value...] -> new length. */
export const LIST_PUSH = PRELUDE + `
check(0, 'list')
local n = redis.call('LLEN', KEYS[6])
if FEED then rec(0, 'list.push', #ARGV - 2, table.concat(ARGV, '', 3)) end
if #ARGV > 2 then
  bump(0)
  for i = 3, #ARGV, 4000 do
    n = redis.call('RPUSH', KEYS[6], unpack(ARGV, i, math.min(i + 3999, #ARGV)))
  end
  local max = tonumber(redis.call('HGET', KEYS[1], 'maxLength') or '')
  if max and n > max then
    redis.call('LTRIM', KEYS[6], -max, -1)
    n = max
  end
  wake(0)
end
return n
`

/** list.length: [now]. */
export const LIST_LENGTH = PRELUDE + `
check(0, 'list')
return redis.call('LLEN', KEYS[6])
`

/** list.at: [now, index] -> value bytes or nil (Redis counts a negative index from the end too). */
export const LIST_AT = PRELUDE + `
check(0, 'list')
return redis.call('LINDEX', KEYS[6], ARGV[2])
`

/** list.shift: [now] -> value bytes or nil. */
export const LIST_SHIFT = PRELUDE + `
check(0, 'list')
rec(0, 'list.shift', 0, '')
local v = redis.call('LPOP', KEYS[6])
if v then bump(0) end
return v
`

/** list.pop() (the last): [now] -> value bytes; INDEX_OUT_OF_RANGE when empty. */
export const LIST_POP = PRELUDE + `
check(0, 'list')
local v = redis.call('RPOP', KEYS[6])
if not v then fail('INDEX_OUT_OF_RANGE') end
rec(0, 'list.pop', 0, '')
bump(0)
return v
`
