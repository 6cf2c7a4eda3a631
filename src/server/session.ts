// One client socket: hello, then the password proof, then requests. Replies to all the frames of
// one data event leave in one socket write; output a client does not read is held only up to a
// bound, past which the session stops reading from it until it drains.

import type { Socket } from 'bun'
import type { Packr } from 'msgpackr'
import { CyberError } from '../errors.ts'
import { FrameReader, Outbox } from '../protocol/frame.ts'
import {
  CONNECTION_ID, PROOF_BYTES, PROTOCOL_VERSION, STATUS_ERROR, STATUS_OK, authProof, checkProof,
  checkRequest, encodeHello, errorPayload,
} from '../protocol/messages.ts'

// Past this much unsent output the session stops reading the client's requests (it is not
// reading its replies); it reads again once the socket has drained below the low mark.
const MAX_UNSENT_BYTES = 8 * 1024 * 1024
const RESUME_UNSENT_BYTES = 1024 * 1024

/** What a session needs from its server. */
export interface SessionHost {
  readonly codec: Packr
  readonly maxFrameBytes: number
  readonly idleTimeout: number
  readonly password: string
  /** Runs one request; may return a promise (server.save). Throws CyberError. */
  execute(name: string, table: string, args: unknown[]): unknown
  log(message: string): void
  closed(session: Session): void
}

export class Session {
  readonly socket: Socket<Session>
  readonly #host: SessionHost
  readonly #reader: FrameReader
  readonly #out: Outbox
  readonly #proof: Uint8Array
  #authed = false
  #paused = false
  #ending = false

  constructor(socket: Socket<Session>, host: SessionHost) {
    this.socket = socket
    this.#host = host
    this.#reader = new FrameReader(host.maxFrameBytes)
    this.#out = new Outbox((bytes) => socket.write(bytes))
    const nonce = crypto.getRandomValues(new Uint8Array(32))
    this.#proof = authProof(host.password, nonce)
    socket.setNoDelay(true)
    if (host.idleTimeout > 0) socket.timeout(host.idleTimeout)
    this.#out.frames.write(encodeHello({ version: PROTOCOL_VERSION, flags: 0, maxFrameBytes: host.maxFrameBytes, nonce }))
    this.flush()
  }

  get isAuthenticated(): boolean {
    return this.#authed
  }

  onData(chunk: Uint8Array): void {
    if (this.#ending) return
    if (this.#host.idleTimeout > 0) this.socket.timeout(this.#host.idleTimeout)
    try {
      this.#reader.push(chunk, (body) => (this.#authed ? this.#onRequest(body) : this.#onProof(body)))
    } catch (error) {
      // FRAME_TOO_LARGE from the reader: the stream cannot be resynchronised.
      this.fail(error as CyberError)
      return
    }
    this.flush()
  }

  onDrain(): void {
    this.#out.onDrain()
    if (this.#paused && this.#out.unsent < RESUME_UNSENT_BYTES) {
      this.#paused = false
      this.socket.resume()
    }
  }

  /** Sends what is buffered; stops reading from a client that leaves too much of it unread. */
  flush(): void {
    this.#out.flush()
    if (!this.#paused && this.#out.unsent > MAX_UNSENT_BYTES) {
      this.#paused = true
      this.socket.pause()
    }
  }

  /** Sends a connection-level error, then closes: the client learns why. */
  fail(error: CyberError): void {
    if (this.#ending) return
    this.#host.log(`closing ${this.socket.remoteAddress}: ${error.code} ${error.message}`)
    this.#reply(CONNECTION_ID, STATUS_ERROR, errorPayload(error))
    this.end()
  }

  /** Flushes what it can and closes the socket gracefully. */
  end(): void {
    if (this.#ending) return
    this.#ending = true
    const bytes = this.#out.frames.take()
    if (bytes.length > 0) this.socket.end(bytes)
    else this.socket.end()
  }

  #onProof(body: Uint8Array): boolean {
    if (body.length !== PROOF_BYTES || !checkProof(this.#proof, body)) {
      this.fail(new CyberError('AUTH_FAILED', 'wrong password'))
      return false
    }
    this.#authed = true
    this.#reply(CONNECTION_ID, STATUS_OK, null)
    return true
  }

  #onRequest(body: Uint8Array): boolean {
    let id: number, name: string, table: string, args: unknown[]
    try {
      ;[id, name, table, args] = checkRequest(this.#host.codec.unpack(body))
    } catch (error) {
      this.fail(error instanceof CyberError ? error
        : new CyberError('PROTOCOL', 'a frame did not decode as a request', { cause: error }))
      return false
    }
    let result: unknown
    try {
      result = this.#host.execute(name, table, args)
    } catch (error) {
      this.#replyError(id, error)
      return true
    }
    if (result instanceof Promise) {
      result.then(
        (value) => this.#reply(id, STATUS_OK, value),
        (error) => this.#replyError(id, error),
      ).finally(() => this.flush())
    } else {
      this.#reply(id, STATUS_OK, result)
    }
    return true
  }

  #replyError(id: number, error: unknown): void {
    const known = error instanceof CyberError ? error
      : new CyberError('INTERNAL', `internal error: ${(error as Error)?.message ?? String(error)}`)
    if (!(error instanceof CyberError)) console.error('cyberdb: internal error:', error)
    this.#reply(id, STATUS_ERROR, errorPayload(known))
  }

  #reply(id: number, status: number, payload: unknown): void {
    if (this.#ending) return
    let body: Uint8Array
    try {
      body = this.#host.codec.pack([id, status, payload])
    } catch (error) {
      body = this.#host.codec.pack([id, STATUS_ERROR, ['INTERNAL', `reply did not encode: ${error}`]])
    }
    if (body.length > this.#host.maxFrameBytes) {
      const message = `a reply of ${body.length} bytes exceeds the frame limit of ${this.#host.maxFrameBytes}`
      body = this.#host.codec.pack([id, STATUS_ERROR, ['FRAME_TOO_LARGE', message]])
    }
    this.#out.frames.write(body)
  }
}
