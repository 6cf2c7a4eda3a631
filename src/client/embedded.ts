// The in-process transport: calls the host (the one write path) directly, copying values in and
// out so that callers never share an object with the store. Primitives need no copy, and that path
// allocates nothing of its own. In file mode it owns the data file: lock, load, periodic and final
// snapshots. It never touches the log: the host logs, and tells it when a write is durable.

import type { CyberError } from '../errors.ts'
import type { Op } from '../engine/commands.ts'
import { Cursors } from '../engine/cursors.ts'
import { Store } from '../engine/store.ts'
import { acceptArgs, copyStored } from '../engine/value-model.ts'
import type { Clock, SetTimer } from '../host/clock.ts'
import { Host } from '../host/host.ts'
import { Takers } from '../host/takes.ts'
import type { Address, ListenOptions } from '../listen-options.ts'
import { DataFile, type DataFileOptions } from '../persistence/data-file.ts'
import type { Watcher } from '../host/feed.ts'
import { ChangeStream, type Change, type WatchOptions } from './change-stream.ts'
import { ProxyTransport } from './proxy-transport.ts'
import { closedError, type Transport } from './transport.ts'

export interface FileOptions extends DataFileOptions {
  path: string
  clock?: Clock
  /** Changes the feed keeps (default 10 000). */
  feedHistory?: number
  /** Schedules the timeouts of waiting takes (tests give manual ones). */
  setTimer?: SetTimer
}

export interface MemoryOptions {
  store?: Store
  clock?: Clock
  feedHistory?: number
  setTimer?: SetTimer
}

export class EmbeddedTransport implements Transport {
  readonly host: Host
  readonly store: Store
  readonly #file: DataFile | undefined
  readonly #onClose: (() => Promise<void>)[] = []
  // This database's open iterations (its proxies share them): another database on the same store,
  // and a server serving it, each have their own.
  readonly cursors = new Cursors()
  // This database's waiting takes (its proxies' too): closing it ends them.
  readonly #takers = new Takers()
  // This database's watches (its proxies' too): closing it ends them.
  readonly #streams = new Set<ChangeStream>()
  #closed = false
  // The writes of one tick wait for the disk together: one durable() for commits #from..#to.
  #tick: Promise<void> | undefined
  #from = 0
  #to = 0

  // A sibling shares its host and leaves it open when it closes.
  readonly #ownsHost: boolean

  private constructor(host: Host, file: DataFile | undefined, ownsHost = true) {
    this.host = host
    this.store = host.store
    this.#file = file
    this.#ownsHost = ownsHost
  }

  static memory(options: MemoryOptions = {}): EmbeddedTransport {
    const host = new Host({ ...options, noFile: 'a memory:// database has no file: pass save(path)' })
    return new EmbeddedTransport(host, undefined)
  }

  /** Opens a data file: takes its lock, loads it (missing: empty), starts periodic snapshots. */
  static async file(options: FileOptions): Promise<EmbeddedTransport> {
    return EmbeddedTransport.fileSync(options)
  }

  /** file(), synchronously: loading reads the files with sync calls (openSync() needs it). */
  static fileSync(options: FileOptions): EmbeddedTransport {
    const host = new Host({ clock: options.clock, setTimer: options.setTimer, feedHistory: options.feedHistory })
    const file = DataFile.openSync(host, options.path, options)
    host.saver = file
    const transport = new EmbeddedTransport(host, file)
    openFiles.add(transport)
    return transport
  }

