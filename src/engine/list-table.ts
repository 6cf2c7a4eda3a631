// A list table: an Array with the extra operations of a Python list. Indexes may be negative
// (counted from the end); comparisons are deep, because stored values are copies. A capped list
// (maxLength) drops from the front after a write that leaves it longer: the drop follows from the
// state, so replaying the same writes drops the same items.

import { CyberError, badArgument } from '../errors.ts'
import type { ListOptions } from './cache-options.ts'
import { sizeOf } from './value-model.ts'
import { deepEqual, describe } from './values.ts'

export interface SortOptions {
  by?: string
  descending?: boolean
}

export class ListTable {
  readonly type = 'list'
  // Private so that every write passes through a method that keeps #bytes: code outside the
  // table reads it through at/slice/values.
  #items: unknown[] = []
  #bytes = 0
  /** The table's options as created (a snapshot and db.create keep them). */
  readonly options: ListOptions | undefined
  readonly #maxLength: number

  constructor(options?: ListOptions) {
    this.options = options
    this.#maxLength = options?.maxLength ?? Infinity
  }

  /** A list that takes `items` as its storage (no copy: the caller hands them over), counted. */
  static from(items: unknown[], options?: ListOptions): ListTable {
    const list = new ListTable(options)
    list.#items = items
    let bytes = 0
    for (let i = 0; i < items.length; i++) bytes += sizeOf(items[i])
    list.#bytes = bytes
    list.#trim()
    return list
  }

  /** A list of a snapshot body's chunks, in order. */
  static restore(chunks: readonly unknown[][], options?: ListOptions): ListTable {
    return ListTable.from(chunks.length === 1 ? chunks[0]! : chunks.flat(), options)
  }

  /** Drops items from the front past maxLength (a capped list's writes end here). */
  #trim(): void {
    const excess = this.#items.length - this.#maxLength
    if (excess <= 0) return
    for (const dropped of this.#items.splice(0, excess)) this.#bytes -= sizeOf(dropped)
  }

  get size(): number {
    return this.#items.length
  }

  /** Approximate bytes of the items (sizeOf), kept by every write: what maxMemory counts. */
  get bytes(): number {
    return this.#bytes
  }

  at(index: number): unknown {
    return this.#items.at(index)
  }

  slice(start?: number, end?: number): unknown[] {
    return this.#items.slice(start, end)
  }

  /** A live iterator, as an Array's: it sees pushes made during the iteration, as `for...of`
   * does. A sort replaces the array, so an iteration begun before it goes on over the old order. */
  values(): ArrayIterator<unknown> {
    return this.#items.values()
  }

  [Symbol.iterator](): ArrayIterator<unknown> {
    return this.#items.values()
  }

  reverse(): void {
    this.#items.reverse()
  }

  /** Appends in a loop: spreading a huge argument list into push() can overflow the stack. */
  append(values: unknown[]): number {
    const items = this.#items
    let bytes = 0
    for (let i = 0; i < values.length; i++) {
      items.push(values[i])
      bytes += sizeOf(values[i])
    }
    this.#bytes += bytes
    if (items.length > this.#maxLength) this.#trim()
    return items.length
  }

  insert(index: number, value: unknown): void {
    // splice clamps an index past either end and counts a negative one from the end, as Python.
    this.#items.splice(index, 0, value)
    this.#bytes += sizeOf(value)
    if (this.#items.length > this.#maxLength) this.#trim()
  }

  pop(index: number): unknown {
    const items = this.#items
    if (items.length === 0) throw new CyberError('INDEX_OUT_OF_RANGE', 'pop from an empty list')
    const at = this.#resolve(index)
    const value = at === items.length - 1 ? items.pop() : items.splice(at, 1)[0]
    this.#bytes -= sizeOf(value)
    return value
  }

  remove(value: unknown): void {
    const at = this.indexOf(value)
    if (at < 0) throw new CyberError('VALUE_NOT_FOUND', 'remove: value not in list')
    this.#bytes -= sizeOf(this.#items.splice(at, 1)[0])
  }

  set(index: number, value: unknown): void {
    const at = this.#resolve(index)
    this.#bytes += sizeOf(value) - sizeOf(this.#items[at])
    this.#items[at] = value
  }

  clear(): void {
    this.#items.length = 0
    this.#bytes = 0
  }

  indexOf(value: unknown): number {
    if (typeof value !== 'object' && value === value) return this.#items.indexOf(value)
    return this.#items.findIndex((item) => deepEqual(item, value))
  }

  count(value: unknown): number {
    let n = 0
    if (typeof value !== 'object' && value === value) {
      for (const item of this.#items) if (item === value) n++
    } else {
      for (const item of this.#items) if (deepEqual(item, value)) n++
    }
    return n
  }

  /** Stable sort: numbers numerically, strings by code unit; a mix is BAD_ARGUMENT. */
  sort(options: SortOptions): void {
    const path = options.by === undefined || options.by === '' ? [] : options.by.split('.')
    const keyed = this.#items.map((item, i) => ({ key: pluck(item, path, options.by), item, i }))
    let kind: 'number' | 'string' | undefined
    for (const { key } of keyed) {
      const type = typeof key
      if (type !== 'number' && type !== 'string') {
        throw badArgument(`sort compares numbers or strings, found ${describe(key)}${at(options.by)}`)
      }
      if (kind !== undefined && kind !== type) {
        throw badArgument(`sort cannot order a mix of numbers and strings${at(options.by)}`)
      }
      kind = type as 'number' | 'string'
    }
    const sign = options.descending ? -1 : 1
    keyed.sort((a, b) => sign * compare(a.key as number | string, b.key as number | string))
    this.#items = keyed.map((k) => k.item)
  }

  #resolve(index: number): number {
    const at = index < 0 ? index + this.#items.length : index
    if (at < 0 || at >= this.#items.length) {
      throw new CyberError(
        'INDEX_OUT_OF_RANGE',
        `index ${index} is out of range for a list of length ${this.#items.length}`,
      )
    }
    return at
  }
}

function compare(a: number | string, b: number | string): number {
  if (a < b) return -1
  if (a > b) return 1
  if (a === b) return 0
  // NaN sorts after every number, and equal to itself, so the order stays total.
  const aNaN = a !== a
  return aNaN === (b !== b) ? 0 : aNaN ? 1 : -1
}

function pluck(item: unknown, path: string[], by: string | undefined): unknown {
  let value = item
  for (const field of path) {
    if (typeof value !== 'object' || value === null) {
      throw badArgument(`sort by "${by}": ${describe(value)} has no field "${field}"`)
    }
    value = value instanceof Map ? value.get(field) : (value as Record<string, unknown>)[field]
  }
  return value
}

function at(by: string | undefined): string {
  return by ? ` (by "${by}")` : ''
}
