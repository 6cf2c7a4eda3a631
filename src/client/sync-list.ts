// A list table reached synchronously (openSync): ListHandle's methods, returning values.
// take() cannot block a synchronous call: it takes what is there; a wait is BAD_ARGUMENT and is
// what the async `database` is for.

import type { SortOptions } from '../engine/list-table.ts'
import { badArgument } from '../errors.ts'
import { takeWait } from '../host/takes.ts'
import type { SyncCore } from './sync-database.ts'
import { isIterable } from './table-handle.ts'
import { closedError } from './transport.ts'

/**
 * A handle on a list table of a SyncDatabase; indexes may be negative; `for...of` iterates in chunks.
 * @example
 * const jobs = db.list<string>('jobs')
 * jobs.push('a', 'b') // 2
 * jobs.take() // 'a'
 */
export class SyncListHandle<V = unknown> implements Iterable<V> {
  readonly name: string
  readonly #core: SyncCore

  constructor(core: SyncCore, name: string) {
    this.#core = core
    this.name = name
  }

  #call(name: string, args: unknown[]): unknown {
    return this.#core.call(this.name, name, args)
  }

  push(...values: V[]): number {
    return this.#call('list.push', values) as number
  }

  extend(values: Iterable<V>): number {
    const items = Array.isArray(values) || !isIterable(values) ? values : Array.from(values)
    return this.#call('list.extend', [items]) as number
  }

  insert(index: number, value: V): void {
    this.#call('list.insert', [index, value])
  }

  pop(index?: number): V {
    return this.#call('list.pop', index === undefined ? [] : [index]) as V
  }

  remove(value: V): void {
    this.#call('list.remove', [value])
  }

  at(index: number): V | undefined {
    return this.#call('list.at', [index]) as V | undefined
  }

  set(index: number, value: V): void {
    this.#call('list.set', [index, value])
  }

  slice(start?: number, end?: number): V[] {
    const args = end === undefined ? (start === undefined ? [] : [start]) : [start, end]
    return this.#call('list.slice', args) as V[]
  }

  indexOf(value: V): number {
    return this.#call('list.indexOf', [value]) as number
  }

  count(value: V): number {
    return this.#call('list.count', [value]) as number
  }

  reverse(): void {
    this.#call('list.reverse', [])
  }

  sort(options?: SortOptions): void {
    this.#call('list.sort', options === undefined ? [] : [options])
  }

  clear(): void {
    this.#call('list.clear', [])
  }

  length(): number {
    return this.#call('list.length', []) as number
  }

  toArray(): V[] {
    return this.#call('list.slice', []) as V[]
  }

  shift(): V | undefined {
    return this.#call('list.shift', []) as V | undefined
  }

  unshift(...values: V[]): number {
    return this.#call('list.unshift', values) as number
  }

  /** The first value, removed (a logged list.shift, as a take that finds one), or undefined on an
   * empty list. A synchronous call cannot wait: `{ wait }` above 0 is BAD_ARGUMENT; wait with
   * `db.database.list(name).take({ wait })`, which the same pushes serve. */
  take(options?: { wait?: number }): V | undefined {
    if (this.#core.isClosed) throw closedError('database')
    if (takeWait(options) > 0) {
      const name = JSON.stringify(this.name)
      throw badArgument(`a synchronous take cannot wait: await db.database.list(${name}).take({ wait }) instead`)
    }
    return this.#call('list.shift', []) as V | undefined
  }

  [Symbol.iterator](): Generator<V, void, undefined> {
    return this.#core.scan<V>(this.name, 'list.scan', [])
  }
}
