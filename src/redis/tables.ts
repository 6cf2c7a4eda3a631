// The optimistic path: an operation that must look inside values (incr, sort, remove by deep
// equality, a batch with checks, ...) runs in the client on the engine itself. The tables it
// touches are read whole (one atomic LOAD script), rebuilt as engine tables, the op runs on them
// with the engine's own checks and errors, and what changed goes back as one COMMIT script that
// Redis refuses if any of those tables was written in between (their version moved): then it
// is read and run again. Same results and errors as every other mode, by construction.

import type { Packr } from 'msgpackr'
import { DictTable } from '../engine/dict-table.ts'
import { ListTable } from '../engine/list-table.ts'
import { Store } from '../engine/store.ts'
import type { DictOptions, ListOptions } from '../engine/cache-options.ts'
import type { Key } from '../engine/values.ts'
import { decodeKey, encodeKey } from './keys.ts'

/** One table as LOAD read it. */
export interface Loaded {
  name: string
  version: string
  type: '' | 'dict' | 'list'
  options: DictOptions | ListOptions | undefined
  born: string
  /** the latest time a write ran at on it (-Infinity: none) */
  now: number
  /** dict: fields in insertion order, their values and deadlines */
  fields: string[]
  values: Map<string, Buffer>
  deadlines: Map<string, number>
  /** list: items */
  items: Buffer[]
}

type Reply = (Buffer | Buffer[])[]

export function parseLoaded(name: string, reply: Reply, codec: Packr): Loaded {
  const [version, type, opts, born, seen, fields, values, deadlines, items] = reply as [Buffer, Buffer,
    Buffer, Buffer, Buffer, Buffer[], Buffer[], Buffer[], Buffer[]]
  const loaded: Loaded = {
    name,
    version: version.toString(),
    type: type.toString() as Loaded['type'],
    options: opts.length === 0 ? undefined : codec.unpack(opts) as DictOptions,
    born: born.toString(),
    now: seen.length === 0 ? -Infinity : Number(seen.toString()),
    fields: fields.map((f) => f.toString()),
    values: new Map(),
    deadlines: new Map(),
    items,
  }
  for (let i = 0; i < loaded.fields.length; i++) loaded.values.set(loaded.fields[i]!, values[i]!)
  for (let i = 0; i < deadlines.length; i += 2) {
    loaded.deadlines.set(deadlines[i]!.toString(), Number(deadlines[i + 1]!.toString()))
  }
  return loaded
}

/** A store holding the loaded tables (missing ones absent), at `now`. */
export function rebuild(loaded: Loaded[], codec: Packr, now: number): Store {
  const store = new Store()
  const tables = new Map<string, DictTable | ListTable>()
  for (const t of loaded) {
    if (t.type === 'dict') {
      const flat: unknown[] = []
      for (const field of t.fields) flat.push(decodeKey(field), codec.unpack(t.values.get(field)!))
      const deadlines: unknown[] = []
      for (const [field, deadline] of t.deadlines) deadlines.push(decodeKey(field), deadline)
      tables.set(t.name, DictTable.restore([flat], () => new Error('unreachable'),
        t.options as DictOptions | undefined, [deadlines], now))
    } else if (t.type === 'list') {
      tables.set(t.name, ListTable.from(t.items.map((item) => codec.unpack(item)), t.options as ListOptions | undefined))
    }
  }
  store.replaceAll(tables)
  return store
}

/** The COMMIT commands (flat ARGV) that turn the loaded tables into the store's, and which tables
 * were created or dropped (the registry is told after the commit). Empty: nothing changed. */
export interface Changes {
  argv: (string | Buffer)[]
  created: string[]
  dropped: string[]
}

// Lua's unpack() has a stack limit: long argument lists go in slices.
const SLICE = 1000

/** `now`: the time the op ran at (a key whose deadline had come when it was read, and is there
 * after, was set again: a new key, last in the order). */
