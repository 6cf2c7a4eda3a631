// openSync()'s database: the embedded host reached with plain calls instead of promises. It owns
// an EmbeddedTransport (lock, load, snapshots, serve) and runs every op on that transport's host,
// copying values in and out as the embedded transport does; `database` is an async Database on
// the same host. Writes under durability=always are fdatasynced before the call returns.

import type { Op } from '../engine/commands.ts'
import { Cursors } from '../engine/cursors.ts'
import type { Store, TableInfo } from '../engine/store.ts'
import { acceptArgs, copyStored } from '../engine/value-model.ts'
import { badArgument } from '../errors.ts'
import { Host } from '../host/host.ts'
import type { HostCounters } from '../host/host.ts'
import type { DatabaseInfo } from '../host/info.ts'
import type { Address, ListenOptions } from '../listen-options.ts'
import type { SnapshotStats } from '../persistence/snapshot.ts'
import { Atomic } from './atomic.ts'
import type { ChangeStream } from './change-stream.ts'
import { Database, cacheOptions, type CreateDictOptions, type CreateListOptions, type WatchOptions } from './database.ts'
import type { DictSource } from './dict-handle.ts'
import type { EmbeddedTransport } from './embedded.ts'
import { SyncDictHandle } from './sync-dict.ts'
import { SyncListHandle } from './sync-list.ts'
import { SCAN_CHUNK, isIterable } from './table-handle.ts'
import { DONE, closedError, type Transport } from './transport.ts'

/** The synchronous call path the handles share: one per SyncDatabase. */
export class SyncCore {
  readonly host: Host
  readonly store: Store
  // This database's open iterations (the async `database` has its own).
  readonly cursors = new Cursors()
  isClosed = false

  constructor(host: Host) {
    this.host = host
    this.store = host.store
  }

  /** Runs one op now: its copied result, or a thrown CyberError, as EmbeddedTransport.call
   * resolves or rejects. A write under durability=always is on disk when this returns. */
  call(table: string, name: string, args: unknown[]): unknown {
    if (this.isClosed) throw closedError('database')
    const command = Host.command(name)
    acceptArgs(args)
    if (name === 'db.info') return this.host.runInfo() // plain data made for the caller: no copy
    if (command?.host === true) throw badArgument(`${name} does not run synchronously`)
    const { result, seq } = this.host.apply({ table, name, args }, this.cursors, command)
    if (seq !== 0) this.host.log?.flushNow()
    return typeof result === 'object' && result !== null ? copyStored(result) : result
  }

  /** A table's entries in chunks through this database's cursors, as `for...of` over a Map (writes
   * during the iteration behave as there); leaving early closes the cursor. */
  *scan<T>(table: string, name: 'dict.scan' | 'list.scan', options: unknown[]): Generator<T, void, undefined> {
    let cursor = 0
    try {
      do {
        const [next, items] = this.call(table, name, [cursor, SCAN_CHUNK, ...options]) as [number, T[]]
        cursor = next
        yield* items
      } while (cursor !== 0)
    } finally {
      if (cursor !== 0 && !this.isClosed) this.cursors.close(cursor)
    }
  }
}

/** A Transport over the synchronous path: each call has run when it returns, its promise
 * settled. What atomic() commits through (and an adapter for code that takes a Transport). */
export class SyncTransport implements Transport {
  readonly #core: SyncCore

  constructor(core: SyncCore) {
    this.#core = core
  }

  get isClosed(): boolean {
    return this.#core.isClosed
  }

