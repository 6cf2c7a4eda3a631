// Many keys in one operation: the bulk ops (getMany, setMany, deleteMany) and prefix selection
// (keys/values/entries/clear/scan with { prefix, limit }). Only string keys match a prefix, and
// the empty prefix matches every string key (never a number key). Listings are bounded as a
// request is (checkListing): a reply past it is FRAME_TOO_LARGE in every mode.

import { badArgument } from '../errors.ts'
import { checkSetOptions } from './cache-options.ts'
import type { DictTable } from './dict-table.ts'
import { checkListing } from './value-model.ts'
import { checkKey, describe, type Key } from './values.ts'

export interface ListOptions {
  prefix?: string
  limit?: number
}

const LIST_OPTIONS: ReadonlySet<string> = new Set(['prefix', 'limit'])
const PREFIX_ONLY: ReadonlySet<string> = new Set(['prefix'])

/** Options of one op, as an object with only the `allowed` fields (undefined and null: none). */
export function checkOptions(value: unknown, op: string,
  allowed: ReadonlySet<string>): Record<string, unknown> {
  if (value === undefined || value === null) return {}
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw badArgument(`${op} options must be an object, not ${describe(value)}`)
  }
  for (const name of Object.keys(value)) {
    if (!allowed.has(name)) throw badArgument(`${op} has no option ${JSON.stringify(name)}`)
  }
  return value as Record<string, unknown>
}

/** { prefix, limit }: a string prefix (the empty one matches every string key), a positive
 * integer limit. `allowed` says which of the two the op takes. */
export function checkListOptions(value: unknown, op: string,
  allowed: ReadonlySet<string> = LIST_OPTIONS): ListOptions {
  const { prefix, limit } = checkOptions(value, op, allowed)
  if (prefix !== undefined && typeof prefix !== 'string') {
    throw badArgument(`${op} option "prefix" must be a string, not ${describe(prefix)}`)
  }
  if (prefix !== undefined && !prefix.isWellFormed()) {
    throw badArgument(`${op} option "prefix" must be well-formed unicode: it has a lone surrogate`)
  }
  if (limit !== undefined && (!Number.isSafeInteger(limit) || (limit as number) < 1)) {
    throw badArgument(`${op} option "limit" must be a positive integer, not ${describe(limit)}`)
  }
  return { prefix, limit: limit as number | undefined }
}

/** Whether `key` is selected by `prefix` (undefined: every key). */
export function matches(key: Key, prefix: string | undefined): boolean {
  return prefix === undefined || (typeof key === 'string' && key.startsWith(prefix))
}

type Pick = (key: Key, value: unknown) => unknown

/** dict.keys/values/entries: the selected items in insertion order, bounded. */
export function list(table: DictTable, options: unknown, op: string, pick: Pick): unknown[] {
  const { prefix, limit } = checkListOptions(options, op)
  const out: unknown[] = []
  for (const [key, value] of table.entries()) {
    if (!matches(key, prefix)) continue
    if (out.push(pick(key, value)) === limit) break
  }
  checkListing(out, table.bytes, op)
  return out
}

/** dict.clear: without options, empties the dict (returns nothing, as it always did); with
 * options, removes the keys the prefix selects (all of them without one) and counts them. */
export function clear(table: DictTable, args: unknown[]): number | undefined {
  if (args.length === 0) {
    table.clear()
    return undefined
  }
  const { prefix } = checkListOptions(args[0], 'dict.clear', PREFIX_ONLY)
  if (prefix === undefined) {
    const n = table.size
    table.clear()
    return n
  }
  const doomed: Key[] = []
  for (const key of table.keys()) if (matches(key, prefix)) doomed.push(key)
  for (const key of doomed) table.delete(key)
  return doomed.length
}

/** An array of keys, every one checked before any is used. */
export function checkKeys(value: unknown, op: string): Key[] {
  if (!Array.isArray(value)) throw badArgument(`${op} takes an array of keys, not ${describe(value)}`)
  for (let i = 0; i < value.length; i++) checkKey(value[i])
  return value as Key[]
}

export function getMany(table: DictTable, keys: unknown): unknown[] {
  const checked = checkKeys(keys, 'dict.getMany')
  const out = new Array<unknown>(checked.length)
  for (let i = 0; i < checked.length; i++) out[i] = table.get(checked[i]!)
  // A key asked twice is in the reply twice: the table's bytes bound nothing here.
  checkListing(out, Infinity, 'dict.getMany')
  return out
}

/** All or nothing, as update: every key is checked before the first write. Options: none yet
 * (issue 10 adds ttl); an unknown one is refused rather than ignored. */
/** Every entry as set() stores it: the options of set (ttl, keepTtl; none: the table default). */
export function setMany(table: DictTable, args: unknown[]): void {
  table.update(args[0], checkSetOptions(args[1], table.now))
}

export function deleteMany(table: DictTable, keys: unknown): number {
  const checked = checkKeys(keys, 'dict.deleteMany')
  let n = 0
  for (const key of checked) if (table.delete(key)) n++
  return n
}

/** dict.scan's filter: [key, value] entries whose key the prefix selects (undefined: all). */
export function scanFilter(options: unknown): ((item: unknown) => boolean) | undefined {
  const { prefix } = checkListOptions(options, 'dict.scan', PREFIX_ONLY)
  if (prefix === undefined) return undefined
  return (item) => matches((item as [Key, unknown])[0], prefix)
}
