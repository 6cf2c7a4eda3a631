// A list table, used like an Array (plus what Python lists have). Every method is one operation.

import type { SortOptions } from '../engine/list-table.ts'
import { TableHandle, isIterable } from './table-handle.ts'

/**
 * A handle on a list table; no I/O until used. Indexes may be negative (from the end).
 * @example
 * const jobs = db.list<string>('jobs')
 * await jobs.push('a', 'b')
 * const last = await jobs.pop()
 */
export class ListHandle<V = unknown> extends TableHandle<V> {
  protected readonly type = 'list'

  /** Appends values; resolves with the new length. */
  push(...values: V[]): Promise<number> {
    return this.call('list.push', values)
  }

  /** Appends every value of an iterable; resolves with the new length. */
  extend(values: Iterable<V>): Promise<number> {
    const items = Array.isArray(values) || !isIterable(values) ? values : Array.from(values)
    return this.call('list.extend', [items])
  }

  /** Inserts before `index`; an index past either end clamps, as `splice` and Python do. */
  insert(index: number, value: V): Promise<void> {
    return this.call('list.insert', [index, value])
  }

  /** Removes and returns the value at `index` (the last by default); INDEX_OUT_OF_RANGE when empty. */
  pop(index?: number): Promise<V> {
    return this.call('list.pop', index === undefined ? [] : [index])
  }

  /** Removes the first value deep-equal to `value`; VALUE_NOT_FOUND when absent. */
  remove(value: V): Promise<void> {
    return this.call('list.remove', [value])
  }

  at(index: number): Promise<V | undefined> {
    return this.call('list.at', [index])
  }

  /** Replaces the value at `index`; INDEX_OUT_OF_RANGE past either end. */
  set(index: number, value: V): Promise<void> {
    return this.call('list.set', [index, value])
  }

  slice(start?: number, end?: number): Promise<V[]> {
    return this.call('list.slice', end === undefined ? (start === undefined ? [] : [start]) : [start, end])
  }

  /** The index of the first deep-equal value, or -1. */
  indexOf(value: V): Promise<number> {
    return this.call('list.indexOf', [value])
  }

  count(value: V): Promise<number> {
    return this.call('list.count', [value])
  }

  reverse(): Promise<void> {
    return this.call('list.reverse', [])
  }

  /** Stable sort: numbers numerically, strings by code unit, optionally by a field path. */
  sort(options?: SortOptions): Promise<void> {
    return this.call('list.sort', options === undefined ? [] : [options])
  }

  clear(): Promise<void> {
    return this.call('list.clear', [])
  }

  length(): Promise<number> {
    return this.call('list.length', [])
  }

  toArray(): Promise<V[]> {
    return this.call('list.slice', [])
  }
}