  call(op: Op): Promise<unknown> {
    try {
      return Promise.resolve(this.#core.call(op.table, op.name, op.args))
    } catch (error) {
      return Promise.reject(error)
    }
  }

  pin(): Transport {
    if (this.#core.isClosed) throw closedError('database')
    return this
  }

  close(): Promise<void> {
    return DONE
  }

  [Symbol.asyncDispose](): Promise<void> {
    return DONE
  }
}

/**
 * A database whose handles return values: the embedded host at close to Map speed. Same tables,
 * method names, values (copied in and out) and errors (thrown) as a Database. Saving, closing
 * and serving do I/O and return promises; `database` is an async Database on the same store.
 * @example
 * const db = openSync('file:./data.cdb?durability=always')
 * db.createDict('users', undefined, { ifNotExists: true })
 * const users = db.dict<string>('users')
 * users.set('ada', 'Ada Lovelace') // on disk when it returns
 * for (const [key, name] of users) console.log(key, name)
 */
export class SyncDatabase implements AsyncDisposable, Disposable {
  readonly #transport: EmbeddedTransport
  readonly #core: SyncCore
  /** An async Database on the same host and store (its own cursors and waiting takes): for code
   * that takes a Database, and for take({ wait }). Closed with this one. */
  readonly database: Database
  // database's transport: its watches end when it closes, with this database.
  readonly #sibling: EmbeddedTransport

  constructor(transport: EmbeddedTransport) {
    this.#transport = transport
    this.#core = new SyncCore(transport.host)
    this.#sibling = transport.sibling()
    this.database = new Database(this.#sibling)
  }

  /** A Transport over the synchronous path (each call has run when it returns): for code that
   * takes one. Closing it does nothing; close the database. */
  get transport(): Transport {
    return new SyncTransport(this.#core)
  }

  /** The change feed of this host, as Database.watch (an async iterable: changes arrive after
   * the writes that made them, synchronous ones included). */
  watch(options?: WatchOptions): ChangeStream {
    return this.#sibling.watch(options)
  }

  /** What db.info() tells, now: tables, operations, expiry, the feed, persistence, memory. */
  info(): DatabaseInfo {
    return this.#core.call('', 'db.info', []) as DatabaseInfo
  }

  /** The host's counters (operations by name, hits, misses, expired, evicted). */
  get counters(): HostCounters {
    return this.#core.host.counters
  }

  get isClosed(): boolean {
    return this.#core.isClosed
  }

  /** Creates a dict table; `false` when `ifNotExists` found it already there. */
  createDict<V = unknown>(name: string, content?: DictSource<V>, options?: CreateDictOptions): boolean {
    const entries = content instanceof Map || Array.isArray(content) || !isIterable(content)
      ? content : Array.from(content)
    return this.#create(name, 'dict', entries, options)
  }

  /** Creates a list table, empty unless `content` is given. */
  createList<V = unknown>(name: string, content?: Iterable<V>, options?: CreateListOptions): boolean {
    const items = Array.isArray(content) || !isIterable(content) ? content : Array.from(content)
    return this.#create(name, 'list', items, options)
  }

  #create(name: string, type: 'dict' | 'list', content: unknown,
    options?: CreateDictOptions | CreateListOptions): boolean {
    const cache = cacheOptions(options)
    const args = cache !== undefined ? [type, content ?? null, options?.ifNotExists === true, cache]
      : options?.ifNotExists ? [type, content ?? null, true] : content === undefined ? [type] : [type, content]
    return this.#core.call(name, 'db.create', args) as boolean
  }

  /** A handle on a dict table; keep it (one object per table is all a loop needs). */
  dict<V = unknown>(name: string): SyncDictHandle<V> {
    return new SyncDictHandle<V>(this.#core, name)
  }

  list<V = unknown>(name: string): SyncListHandle<V> {
    return new SyncListHandle<V>(this.#core, name)
  }

  /** A batch built as on a Database; commit() applies it before returning (its promise is
   * settled by then). */
  atomic(): Atomic {
    return new Atomic(new SyncTransport(this.#core))
  }

  tables(): TableInfo[] {
    return this.#core.call('', 'db.tables', []) as TableInfo[]
  }

  /** Drops a table; `true` if it existed. */
  dropTable(name: string): boolean {
    return this.#core.call(name, 'db.drop', []) as boolean
  }

  /** Snapshots now: file mode to its file (or `path`), memory:// to `path`. */
  save(path?: string): Promise<SnapshotStats> {
    try {
      if (this.#core.isClosed) throw closedError('database')
      const op = { table: '', name: 'db.save', args: path === undefined ? [] : [path] }
      return this.#core.host.applyLater(op, 'local') as Promise<SnapshotStats>
    } catch (error) {
      return Promise.reject(error)
    }
  }

  /** Serves this store over TCP (as Database.serve): closing this database stops the server. */
  serve(options: ListenOptions = {}): Promise<Address> {
    return this.#transport.serve(options)
  }

  /** Closes the database (and `database`); file mode takes a final snapshot first. */
  async close(): Promise<void> {
    if (this.#core.isClosed) return
    this.#core.isClosed = true
    this.#core.cursors.clear()
    await this.database.close()
    await this.#transport.close()
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }

  /** `using db = openSync(...)`: starts close() (the final snapshot finishes in the background;
   * `await using` waits for it). */
  [Symbol.dispose](): void {
    this.close().catch((error) => console.error('cyberdb: close failed:', error))
  }
}