  /** Another database on this one's host (one store, one log, one line of waiting takes), with
   * cursors and waiting takes of its own: what a second process gets from a server, in process.
   * Closing it closes neither the host nor the file; use it only while this one is open. */
  sibling(): EmbeddedTransport {
    if (this.#closed) throw closedError('database')
    return new EmbeddedTransport(this.host, undefined, false)
  }

  get isClosed(): boolean {
    return this.#closed
  }

  call(op: Op): Promise<unknown> {
    if (this.#closed) return Promise.reject(closedError('database'))
    try {
      const command = Host.command(op.name)
      acceptArgs(op.args)
      if (command?.host === true) {
        const later = this.host.applyLater(op, 'local', this.#takers)
        // A taken value left the store, but a snapshot being written may still hold it: copied.
        return command.on === 'list' ? later.then(copyResult) : later
      }
      const { result, seq } = this.host.apply(op, this.cursors, command)
      const copy = copyResult(result)
      // A write resolves once its record is durable as the file's policy says; the writes of one
      // tick share one log write (and under `always` one fdatasync).
      if (seq !== 0 && this.host.log !== undefined) return this.#durable(seq).then(() => copy)
      // (a settled promise never changes: every call answering undefined, a set, can share one)
      return copy === undefined ? UNDEFINED : Promise.resolve(copy)
    } catch (error) {
      return Promise.reject(error)
    }
  }

  // Asked once per tick, after the log's own write of the tick (queued by the tick's first
  // record, so before this), for every commit of the tick.
  #durable(seq: number): Promise<void> {
    this.#to = seq
    if (this.#tick !== undefined) return this.#tick
    this.#from = seq
    const tick = Promise.withResolvers<void>()
    this.#tick = tick.promise
    queueMicrotask(() => {
      this.#tick = undefined
      const wait = this.host.durable(this.#from, this.#to)
      if (wait === undefined) tick.resolve()
      else wait.then(tick.resolve, tick.reject)
    })
    return tick.promise
  }

  pin(): Transport {
    if (this.#closed) throw closedError('database')
    return new ProxyTransport(this, (op) => this.call(op), (options) => this.watch(options))
  }

  /** A watch of the host's change feed (watchHost); closing the database ends it. */
  watch(options: WatchOptions | undefined): ChangeStream {
    if (this.#closed) {
      const stream = new ChangeStream()
      stream.fail(closedError('database'))
      return stream
    }
    const stream = watchHost(this.host, options)
    if (!stream.isEnded) {
      this.#streams.add(stream)
      stream.whenEnded(() => this.#streams.delete(stream))
    }
    return stream
  }

  /** Serves this store over TCP: other processes connect remotely, this one keeps calling in
   * process. The server saves through this database's host, and closes with it. */
  async serve(options: ListenOptions): Promise<Address> {
    if (this.#closed) throw closedError('database')
    // Loaded lazily (pure embedded use never loads the server), and from outside src/client/.
    const { serveHost } = await import('../serve-host.ts')
    const served = await serveHost(this.host, options)
    this.#onClose.push(async () => void (await served.close()))
    return served.address
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    openFiles.delete(this)
    this.cursors.clear()
    this.#takers.cancel(closedError('database'))
    for (const stream of [...this.#streams]) stream.finish() // a loop over db.watch() ends
    if (this.#ownsHost) this.host.close() // its expiry sweep ends with the database
    for (const close of this.#onClose.splice(0)) await close()
    if (this.#file !== undefined) await this.#file.close()
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }
}

/**
 * A watch of `host`'s change feed in process (a Database's, a SyncDatabase's): the stream reads the
 * watcher when it runs dry, and the host's wake-up (a microtask after a commit) reads it again for
 * a caller waiting. A caller that stops reading holds at most one read's changes; the rest stay in
 * the host's history. Errors (BAD_ARGUMENT, FEED_COMPACTED) surface on the stream's reads.
 */
export function watchHost(host: Host, options: WatchOptions | undefined): ChangeStream {
  const stream = new ChangeStream()
  let watcher: Watcher
  const pull = () => {
    try {
      const changes = watcher.read()
      if (changes.length > 0) stream.push(changes.map(copyChange))
    } catch (error) {
      stream.fail(error as CyberError)
    }
  }
  try {
    watcher = host.watch(options, () => {
      if (stream.buffered === 0) pull()
    })
  } catch (error) {
    stream.fail(error as CyberError)
    return stream
  }
  stream.attach({ pull, end: () => watcher.close() })
  return stream
}

// A change as the caller gets it: its own copy of the values (the host's stay shared).
function copyChange(change: Change): Change {
  const args = copyStored(change.args)
  return change.key === undefined ? { seq: change.seq, table: change.table, op: change.op, args }
    : { seq: change.seq, table: change.table, op: change.op, key: change.key, args }
}

const UNDEFINED = Promise.resolve(undefined)

function copyResult(result: unknown): unknown {
  return typeof result === 'object' && result !== null ? copyStored(result) : result
}

// File databases still open when the event loop runs dry take their final snapshot then, so a
// script that forgets close() does not lose what it wrote since the last backup.
const openFiles = new Set<EmbeddedTransport>()
process.on('beforeExit', () => {
  for (const transport of openFiles) {
    transport.close().catch((error) => console.error('cyberdb: final snapshot failed:', error))
  }
})
