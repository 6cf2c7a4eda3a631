// A dict table reached synchronously (openSync): DictHandle's methods, returning values. get and
// set of a string go through the host's fast paths on the table looked up once; everything else
// through SyncCore.call.

import type { DictTable } from '../engine/dict-table.ts'
import type { ListOptions } from '../engine/listing.ts'
import { copyStored } from '../engine/value-model.ts'
import type { Key } from '../engine/values.ts'
import { setOwn } from '../engine/values.ts'
import { SLOW } from '../host/host.ts'
import type { DictSource, SetOptions } from './dict-handle.ts'
import type { SyncCore } from './sync-database.ts'
import { isIterable } from './table-handle.ts'

function array<T>(values: Iterable<T>): T[] {
  return Array.isArray(values) || !isIterable(values) ? values as T[] : Array.from(values)
}

function source(entries: unknown): unknown {
  const plain = entries instanceof Map || Array.isArray(entries) || !isIterable(entries)
  return plain ? entries : Array.from(entries as Iterable<unknown>)
}

/**
 * A handle on a dict table of a SyncDatabase; `for (const [k, v] of dict)` iterates in chunks.
 * @example
 * const users = db.dict<{ name: string }>('users')
 * users.set('ada', { name: 'Ada' })
 * users.get('ada') // { name: 'Ada' } (a copy)
 */
export class SyncDictHandle<V = unknown> implements Iterable<[Key, V]> {
  readonly name: string
  readonly #core: SyncCore
  #dict: DictTable | undefined
  #layout = -1

  constructor(core: SyncCore, name: string) {
    this.#core = core
    this.name = name
  }

  get(key: Key): V | undefined
  get<F>(key: Key, fallback: F): V | F
  get(key: Key, fallback?: unknown): unknown {
    const core = this.#core
    if (fallback === undefined && !core.isClosed) {
      // (#table() by hand: this is the hottest line of the synchronous API)
      const table = this.#layout === core.store.layout ? this.#dict : this.#table()
      if (table !== undefined) {
        const value = core.host.getIn(table, key)
        if (value !== SLOW) return typeof value === 'object' && value !== null ? copyStored(value) : value
      }
    }
    return core.call(this.name, 'dict.get', fallback === undefined ? [key] : [key, fallback])
  }

  /** Stores `value` as DictHandle.set does (the table's default ttl unless `options` say). */
  set(key: Key, value: V, options?: SetOptions): void {
    const core = this.#core
    if (options === undefined && typeof value === 'string' && !core.isClosed) {
      const table = this.#layout === core.store.layout ? this.#dict : this.#table()
      if (table !== undefined && core.host.setIn(table, this.name, key, value) !== SLOW) return
    }
    core.call(this.name, 'dict.set', options === undefined ? [key, value] : [key, value, options])
  }

  // The table for the fast paths, looked up again only when the store's tables changed.
  #table(): DictTable | undefined {
    const store = this.#core.store
    if (this.#layout !== store.layout) {
      this.#dict = store.dictNamed(this.name)
      this.#layout = store.layout
    }
    return this.#dict
  }

  expire(key: Key, ms: number): boolean {
    return this.#core.call(this.name, 'dict.setTtl', [key, { ttl: ms }]) as boolean
  }

  persist(key: Key): boolean {
    return this.#core.call(this.name, 'dict.persist', [key]) as boolean
  }

  ttl(key: Key): number | undefined {
    return this.#core.call(this.name, 'dict.ttl', [key]) as number | undefined
  }

  has(key: Key): boolean {
    return this.#core.call(this.name, 'dict.has', [key]) as boolean
  }

  delete(key: Key): boolean {
    return this.#core.call(this.name, 'dict.delete', [key]) as boolean
  }

  size(): number {
    return this.#core.call(this.name, 'dict.size', []) as number
  }

  keys(options?: ListOptions): Key[] {
    return this.#core.call(this.name, 'dict.keys', options === undefined ? [] : [options]) as Key[]
  }

  values(options?: ListOptions): V[] {
    return this.#core.call(this.name, 'dict.values', options === undefined ? [] : [options]) as V[]
  }

  entries(options?: ListOptions): [Key, V][] {
    return this.#core.call(this.name, 'dict.entries', options === undefined ? [] : [options]) as [Key, V][]
  }

  clear(): void
  clear(options: { prefix?: string }): number
  clear(options?: { prefix?: string }): number | void {
    const args = options === undefined ? [] : [options]
    return this.#core.call(this.name, 'dict.clear', args) as number | undefined
  }

  getMany(keys: Iterable<Key>): (V | undefined)[] {
    return this.#core.call(this.name, 'dict.getMany', [array(keys)]) as (V | undefined)[]
  }

  setMany(entries: DictSource<V>, options?: SetOptions): void {
    const args = options === undefined ? [source(entries)] : [source(entries), options]
    this.#core.call(this.name, 'dict.setMany', args)
  }

  deleteMany(keys: Iterable<Key>): number {
    return this.#core.call(this.name, 'dict.deleteMany', [array(keys)]) as number
  }

  /** [key, value] entries in chunks; `{ prefix }` selects string keys as keys() does. */
  scan(options?: { prefix?: string }): Iterable<[Key, V]> {
    const args = options === undefined ? [] : [options]
    return { [Symbol.iterator]: () => this.#core.scan<[Key, V]>(this.name, 'dict.scan', args) }
  }

  [Symbol.iterator](): Generator<[Key, V], void, undefined> {
    return this.#core.scan<[Key, V]>(this.name, 'dict.scan', [])
  }

  update(entries: DictSource<V>): void {
    this.#core.call(this.name, 'dict.update', [source(entries)])
  }

  setdefault(key: Key, value: V): V {
    return this.#core.call(this.name, 'dict.setdefault', [key, value]) as V
  }

  pop(key: Key): V
  pop<F>(key: Key, fallback: F): V | F
  pop(key: Key, fallback?: unknown): unknown {
    return this.#core.call(this.name, 'dict.pop', arguments.length > 1 ? [key, fallback] : [key])
  }

  popitem(): [Key, V] {
    return this.#core.call(this.name, 'dict.popitem', []) as [Key, V]
  }

  incr(key: Key, by?: number): number
  incr(key: Key, by: bigint): bigint
  incr(key: Key, by?: number | bigint): number | bigint {
    return this.#core.call(this.name, 'dict.incr', by === undefined ? [key] : [key, by]) as number | bigint
  }

  toObject(): Record<string, V> {
    const object: Record<string, V> = {}
    for (const [key, value] of this.entries()) setOwn(object, String(key), value)
    return object
  }

  toMap(): Map<Key, V> {
    return new Map(this.entries())
  }
}
