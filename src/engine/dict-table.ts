// A dict table: a Map with the extra operations of a Python dict. Insertion order is the Map's.
// Values arrive already copied (or freshly decoded), so the table stores what it is given.
// Cache tables: per-key deadlines (deadlines.ts) evaluated against the `now` the store hands in
// (advance), never a clock; a key whose deadline <= now is invisible to every method before any
// sweep. Bounded tables (maxEntries, maxBytes) keep a recency order (gets and writes are uses);
// the host reads it (overflow) and evicts with a logged dict.evict, so replay never evicts by
// itself. A plain table pays one `=== undefined` test per method for all of this. (Longer than
// the ~300-line rule: the cache paths need the private Map, and a second object in between would
// cost every get an indirection; the index and the recency list are their own files.)

import { CyberError, badArgument } from '../errors.ts'
import { KEEP_TTL, deadlineAfter, type DictOptions, type Expiry } from './cache-options.ts'
import { Deadlines } from './deadlines.ts'
import { Lru } from './lru.ts'
import { sizeOf } from './value-model.ts'
import { checkKey, describe, isKey, type Key } from './values.ts'

// A Set, a Date or a Uint8Array is an object too, but its own keys are not its content (a Set has
// none, a Uint8Array has its indexes): merging one would be a silent no-op or nonsense.
function isPlainObject(value: unknown): value is object {
  if (typeof value !== 'object' || value === null) return false
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

const NONE: Key[] = []

// A due count from which the sweep rebuilds a table (when it is also half the table or more):
// below it, deleting costs less than copying, and no rehash is long.
export const REBUILD_MIN_DUE = 32_768

/** A rebuild in progress: the survivors copied so far, and where the copy is in #map. */
interface Copy {
  readonly map: Map<Key, unknown>
  readonly deadlines: Deadlines
  bytes: number
  readonly cursor: MapIterator<Key>
}

export class DictTable {
  readonly type = 'dict'
  // Private so that every write passes through a method that keeps #bytes (and later expiry):
  // code outside the table reads it through has/get/entries and the iterators below.
  #map = new Map<Key, unknown>()
  #bytes = 0
  // Keys in insertion order, built on the first popitem and kept from then on, so that draining a
  // dict with popitem is O(1) per call. It may hold stale keys (deleted, or deleted and re-added
  // later, which appends them again): popitem skips any key that is no longer live at that spot.
  // Deletes leave their key behind, so every append checks the bound (#compactOrder): without
  // that, set + delete cycles after one popitem grew it without end (issue 8.13).
  #order: Key[] | undefined
  /** The table's cache options as created (a snapshot and db.create keep them). */
  readonly options: DictOptions | undefined
  // Made on the first deadline (or at once with a default ttl): a plain table has none.
  #deadlines: Deadlines | undefined
  // Bounded tables only: keys from least to most recently used (re-inserted on use).
  readonly #recent: Lru | undefined
  #now = -Infinity
  // The rebuild (see its banner below): the survivors being copied, then the old index whose
  // due keys the sweep still has to log as removed.
  #copy: Copy | undefined
  #ghost: Deadlines | undefined

  constructor(options?: DictOptions) {
    this.options = options
    if (options?.ttl !== undefined) this.#deadlines = new Deadlines()
    if (options?.maxEntries !== undefined || options?.maxBytes !== undefined) this.#recent = new Lru()
  }

  /** A dict of flat [key, value, key, value, ...] chunks (a snapshot's body), counted once.
   * `refuse` makes the error for a chunk of odd length or a value that is not a key. `deadlines`
   * are flat [key, deadline, ...] chunks; `now` the time the table had seen when saved. */
  static restore(chunks: readonly (readonly unknown[])[],
    refuse: (why: 'odd chunk' | 'bad key') => Error, options?: DictOptions,
    deadlines: readonly (readonly unknown[])[] = [], now = -Infinity): DictTable {
    const dict = new DictTable(options)
    const map = dict.#map
    let bytes = 0
    let pairs = 0
    // One map.set per entry and no lookup before it (issue 13.5: loading is held to the floor of
    // building the Map; the first touch of each fresh key, hashing it and growing the table, is
    // most of the time whichever operation makes it): a snapshot is written from a Map, so each
    // key comes once. A file that repeats one (made by hand) keeps its last value, as a Map
    // would, and its bytes are then counted again from what the map holds.
    for (const flat of chunks) {
      if (flat.length % 2 !== 0) throw refuse('odd chunk')
      for (let i = 0; i < flat.length; i += 2) {
        const key = flat[i]
        if (!isKey(key)) throw refuse('bad key')
        const value = flat[i + 1]
        map.set(key, value)
        bytes += sizeOf(key) + sizeOf(value)
      }
      pairs += flat.length >> 1
    }
    if (map.size !== pairs) {
      bytes = 0
      for (const [key, value] of map) bytes += sizeOf(key) + sizeOf(value)
    }
    dict.#bytes = bytes
    if (dict.#recent !== undefined) for (const key of map.keys()) dict.#recent.touch(key)
    for (const flat of deadlines) {
      if (flat.length % 2 !== 0) throw refuse('odd chunk')
      for (let i = 0; i < flat.length; i += 2) {
        const key = flat[i], deadline = flat[i + 1]
        if (!isKey(key) || !map.has(key) || typeof deadline !== 'number') throw refuse('bad key')
        dict.#deadlines ??= new Deadlines()
        dict.#deadlines.set(key, deadline)
      }
    }
    dict.advance(now)
    return dict
  }

  /** Live keys (those whose deadline has passed are not counted, swept or not). */
  get size(): number {
    // Ghosts (keys due at a rebuild's swap) are outside #map and so outside this count already.
    const deadlines = this.#deadlines
    return deadlines === undefined ? this.#map.size : this.#map.size - deadlines.dueCount
  }

  /** The latest `now` the table was given. */
  get now(): number {
    return this.#now
  }

  /** Time moves forward for this table (never back): keys whose deadline came are expired. */
  advance(now: number): void {
    if (now > this.#now) {
      this.#now = now
      this.#deadlines?.advance(now)
      this.#copy?.deadlines.advance(now)
    }
  }

  // --- the rebuild: when most of a big table is due, copy survivors instead of deleting ---
  // Deleting most keys of a big Map makes JSC shrink it, rehashing all that is left in one go
  // (one ~23 ms delete when a quarter of 1M keys is left, and more after): the sweep's bounded
  // slices did not bound that. So the host copies the survivors (few) in bounded steps into fresh
  // maps, kept exact by every write meanwhile, and swaps. The due keys left behind are ghosts:
  // already invisible (as due keys always are), outside #map, listed by the old index (#ghost,
  // frozen), which the sweep still drains with logged dict.expire records naming them, counted.
  // A write that meets a ghost key marks it gone (as a write that meets a due key removes it).
  // Bounded tables (recency) and small ones keep plain deletes.

  /** Whether the sweep should rebuild rather than delete: most of a big table is due. */
  get wantsRebuild(): boolean {
    const deadlines = this.#deadlines
    return deadlines !== undefined && this.#recent === undefined && this.#copy === undefined &&
      this.#ghost === undefined && deadlines.dueCount >= REBUILD_MIN_DUE &&
      2 * deadlines.dueCount >= this.#map.size
  }

  get isRebuilding(): boolean {
    return this.#copy !== undefined
  }

  beginRebuild(): void {
    const deadlines = new Deadlines()
    deadlines.advance(this.#now)
    // (keys, not entries: an entry is an array made per step, and most keys here are passed)
    this.#copy = { map: new Map(), deadlines, bytes: 0, cursor: this.#map.keys() }
  }

  /** Visits up to `limit` stored entries, copying the live ones; swaps after the last one.
   * True while some are left. */
  rebuildStep(limit: number): boolean {
    const copy = this.#copy
    if (copy === undefined) return false
    const old = this.#deadlines!
    const now = this.#now
    for (let i = 0; i < limit; i++) {
      const step = copy.cursor.next()
      if (step.done === true) {
        this.#swap(copy)
        return false
      }
      const key = step.value
      const deadline = old.get(key)
      if (deadline !== undefined && deadline <= now) continue
      const value = this.#map.get(key)
      copy.map.set(key, value)
      copy.bytes += sizeOf(key) + sizeOf(value)
      if (deadline !== undefined) copy.deadlines.set(key, deadline)
    }
    return true
  }

  #swap(copy: Copy): void {
    const old = this.#deadlines!
    this.#copy = undefined
    this.#map = copy.map
    this.#deadlines = copy.deadlines
    this.#bytes = copy.bytes
    this.#order = undefined // popitem rebuilds it from the new map
    this.#ghost = old.dueCount > 0 ? old : undefined
  }

  /** A write met `key`: if it is a ghost, it is gone (no sweep will name it). True if it was. */
  #unghost(key: Key): boolean {
    const ghost = this.#ghost
    if (ghost === undefined || !ghost.markGone(key)) return false
    if (ghost.dueCount === 0) this.#ghost = undefined
    return true
  }

  /** Keeps the copy's deadline of an already copied key equal to the table's. */
  #mirrorDeadline(key: Key, deadline: number | null): void {
    const copy = this.#copy
    if (copy === undefined || !copy.map.has(key)) return
    if (deadline === null) copy.deadlines.delete(key)
    else copy.deadlines.set(key, deadline)
  }

  // --- cache: deadlines, recency, what the host sweeps and evicts ---

  /** Whether time matters to this table: it has (or had) a deadline, or a default ttl. Until
   * then it is never advanced by the host's fast paths (nothing in it can expire). */
  get timed(): boolean {
    return this.#deadlines !== undefined
  }

  /** Keys with a deadline, expired ones included until removed. */
  get deadlineCount(): number {
    return (this.#deadlines?.size ?? 0) + (this.#ghost?.dueCount ?? 0)
  }

  /** Expired keys still stored (the sweep's work). */
  get dueCount(): number {
    return (this.#deadlines?.dueCount ?? 0) + (this.#ghost?.dueCount ?? 0)
  }

  /** The earliest deadline still to come (Infinity: none): when the host's sweep wakes. */
  get nextDeadline(): number {
    return this.#deadlines?.next ?? Infinity
  }

  /** Up to `limit` expired keys, oldest deadline first: the sweep logs their removal. */
  dueKeys(limit: number): Key[] {
    if (this.#ghost !== undefined) return this.#ghost.dueKeys(limit)
    return this.#deadlines?.dueKeys(limit) ?? []
  }

  /** Every deadline, expired ones included (a snapshot stores them absolute). */
  deadlineEntries(): [Key, number][] {
    return this.#deadlines === undefined ? [] : Array.from(this.#deadlines.entries())
  }

  /** Physical content, expired keys included: what a snapshot holds (replay continues from it). */
  storedKeys(): MapIterator<Key> {
    return this.#map.keys()
  }

  storedValues(): MapIterator<unknown> {
    return this.#map.values()
  }

  /** The least recently used keys to remove so that the table is within its bounds (stored
   * entries, expired ones included, and their approximate bytes); [] when within. */
  overflow(): Key[] {
    const recent = this.#recent
    if (recent === undefined) return []
    const maxEntries = this.options!.maxEntries ?? Infinity
    const maxBytes = this.options!.maxBytes ?? Infinity
    let size = this.#map.size
    let bytes = this.#bytes
    if (size <= maxEntries && bytes <= maxBytes) return NONE // every write asks: no walk, no array
    const out: Key[] = []
    for (const key of recent.keys()) {
      if (size <= maxEntries && bytes <= maxBytes) break
      out.push(key)
      size--
      bytes -= sizeOf(key) + sizeOf(this.#map.get(key))
    }
    return out
  }

  /** Removes the given keys (dict.expire, dict.evict: the logged removals); the number removed. */
  removeKeys(keys: readonly Key[]): number {
    let n = 0
    for (const key of keys) {
      const ghost = this.#unghost(key)
      if (this.#remove(key) || ghost) n++
    }
    return n
  }

  /** The deadline of a live key (Infinity: none), undefined when missing or expired. */
  deadline(key: Key): number | undefined {
    if (!this.has(key)) return undefined
    return this.#deadlines?.get(key) ?? Infinity
  }

  /** ms left for a live key, Infinity without a deadline, undefined when missing or expired. */
  ttl(key: Key): number | undefined {
    const deadline = this.deadline(key)
    return deadline === undefined || deadline === Infinity ? deadline : deadline - this.#now
  }

  /** Gives a live key the absolute `deadline` (null: none; one that has come removes it).
   * False when the key is missing or expired. */
  expireAt(key: Key, deadline: number | null): boolean {
    if (!this.has(key)) return false
    this.#setDeadline(key, deadline)
    return true
  }

  /** Removes a live key's deadline: true when it had one. */
  persist(key: Key): boolean {
    if (!this.has(key) || this.#deadlines?.get(key) === undefined) return false
    this.#deadlines.delete(key)
    this.#mirrorDeadline(key, null)
    return true
  }

  /** The deadline a new key gets: now + the table ttl, or none. */
  #defaultDeadline(): number | null {
    const ttl = this.options?.ttl
    return ttl === undefined ? null : deadlineAfter(this.#now, ttl)
  }

  /** Sets or clears a stored key's deadline; one that has come removes the key. */
  #setDeadline(key: Key, deadline: number | null): void {
    if (deadline === null) {
      this.#deadlines?.delete(key)
    } else if (deadline <= this.#now) {
      this.#remove(key)
      return
    } else {
      (this.#deadlines ??= new Deadlines()).set(key, deadline)
    }
    if (this.#copy !== undefined) this.#mirrorDeadline(key, deadline)
  }

  #expired(key: Key): boolean {
    return this.#deadlines !== undefined && this.#deadlines.isExpired(key)
  }

  /** Removes a stored key (expired or not), keeping bytes, deadlines and recency. */
  #remove(key: Key): boolean {
    const map = this.#map
    // (a due key in #map may be a ghost too: copied, then due before the swap)
    if (this.#ghost !== undefined) this.#unghost(key)
    const old = map.get(key)
    if (!map.delete(key)) return false
    this.#bytes -= sizeOf(key) + sizeOf(old)
    this.#deadlines?.delete(key)
    this.#recent?.delete(key)
    const copy = this.#copy
    if (copy !== undefined && copy.map.delete(key)) {
      copy.bytes -= sizeOf(key) + sizeOf(old)
      copy.deadlines.delete(key)
    }
    // A mass delete leaves the index long and the dict small: shrink it with the dict.
    const order = this.#order
    if (order !== undefined && order.length > 2 * map.size + 64) this.#compactOrder()
    return true
  }

  /** Approximate bytes of keys and values (sizeOf), kept by every write: what maxMemory counts. */
  get bytes(): number {
    return this.#bytes
  }

  has(key: Key): boolean {
    return this.#map.has(key) && !this.#expired(key)
  }

  /** Live iterators, as a Map's: an iteration sees the writes made during it as `for...of` does.
   * Expired keys are skipped (as of the table's time when each step is taken). */
  keys(): MapIterator<Key> {
    return this.#deadlines === undefined ? this.#map.keys() : this.#live(this.#map.keys(), (k) => k)
  }

  values(): MapIterator<unknown> {
    return this.#deadlines === undefined ? this.#map.values()
      : this.#live(this.#map.entries(), (_k, v) => v)
  }

  entries(): MapIterator<[Key, unknown]> {
    return this.#deadlines === undefined ? this.#map.entries()
      : this.#live(this.#map.entries(), (k, v) => [k, v] as [Key, unknown])
  }

  [Symbol.iterator](): MapIterator<[Key, unknown]> {
    return this.entries()
  }

  // A generator is an iterator object with the same helpers (take, map, ...) as a Map's.
  #live<T, R>(source: Iterator<T>, pick: (key: Key, value: unknown) => R): MapIterator<R> {
    return this.#filter(source, pick) as unknown as MapIterator<R>
  }

  *#filter<T, R>(source: Iterator<T>, pick: (key: Key, value: unknown) => R): Generator<R> {
    for (let step = source.next(); !step.done; step = source.next()) {
      const item = step.value
      const key = (Array.isArray(item) ? item[0] : item) as Key
      if (this.#deadlines?.isExpired(key) === true) continue
      yield pick(key, Array.isArray(item) ? item[1] : undefined)
    }
  }

  get(key: Key, fallback?: unknown): unknown {
    const value = this.#map.get(key)
    if (value === undefined && !this.#map.has(key)) return fallback
    if (this.#deadlines !== undefined && this.#deadlines.isExpired(key)) return fallback
    if (this.#recent !== undefined) this.#recent.touch(key)
    return value
  }

  /** Stores `value` at `key`. `expiry`: undefined gives the table default ttl (or none: an old
   * deadline is cleared), null no deadline, a number that absolute deadline (ms; one that has
   * come stores nothing and removes the key), KEEP_TTL the key's own deadline (a new key: the
   * default). A bulk setMany with a ttl calls set(key, value, deadline) per entry. */
  set(key: Key, value: unknown, expiry?: Expiry): void {
    const map = this.#map
    if (this.#deadlines === undefined && expiry === undefined) {
      // No deadline to keep or give (nothing here can be expired): one lookup tells whether the
      // key existed and what it held (has + get + set cost an overwrite a third more).
      const old = map.get(key)
      if (old === undefined && !map.has(key)) {
        this.#store(key, value, false)
      } else {
        map.set(key, value)
        // (a string for a string, the common overwrite: sizeOf counts length + the same header)
        this.#bytes += typeof value === 'string' && typeof old === 'string' ? value.length - old.length
          : sizeOf(value) - sizeOf(old)
        if (this.#recent !== undefined) this.#recent.touch(key)
      }
      return
    }
    let existed = map.has(key)
    if (existed && this.#expired(key)) {
      // Logically absent: it goes to the end of the order as a new key would.
      this.#remove(key)
      existed = false
    }
    if (this.#deadlines !== undefined || expiry !== undefined) {
      let deadline: number | null
      if (expiry === KEEP_TTL) {
        deadline = existed ? this.#deadlines?.get(key) ?? null : this.#defaultDeadline()
      } else {
        deadline = expiry === undefined ? this.#defaultDeadline() : expiry
      }
      if (deadline !== null && deadline <= this.#now) {
        this.#remove(key)
        return
      }
      this.#store(key, value, existed)
      this.#setDeadline(key, deadline)
      return
    }
    this.#store(key, value, existed)
  }

  /** `old`: the stored value when the caller has read it already (existed only). */
  #store(key: Key, value: unknown, existed: boolean, old = existed ? this.#map.get(key) : undefined): void {
    const map = this.#map
    if (!existed) {
      map.set(key, value)
      this.#bytes += sizeOf(key) + sizeOf(value)
      const order = this.#order
      if (order !== undefined && order.push(key) > 2 * map.size + 64) this.#compactOrder()
      // (a new key during a copy is appended behind its cursor, which copies it in turn)
      if (this.#ghost !== undefined) this.#unghost(key)
    } else {
      map.set(key, value)
      this.#bytes += sizeOf(value) - sizeOf(old)
      const copy = this.#copy
      if (copy !== undefined && copy.map.has(key)) {
        copy.map.set(key, value)
        copy.bytes += sizeOf(value) - sizeOf(old)
      }
    }
    if (this.#recent !== undefined) this.#recent.touch(key)
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

  /** Removes a key; false when it was missing or expired (an expired one is removed too). */
  delete(key: Key): boolean {
    const expired = this.#expired(key)
    return this.#remove(key) && !expired
  }

  clear(): void {
    this.#map.clear()
    this.#copy = undefined
    this.#ghost = undefined
    this.#order = undefined
    this.#bytes = 0
    this.#deadlines?.clear()
    this.#recent?.clear()
  }

  /** Merges entries from a plain object, a Map or an array of [key, value] pairs. All or nothing:
   * every key is checked before the first one is written, so a bad pair leaves the dict as it was. */
  update(source: unknown, expiry: Expiry = KEEP_TTL): void {
    if (source instanceof Map) {
      for (const key of source.keys()) checkKey(key)
      for (const [key, value] of source) this.set(key, value, expiry)
    } else if (Array.isArray(source)) {
      for (const pair of source) {
        if (!Array.isArray(pair) || pair.length !== 2) {
          throw badArgument(`update takes [key, value] pairs, not ${describe(pair)}`)
        }
        checkKey(pair[0])
      }
      for (const pair of source) this.set(pair[0], pair[1], expiry)
    } else if (isPlainObject(source)) {
      for (const key of Object.keys(source)) this.set(key, (source as Record<string, unknown>)[key], expiry)
    } else {
      throw badArgument(`update takes an object, a Map or [key, value] pairs, not ${describe(source)}`)
    }
  }

  setdefault(key: Key, value: unknown): unknown {
    if (this.has(key)) return this.get(key)
    this.set(key, value)
    return value
  }

  pop(key: Key, hasFallback: boolean, fallback: unknown): unknown {
    const value = this.#map.get(key)
    if ((value === undefined && !this.#map.has(key)) || this.#expired(key)) {
      if (hasFallback) return fallback
      throw new CyberError('KEY_NOT_FOUND', `key ${JSON.stringify(key)} not found`)
    }
    this.delete(key)
    return value
  }

  /** Removes and returns the last inserted entry, as Python's dict.popitem does. */
  popitem(): [Key, unknown] {
    if (this.size === 0) throw new CyberError('KEY_NOT_FOUND', 'popitem on an empty dict')
    if (this.#order === undefined) this.#compactOrder()
    const order = this.#order!
    // The live entry of a key is its last one in `order`, and popping from the end meets it
    // before any stale one; a stale key met later is either gone from the map or popped already.
    for (;;) {
      const key = order.pop() as Key
      if (this.#map.has(key) && !this.#expired(key)) {
        const value = this.#map.get(key)
        this.delete(key)
        return [key, value]
      }
    }
  }

  incr(key: Key, by: number | bigint): number | bigint {
    const current = this.#map.get(key)
    let next: number | bigint
    if ((current === undefined && !this.#map.has(key)) || this.#expired(key)) {
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
    // A table with no deadline has no expired key and keeps no ttl: store it without set's
    // deadline work (and without reading the old value again).
    if (this.#deadlines === undefined) this.#store(key, next, current !== undefined || this.#map.has(key), current)
    else this.set(key, next, KEEP_TTL)
    return next
  }
}
