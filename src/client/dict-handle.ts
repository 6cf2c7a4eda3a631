// A dict table, used like a Map (plus what Python dicts have). Every method is one operation.

import type { Key } from '../engine/values.ts'
import { setOwn } from '../engine/values.ts'
import type { ListOptions } from '../engine/listing.ts'
import { TableHandle, isIterable } from './table-handle.ts'

export type DictSource<V> = Record<string, V> | Map<Key, V> | Iterable<readonly [Key, V]>

/** set()'s options: `ttl` ms (null: never expires; default: the table's ttl), or `keepTtl`. */
export interface SetOptions {
  ttl?: number | null
  keepTtl?: boolean
}

/**
 * A handle on a dict table; no I/O until used.
 * @example
 * const users = db.dict<{ name: string }>('users')
 * await users.set('ada', { name: 'Ada' })
 * const ada = await users.get('ada')
 */
export class DictHandle<V = unknown> extends TableHandle<[Key, V]> {
  protected readonly type = 'dict'

  get(key: Key): Promise<V | undefined>
  get<F>(key: Key, fallback: F): Promise<V | F>
  get(key: Key, fallback?: unknown): Promise<unknown> {
    return this.call('dict.get', fallback === undefined ? [key] : [key, fallback])
  }

  /** Stores `value`; without options the key gets the table's default ttl (or none, clearing an
   * old deadline); `{ ttl }` its own (ms, null: never), `{ keepTtl: true }` the one it has. */
  set(key: Key, value: V, options?: SetOptions): Promise<void> {
    if (options === undefined) return this.call('dict.set', [key, value])
    return this.call('dict.set', [key, value, options])
  }

  /** Gives a key a deadline `ms` from now (0: it expires at once); false when it is missing. */
  expire(key: Key, ms: number): Promise<boolean> {
    return this.call('dict.setTtl', [key, { ttl: ms }])
  }

  /** Removes a key's deadline; true when it had one. */
  persist(key: Key): Promise<boolean> {
    return this.call('dict.persist', [key])
  }

  /** Ms left before the key expires; Infinity without a deadline; undefined when missing. */
  ttl(key: Key): Promise<number | undefined> {
    return this.call('dict.ttl', [key])
  }

  has(key: Key): Promise<boolean> {
    return this.call('dict.has', [key])
  }

  delete(key: Key): Promise<boolean> {
    return this.call('dict.delete', [key])
  }

  size(): Promise<number> {
    return this.call('dict.size', [])
  }

  /** Keys in insertion order; `{ prefix }` selects string keys starting with it (the empty
   * prefix: every string key, no number key), `{ limit }` stops after that many. A listing past
   * 32 MiB is FRAME_TOO_LARGE in every mode: scan() it, or pass a limit. */
  keys(options?: ListOptions): Promise<Key[]> {
    return this.call('dict.keys', options === undefined ? [] : [options])
  }

  values(options?: ListOptions): Promise<V[]> {
    return this.call('dict.values', options === undefined ? [] : [options])
  }

  entries(options?: ListOptions): Promise<[Key, V][]> {
    return this.call('dict.entries', options === undefined ? [] : [options])
  }

  /** Empties the dict; with options, removes the keys `prefix` selects (all without one) and
   * resolves with how many it removed. */
  clear(): Promise<void>
  clear(options: { prefix?: string }): Promise<number>
  clear(options?: { prefix?: string }): Promise<number | void> {
    return this.call('dict.clear', options === undefined ? [] : [options])
  }

  /** The values at `keys`, in the order asked (undefined where missing): one operation. */
  getMany(keys: Iterable<Key>): Promise<(V | undefined)[]> {
    return this.call('dict.getMany', [Array.isArray(keys) || !isIterable(keys) ? keys : Array.from(keys)])
  }

  /** Writes every entry of an object, a Map or [key, value] pairs in one operation, all or
   * nothing (every key is checked before the first write), each as set() with `options` would. */
  setMany(entries: DictSource<V>, options?: SetOptions): Promise<void> {
    const plain = entries instanceof Map || Array.isArray(entries) || !isIterable(entries)
    const source = plain ? entries : Array.from(entries as Iterable<unknown>)
    return this.call('dict.setMany', options === undefined ? [source] : [source, options])
  }

  /** Deletes every key of `keys` in one operation; resolves with how many were there. */
  deleteMany(keys: Iterable<Key>): Promise<number> {
    return this.call('dict.deleteMany', [Array.isArray(keys) || !isIterable(keys) ? keys : Array.from(keys)])
  }

  /** Streams [key, value] entries in chunks, as `for await` does; `{ prefix }` selects string keys
   * as keys() does. For a table too large to list in one reply. */
  scan(options?: { prefix?: string }): AsyncIterable<[Key, V]> {
    return { [Symbol.asyncIterator]: () => this.stream(options === undefined ? [] : [options]) }
  }

  /** Merges a plain object, a Map, or any iterable of [key, value] pairs. */
  update(source: DictSource<V>): Promise<void> {
    const plain = source instanceof Map || Array.isArray(source) || !isIterable(source)
    return this.call('dict.update', [plain ? source : Array.from(source as Iterable<unknown>)])
  }

  /** The stored value at `key`, storing `value` there first if the key is missing. */
  setdefault(key: Key, value: V): Promise<V> {
    return this.call('dict.setdefault', [key, value])
  }

  /** Removes and returns the value at `key`; KEY_NOT_FOUND when missing and no fallback. */
  pop(key: Key): Promise<V>
  pop<F>(key: Key, fallback: F): Promise<V | F>
  pop(key: Key, fallback?: unknown): Promise<unknown> {
    return this.call('dict.pop', arguments.length > 1 ? [key, fallback] : [key])
  }

  /** Removes and returns the last inserted entry; KEY_NOT_FOUND when empty. */
  popitem(): Promise<[Key, V]> {
    return this.call('dict.popitem', [])
  }

  /** Adds `by` to the number at `key` (a missing key counts as 0), atomically. */
  incr(key: Key, by?: number): Promise<number>
  incr(key: Key, by: bigint): Promise<bigint>
  incr(key: Key, by?: number | bigint): Promise<number | bigint> {
    return this.call('dict.incr', by === undefined ? [key] : [key, by])
  }

  async toObject(): Promise<Record<string, V>> {
    const object: Record<string, V> = {}
    for (const [key, value] of await this.entries()) setOwn(object, String(key), value)
    return object
  }

  async toMap(): Promise<Map<Key, V>> {
    return new Map(await this.entries())
  }
}
