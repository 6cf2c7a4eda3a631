// A proxy's view of a database: the database's transport with a closed state of its own, its
// calls routed as the transport pins them (embedded: straight in; remote: one pooled slot).

import type { Op } from '../engine/commands.ts'
import { DONE, closedError, type Transport } from './transport.ts'

export class ProxyTransport implements Transport {
  readonly #inner: Transport
  readonly #call: (op: Op) => Promise<unknown>
  #closed = false

  constructor(inner: Transport, call: (op: Op) => Promise<unknown>) {
    this.#inner = inner
    this.#call = call
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
    return DONE
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }
}
