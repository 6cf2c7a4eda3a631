// The typed API: Database (what connect() returns) and DatabaseProxy (one pinned connection for a
// unit of work). Both have the table methods; neither knows which transport it holds.

import type { TableInfo } from '../engine/store.ts'
import type { DatabaseInfo } from '../host/info.ts'
import type { Key } from '../engine/values.ts'
import type { SnapshotStats } from '../persistence/snapshot.ts'
import { Atomic } from './atomic.ts'
import { DictHandle, type DictSource } from './dict-handle.ts'
import { ListHandle } from './list-handle.ts'
import type { OpName } from '../engine/commands.ts'
import { type CallResult, callOp, isIterable } from './table-handle.ts'
import { badArgument } from '../errors.ts'
import type { Address, ListenOptions } from '../listen-options.ts'
import { EmbeddedTransport } from './embedded.ts'
import type { Transport } from './transport.ts'
import { ChangeStream, type Change, type WatchOptions } from './change-stream.ts'

export interface CreateOptions {
  /** Succeed without changes when a table of that name and type exists (TABLE_EXISTS otherwise). */
  ifNotExists?: boolean
}

/** createDict's options: a cache table's default `ttl` (ms) and bounds. `maxBytes` counts the
 * approximate bytes of keys and values, the estimate maxMemory uses (value-model.ts sizeOf: about
 * their msgpack size, a string its length), of every stored entry (expired ones until swept). A
 * single entry larger than maxBytes is stored and then evicted at once, like any other: the set
 * succeeds and the key is gone. */
export interface CreateDictOptions extends CreateOptions {
  ttl?: number
  maxEntries?: number
  maxBytes?: number
}

/** createList's options: `maxLength` caps it (pushing past drops from the front). */
export interface CreateListOptions extends CreateOptions {
  maxLength?: number
}

/** The cache options of a create call (the engine checks them), or undefined when none. */
export function cacheOptions(options: CreateOptions | undefined): Record<string, unknown> | undefined {
  if (options === undefined || options === null || typeof options !== 'object') return undefined
  const { ifNotExists: _, ...rest } = options as Record<string, unknown>
  return Object.keys(rest).length === 0 ? undefined : rest
}

/** The table methods shared by a Database and its proxies. */
export class TableClient {
  protected readonly transport: Transport

  constructor(transport: Transport) {
    this.transport = transport
  }

  /** Runs one op, typed as callOp says (the result checked against the command's). */
  protected call<N extends OpName, R extends CallResult<N> = CallResult<N>>(table: string, name: N,
    args: unknown[]): Promise<R> {
    return callOp<N, R>(this.transport, table, name, args)
  }

  /** Creates a dict table; resolves `false` when `ifNotExists` found it already there. */
  createDict<V = unknown>(name: string, content?: DictSource<V>, options?: CreateDictOptions): Promise<boolean> {
    const entries = content instanceof Map || Array.isArray(content) || !isIterable(content)
      ? content : Array.from(content)
    return this.#create(name, 'dict', entries, options)
  }

  /** Creates a list table, empty unless `content` is given. */
  createList<V = unknown>(name: string, content?: Iterable<V>, options?: CreateListOptions): Promise<boolean> {
    const items = Array.isArray(content) || !isIterable(content) ? content : Array.from(content)
    return this.#create(name, 'list', items, options)
  }

  #create(name: string, type: 'dict' | 'list', content: unknown, options?: CreateOptions): Promise<boolean> {
    const cache = cacheOptions(options)
    if (cache !== undefined) {
      return this.transport.call({ table: name, name: 'db.create',
        args: [type, content ?? null, options?.ifNotExists === true, cache] }) as Promise<boolean>
    }
    const args = options?.ifNotExists ? [type, content ?? null, true] : content === undefined ? [type] : [type, content]
    return this.call(name, 'db.create', args)
  }

  /** A handle on a dict table; no I/O until used. */
  dict<V = unknown>(name: string): DictHandle<V> {
    return new DictHandle<V>(this.transport, name)
  }

  /** A handle on a list table; no I/O until used. */
  list<V = unknown>(name: string): ListHandle<V> {
    return new ListHandle<V>(this.transport, name)
  }

  /** An all-or-nothing batch of checks and table ops, sent as one operation on commit(). */
  atomic(): Atomic {
    return new Atomic(this.transport)
  }

  /**
   * What the database is doing, as plain data: tables with sizes and approximate bytes, op counts,
   * get hits and misses, expiry, the feed's seq, persistence, memory, and on a server its
   * connections. The same shape in every mode.
   * @example
   * const { tables, ops } = await db.info()
   */
  info(): Promise<DatabaseInfo> {
    return this.call('', 'db.info', [])
  }

  tables(): Promise<TableInfo[]> {
    return this.call('', 'db.tables', [])
  }

  /**
   * The change feed: every commit's changes, in order, from the next commit (or every change after
   * `since`, then live, with no gap and no duplicate). A `since` older than the feed's history
   * throws FEED_COMPACTED (its `oldest` is the oldest seq held). Leaving the loop ends the watch.
   * @example
   * for await (const change of db.watch({ tables: ['users'], prefix: 'user:' })) cache.delete(change.key)
   */
  watch(options?: WatchOptions): AsyncIterableIterator<Change> {
    if (this.transport.watch !== undefined) return this.transport.watch(options)
    const stream = new ChangeStream()
    stream.fail(badArgument('this database has no change feed'))
    return stream
  }

  /** Drops a table; resolves `true` if it existed. */
  dropTable(name: string): Promise<boolean> {
    return this.call(name, 'db.drop', [])
  }
}

/**
 * A database, embedded or remote; see connect().
 * @example
 * await using db = await connect('memory://')
 * await db.createDict('centre', { content: 'Hello CyberDB!' })
 * console.log(await db.dict('centre').get('content'))
 */
export class Database extends TableClient implements AsyncDisposable {
  /** Snapshots now: file mode to its file (or `path`); remote, the server to its backup file. */
  save(path?: string): Promise<SnapshotStats> {
    const args = path === undefined ? [] : [path]
    return this.call('', 'db.save', args)
  }

  /** A view pinned to one connection for a unit of work (a web request); close it when done. */
  proxy(): Promise<DatabaseProxy> {
    try {
      return Promise.resolve(new DatabaseProxy(this.transport.pin()))
    } catch (error) {
      return Promise.reject(error)
    }
  }

  /**
   * Serves this embedded database over TCP with no second daemon: other processes connect with
   * cyberdb://, and this process keeps in-process speed. Closing the database stops the server.
   * @example
   * const db = await connect('file:./data.cdb')
   * const { port } = await db.serve({ port: 9980, password: 'secret' })
   */
  serve(options: ListenOptions = {}): Promise<Address> {
    if (this.transport instanceof EmbeddedTransport) return this.transport.serve(options)
    return Promise.reject(badArgument('only an embedded database (memory:// or file:) can serve'))
  }

  /** Closes the database; file mode takes a final snapshot first. */
  close(): Promise<void> {
    return this.transport.close()
  }

  get isClosed(): boolean {
    return this.transport.isClosed
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }
}

/** One pinned connection with the table methods; handles taken from it stop working on close. */
export class DatabaseProxy extends TableClient implements AsyncDisposable {
  close(): Promise<void> {
    return this.transport.close()
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }
}

export type { Change, DatabaseInfo, Key, TableInfo, WatchOptions }
