// The in-process transport: calls the host (the one write path) directly, copying values in and
// out so that callers never share an object with the store. Primitives need no copy, and that path
// allocates nothing of its own. In file mode it owns the data file: lock, load, periodic and final
// snapshots.

import { CyberError } from '../errors.ts'
import type { Op } from '../engine/commands.ts'
import { Cursors } from '../engine/cursors.ts'
import { Store } from '../engine/store.ts'
import { acceptArgs, copyStored } from '../engine/value-model.ts'
import { Host } from '../host/host.ts'
import { DataFile, Snapshotter, type DataFileOptions } from '../persistence/data-file.ts'
import type { SnapshotStats } from '../persistence/snapshot.ts'
import type { Address, ListenOptions } from '../server/server.ts'
import { ProxyTransport } from './proxy-transport.ts'
import { closedError, type Transport } from './transport.ts'

export interface FileOptions extends DataFileOptions {
  path: string
}

export class EmbeddedTransport implements Transport {
  readonly host: Host
  readonly store: Store
  // Saves go through here: memory:// saves to the path it is given, file: owns its data file.
  readonly snapshotter: Snapshotter
  // file: mode only; memory:// never logs, and its calls never wait for durability.
  readonly #logged: boolean
  readonly #onClose: (() => Promise<void>)[] = []
  // This database's open iterations (its proxies share them): another database on the same store,
  // and a server serving it, each have their own.
  readonly cursors = new Cursors()
  #closed = false

  private constructor(host: Host, snapshotter: Snapshotter) {
    this.host = host
    this.store = host.store
    this.snapshotter = snapshotter
    this.#logged = host.log !== undefined
  }

  static memory(store = new Store()): EmbeddedTransport {
    return new EmbeddedTransport(new Host(store), new Snapshotter(store))
  }

  /** Opens a data file: takes its lock, loads it (missing: empty), starts periodic snapshots. */
  static async file(options: FileOptions): Promise<EmbeddedTransport> {
    const host = new Host()
    const file = await DataFile.open(host, options.path, options)
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
      acceptArgs(op.args)
      const result = this.host.apply(op, this.cursors)
      const copy = typeof result === 'object' && result !== null ? copyStored(result) : result
      // A write resolves once its record is durable as the file's policy says; the writes of one
      // tick share one log write (and under `always` one fdatasync).
      if (this.#logged && Store.writes(op.name)) return this.host.whenDurable().then(() => copy)
      return Promise.resolve(copy)
    } catch (error) {
      return Promise.reject(error)
    }
  }

  save(path?: string): Promise<SnapshotStats> {
    if (this.#closed) return Promise.reject(closedError('database'))
    const target = path ?? (this.snapshotter instanceof DataFile ? this.snapshotter.path : undefined)
    if (target === undefined) {
      return Promise.reject(new CyberError('BAD_ARGUMENT', 'a memory:// database has no file: pass save(path)'))
    }
    return this.snapshotter.save(target)
  }

  pin(): Transport {
    if (this.#closed) throw closedError('database')
    return new ProxyTransport(this, (op) => this.call(op))
  }

  /** Serves this store over TCP: other processes connect remotely, this one keeps calling in
   * process. The server saves through this database's data file, and closes with it. */
  async serve(options: ListenOptions): Promise<Address> {
    if (this.#closed) throw closedError('database')
    const { Server } = await import('../server/server.ts') // pure embedded use never loads it
    const server = new Server({ host: this.host, snapshotter: this.snapshotter })
    const address = await server.listen(options)
    this.#onClose.push(async () => void (await server.close()))
    return address
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    openFiles.delete(this)
    this.cursors.clear()
    for (const close of this.#onClose.splice(0)) await close()
    if (this.snapshotter instanceof DataFile) await this.snapshotter.close()
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
