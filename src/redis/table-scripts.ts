// The Lua of the optimistic path (tables.ts: LOAD, LOAD_FIELDS, COMMIT), of scans, waiting
// takes and tables()/info(), on the helpers of scripts.ts. Same rules: opaque bytes only, the
// seven keys of each table (keys.ts), errors as 'CDB CODE detail' replies.

import { PRELUDE } from './scripts.ts'

/** Reads whole tables for the optimistic path: per table {version, type, options, born, seq,
 * fields (insertion order), values, deadlines (field, ms, ...), list items}. */
export const LOAD = PRELUDE + `
local out = {}
for b = 0, #KEYS - 7, 7 do
  local version = redis.call('GET', KEYS[b + 7]) or '0'
  local meta = redis.call('HMGET', KEYS[b + 1], 'type', 'opts', 'born', 'now')
  local ty = meta[1]
  local t = {version, ty or '', meta[2] or '', meta[3] or '', meta[4] or '', {}, {}, {}, {}}
  if ty == 'dict' then
    local fields = redis.call('ZRANGE', KEYS[b + 3], 0, -1)
    t[6] = fields
    if #fields > 0 then
      for i = 1, #fields, 4000 do
        local part = redis.call('HMGET', KEYS[b + 2], unpack(fields, i, math.min(i + 3999, #fields)))
        for j = 1, #part do t[7][i + j - 1] = part[j] or '' end
      end
    end
    t[8] = redis.call('ZRANGE', KEYS[b + 4], 0, -1, 'WITHSCORES')
  elseif ty == 'list' then
    t[9] = redis.call('LRANGE', KEYS[b + 6], 0, -1)
  end
  out[#out + 1] = t
end
return out
`

/** LOAD for an op that names its keys (incr, pop, getMany, setMany, ...): one dict table, only
 * the fields in ARGV[2..] that are stored, in insertion order; the same reply shape as LOAD's. */
export const LOAD_FIELDS = PRELUDE + `
local version = redis.call('GET', KEYS[7]) or '0'
local meta = redis.call('HMGET', KEYS[1], 'type', 'opts', 'born', 'now')
local ty = meta[1]
local t = {version, ty or '', meta[2] or '', meta[3] or '', meta[4] or '', {}, {}, {}, {}}
if ty == 'dict' then
  local found = {}
  local seen = {}
  for i = 2, #ARGV do
    local f = ARGV[i]
    if not seen[f] then
      seen[f] = true
      local score = redis.call('ZSCORE', KEYS[3], f)
      if score then found[#found + 1] = {f, tonumber(score)} end
    end
  end
  table.sort(found, function(x, y) return x[2] < y[2] end)
  for i, entry in ipairs(found) do
    local f = entry[1]
    t[6][i] = f
    t[7][i] = redis.call('HGET', KEYS[2], f) or ''
    local d = redis.call('ZSCORE', KEYS[4], f)
    if d then
      t[8][#t[8] + 1] = f
      t[8][#t[8] + 1] = d
    end
  end
end
return {t}
`

/** The optimistic commit: [now, tables, version per table..., then commands]. Refused (0) when a
 * table's version moved since it was read; else runs every command and bumps each version, and
 * answers the op's feed seq (1 without a feed). 'F' records the op's logged form in the feed.
 * A command is [op, argc, args...]: 'R' a Redis command on KEYS[args[2]] (args[1] its name),
 * 'A' appends a field to a table's order, 'T' touches it (recency), 'E' evicts a table to its
 * bounds, 'S' sweeps a few expired keys. */
export const COMMIT = PRELUDE + `
local tables = tonumber(ARGV[2])
for t = 1, tables do since((t - 1) * 7) end
for t = 1, tables do
  if (redis.call('GET', KEYS[(t - 1) * 7 + 7]) or '0') ~= ARGV[2 + t] then return 0 end
end
local i = 3 + tables
local opseq = 0
while i <= #ARGV do
  local op, argc = ARGV[i], tonumber(ARGV[i + 1])
  if op == 'F' then
    opseq = record(ARGV[i + 2]) -- the op's logged form, first: then what the database removes
  elseif op == 'R' then
    redis.call(ARGV[i + 2], KEYS[tonumber(ARGV[i + 3])], unpack(ARGV, i + 4, i + 1 + argc))
  elseif op == 'A' then
    local b = tonumber(ARGV[i + 2])
    redis.call('ZADD', KEYS[b + 3], redis.call('HINCRBY', KEYS[b + 1], 'seq', 1), ARGV[i + 3])
  elseif op == 'T' then
    touch(tonumber(ARGV[i + 2]), ARGV[i + 3])
  elseif op == 'E' then
    evict(tonumber(ARGV[i + 2]))
  elseif op == 'S' then
    sweep(tonumber(ARGV[i + 2]))
  end
  i = i + 2 + argc
end
for t = 1, tables do
  bump((t - 1) * 7)
  wake((t - 1) * 7)
end
if opseq > 0 then return opseq end
return 1
`

