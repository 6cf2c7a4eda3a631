// Where a table lives on Redis, and how a dict key becomes a hash field. Every key of one table
// carries the same hash tag ({name}), so a table is on one slot of a Cluster and every script on
// it is atomic. Knows nothing of ioredis: pure naming.

import type { Key } from '../engine/values.ts'

/** The Redis keys of one table, in the order every script takes them (KEYS[1..7]). */
export interface TableKeys {
  /** hash: type, options, born (the incarnation), seq (insertion counter), lru, bytes */
  meta: string
  /** hash: dict fields -> msgpack values */
  hash: string
  /** zset: dict fields by insertion order (a Map's order; Redis hashes have none) */
  order: string
  /** zset: dict fields by absolute deadline (ms since the epoch) */
  deadlines: string
  /** zset: dict fields by last use (bounded tables only) */
  recent: string
  /** list: msgpack values */
  list: string
  /** string: the table's version, bumped by every write and never deleted (a dropped and
   * recreated table goes on counting, so an optimistic commit can never mistake one for the other) */
  version: string
}

/** The sorted set of table names (score: creation order): what tables() reads. Its own slot. */
export const REGISTRY_KEY = 'cdb:{cdb}:tables'
export const REGISTRY_SEQ_KEY = 'cdb:{cdb}:seq'

// A name holding braces would end or open the tag early; escaping them (and the escape itself)
// keeps every key of a table on one slot and two names from ever sharing keys. An empty tag
// would hash each whole key apart: '' (which the engine refuses as a name anyway) is '%', which
// no escaped name can be.
function tag(name: string): string {
  if (name === '') return '%'
  return name.replace(/[%{}]/g, (c) => (c === '%' ? '%25' : c === '{' ? '%7B' : '%7D'))
}

export function tableKeys(name: string): TableKeys {
  const base = `cdb:{${tag(name)}}:`
  return {
    meta: base + 'm', hash: base + 'h', order: base + 'o', deadlines: base + 'x',
    recent: base + 'u', list: base + 'l', version: base + 'v',
  }
}

export function keyList(keys: TableKeys): string[] {
  return [keys.meta, keys.hash, keys.order, keys.deadlines, keys.recent, keys.list, keys.version]
}

/** The hash tag a table's keys are hashed by: what decides its Cluster slot. */
export function slotTag(name: string): string {
  return tag(name)
}

// 0 and '0' are different keys (as in a Map): a field is 's' + the string or 'n' + the number.
// String(-0) is '0' and a Map treats -0 as 0 too; NaN and the infinities read back with Number().
export function encodeKey(key: Key): string {
  return typeof key === 'string' ? 's' + key : 'n' + String(key)
}

export function decodeKey(field: string): Key {
  return field.charCodeAt(0) === 115 /* s */ ? field.slice(1) : Number(field.slice(1))
}
