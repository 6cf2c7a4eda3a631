// The deadlines of one dict table's keys, and the index that keeps "how many keys are expired but
// not yet removed" exact in O(1) per operation. Pure: it never reads a clock; the table hands it
// `now` (advance), and a key is expired when its deadline <= now.
//
// Data structure (why): keys are grouped in buckets by their exact deadline (Map<ms, bucket>, a
// bucket an array of keys with a live count), with a binary min-heap of the bucket times. When `now` passes a bucket time, the whole bucket
// becomes due in O(1): it moves to the due map and its size is added to `dueCount`, so 1M keys
// sharing one deadline cost one heap pop, not 1M (a heap of keys would pay 1M pops in the first
// operation after the deadline; a timer wheel needs a fixed tick and still walks each key). A key
// removed from a due bucket (delete, overwrite, the sweep) decrements `dueCount`; so `size` is
// map size - dueCount, exact before any sweep. The sweep (the host) takes due keys in bounded
// slices from the due buckets, oldest first. Deadlines are whole milliseconds (rounded up: a key
// never expires early), which bounds the heap by the distinct future milliseconds in use.

import type { Key } from './values.ts'

/** The keys given one deadline, in the order they got it. An entry is live while the key's
 * deadline is still this time (a key moved elsewhere leaves a stale entry, skipped and compacted
 * away): arrays, not Sets, because a Set emptied from the front keeps its dead slots and walking
 * it again in every sweep slice would be quadratic. A deadline only one key has is that key
 * itself, with no bucket object (deadlines spread one per key cost half the memory so). */
interface Bucket {
  readonly time: number
  keys: Key[]
  /** Live entries. */
  live: number
  /** Entries before this are gone (the sweep walks from here). */
  head: number
}

type Slot = Key | Bucket

export class Deadlines {
  readonly #of = new Map<Key, number>()
  // Deadlines whose time has not come; each time is in the heap (possibly more than once: a slot
  // emptied, dropped and made again pushes its time again; a pop that finds no slot skips).
  readonly #buckets = new Map<number, Slot>()
  readonly #heap: number[] = []
  // Deadlines whose time has passed, in the order they became due: what the sweep removes.
  readonly #due = new Map<number, Slot>()
  #dueCount = 0
  #now = -Infinity

  /** Keys that have a deadline (expired ones included until removed). */
  get size(): number {
    return this.#of.size
  }

  /** Keys whose deadline has passed and that are still stored. */
  get dueCount(): number {
    return this.#dueCount
  }

  get now(): number {
    return this.#now
  }

  /** The earliest deadline not yet due (Infinity: none); may be a little early (a stale time). */
  get next(): number {
    return this.#heap.length === 0 ? Infinity : this.#heap[0]!
  }

  get(key: Key): number | undefined {
    return this.#of.get(key)
  }