export function diff(loaded: Loaded[], store: Store, codec: Packr, touched: Key | undefined, now: number,
  record?: Buffer): Changes {
  const changes: Changes = { argv: [], created: [], dropped: [] }
  if (record !== undefined) changes.argv.push('F', '1', record)
  const start = changes.argv.length
  loaded.forEach((before, t) => {
    const b = t * 7
    const after = store.tables.get(before.name)
    const out = new Commands(changes.argv, b)
    if (after === undefined) {
      if (before.type === '') return
      changes.dropped.push(before.name)
      out.wipe()
      return
    }
    if (before.type === '') {
      changes.created.push(before.name)
      out.wipe()
      out.raw('HSET', 1, 'type', after.type, 'name', before.name, 'born', String(Number(before.version) + 1),
        'bytes', '0', 'seq', '0', 'lru', '0', ...metaFields(after, codec))
      before = { ...before, type: after.type } // an empty table of that type, filled below
    }
    if (after.type === 'dict') dictChanges(before, after, out, codec, touched, now)
    else listChanges(before, after as ListTable, out, codec)
  })
  // Nothing changed: nothing to commit, and nothing for the feed.
  if (changes.argv.length === start) changes.argv.length = 0
  return changes
}

function metaFields(table: DictTable | ListTable, codec: Packr): (string | Buffer)[] {
  const options = table.options as (DictOptions & ListOptions) | undefined
  if (options === undefined) return []
  const out: (string | Buffer)[] = ['opts', codec.pack(options)]
  if (options.ttl !== undefined) out.push('ttl', String(options.ttl))
  if (options.maxEntries !== undefined) out.push('maxEntries', String(options.maxEntries))
  if (options.maxBytes !== undefined) out.push('maxBytes', String(options.maxBytes))
  if (options.maxEntries !== undefined || options.maxBytes !== undefined) out.push('bounded', '1')
  if (options.maxLength !== undefined) out.push('maxLength', String(options.maxLength))
  return out
}

class Commands {
  readonly #argv: (string | Buffer)[]
  readonly #b: number
  #count = 0

  constructor(argv: (string | Buffer)[], b: number) {
    this.#argv = argv
    this.#b = b
  }

  get count(): number {
    return this.#count
  }

  /** A Redis command on the table's key number `key` (1 meta ... 7 version). */
  raw(command: string, key: number, ...args: (string | Buffer)[]): void {
    this.#argv.push('R', String(args.length + 2), command, String(this.#b + key), ...args)
    this.#count++
  }

  /** `command key head...` over `items` in slices. */
  sliced(command: string, key: number, items: (string | Buffer)[], step = 1): void {
    const size = SLICE * step
    for (let i = 0; i < items.length; i += size) this.raw(command, key, ...items.slice(i, i + size))
  }

  special(op: 'A' | 'T' | 'E' | 'S', field?: string): void {
    if (field === undefined) this.#argv.push(op, '1', String(this.#b))
    else this.#argv.push(op, '2', String(this.#b), field)
    this.#count++
  }

  wipe(): void {
    for (const key of [1, 2, 3, 4, 5, 6]) this.raw('DEL', key)
  }
}

