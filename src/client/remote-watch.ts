// db.watch() over the network: a `db.watch` request whose frames the server pushes on its id (the
// seq it starts after, then arrays of changes; server/watches.ts), asked for more as the caller
// reads (credit: WATCH_WINDOW changes in flight at most). A connection that drops (the server
// restarting, an idle cut) is replaced and the watch asked again from the last seq received, so
// the caller sees no gap and no duplicate, or FEED_COMPACTED when history no longer reaches.

import { CyberError } from '../errors.ts'
import { createCodec } from '../protocol/codec.ts'
import { WATCH_WINDOW } from '../protocol/messages.ts'
import { ChangeStream, type Change, type ChangeSource, type WatchOptions } from './change-stream.ts'
import type { Connection } from './connection.ts'

// The server packs each run of changes once (a bin in its frame): unpacked here.
const codec = createCodec()

// Reconnecting: attempts, and the wait before each (doubling up to the last), about 30 s in all.
const RECONNECT_ATTEMPTS = 40
const RECONNECT_FIRST_MS = 10
const RECONNECT_MAX_MS = 1000

export class RemoteWatch implements ChangeSource {
  readonly stream = new ChangeStream()
  readonly #connect: () => Connection | Promise<Connection>
  readonly #options: WatchOptions
  // Where a watch asked again starts: the last seq received (undefined: not started yet).
  #since: number | undefined
  #connection: Connection | undefined
  #id = 0
  #unacked = 0
  #ended = false
  #attempts = 0

  /** `connect` gives the slot's connection: at once when it is open, so that the watch goes out
   * before the requests made after it (a write right after watch() is seen). */
  constructor(connect: () => Connection | Promise<Connection>, options: WatchOptions | undefined) {
    this.#connect = connect
    this.#options = options ?? {}
    this.#since = this.#options.since
    this.stream.attach(this)
    this.#open()
  }

  pull(): void {}

  /** The caller read one change: past half the window, the server may send that many more. */
  consumed(): void {
    if (++this.#unacked < WATCH_WINDOW / 2 || this.#connection === undefined) return
    const n = this.#unacked
    this.#unacked = 0
    this.#connection.request({ table: '', name: 'watch.more', args: [this.#id, n] }).catch(() => {})
  }

  end(): void {
    if (this.#ended) return
    this.#ended = true
    const connection = this.#connection
    if (connection?.isReady) {
      connection.request({ table: '', name: 'watch.cancel', args: [this.#id] }).catch(() => {})
    }
  }

  #open(): void {
    let connection: Connection | Promise<Connection>
    try {
      connection = this.#connect()
    } catch (error) {
      this.#lost(error)
      return
    }
    if (connection instanceof Promise) connection.then((ready) => this.#watchOn(ready), (error) => this.#lost(error))
    else this.#watchOn(connection)
  }

  #watchOn(connection: Connection): void {
    {
      if (this.#ended) return
      const options = this.#since === undefined ? this.#options : { ...this.#options, since: this.#since }
      try {
        this.#id = connection.stream({ table: '', name: 'db.watch', args: [options] }, {
          frame: (ok, payload) => this.#frame(ok, payload),
          closed: (reason) => this.#lost(reason),
        })
        this.#connection = connection
        this.#unacked = 0
      } catch (error) {
        this.#lost(error)
      }
    }
  }

  // One frame of the watch: true when it ended.
  #frame(ok: boolean, payload: unknown): boolean {
    if (!ok) {
      this.#ended = true
      this.stream.fail(payload as CyberError)
      return true
    }
    if (payload === null) return true // the end a watch.cancel asked for
    if (typeof payload === 'number') { // started: after this seq
      this.#since ??= payload
      this.#attempts = 0
      return false
    }
    const changes = (payload instanceof Uint8Array ? codec.unpack(payload) : payload) as Change[]
    if (changes.length > 0) this.#since = changes.at(-1)!.seq
    this.stream.push(changes)
    return false
  }

  // The connection went (or could not be had): ask again on a new one, unless the caller left.
  #lost(reason: unknown): void {
    this.#connection = undefined
    if (this.#ended || this.stream.isEnded) return
    const closed = reason instanceof CyberError && (reason.code === 'CONNECTION_CLOSED' || reason.code === 'TIMEOUT')
    if (!closed || ++this.#attempts > RECONNECT_ATTEMPTS) {
      this.#ended = true
      this.stream.fail(reason instanceof CyberError ? reason : new CyberError('CONNECTION_CLOSED', String(reason)))
      return
    }
    const wait = Math.min(RECONNECT_FIRST_MS * 2 ** (this.#attempts - 1), RECONNECT_MAX_MS)
    setTimeout(() => this.#open(), this.#attempts === 1 ? 0 : wait)
  }
}
