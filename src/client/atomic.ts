// db.atomic(): a batch of checks and table ops built in memory and sent as ONE operation
// (db.atomic, its items as args), so it costs one round trip and is one write everywhere. The
// builders take the handles' method names and arguments, and queue instead of running.

import type { SortOptions } from '../engine/list-table.ts'
import type { Key } from '../engine/values.ts'
import { badArgument } from '../errors.ts'
import type { DictSource, SetOptions } from './dict-handle.ts'
import { isIterable } from './table-handle.ts'
import type { Transport } from './transport.ts'

/** What commit() resolves with: the ops' results in order (checks have none), the write's seq;
 * or, when a check did not hold, its index among the checks (nothing was applied). */
export type CommitResult =
  | { ok: true; seq: number; results: unknown[] }
  | { ok: false; failed: number }

type Item = [table: string, op: string, args: unknown[]]

function array<T>(values: Iterable<T>): T[] {
  return Array.isArray(values) || !isIterable(values) ? values as T[] : Array.from(values)
}

/**
 * An all-or-nothing batch. Checks run first (a failed one applies nothing: `ok` is false); an op
 * that fails rejects commit() with its error and nothing is applied.
 * @example
 * const tx = db.atomic()
 * tx.dict('accounts').check('ada', 100)
 * tx.dict('accounts').set('ada', 90)
 * tx.list('audit').push({ from: 'ada', amount: 10 })
 * const r = await tx.commit() // { ok: true, seq, results: [undefined, 1] } | { ok: false, failed: 0 }
 */
export class Atomic {
  readonly #transport: Transport
  readonly #items: Item[] = []
  #committed = false

  constructor(transport: Transport) {
    this.#transport = transport
  }

  dict<V = unknown>(name: string): AtomicDict<V> {
    return new AtomicDict<V>((op, args) => this.#add(name, op, args))
  }

  list<V = unknown>(name: string): AtomicList<V> {
    return new AtomicList<V>((op, args) => this.#add(name, op, args))
  }

  /** Sends the batch; a batch commits once (build a new one to retry). */
  commit(): Promise<CommitResult> {
    if (this.#committed) return Promise.reject(badArgument('this batch was committed already'))
    this.#committed = true
    return this.#transport.call({ table: '', name: 'db.atomic', args: this.#items }) as Promise<CommitResult>
  }

  #add(table: string, op: string, args: unknown[]): void {
    if (this.#committed) throw badArgument('this batch was committed already: start another with atomic()')
    this.#items.push([table, op, args])
  }
}

type Queue = (op: string, args: unknown[]) => void

/** A dict's ops in a batch: DictHandle's names and arguments, queued. */
export class AtomicDict<V = unknown> {
  readonly #queue: Queue

  constructor(queue: Queue) {
    this.#queue = queue
  }

  /** Commit only if the stored value deep-equals `expected` (undefined: the key is absent). */
  check(key: Key, expected: V | undefined): void {
    this.#queue('dict.check', [key, expected])
  }

  get(key: Key, fallback?: unknown): void {
    this.#queue('dict.get', fallback === undefined ? [key] : [key, fallback])
  }

  getMany(keys: Iterable<Key>): void { this.#queue('dict.getMany', [array(keys)]) }
  set(key: Key, value: V, options?: SetOptions): void {
    this.#queue('dict.set', options === undefined ? [key, value] : [key, value, options])
  }

  expire(key: Key, ms: number): void { this.#queue('dict.setTtl', [key, { ttl: ms }]) }
  persist(key: Key): void { this.#queue('dict.persist', [key]) }
  ttl(key: Key): void { this.#queue('dict.ttl', [key]) }
  has(key: Key): void { this.#queue('dict.has', [key]) }
  delete(key: Key): void { this.#queue('dict.delete', [key]) }
  deleteMany(keys: Iterable<Key>): void { this.#queue('dict.deleteMany', [array(keys)]) }
  size(): void { this.#queue('dict.size', []) }
  setdefault(key: Key, value: V): void { this.#queue('dict.setdefault', [key, value]) }
  popitem(): void { this.#queue('dict.popitem', []) }

  update(source: DictSource<V>): void {
    this.#queue('dict.update', [source instanceof Map ? source : array(source as Iterable<unknown>)])
  }

  setMany(entries: DictSource<V>, options?: SetOptions): void {
    const source = entries instanceof Map ? entries : array(entries as Iterable<unknown>)
    this.#queue('dict.setMany', options === undefined ? [source] : [source, options])
  }

  pop(key: Key, fallback?: unknown): void {
    this.#queue('dict.pop', arguments.length > 1 ? [key, fallback] : [key])
  }

  incr(key: Key, by?: number | bigint): void {
    this.#queue('dict.incr', by === undefined ? [key] : [key, by])
  }

  clear(options?: { prefix?: string }): void {
    this.#queue('dict.clear', options === undefined ? [] : [options])
  }
}

/** A list's ops in a batch: ListHandle's names and arguments, queued. */
export class AtomicList<V = unknown> {
  readonly #queue: Queue

  constructor(queue: Queue) {
    this.#queue = queue
  }

  push(...values: V[]): void { this.#queue('list.push', values) }
  extend(values: Iterable<V>): void { this.#queue('list.extend', [array(values)]) }
  insert(index: number, value: V): void { this.#queue('list.insert', [index, value]) }
  pop(index?: number): void { this.#queue('list.pop', index === undefined ? [] : [index]) }
  remove(value: V): void { this.#queue('list.remove', [value]) }
  at(index: number): void { this.#queue('list.at', [index]) }
  set(index: number, value: V): void { this.#queue('list.set', [index, value]) }
  indexOf(value: V): void { this.#queue('list.indexOf', [value]) }
  count(value: V): void { this.#queue('list.count', [value]) }
  reverse(): void { this.#queue('list.reverse', []) }
  sort(options?: SortOptions): void { this.#queue('list.sort', options === undefined ? [] : [options]) }
  clear(): void { this.#queue('list.clear', []) }
  length(): void { this.#queue('list.length', []) }

  slice(start?: number, end?: number): void {
    this.#queue('list.slice', end === undefined ? (start === undefined ? [] : [start]) : [start, end])
  }
}
