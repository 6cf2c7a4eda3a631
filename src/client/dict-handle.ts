// A dict table, used like a Map (plus what Python dicts have). Every method is one operation.

import type { Key } from '../engine/values.ts'
import { setOwn } from '../engine/values.ts'
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
    return this.call('dict.setWith', [key, value, options])
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

  keys(): Promise<Key[]> {
    return this.call('dict.keys', [])
  }

  values(): Promise<V[]> {
    return this.call('dict.values', [])
  }

  entries(): Promise<[Key, V][]> {
    return this.call('dict.entries', [])
  }

  clear(): Promise<void> {
    return this.call('dict.clear', [])
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
