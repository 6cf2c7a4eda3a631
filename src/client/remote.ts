// The network transport: a pool of connections to one server. Database calls all go through
// slot 0, so calls keep their program order as they do in process; each proxy pins a slot of its
// own (round robin), which it may share, multiplexed, with other proxies. A slot whose connection
// died or idled out reconnects on its next use; only requests in flight on a dying connection fail.

import { acceptArgs } from '../engine/value-model.ts'
import type { Op } from '../engine/commands.ts'
import { Connection, isClosedInHandshake, type ConnectionOptions } from './connection.ts'
import type { ChangeStream, WatchOptions } from './change-stream.ts'
import { ProxyTransport } from './proxy-transport.ts'
import { RemoteWatch } from './remote-watch.ts'
import { closedError, type Transport } from './transport.ts'

// Requests in flight on a connection past which a new proxy prefers another connection.
const CONGESTED_IN_FLIGHT = 256

export interface RemoteOptions extends ConnectionOptions {
  /** Connections in the pool. */
  pool: number
  /** Seconds after which an idle connection is dropped; 0 keeps them. */
  idleTimeout: number
}

export class RemoteTransport implements Transport {
  readonly #options: RemoteOptions
  readonly #slots: (Connection | Promise<Connection> | undefined)[]
  #closed = false
  #reaper: Timer | undefined
  // Open watches (a proxy's too): closing the database ends them.
  readonly #streams = new Set<ChangeStream>()

  private constructor(options: RemoteOptions) {
    this.#options = options
    this.#slots = new Array(options.pool).fill(undefined)
    if (options.idleTimeout > 0) {
      this.#reaper = setInterval(() => this.#dropIdle(), Math.min(options.idleTimeout * 500, 60_000))
      this.#reaper.unref()
    }
  }

  /** Opens the first connection now, so a wrong password or an unreachable server fails here. */
  static async open(options: RemoteOptions): Promise<RemoteTransport> {
    const transport = new RemoteTransport(options)
    try {
      await transport.#connect(0)
    } catch (error) {
      clearInterval(transport.#reaper)
      throw error
    }
    return transport
  }

  get isClosed(): boolean {
    return this.#closed
  }

  call(op: Op): Promise<unknown> {
    return this.callOn(0, op)
  }

  callOn(slot: number, op: Op): Promise<unknown> {
    try { acceptArgs(op.args) } catch (error) { return Promise.reject(error) } // the one value model
    const connection = this.#slots[slot]
    if (connection instanceof Connection && connection.isReady) return connection.request(op)
    if (this.#closed) return Promise.reject(closedError('database'))
    return this.#connect(slot).then((ready) => ready.request(op))
  }

  pin(): Transport {
    if (this.#closed) throw closedError('database')
    const slot = this.#pickSlot()
    return new ProxyTransport(this, (op) => this.callOn(slot, op), (options) => this.watchOn(slot, options))
  }

  watch(options: WatchOptions | undefined): ChangeStream {
    return this.watchOn(0, options)
  }

  /** A watch on `slot`'s connection (replaced, and the watch resumed, when it drops). */
  watchOn(slot: number, options: WatchOptions | undefined): ChangeStream {
    const watch = new RemoteWatch(() => this.#connectForWatch(slot), options)
    const stream = watch.stream
    if (this.#closed) {
      stream.finish()
    } else {
      this.#streams.add(stream)
      stream.whenEnded(() => this.#streams.delete(stream))
    }
    return stream
  }

  // A proxy takes the first open connection that is not congested, so that under ordinary load
  // every request shares one connection and its writes batch fully; only when each open
  // connection has many requests in flight (a large reply holding the line) does the pool
  // open its next connection.
  #pickSlot(): number {
    let leastLoaded = 0
    let fewest = Infinity
    for (let slot = 0; slot < this.#slots.length; slot++) {
      const connection = this.#slots[slot]
      if (connection === undefined) return slot
      if (!(connection instanceof Connection)) continue // opening: its requests wait
      if (connection.inFlight < CONGESTED_IN_FLIGHT) return slot
      if (connection.inFlight < fewest) {
        fewest = connection.inFlight
        leastLoaded = slot
      }
    }
    return leastLoaded
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    clearInterval(this.#reaper)
    for (const stream of [...this.#streams]) stream.finish() // each asks the server to end it first
    await Promise.all(this.#slots.map(async (slot) => {
      const connection = await Promise.resolve(slot).catch(() => undefined)
      await connection?.close()
    }))
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }

  #connect(slot: number): Promise<Connection> {
    const current = this.#slots[slot]
    if (current instanceof Promise) return current
    if (current instanceof Connection && current.isReady) return Promise.resolve(current)
    const opening = openConnection(this.#options).then((connection) => this.#adopt(slot, connection), (error) => {
      if (this.#slots[slot] === opening) this.#slots[slot] = undefined
      throw error
    })
    this.#slots[slot] = opening
    return opening
  }

  // A new connection takes `slot` (or is closed, the transport being closed).
  #adopt(slot: number, connection: Connection): Connection {
    if (this.#closed) {
      void connection.close()
      throw closedError('database')
    }
    this.#slots[slot] = connection
    connection.onClose = () => {
      if (this.#slots[slot] === connection) this.#slots[slot] = undefined
    }
    // The server retired the connection (idle, shutting down) with requests it never read:
    // they go again, in order, on the slot's next connection; the caller notices nothing.
    connection.onRetry = (requests) => {
      for (const request of requests) this.callOn(slot, request.op).then(request.resolve, request.reject)
    }
    return connection
  }

  // The slot's connection for a watch: the open one at once, the one being opened, or a new one
  // that joins the slot only once it is open, so that a watch trying again while the server is
  // down never makes the slot's callers share its failure.
  #connectForWatch(slot: number): Connection | Promise<Connection> {
    if (this.#closed) throw closedError('database')
    const current = this.#slots[slot]
    if (current instanceof Connection && current.isReady) return current
    if (current instanceof Promise) return current
    return openConnection(this.#options).then((connection) => {
      const now = this.#slots[slot]
      if (this.#closed || (now !== undefined && !(now instanceof Connection && !now.isReady))) {
        void connection.close()
        return this.#connect(slot)
      }
      return this.#adopt(slot, connection)
    })
  }

  #dropIdle(): void {
    const cutoff = Date.now() - this.#options.idleTimeout * 1000
    for (const connection of this.#slots) {
      // A connection carrying a watch is not idle: the server pushes on it.
      if (connection instanceof Connection && connection.inFlight === 0 && connection.streams === 0 &&
        connection.lastUsed < cutoff) {
        void connection.close()
      }
    }
  }
}

// A server closes a connection that has not proved the password yet to make room for others (a
// stranger reopening silent sockets as fast as they close can take a real client's socket in the
// one round trip before its proof arrives): nothing was sent on it, so connecting again is safe.
// Bounded: a server that is shutting down answers the same way, every time.
const OPEN_ATTEMPTS = 4

async function openConnection(options: RemoteOptions): Promise<Connection> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await Connection.open(options)
    } catch (error) {
      if (attempt >= OPEN_ATTEMPTS || !isClosedInHandshake(error)) throw error
    }
  }
}
