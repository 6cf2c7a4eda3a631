// The in-process transport: calls the host (the one write path) directly, copying values in and
// out so that callers never share an object with the store. Primitives need no copy, and that path
// allocates nothing of its own. In file mode it owns the data file: lock, load, periodic and final
// snapshots. It never touches the log: the host logs, and tells it when a write is durable.

import type { Op } from '../engine/commands.ts'
import { Cursors } from '../engine/cursors.ts'
import { Store } from '../engine/store.ts'
import { acceptArgs, copyStored } from '../engine/value-model.ts'
import type { Clock } from '../host/clock.ts'
import { Host } from '../host/host.ts'
import type { Address, ListenOptions } from '../listen-options.ts'
import { DataFile, type DataFileOptions } from '../persistence/data-file.ts'
import { ProxyTransport } from './proxy-transport.ts'
import { closedError, type Transport } from './transport.ts'

export interface FileOptions extends DataFileOptions {
  path: string
  clock?: Clock
}

export interface MemoryOptions {
  store?: Store
  clock?: Clock
}

export class EmbeddedTransport implements Transport {
  readonly host: Host
  readonly store: Store
  readonly #file: DataFile | undefined
  readonly #onClose: (() => Promise<void>)[] = []
  // This database's open iterations (its proxies share them): another database on the same store,
  // and a server serving it, each have their own.
  readonly cursors = new Cursors()
  #closed = false
  // The writes of one tick wait for the disk together: one durable() for commits #from..#to.
  #tick: Promise<void> | undefined
  #from = 0
  #to = 0

  private constructor(host: Host, file: DataFile | undefined) {
    this.host = host
    this.store = host.store
    this.#file = file
  }

  static memory(options: MemoryOptions = {}): EmbeddedTransport {
    const host = new Host({ ...options, noFile: 'a memory:// database has no file: pass save(path)' })
    return new EmbeddedTransport(host, undefined)
  }

  /** Opens a data file: takes its lock, loads it (missing: empty), starts periodic snapshots. */
  static async file(options: FileOptions): Promise<EmbeddedTransport> {
    const host = new Host({ clock: options.clock })
    const file = await DataFile.open(host, options.path, options)
    host.saver = file
    const transport = new EmbeddedTransport(host, file)
    openFiles.add(transport)
    return transport
  }

  get isClosed(): boolean {
    return this.#closed
  }

  call(op: Op): Promise<unknown> {
    if (this.#closed) return Promise.reject(closedError('database'))
    try {
      const command = Host.command(op.name)
      if (command?.host === true) return this.host.applyLater(op, 'local')
      acceptArgs(op.args)
      const { result, seq } = this.host.apply(op, this.cursors, command)
      const copy = typeof result === 'object' && result !== null ? copyStored(result) : result
      // A write resolves once its record is durable as the file's policy says; the writes of one
      // tick share one log write (and under `always` one fdatasync).
      if (seq !== 0 && this.host.log !== undefined) return this.#durable(seq).then(() => copy)
      return Promise.resolve(copy)
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
    return new ProxyTransport(this, (op) => this.call(op))
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
    this.host.close()
    for (const close of this.#onClose.splice(0)) await close()
    if (this.#file !== undefined) await this.#file.close()
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }
}

// File databases still open when the event loop runs dry take their final snapshot then, so a
// script that forgets close() does not lose what it wrote since the last backup.
const openFiles = new Set<EmbeddedTransport>()
process.on('beforeExit', () => {
  for (const transport of openFiles) {
    transport.close().catch((error) => console.error('cyberdb: final snapshot failed:', error))
  }
})
