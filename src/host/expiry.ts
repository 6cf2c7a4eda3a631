// The host's removals of cache entries: the background sweep of expired keys and the eviction of
// least recently used ones past a table's bound. Both are writes through the host's one write path
// (Host.write), logged with the keys they remove (dict.expire [keys], dict.evict [keys]), so
// replay removes exactly those keys and never sweeps or evicts by itself. The sweep runs in
// slices of at most SLICE_KEYS keys (one record each) and about SLICE_MS per event-loop turn,
// as Redis's active expire cycle does: 1M keys due at once never hold the loop for long.

import { COMMANDS } from '../engine/commands.ts'
import { DictTable } from '../engine/dict-table.ts'
import type { Host } from './host.ts'
import { advanceHook, unrefTimer, type SetTimer } from './clock.ts'

const EXPIRE = COMMANDS.get('dict.expire')!
const EVICT = COMMANDS.get('dict.evict')!
// Keys per dict.expire record, and the time one turn of the sweep may take before yielding.
export const SLICE_KEYS = 1024
const SLICE_MS = 1
// Entries a rebuild copies (or passes) between two looks at the time: well under SLICE_MS.
export const REBUILD_STEP = 4096
// After a sweep the disk refused (its write failed), try again this much later.
const RETRY_MS = 1000

export class Expiry {
  readonly #host: Host
  readonly #setTimer: SetTimer
  readonly #manual: boolean
  #unsubscribe: (() => void) | undefined
  #cancel: (() => void) | undefined
  // When the pending timer fires (Infinity: none set).
  #at = Infinity
  #closed = false
  expired = 0
  evicted = 0

  constructor(host: Host, setTimer: SetTimer = unrefTimer) {
    this.#host = host
    this.#setTimer = setTimer
    const subscribe = advanceHook(host.clock)
    this.#manual = subscribe !== undefined
    if (subscribe !== undefined) this.#unsubscribe = subscribe(() => this.sweepAll())
  }

  close(): void {
    this.#closed = true
    this.#unsubscribe?.()
    this.#cancel?.()
    this.#cancel = undefined
  }

  /** After a write on `name`: evict past a bound, and wake the sweep for an earlier deadline. */
  afterWrite(name: string): void {
    const table = this.#host.store.tables.get(name)
    if (table instanceof DictTable) this.afterWriteTo(table, name)
  }

  /** afterWrite() on `name`'s dict table, already looked up (the host's fast path). */
  afterWriteTo(table: DictTable, name: string): void {
    if (table.options === undefined && table.deadlineCount === 0) return
    if (table.options?.maxEntries !== undefined || table.options?.maxBytes !== undefined) {
      const keys = table.overflow()
      if (keys.length > 0) {
        try {
          const { result } = this.#host.write({ table: name, name: 'dict.evict', args: [keys] }, EVICT,
            undefined, this.#host.now())
          this.evicted += result as number
        } catch {
          // The log refused it (the disk failed): the write before it stands and is answered;
          // the table stays past its bound until a write can be logged again and evicts.
        }
      }
    }
    if (table.nextDeadline < this.#at || table.dueCount > 0) this.reschedule()
  }

  /** Sets the timer for the earliest deadline of any table (or at once when keys are due). */
  reschedule(): void {
    if (this.#closed || this.#manual) return
    let next = Infinity
    for (const table of this.#host.store.tables.values()) {
      if (!(table instanceof DictTable)) continue
      if (table.dueCount > 0) next = -Infinity
      else if (table.nextDeadline < next) next = table.nextDeadline
    }
    this.#arm(next)
  }

  #arm(at: number): void {
    if (at === this.#at && this.#cancel !== undefined) return
    this.#cancel?.()
    this.#cancel = undefined
    this.#at = at
    if (at === Infinity) return
    const delay = Math.max(0, at - this.#host.clock.now())
    this.#cancel = this.#setTimer(() => this.#fire(), Math.min(delay, 2 ** 31 - 1))
  }

  #fire(): void {
    this.#cancel = undefined
    this.#at = Infinity
    if (this.#closed) return
    let more: boolean
    try {
      more = this.#slice(performance.now() + SLICE_MS)
    } catch (error) {
      console.error('cyberdb: expiry sweep failed (retrying):', error)
      this.#arm(this.#host.clock.now() + RETRY_MS)
      return
    }
    if (more) this.#arm(-Infinity) // the rest in the next turn: clients get in between
    else this.reschedule()
  }

  /** Sweeps until no expired key is left (a manual clock's advance). */
  sweepAll(): void {
    if (this.#closed) return
    while (this.#slice(Infinity));
  }

  /** Removes expired keys, SLICE_KEYS per record, until none is left or `until`
   * (performance.now()) passes; true when some are left. */
  #slice(until: number): boolean {
    const host = this.#host
    const now = host.now()
    for (const [name, table] of host.store.tables) {
      if (!(table instanceof DictTable) || table.deadlineCount === 0) continue
      table.advance(now)
      // Most of a big table due: copy its survivors rather than delete (dict-table.ts, the rebuild).
      if (table.wantsRebuild) table.beginRebuild()
      while (table.isRebuilding) {
        if (performance.now() > until) return true
        table.rebuildStep(REBUILD_STEP)
      }
      while (table.dueCount > 0) {
        if (performance.now() > until) return true
        const keys = table.dueKeys(SLICE_KEYS)
        const { result } = host.write({ table: name, name: 'dict.expire', args: [keys] }, EXPIRE, undefined, now)
        this.expired += result as number
      }
    }
    return false
  }
}
