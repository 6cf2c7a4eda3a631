// A proxy's view of a database: the database's transport with a closed state of its own, its
// calls routed as the transport pins them (embedded: straight in; remote: one pooled slot).

import { CyberError } from '../errors.ts'
import type { Op } from '../engine/commands.ts'
import { ChangeStream, type WatchOptions } from './change-stream.ts'
import { DONE, closedError, type Transport } from './transport.ts'

export class ProxyTransport implements Transport {
  readonly #inner: Transport
  readonly #call: (op: Op) => Promise<unknown>
  readonly #watch: ((options: WatchOptions | undefined) => ChangeStream) | undefined
  // The proxy's watches: closing it ends them.
  readonly #streams = new Set<ChangeStream>()
  #closed = false

  constructor(inner: Transport, call: (op: Op) => Promise<unknown>,
    watch?: (options: WatchOptions | undefined) => ChangeStream) {
    this.#inner = inner
    this.#call = call
    this.#watch = watch
  }

  watch(options: WatchOptions | undefined): ChangeStream {
    if (this.#closed || this.#watch === undefined) {
      const stream = new ChangeStream()
      stream.fail(this.#closed ? closedError('proxy') : new CyberError('BAD_ARGUMENT', 'this database has no change feed'))
      return stream
    }
    const stream = this.#watch(options)
    this.#streams.add(stream)
    stream.whenEnded(() => this.#streams.delete(stream))
    return stream
  }

  get isClosed(): boolean {
    return this.#closed || this.#inner.isClosed
  }

  call(op: Op): Promise<unknown> {
    return this.#closed ? Promise.reject(closedError('proxy')) : this.#call(op)
  }

  pin(): Transport {
    if (this.#closed) throw closedError('proxy')
    return this.#inner.pin()
  }

  // Closing a proxy does no I/O: its connection stays in the pool.
  close(): Promise<void> {
    this.#closed = true
    for (const stream of [...this.#streams]) stream.finish()
    return DONE
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }
}
