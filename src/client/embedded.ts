// The in-process transport: calls the engine directly, copying values in and out so that callers
// never share an object with the store. Primitives need no copy, and that path allocates nothing
// of its own. In file mode it owns the data file: lock, load, periodic and final snapshots.

import { CyberError } from '../errors.ts'
import type { Op } from '../engine/commands.ts'
import { Store } from '../engine/store.ts'
import { cloneValue } from '../engine/values.ts'
import { FileLock } from '../persistence/lock.ts'
import { readSnapshot, writeSnapshot, type SnapshotStats } from '../persistence/snapshot.ts'
import type { Transport } from './transport.ts'

export interface FileOptions {
  path: string
  /** Seconds between automatic snapshots; none when absent. */
  backup?: number
}

export class EmbeddedTransport implements Transport {
  readonly store: Store
  #file: FileOptions | undefined
  #lock: FileLock | undefined
  #timer: Timer | undefined
  #saving: Promise<SnapshotStats> | undefined
  #closed = false

  private constructor(store: Store, file?: FileOptions, lock?: FileLock) {
    this.store = store
    this.#file = file
    this.#lock = lock
  }

  static memory(store = new Store()): EmbeddedTransport {
    return new EmbeddedTransport(store)
  }

  /** Opens a data file: takes its lock, loads it (missing: empty), starts periodic snapshots. */
  static async file(options: FileOptions): Promise<EmbeddedTransport> {
    const lock = FileLock.acquire(options.path)
    const store = new Store()
    try {
      const tables = await readSnapshot(options.path)
      if (tables) store.replaceAll(tables)
    } catch (error) {
      lock.release()
      throw error
    }
    const transport = new EmbeddedTransport(store, options, lock)
    if (options.backup !== undefined) {
      transport.#timer = setInterval(() => {
        transport.save().catch((error) => console.error(`cyberdb: backup of ${options.path} failed:`, error))
      }, options.backup * 1000)
      transport.#timer.unref()
    }
    openFiles.add(transport)
    return transport
  }

  get isClosed(): boolean {
    return this.#closed
  }

  call(op: Op): Promise<unknown> {
    if (this.#closed) return Promise.reject(closedError('database'))
    try {
      const args = op.args
      for (let i = 0; i < args.length; i++) {
        const arg = args[i]
        if (typeof arg === 'object' ? arg !== null : typeof arg === 'function' || typeof arg === 'symbol') {
          args[i] = cloneValue(arg)
        }
      }
      const result = this.store.apply(op)
      return Promise.resolve(typeof result === 'object' && result !== null ? cloneValue(result) : result)
    } catch (error) {
      return Promise.reject(error)
    }
  }

  save(path?: string): Promise<SnapshotStats> {
    if (this.#closed) return Promise.reject(closedError('database'))
    const target = path ?? this.#file?.path
    if (target === undefined) {
      return Promise.reject(new CyberError('BAD_ARGUMENT', 'a memory:// database has no file: pass save(path)'))
    }
    // One save at a time: a second caller waits for the running save, then takes its own, so
    // what it wrote before calling is in the file when its promise resolves.
    const previous = this.#saving ?? Promise.resolve()
    const next = previous.catch(() => {}).then(() => writeSnapshot(this.store, target))
    this.#saving = next
    return next
  }

  async pin(): Promise<Transport> {
    if (this.#closed) throw closedError('database')
    return new PinnedTransport(this)
  }

  async close(): Promise<void> {
    if (this.#closed) return
    clearInterval(this.#timer)
    try {
      if (this.#file) await this.save()
    } finally {
      this.#closed = true
      this.#lock?.release()
      openFiles.delete(this)
    }
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }
}

/** A proxy's view of an embedded database: the same store, but its own closed state. */
class PinnedTransport implements Transport {
  #inner: EmbeddedTransport
  #closed = false

  constructor(inner: EmbeddedTransport) {
    this.#inner = inner
  }

  get isClosed(): boolean {
    return this.#closed || this.#inner.isClosed
  }

  call(op: Op): Promise<unknown> {
    return this.#closed ? Promise.reject(closedError('proxy')) : this.#inner.call(op)
  }

  save(path?: string): Promise<SnapshotStats> {
    return this.#closed ? Promise.reject(closedError('proxy')) : this.#inner.save(path)
  }

  pin(): Promise<Transport> {
    return this.#closed ? Promise.reject(closedError('proxy')) : this.#inner.pin()
  }

  async close(): Promise<void> {
    this.#closed = true
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }
}

export function closedError(what: 'database' | 'proxy'): CyberError {
  return new CyberError('CONNECTION_CLOSED', `this ${what} is closed`)
}

// File databases still open when the event loop runs dry take their final snapshot then, so a
// script that forgets close() does not lose what it wrote since the last backup.
const openFiles = new Set<EmbeddedTransport>()
process.on('beforeExit', () => {
  for (const transport of openFiles) {
    transport.close().catch((error) => console.error('cyberdb: final snapshot failed:', error))
  }
})
