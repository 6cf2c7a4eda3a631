// A dict table: a Map with the extra operations of a Python dict. Insertion order is the Map's.
// Values arrive already copied (or freshly decoded), so the table stores what it is given.

import { CyberError, badArgument } from '../errors.ts'
import { sizeOf } from './value-model.ts'
import { checkKey, describe, isKey, type Key } from './values.ts'

// A Set, a Date or a Uint8Array is an object too, but its own keys are not its content (a Set has
// none, a Uint8Array has its indexes): merging one would be a silent no-op or nonsense.
function isPlainObject(value: unknown): value is object {
  if (typeof value !== 'object' || value === null) return false
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

export class DictTable {
  readonly type = 'dict'
  // Private so that every write passes through a method that keeps #bytes (and later expiry):
  // code outside the table reads it through has/get/entries and the iterators below.
  readonly #map = new Map<Key, unknown>()
  #bytes = 0
  // Keys in insertion order, built on the first popitem and kept from then on, so that draining a
  // dict with popitem is O(1) per call. It may hold stale keys (deleted, or deleted and re-added
  // later, which appends them again): popitem skips any key that is no longer live at that spot.
  // Deletes leave their key behind, so every append checks the bound (#compactOrder): without
  // that, set + delete cycles after one popitem grew it without end (issue 8.13).
  #order: Key[] | undefined

  /** A dict of flat [key, value, key, value, ...] chunks (a snapshot's body), counted once.
   * `refuse` makes the error for a chunk of odd length or a value that is not a key. */
  static restore(chunks: readonly (readonly unknown[])[],
    refuse: (why: 'odd chunk' | 'bad key') => Error): DictTable {
    const dict = new DictTable()
    const map = dict.#map
    let bytes = 0
    for (const flat of chunks) {
      if (flat.length % 2 !== 0) throw refuse('odd chunk')
      for (let i = 0; i < flat.length; i += 2) {
        const key = flat[i]
        if (!isKey(key)) throw refuse('bad key')
        const value = flat[i + 1]
        const old = map.get(key)
        if (old !== undefined || map.has(key)) bytes -= sizeOf(key) + sizeOf(old)
        map.set(key, value)
        bytes += sizeOf(key) + sizeOf(value)
      }
    }
    dict.#bytes = bytes
    return dict
  }

  get size(): number {
    return this.#map.size
  }

  /** Approximate bytes of keys and values (sizeOf), kept by every write: what maxMemory counts. */
  get bytes(): number {
    return this.#bytes
  }

  has(key: Key): boolean {
    return this.#map.has(key)
  }

  /** Live iterators, as a Map's: an iteration sees the writes made during it as `for...of` does. */
  keys(): MapIterator<Key> {
    return this.#map.keys()
  }

  values(): MapIterator<unknown> {
    return this.#map.values()
  }

  entries(): MapIterator<[Key, unknown]> {
    return this.#map.entries()
  }

  [Symbol.iterator](): MapIterator<[Key, unknown]> {
    return this.#map.entries()
  }

  get(key: Key, fallback?: unknown): unknown {
    const value = this.#map.get(key)
    return value === undefined && !this.#map.has(key) ? fallback : value
  }

  set(key: Key, value: unknown): void {
    const map = this.#map
    const before = map.size
    const old = map.get(key)
    map.set(key, value)
    if (map.size !== before) {
      this.#bytes += sizeOf(key) + sizeOf(value)
      const order = this.#order
      if (order !== undefined && order.push(key) > 2 * map.size + 64) this.#compactOrder()
    } else {
      this.#bytes += sizeOf(value) - sizeOf(old)
    }
  }

  /** Test only: how many keys the popitem index holds (live and stale); 0 before the first popitem. */
  get orderLength(): number {
    return this.#order?.length ?? 0
  }

  // Rebuilding costs O(size) and comes only after at least size + 64 appends or deletes since the
  // last one, so it is O(1) per write amortised, and the index never holds more than twice the
  // live keys + 64.
  #compactOrder(): void {
    this.#order = [...this.#map.keys()]
  }

  delete(key: Key): boolean {
    const map = this.#map
    const old = map.get(key)
    if (!map.delete(key)) return false
    this.#bytes -= sizeOf(key) + sizeOf(old)
    // A mass delete leaves the index long and the dict small: shrink it with the dict.
    const order = this.#order
    if (order !== undefined && order.length > 2 * map.size + 64) this.#compactOrder()
    return true
  }

  clear(): void {
    this.#map.clear()
    this.#order = undefined
    this.#bytes = 0
  }

  /** Merges entries from a plain object, a Map or an array of [key, value] pairs. All or nothing:
   * every key is checked before the first one is written, so a bad pair leaves the dict as it was. */
  update(source: unknown): void {
    if (source instanceof Map) {
      for (const key of source.keys()) checkKey(key)
      for (const [key, value] of source) this.set(key, value)
    } else if (Array.isArray(source)) {
      for (const pair of source) {
        if (!Array.isArray(pair) || pair.length !== 2) {
          throw badArgument(`update takes [key, value] pairs, not ${describe(pair)}`)
        }
        checkKey(pair[0])
      }
      for (const pair of source) this.set(pair[0], pair[1])
    } else if (isPlainObject(source)) {
      for (const key of Object.keys(source)) this.set(key, (source as Record<string, unknown>)[key])
    } else {
      throw badArgument(`update takes an object, a Map or [key, value] pairs, not ${describe(source)}`)
    }
  }

  setdefault(key: Key, value: unknown): unknown {
    if (this.#map.has(key)) return this.#map.get(key)
    this.set(key, value)
    return value
  }

  pop(key: Key, hasFallback: boolean, fallback: unknown): unknown {
    const value = this.#map.get(key)
    if (value === undefined && !this.#map.has(key)) {
      if (hasFallback) return fallback
      throw new CyberError('KEY_NOT_FOUND', `key ${JSON.stringify(key)} not found`)
    }
    this.delete(key)
    return value
  }

  /** Removes and returns the last inserted entry, as Python's dict.popitem does. */
  popitem(): [Key, unknown] {
    if (this.#map.size === 0) throw new CyberError('KEY_NOT_FOUND', 'popitem on an empty dict')
    if (this.#order === undefined) this.#compactOrder()
    const order = this.#order!
    // The live entry of a key is its last one in `order`, and popping from the end meets it
    // before any stale one; a stale key met later is either gone from the map or popped already.
    for (;;) {
      const key = order.pop() as Key
      if (this.#map.has(key)) {
        const value = this.#map.get(key)
        this.delete(key)
        return [key, value]
      }
    }
  }

  incr(key: Key, by: number | bigint): number | bigint {
    const current = this.#map.get(key)
    let next: number | bigint
    if (current === undefined && !this.#map.has(key)) {
      next = by
    } else if (typeof current === 'number' && typeof by === 'number') {
      next = current + by
      // Past Number.MAX_VALUE a counter would become Infinity and never come back: refuse it.
      if (!Number.isFinite(next)) {
        throw badArgument(`incr of key ${JSON.stringify(key)} by ${by} would overflow the number ${current}`)
      }
    } else if (typeof current === 'bigint' && (typeof by === 'bigint' || Number.isSafeInteger(by))) {
      // A bigint counter takes integer steps given as numbers too, so incr(key) adds 1n to it.
      next = current + BigInt(by)
    } else if (typeof current === 'number') {
      throw badArgument(`incr of key ${JSON.stringify(key)}: the stored value is a number and the amount a ` +
        'bigint; they must match')
    } else if (typeof current === 'bigint') {
      throw badArgument(`incr of key ${JSON.stringify(key)}: the stored value is a bigint and the amount ` +
        `${by} is not an integer; a bigint counter takes bigints or integers`)
    } else {
      throw badArgument(`incr needs a number at key ${JSON.stringify(key)}, found ${describe(current)}`)
    }
    this.set(key, next)
    return next
  }
}