function dictChanges(before: Loaded, after: DictTable, out: Commands, codec: Packr,
  touched: Key | undefined, now: number): void {
  const bounded = after.options?.maxEntries !== undefined || after.options?.maxBytes !== undefined
  const start = out.count
  const fields: string[] = []
  const set: (string | Buffer)[] = []
  let bytes = 0
  const values = after.storedValues()
  const seen = new Set<string>()
  // Keys expired when read and stored after: set again, so new keys (at the end of the order).
  const renewed: string[] = []
  for (const key of after.storedKeys()) {
    const field = encodeKey(key)
    const bytesNow = codec.pack(values.next().value)
    fields.push(field)
    seen.add(field)
    const old = before.values.get(field)
    const deadline = before.deadlines.get(field)
    if (old !== undefined && deadline !== undefined && deadline <= now &&
      after.deadline(key) !== undefined) {
      renewed.push(field)
      bytes += bytesNow.length - old.length
      set.push(field, bytesNow)
    } else if (old === undefined) {
      bytes += Buffer.byteLength(field) + bytesNow.length
      set.push(field, bytesNow)
    } else if (!old.equals(bytesNow)) {
      bytes += bytesNow.length - old.length
      set.push(field, bytesNow)
    }
  }
  const removed: string[] = []
  for (const [field, old] of before.values) {
    if (!seen.has(field)) {
      removed.push(field)
      bytes -= Buffer.byteLength(field) + old.length
    }
  }
  if (removed.length > 0) {
    out.sliced('HDEL', 2, removed)
    for (const key of [3, 4, 5]) out.sliced('ZREM', key, removed)
  }
  if (set.length > 0) out.sliced('HSET', 2, set, 2)
  if (bytes !== 0) out.raw('HINCRBY', 1, 'bytes', String(bytes))
  // Order: kept keys must keep their relative order (then new ones are appended); a key deleted
  // and set again in one op moved to the end, and the order is written again.
  const isNew = (field: string): boolean => !before.values.has(field) || renewed.includes(field)
  const kept = before.fields.filter((f) => seen.has(f) && !renewed.includes(f))
  let k = 0
  let inOrder = true
  for (const field of fields) {
    if (isNew(field)) continue
    if (kept[k++] !== field) { inOrder = false; break }
  }
  if (inOrder) {
    for (const field of fields) if (isNew(field)) out.special('A', field)
  } else {
    out.raw('DEL', 3)
    out.sliced('ZADD', 3, fields.flatMap((f, i) => [String(i + 1), f]), 2)
    out.raw('HSET', 1, 'seq', String(fields.length))
  }
  // Deadlines, absolute, as the engine left them.
  const deadlines = new Map<string, number>()
  for (const [key, deadline] of after.deadlineEntries()) deadlines.set(encodeKey(key), deadline)
  const add: string[] = []
  const clear: string[] = []
  for (const [field, deadline] of deadlines) {
    if (before.deadlines.get(field) !== deadline) add.push(String(deadline), field)
  }
  for (const field of before.deadlines.keys()) if (seen.has(field) && !deadlines.has(field)) clear.push(field)
  if (add.length > 0) out.sliced('ZADD', 4, add, 2)
  if (clear.length > 0) out.sliced('ZREM', 4, clear)
  if (bounded) {
    // Recency: what this op wrote, and the key it was about, are uses.
    for (let i = 0; i < set.length; i += 2) out.special('T', set[i] as string)
    if (touched !== undefined && set.length === 0 && seen.has(encodeKey(touched))) out.special('T', encodeKey(touched))
    if (out.count > start) out.special('E')
  }
  if (out.count > start && before.deadlines.size > 0) out.special('S')
}

function listChanges(before: Loaded, after: ListTable, out: Commands, codec: Packr): void {
  const items: Buffer[] = []
  for (const value of after.values()) items.push(codec.pack(value) as Buffer)
  const old = before.items
  let head = 0
  while (head < old.length && head < items.length && old[head]!.equals(items[head]!)) head++
  if (head === old.length && head === items.length) return
  if (head === old.length) {
    out.sliced('RPUSH', 6, items.slice(head))
    return
  }
  // dropped from the front only (a trim, a shift)
  const cut = old.length - items.length
  if (cut > 0 && items.every((item, i) => item.equals(old[i + cut]!))) {
    out.raw('LTRIM', 6, String(cut), '-1')
    return
  }
  if (old.length === items.length) {
    let differ = 0
    for (let i = head; i < items.length; i++) if (!items[i]!.equals(old[i]!)) differ++
    if (differ <= 16) {
      for (let i = head; i < items.length; i++) {
        if (!items[i]!.equals(old[i]!)) out.raw('LSET', 6, String(i), items[i]!)
      }
      return
    }
  }
  out.raw('DEL', 6)
  if (items.length > 0) out.sliced('RPUSH', 6, items)
}
