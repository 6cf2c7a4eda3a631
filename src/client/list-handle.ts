// A list table, used like an Array (plus what Python lists have). Every method is one operation.

import type { Op, OpName } from '../engine/commands.ts'
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

  /** Removes and returns the first value; `undefined` when the list is empty. */
  shift(): Promise<V | undefined> {
    return this.call('list.shift', [])
  }

  /** Puts `values` first, in the order given (as `Array.prototype.unshift`); resolves with the
   * new length. */
  unshift(...values: V[]): Promise<number> {
    return this.call('list.unshift', values)
  }

  /**
   * Removes and returns the first value, as a job queue's worker does. Without `wait`, or on an
   * empty list with `wait: 0`, it is shift(). With `wait` (milliseconds, finite, 0 or more) it
   * waits up to that long for a value pushed by anyone, and resolves `undefined` if none came.
   * Takes waiting on one list are served in the order they asked, one value each. A take on a
   * missing table fails with TABLE_NOT_FOUND, and so does a waiting one when its table is dropped;
   * closing the database (or the server) ends waiting takes with CONNECTION_CLOSED.
   * @example
   * const job = await db.list<Job>('jobs').take({ wait: 30_000 })
   */
  take(options?: { wait?: number }): Promise<V | undefined> {
    const op: Op<OpName> = { table: this.name, name: 'list.take', args: options === undefined ? [] : [options] }
    return this.transport.call(op) as Promise<V | undefined>
  }
}
