// A list table: an Array with the extra operations of a Python list. Indexes may be negative
// (counted from the end); comparisons are deep, because stored values are copies. The front is
// a head offset into the array, so shift() (a queue drained from the front) is O(1) amortised:
// the array is compacted in place once the dead front is at least half of it. A capped list
// (maxLength) drops from the front after any write that leaves it longer (an unshift onto a full
// list too: one rule for every write): the drop follows from the state, so replaying the same
// writes drops the same items.

import { CyberError, badArgument } from '../errors.ts'
import type { ListOptions } from './cache-options.ts'
import { sizeOf } from './value-model.ts'
import { deepEqual, describe } from './values.ts'

export interface SortOptions {
  by?: string
  descending?: boolean
}

// A dead front shorter than this is never compacted: small queues never copy.
const COMPACT_MIN_HEAD = 1024

export class ListTable {
  readonly type = 'list'
  // Private so that every write passes through a method that keeps #bytes: code outside the
  // table reads it through at/slice/values.
  #items: unknown[] = []
  // The list is #items[#head..]: slots before it were shifted out (and cleared, so their values
  // can be collected). Methods that are O(n) anyway compact first and then work on #items alone.
  #head = 0
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
    for (let excess = this.size - this.#maxLength; excess > 0; excess--) this.shift()
  }

  get size(): number {
    return this.#items.length - this.#head
  }

  /** Approximate bytes of the items (sizeOf), kept by every write: what maxMemory counts. */
  get bytes(): number {
    return this.#bytes
  }

  at(index: number): unknown {
    const size = this.size
    const at = index < 0 ? index + size : index
    return at < 0 || at >= size ? undefined : this.#items[this.#head + at]
  }

  slice(start?: number, end?: number): unknown[] {
    const head = this.#head
    if (head === 0) return this.#items.slice(start, end)
    const size = this.size
    return this.#items.slice(head + clamp(start ?? 0, size), head + clamp(end ?? size, size))
  }

  /** A live iterator, as an Array's: it sees pushes made during the iteration, as `for...of`
   * does, and a shift moves it on as an Array's shift() would. A sort replaces the array, so an
   * iteration begun before it goes on over the old order. */
  values(): IterableIterator<unknown> {
    return this.#iterate()
  }

  [Symbol.iterator](): IterableIterator<unknown> {
    return this.#iterate()
  }

  *#iterate(): IterableIterator<unknown> {
    const items = this.#items
    let i = 0 // the next logical index, while the array is still this table's
    while (this.#items === items) {
      const at = this.#head + i++
      if (at >= items.length) return
      yield items[at]
    }
    // Replaced (a sort, which compacts the old array first, so its logical indexes are its
    // array indexes) between two steps: the rest of the old array, from where we were.
    for (let at = i; at < items.length; at++) yield items[at]
  }

  reverse(): void {
    this.#compact()
    this.#items.reverse()
  }

  /** Removes and returns the first value; undefined when the list is empty. O(1) amortised. */
  shift(): unknown {
    const items = this.#items
    const head = this.#head
    if (head >= items.length) return undefined
    const value = items[head]
    items[head] = undefined
    this.#bytes -= sizeOf(value)
    if (head + 1 === items.length) {
      items.length = 0
      this.#head = 0
    } else {
      this.#head = head + 1
      if (this.#head >= COMPACT_MIN_HEAD && this.#head * 2 >= items.length) this.#compact()
    }
    return value
  }

  /** Puts `values` first, in the order given (as Array.prototype.unshift); returns the new
   * length. Into the dead front when it has room, else the live part moves over once. */
  unshift(values: unknown[]): number {
    const n = values.length
    const items = this.#items
    let bytes = 0
    if (n <= this.#head) {
      const from = this.#head - n
      for (let i = 0; i < n; i++) items[from + i] = values[i]
      this.#head = from
    } else {
      const head = this.#head
      const length = items.length
      const grow = n - head
      items.length = length + grow
      items.copyWithin(n, head, length)
      for (let i = 0; i < n; i++) items[i] = values[i]
      this.#head = 0
    }
    for (let i = 0; i < n; i++) bytes += sizeOf(values[i])
    this.#bytes += bytes
    if (this.size > this.#maxLength) this.#trim()
    return this.size
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
    if (this.size > this.#maxLength) this.#trim()
    return this.size
  }

  insert(index: number, value: unknown): void {
    this.#compact()
    // splice clamps an index past either end and counts a negative one from the end, as Python.
    this.#items.splice(index, 0, value)
    this.#bytes += sizeOf(value)
    if (this.size > this.#maxLength) this.#trim()
  }

  pop(index: number): unknown {
    if (this.size === 0) throw new CyberError('INDEX_OUT_OF_RANGE', 'pop from an empty list')
    const at = this.#resolve(index)
    if (at === 0) return this.shift()
    const items = this.#items
    let value: unknown
    if (this.#head + at === items.length - 1) {
      value = items.pop()
    } else {
      this.#compact()
      value = items.splice(at, 1)[0]
    }
    this.#bytes -= sizeOf(value)
    return value
  }

  remove(value: unknown): void {
    this.#compact()
    const at = this.indexOf(value)
    if (at < 0) throw new CyberError('VALUE_NOT_FOUND', 'remove: value not in list')
    this.#bytes -= sizeOf(this.#items.splice(at, 1)[0])
  }

  set(index: number, value: unknown): void {
    const at = this.#head + this.#resolve(index)
    this.#bytes += sizeOf(value) - sizeOf(this.#items[at])
    this.#items[at] = value
  }

  clear(): void {
    this.#items.length = 0
    this.#head = 0
    this.#bytes = 0
  }

  indexOf(value: unknown): number {
    this.#compact()
    if (typeof value !== 'object' && value === value) return this.#items.indexOf(value)
    return this.#items.findIndex((item) => deepEqual(item, value))
  }

  count(value: unknown): number {
    this.#compact()
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
    this.#compact()
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

  // A logical index (0 is the first value) from a possibly negative one; INDEX_OUT_OF_RANGE.
  #resolve(index: number): number {
    const size = this.size
    const at = index < 0 ? index + size : index
    if (at < 0 || at >= size) {
      throw new CyberError('INDEX_OUT_OF_RANGE', `index ${index} is out of range for a list of length ${size}`)
    }
    return at
  }

  // Drops the dead front in place (the array stays the same object, so a live iteration keeps
  // its place: it counts logical indexes).
  #compact(): void {
    const head = this.#head
    if (head === 0) return
    const items = this.#items
    items.copyWithin(0, head)
    items.length -= head
    this.#head = 0
  }
}

// Array.prototype.slice's reading of a bound: negative from the end, clamped to [0, size].
function clamp(bound: number, size: number): number {
  if (bound < 0) return Math.max(bound + size, 0)
  return Math.min(bound, size)
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