  isExpired(key: Key): boolean {
    // Only a due key is expired (advance moved every deadline <= now into the due slots), so
    // while none is due a read of a cache table pays no lookup here.
    if (this.#dueCount === 0) return false
    const deadline = this.#of.get(key)
    return deadline !== undefined && deadline <= this.#now
  }

  entries(): MapIterator<[Key, number]> {
    return this.#of.entries()
  }

  /** Moves time forward (never back) and makes every deadline whose time came due: O(1) per
   * distinct deadline, however many keys share it. */
  advance(now: number): void {
    if (!(now > this.#now)) return
    this.#now = now
    const heap = this.#heap
    while (heap.length > 0 && heap[0]! <= now) {
      const time = popMin(heap)
      const slot = this.#buckets.get(time)
      if (slot === undefined) continue
      this.#buckets.delete(time)
      this.#due.set(time, slot)
      this.#dueCount += typeof slot === 'object' ? slot.live : 1
    }
  }

  /** Gives `key` the deadline `deadline`, which must be after now (the table removes a key whose
   * deadline has come instead of storing it). */
  set(key: Key, deadline: number): void {
    const old = this.#of.get(key)
    if (old === deadline) return
    if (old !== undefined) this.#leave(old)
    this.#of.set(key, deadline)
    const slot = this.#buckets.get(deadline)
    if (slot === undefined) {
      this.#buckets.set(deadline, key)
      pushHeap(this.#heap, deadline)
      // Dropped slots leave their times in the heap until they pass; rebuild it when those
      // stale times outnumber the live ones (O(1) amortised per new deadline).
      if (this.#heap.length > 2 * this.#buckets.size + 64) this.#rebuildHeap()
    } else if (typeof slot !== 'object') {
      this.#buckets.set(deadline, { time: deadline, keys: [slot, key], live: 2, head: 0 })
    } else {
      slot.keys.push(key)
      slot.live++
      if (slot.keys.length > 2 * slot.live + 16) this.#compact(slot)
    }
  }

  delete(key: Key): boolean {
    const deadline = this.#of.get(key)
    if (deadline === undefined) return false
    this.#of.delete(key)
    this.#leave(deadline)
    return true
  }

  clear(): void {
    this.#of.clear()
    this.#buckets.clear()
    this.#heap.length = 0
    this.#due.clear()
    this.#dueCount = 0
  }

  /** Up to `limit` expired keys, oldest deadline first, without removing them. Entries skipped
   * as gone are passed for good, so a sweep that removes what it is given walks each entry once. */
  dueKeys(limit: number): Key[] {
    const out: Key[] = []
    for (const [time, slot] of this.#due) {
      if (out.length >= limit) break
      if (typeof slot !== 'object') {
        out.push(slot) // a lone key's slot is dropped as it leaves: it is live
        continue
      }
      const { keys } = slot
      while (slot.head < keys.length && this.#of.get(keys[slot.head]!) !== time) slot.head++
      // (a key that left and came back may be listed twice: removing it twice is harmless)
      for (let i = slot.head; i < keys.length && out.length < limit; i++) {
        if (this.#of.get(keys[i]!) === time) out.push(keys[i]!)
      }
    }
    return out
  }

  /** For a table's frozen old index (dict-table.ts, the rebuild): if `key` is due, counts it
   * removed without deleting it from the index (a delete from a big Map that is emptying makes
   * JSC rehash it all at once; a set of an existing key never does). True when it was due. Once
   * used, `size` and `entries` include these gone keys: only dueCount and dueKeys stay exact. */
  markGone(key: Key): boolean {
    const deadline = this.#of.get(key)
    if (deadline === undefined || !(deadline <= this.#now)) return false
    this.#of.set(key, NaN) // never <= now, never a bucket's time: neither expired nor listed
    this.#leave(deadline)
    return true
  }

  /** One key left the slot of `time`. */
  #leave(time: number): void {
    const due = time <= this.#now
    const slots = due ? this.#due : this.#buckets
    const slot = slots.get(time)!
    if (due) this.#dueCount--
    if (typeof slot === 'object' && --slot.live > 0) return
    slots.delete(time)
  }

  /** Drops stale entries (and duplicates: a key that left and came back to this time). */
  #compact(bucket: Bucket): void {
    const seen = new Set<Key>()
    const time = bucket.time
    bucket.keys = bucket.keys.slice(bucket.head).filter((key) => {
      if (this.#of.get(key) !== time || seen.has(key)) return false
      seen.add(key)
      return true
    })
    bucket.head = 0
  }

  #rebuildHeap(): void {
    const heap = [...this.#buckets.keys()]
    for (let i = (heap.length >> 1) - 1; i >= 0; i--) siftDown(heap, i)
    this.#heap.length = 0
    for (const time of heap) this.#heap.push(time)
  }
}

// --- a binary min-heap of numbers in an array ---

function pushHeap(heap: number[], value: number): void {
  let i = heap.push(value) - 1
  while (i > 0) {
    const parent = (i - 1) >> 1
    if (heap[parent]! <= value) break
    heap[i] = heap[parent]!
    i = parent
  }
  heap[i] = value
}

function popMin(heap: number[]): number {
  const top = heap[0]!
  const last = heap.pop()!
  if (heap.length > 0) {
    heap[0] = last
    siftDown(heap, 0)
  }
  return top
}

function siftDown(heap: number[], at: number): void {
  const n = heap.length
  const value = heap[at]!
  let i = at
  for (;;) {
    const left = 2 * i + 1
    if (left >= n) break
    const right = left + 1
    const child = right < n && heap[right]! < heap[left]! ? right : left
    if (heap[child]! >= value) break
    heap[i] = heap[child]!
    i = child
  }
  heap[i] = value
}
