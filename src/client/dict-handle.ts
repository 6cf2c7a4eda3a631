// A dict table, used like a Map (plus what Python dicts have). Every method is one operation.

import type { Key } from '../engine/values.ts'
import { setOwn } from '../engine/values.ts'
import { TableHandle, isIterable } from './table-handle.ts'

export type DictSource<V> = Record<string, V> | Map<Key, V> | Iterable<readonly [Key, V]>

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

  set(key: Key, value: V): Promise<void> {
    return this.call('dict.set', [key, value])
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