/** dict.scan / list.scan: [now, after, count] -> {born, next position, items...}. A dict goes by
 * insertion score (fields after `after`), returning field, value, deadline ('' none) triples; a
 * list by index. */
export const SCAN = PRELUDE + `
local ty = redis.call('HGET', KEYS[1], 'type')
if not ty then fail('TABLE_NOT_FOUND') end
since(0)
local born = redis.call('HGET', KEYS[1], 'born') or ''
local after, count = tonumber(ARGV[2]), tonumber(ARGV[3])
local out = {ty, born, '0'}
if ty == 'dict' then
  local page = redis.call('ZRANGEBYSCORE', KEYS[3], '(' .. after, '+inf', 'WITHSCORES', 'LIMIT', 0, count)
  for i = 1, #page, 2 do
    local f = page[i]
    local v = redis.call('HGET', KEYS[2], f)
    local d = redis.call('ZSCORE', KEYS[4], f)
    if v and not (d and tonumber(d) <= now) then
      out[#out + 1] = f
      out[#out + 1] = v
    end
    out[3] = page[i + 1]
  end
  if #page < 2 * count then out[3] = '0' end
else
  local items = redis.call('LRANGE', KEYS[6], after, after + count - 1)
  for _, v in ipairs(items) do out[#out + 1] = v end
  if #items == count then out[3] = tostring(after + count) end
end
return out
`

/** list.take: [now, take id, 'none' | 'wait'] -> the first element, or nil; with nothing there
 * a waiting take joins the end of the line. */
export const TAKE = PRELUDE + `
check(0, 'list')
local v = redis.call('LPOP', KEYS[6])
if v then
  rec(0, 'list.shift', 0, '')
  bump(0)
  return v
end
if ARGV[3] == 'wait' then redis.call('RPUSH', waiters(0), ARGV[2]) end
return false
`

/** A waiting take leaves the line: [now, take id]. An element handed to it that it never read
 * goes back to the front of the list (and on to the next take in line). */
export const UNWAIT = PRELUDE + `
local w = waiters(0)
local key = w .. ':' .. ARGV[2]
redis.call('LREM', w, 0, ARGV[2])
local v = redis.call('LPOP', key)
redis.call('DEL', key)
if v and v ~= '' and redis.call('HGET', KEYS[1], 'type') == 'list' then
  redis.call('LPUSH', KEYS[6], v)
  rec(0, 'list.unshift', 1, v)
  bump(0)
  wake(0)
end
return 1
`

/** tables() and info(): per table {type ('' gone), size, bytes, keys with a deadline, version,
 * expired, evicted}. A list's bytes are what Redis says it uses (MEMORY USAGE). */
export const INFO = PRELUDE + `
local meta = redis.call('HMGET', KEYS[1], 'type', 'bytes', 'expired', 'evicted')
local ty = meta[1]
if not ty then return {'', 0, 0, 0, 0, 0, 0} end
since(0)
local version = tonumber(redis.call('GET', KEYS[7]) or '0')
local counts = {tonumber(meta[3] or '0'), tonumber(meta[4] or '0')}
if ty == 'dict' then
  local due = redis.call('ZCOUNT', KEYS[4], '-inf', now)
  return {ty, redis.call('HLEN', KEYS[2]) - due, tonumber(meta[2] or '0'),
    redis.call('ZCARD', KEYS[4]) - due, version, counts[1], counts[2]}
end
local ok, bytes = pcall(redis.call, 'MEMORY', 'USAGE', KEYS[6])
if not ok or not bytes then bytes = 0 end
return {ty, redis.call('LLEN', KEYS[6]), bytes, 0, version, counts[1], counts[2]}
`

/** Registers a created table (ARGV[2]) in creation order, or forgets a dropped one (ARGV[3] '1'). */
export const REGISTER = PRELUDE + `
if ARGV[3] == '1' then return redis.call('ZREM', KEYS[1], ARGV[2]) end
if redis.call('ZSCORE', KEYS[1], ARGV[2]) then return 0 end
return redis.call('ZADD', KEYS[1], redis.call('INCR', KEYS[2]), ARGV[2])
`
