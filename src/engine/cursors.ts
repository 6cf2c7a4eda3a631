// Open iterations (dict.scan, list.scan) of one caller: a server session or one embedded
// database each hold their own Cursors, so one client's scans can neither evict nor continue nor
// close another's. Ids are random 53-bit integers, never 0 (0 starts an iteration): an id is only
// looked up in its owner's map, and even a guess there finds nothing it did not open itself.

import { CyberError, badArgument } from '../errors.ts'
import type { DictTable } from './dict-table.ts'
import type { ListTable } from './list-table.ts'

type Table = DictTable | ListTable

interface Cursor {
  table: Table
  /** The store's epoch at the start: a snapshot load (replaceAll) expires every cursor. */
  epoch: number
  iterator: Iterator<unknown>
  /** A prefix scan's filter, fixed by the call that started it. */
  keep: ((item: unknown) => boolean) | undefined
}

// Bounded per owner: a client that starts iterations and never finishes them evicts its own
// oldest cursor rather than growing the server, and never anyone else's. An evicted cursor
// answers BAD_ARGUMENT, as an unknown one does.
export const MAX_CURSORS = 4096

// A filtered scan examines at most this many items per item it may return, then answers with what
// it has (maybe nothing) and a cursor: a prefix that matches little of a huge table costs many
// short calls, never one that holds the store for the whole table.
const EXAMINED_PER_ITEM = 16

const random = new Uint32Array(2)

function randomId(): number {
  crypto.getRandomValues(random)
  return (random[0]! & 0x1f_ffff) * 2 ** 32 + random[1]!
}

export class Cursors {
  readonly #open = new Map<number, Cursor>()

  /** How many iterations are open. */
  get size(): number {
    return this.#open.size
  }

  /**
   * The next chunk of a table: [cursor for the next call, or 0 when done, items]. Cursor 0 starts
   * an iteration. Map and Array iterators are live, so writes during an iteration behave as they
   * do in a `for...of` over a Map or an Array. `keep` filters the items of an iteration it
   * starts (a later call goes on with the first call's filter).
   */
  scan(name: string, table: Table, epoch: number, cursor: number,
    count: number, keep?: (item: unknown) => boolean): [number, unknown[]] {
    let state: Cursor | undefined
    if (cursor === 0) {
      state = { table, epoch, iterator: table[Symbol.iterator](), keep }
    } else {
      state = this.#open.get(cursor)
      this.#open.delete(cursor)
      if (state === undefined || state.epoch !== epoch) {
        throw badArgument(`cursor ${cursor} is unknown or expired`)
      }
      if (state.table !== table) {
        throw new CyberError('TABLE_NOT_FOUND', `table "${name}" was dropped during the iteration`)
      }
    }
    const items: unknown[] = []
    const filter = state.keep
    let budget = filter === undefined ? Infinity : count * EXAMINED_PER_ITEM
    while (items.length < count && budget-- > 0) {
      const next = state.iterator.next()
      if (next.done) return [0, items]
      if (filter === undefined || filter(next.value)) items.push(next.value)
    }
    let id = randomId()
    while (id === 0 || this.#open.has(id)) id = randomId()
    this.#open.set(id, state)
    if (this.#open.size > MAX_CURSORS) this.#open.delete(this.#open.keys().next().value!)
    return [id, items]
  }

  /** Frees a cursor; false when it was not open (here). */
  close(cursor: number): boolean {
    return this.#open.delete(cursor)
  }

  /** Drops every cursor (the owner closed): their tables can be collected. */
  clear(): void {
    this.#open.clear()
  }
}
