// Taking back the ops of a failed atomic batch. Before each op runs, before() records how to undo
// it through the table's public methods (never its storage): the old value of each key it writes,
// the positions a list op touches, or, for an op that may move or drop many entries (clear, sort,
// a dict delete), a copy of the whole table, taken once per table per batch (that copy then
// covers every later op on the table). undo() runs them last first; the store's byte count
// follows through Store.change. An op this file does not know is covered by a copy: a new write
// op is safe in a batch before anyone teaches this file a cheaper undo for it.

import type { Table } from './commands.ts'
import type { DictTable } from './dict-table.ts'
import type { ListTable } from './list-table.ts'
import type { Store } from './store.ts'
import type { Key } from './values.ts'

/** Undoes one op; `result` is what the op returned (popitem and list.pop undo from it). */
type Undo = (result: unknown) => void

interface Entry {
  table: Table
  undo: Undo
  result: unknown
}

export class Rollback {
  readonly #store: Store
  readonly #done: Entry[] = []
  // Tables copied whole in this batch: later ops on them need no undo of their own.
  readonly #copied = new Set<Table>()
  #pending: Entry | undefined

  constructor(store: Store) {
    this.#store = store
  }

  /** Records how to undo `name` on `table`, which is about to run with `args`. */
  before(table: Table, name: string, args: unknown[]): void {
    this.#pending = undefined
    if (this.#copied.has(table)) return
    const undo = table.type === 'dict' ? dictUndo(table, name, args) : listUndo(table, name, args)
    if (undo === null) return
    if (undo === COPY) {
      this.#copied.add(table)
      this.#pending = { table, undo: copyOf(table), result: undefined }
    } else {
      this.#pending = { table, undo, result: undefined }
    }
  }

  /** The op recorded by the last before() succeeded with `result`. */
  ran(result: unknown): void {
    const entry = this.#pending
    if (entry === undefined) return
    entry.result = result
    this.#done.push(entry)
    this.#pending = undefined
  }

  /** Takes back every op that ran, the last first. */
  undo(): void {
    const done = this.#done
    for (let i = done.length - 1; i >= 0; i--) {
      const { table, undo, result } = done[i]!
      this.#store.change(table, () => undo(result))
    }
    done.length = 0
  }
}

// before()'s answers besides an Undo: nothing to undo, or copy the table.
const COPY = Symbol('copy')

function copyOf(table: Table): Undo {
  if (table.type === 'list') {
    const items = table.slice()
    return () => {
      table.clear()
      table.append(items)
    }
  }
  const entries = [...table.entries()].map(([key, value]) => [key, value, noneAsNull(table.deadline(key))] as const)
  return () => {
    table.clear()
    for (const [key, value, deadline] of entries) table.set(key, value, deadline)
  }
}

// A live key's deadline as set() takes it: null for none.
function noneAsNull(deadline: number | undefined): number | null {
  return deadline === undefined || deadline === Infinity ? null : deadline
}

// The old state of some keys: present ones get their value and deadline back (in place: a Map
// keeps a key's position on set), absent ones are deleted (they were appended, so deleting them
// restores the order). A key written twice is recorded once, at its first state.
function keysUndo(dict: DictTable, keys: Iterable<unknown>): Undo {
  const old = new Map<Key, { had: boolean; value: unknown; deadline: number | null }>()
  for (const key of keys) {
    if ((typeof key !== 'string' && typeof key !== 'number') || old.has(key)) continue
    old.set(key, { had: dict.has(key), value: dict.get(key), deadline: noneAsNull(dict.deadline(key)) })
  }
  return () => {
    for (const [key, { had, value, deadline }] of [...old].reverse()) {
      if (had) dict.set(key, value, deadline)
      else dict.delete(key)
    }
  }
}

function sourceKeys(source: unknown): Iterable<unknown> {
  if (source instanceof Map) return source.keys()
  if (Array.isArray(source)) return source.map((pair) => (Array.isArray(pair) ? pair[0] : undefined))
  if (typeof source === 'object' && source !== null) return Object.keys(source)
  return [] // the op refuses it before writing
}

function dictUndo(dict: DictTable, name: string, args: unknown[]): Undo | typeof COPY | null {
  switch (name) {
    case 'dict.set':
    case 'dict.setdefault':
    case 'dict.incr':
    case 'dict.setTtl':
    case 'dict.persist':
      return keysUndo(dict, [args[0]])
    case 'dict.update':
    case 'dict.setMany':
      return keysUndo(dict, sourceKeys(args[0]))
    case 'dict.popitem':
      // It removes the last entry: set appends it back in the same place.
      return COPY // (its deadline is gone with it: a copy keeps it)
    case 'dict.delete':
    case 'dict.pop':
      // A Map has no insert-at: putting a deleted key back would move it to the end, so a delete
      // of a present key copies the table (a delete of an absent one changes nothing).
      return dict.has(args[0] as Key) ? COPY : null
    case 'dict.deleteMany':
      return Array.isArray(args[0]) && args[0].some((key) => dict.has(key as Key)) ? COPY : null
    case 'dict.clear':
      return dict.size === 0 ? null : COPY
    default:
      return COPY
  }
}

// Where a list index lands (negative: from the end); splice clamps insert positions.
function position(list: ListTable, index: unknown, clamp: boolean): number {
  const n = typeof index === 'number' ? index : 0
  const at = n < 0 ? n + list.size : n
  return clamp ? Math.min(Math.max(at, 0), list.size) : at
}

function listUndo(list: ListTable, name: string, args: unknown[]): Undo | typeof COPY | null {
  switch (name) {
    case 'list.push':
    case 'list.extend': {
      const length = list.size
      return () => {
        while (list.size > length) list.pop(-1)
      }
    }
    case 'list.insert': {
      const at = position(list, args[0], true)
      return () => void list.pop(at)
    }
    case 'list.pop': {
      const at = position(list, args.length > 0 ? args[0] : -1, false)
      return (value) => list.insert(at, value)
    }
    case 'list.remove': {
      const at = list.indexOf(args[0])
      if (at < 0) return null
      const value = list.at(at)
      return () => list.insert(at, value)
    }
    case 'list.set': {
      const at = position(list, args[0], false)
      if (at < 0 || at >= list.size) return null
      const value = list.at(at)
      return () => list.set(at, value)
    }
    case 'list.reverse':
      return () => list.reverse()
    default:
      return COPY // sort, clear, and any op this file does not know
  }
}
