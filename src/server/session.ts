// One client socket: hello, then the password proof, then requests. Replies to all the frames of
// one data event leave in one socket write; output a client does not read is held only up to a
// bound, past which the session stops reading from it until it drains.

import type { Socket } from 'bun'
import type { Packr } from 'msgpackr'
import { CyberError } from '../errors.ts'
import { packInPlace, type Packed } from '../protocol/codec.ts'
import { Inbox, LENGTH_BYTES, Outbox } from '../protocol/frame.ts'
import {
  CONNECTION_ID, FLAG_ENCRYPT, PROOF_BYTES, PROTOCOL_VERSION, STATUS_ERROR, STATUS_OK, authProof,
  checkProof, checkRequest, encodeHello, errorPayload, requestId,
} from '../protocol/messages.ts'
import { checkOp } from '../engine/store.ts'
import type { OpLog } from '../persistence/op-log.ts'
import { Opener, Sealer, sessionKeys } from '../security/seal.ts'
import type { AuthThrottle } from '../security/throttle.ts'

// Past this much unsent output the session stops reading the client's requests (it is not
// reading its replies); it reads again once the socket has drained below the low mark.
const MAX_UNSENT_BYTES = 8 * 1024 * 1024
const RESUME_UNSENT_BYTES = 1024 * 1024

/** What a session needs from its server. */
export interface SessionHost {
  readonly codec: Packr
  readonly maxFrameBytes: number
  readonly idleTimeout: number
  /** The password's master key: proofs are HMACs keyed by it, session keys derive from it. */
  readonly masterKey: Uint8Array
  readonly encrypt: boolean
  /** Milliseconds from connecting by which the proof must have arrived. */
  readonly authTimeoutMs: number
  readonly throttle: AuthThrottle
  readonly refused: { authFailed: number }
  /** The operation log writes are appended to (execute appends them), when there is one. */
  readonly opLog: OpLog | undefined
  /** Runs one request; may return a promise (server.save). Throws CyberError. */
  execute(name: string, table: string, args: unknown[]): unknown
  log(message: string): void
  closed(session: Session): void
}

export class Session {
  readonly socket: Socket<Session>
  readonly #host: SessionHost
  readonly #reader: Inbox
  readonly #out: Outbox
  readonly #nonce: Uint8Array
  readonly #proof: Uint8Array
  #authTimer: Timer | undefined
  // Reused for every decode: msgpackr reads the frame in place from the chunk.
  readonly #range = { start: 0, end: 0 }
  #authed = false
  #paused = false
  #repliesThisChunk = 0
  // Ending: no new requests are read; ended: the socket is closed for writing too.
  #ending = false
  #ended = false
  #goodbye: string | undefined
  // Replies still being computed (server.save): closing waits for them.
  #inFlight = 0
  // Requests that arrived in the same chunk after the session paused: one chunk of small
  // requests can ask for gigabytes of replies, so they wait here, unread, until the client drains.
  #backlog: Uint8Array[] = []
  // The log record this session's buffered replies wait for (0: none): no reply leaves before
  // the writes it acknowledges are durable as the log's policy says.
  #mustCommit = 0
  #committing = false

  /** Sends the hello; or, given a `refusal`, only that error frame (no hello), then closes. */
  constructor(socket: Socket<Session>, host: SessionHost, refusal?: CyberError) {
    this.socket = socket
    this.#host = host
    this.#reader = new Inbox(host.maxFrameBytes)
    this.#out = new Outbox((bytes) => socket.write(bytes))
    this.#nonce = crypto.getRandomValues(new Uint8Array(32))
    this.#proof = authProof(host.masterKey, this.#nonce)
    socket.setNoDelay(true)
    if (refusal) {
      this.fail(refusal)
      return
    }
    if (host.idleTimeout > 0) socket.timeout(host.idleTimeout)
    this.#authTimer = setTimeout(() => {
      this.fail(new CyberError('TIMEOUT', `authentication must finish within ${host.authTimeoutMs} ms of connecting`))
    }, host.authTimeoutMs)
    const flags = host.encrypt ? FLAG_ENCRYPT : 0
    this.#out.frames.write(encodeHello({ version: PROTOCOL_VERSION, flags, maxFrameBytes: host.maxFrameBytes, nonce: this.#nonce }))
    this.flush()
  }

  /** The socket is gone: stop its timers. */
  dispose(): void {
    clearTimeout(this.#authTimer)
  }

  get isAuthenticated(): boolean {
    return this.#authed
  }

  onData(chunk: Uint8Array): void {
    if (this.#ending) return
    if (this.#host.idleTimeout > 0) this.socket.timeout(this.#host.idleTimeout)
    this.#repliesThisChunk = 0
    try {
      this.#reader.push(chunk, this.#onFrame)
    } catch (error) {
      // FRAME_TOO_LARGE, or a sealed frame that does not open: the stream cannot be resynchronised.
      this.fail(error as CyberError)
      return
    }
    // Before the proof nothing longer than a proof is kept: a stranger must not make the server
    // buffer up to maxFrameBytes per connection until the auth deadline.
    if (!this.#authed && !this.#ending && this.#reader.buffered > LENGTH_BYTES + PROOF_BYTES) this.#refuseProof()
    this.flush()
  }

  onDrain(): void {
    this.#out.onDrain()
    if (this.#paused && this.#out.unsent < RESUME_UNSENT_BYTES) {
      this.#paused = false
      while (!this.#paused && !this.#ended && this.#backlog.length > 0) {
        const body = this.#backlog.shift()!
        this.#onQueuedRequest(body, 0, body.length)
      }
      this.flush()
      if (!this.#paused && !this.#ending) this.socket.resume()
    }
    if (this.#ending) this.#endWhenAnswered()
  }

  /** The client was silent for idleTimeout: close it, and cut it if it is still there next time
   * (it is not taking the replies it was owed). */
  onTimeout(): void {
    if (this.#ending) {
      this.socket.terminate()
      return
    }
    this.end(`idle for ${this.#host.idleTimeout} s`)
    if (!this.#ended) this.socket.timeout(this.#host.idleTimeout)
  }

  /** Sends what is buffered (once the writes it acknowledges are durable); stops reading from a
   * client that leaves too much of it unread. */
  flush(): void {
    if (this.#mustCommit !== 0 && !this.#commit()) return
    this.#out.flush()
    if (!this.#paused && this.#out.unsent > MAX_UNSENT_BYTES) {
      this.#paused = true
      this.socket.pause()
    }
  }

  /** Sends a connection-level error, then closes: the client learns why. */
  fail(error: CyberError): void {
    if (this.#ended) return
    this.#host.log(`closing ${this.socket.remoteAddress}: ${error.code} ${error.message}`)
    this.#reply(CONNECTION_ID, STATUS_ERROR, errorPayload(error))
    this.#ending = true
    this.#goodbye = undefined
    // Replies to writes still waiting for the log leave with the error once the log has them.
    if (this.#mustCommit !== 0 && !this.#commit()) return
    this.#endSocket(undefined)
  }

  /**
   * Whether the log has made this session's writes durable; if not, starts waiting for it (the
   * replies stay buffered, and closing waits too) and flushes when it has. Under everysec and no
   * the log writes at once and this is true; under always it waits for the turn's fdatasync.
   */
  #commit(): boolean {
    if (this.#committing) return false
    const log = this.#host.opLog
    const seq = this.#mustCommit
    const wait = log?.commit(seq)
    if (wait === undefined) {
      this.#mustCommit = 0
      return true
    }
    this.#committing = true
    this.#inFlight++
    wait.then(() => {
      this.#committing = false
      this.#inFlight--
      if (this.#mustCommit === seq) this.#mustCommit = 0
      if (this.#ending) this.#endWhenAnswered()
      else this.flush()
    }, () => {
      // The log failed: these writes are not durable, so their replies must never be sent. The
      // client sees the connection close, as after a crash, and knows nothing was acknowledged.
      this.#committing = false
      this.#inFlight--
      this.#ended = true
      this.socket.terminate()
    })
    return false
  }

  /**
   * Stops reading requests; closes the socket gracefully once every request already read is
   * answered and its reply taken by the socket (the server cuts clients that take too long).
   * The last frame is a goodbye (CONNECTION_CLOSED on id 0): every request the client sent that
   * was not answered before it was never read, so the client may safely send it again elsewhere.
   */
  end(why = 'the server closed the connection'): void {
    if (this.#ending) return
    this.#ending = true
    this.#goodbye = why
    this.#endWhenAnswered()
  }

  #endWhenAnswered(): void {
    this.flush()
    if (this.#inFlight === 0 && this.#backlog.length === 0 && this.#out.unsent === 0) this.#endSocket(this.#goodbye)
  }

  #endSocket(goodbye: string | undefined): void {
    if (this.#ended) return
    if (goodbye !== undefined && this.#authed) this.#reply(CONNECTION_ID, STATUS_ERROR, ['CONNECTION_CLOSED', goodbye])
    this.#ended = true
    clearTimeout(this.#authTimer)
    const bytes = this.#out.takeAll()
    if (bytes.length > 0) this.socket.end(bytes)
    else this.socket.end()
  }

  // One bound function for every frame, rather than a closure per data event.
  readonly #onFrame = (data: Uint8Array, start: number, end: number): boolean => {
    if (this.#authed) return this.#onQueuedRequest(data, start, end)
    return this.#onProof(data.subarray(start, end))
  }

  #onProof(body: Uint8Array): boolean {
    clearTimeout(this.#authTimer)
    const address = this.socket.remoteAddress
    if (body.length !== PROOF_BYTES || !checkProof(this.#proof, body)) {
      this.#refuseProof()
      return false
    }
    this.#host.throttle.succeed(address)
    this.#authed = true
    if (this.#host.encrypt) {
      const keys = sessionKeys(this.#host.masterKey, this.#nonce)
      const sealer = new Sealer(keys.serverToClient)
      const opener = new Opener(keys.clientToServer)
      this.#out.sealWith((plain) => sealer.seal(plain))
      this.#reader.openWith((sealed) => opener.open(sealed))
    }
    this.#reply(CONNECTION_ID, STATUS_OK, null) // sealed when encrypting: the server proves the key too
    // When encrypting, what follows the proof is sealed: the rest of this chunk (our client sends
    // nothing before the reply) is dropped rather than read as plain frames.
    return !this.#host.encrypt
  }

  // Slows the guesser down: answers late, growing per failure from this address, and reads
  // nothing more from it meanwhile. The timer goes with the socket (dispose) if it leaves first.
  #refuseProof(): void {
    clearTimeout(this.#authTimer)
    const delay = this.#host.throttle.fail(this.socket.remoteAddress)
    this.#host.refused.authFailed++
    this.#ending = true
    this.#authTimer = setTimeout(() => this.fail(new CyberError('AUTH_FAILED', 'wrong password')), delay)
  }

  #onQueuedRequest(data: Uint8Array, start: number, end: number): boolean {
    if (this.#paused) {
      this.#backlog.push(data.slice(start, end)) // the chunk is only valid during the reader's callback
      return true
    }
    const more = this.#onRequest(data, start, end)
    // The first reply of a chunk leaves at once, so the client starts waking while the rest is
    // computed; the rest leave together at the end of the chunk. A reply to a write leaves once
    // the log has its record (flush writes the log first): the first record then has a write of
    // its own, a microsecond that buys the client tens of them.
    if (++this.#repliesThisChunk === 1 || this.#out.unsent > MAX_UNSENT_BYTES) this.flush() // may pause
    return more
  }

  #onRequest(data: Uint8Array, start: number, end: number): boolean {
    let message: unknown, id: number
    try {
      this.#range.start = start
      this.#range.end = end
      message = this.#host.codec.unpack(data, this.#range)
      id = requestId(message) // no id to answer on: only then is the stream not to be trusted
    } catch (error) {
      this.fail(error instanceof CyberError ? error
        : new CyberError('PROTOCOL', 'a frame did not decode as a request', { cause: error }))
      return false
    }
    let result: unknown
    const log = this.#host.opLog
    const appended = log === undefined ? 0 : log.appended
    try {
      // An ill-shaped request fails alone, on its own id (issue 8.15).
      const op = checkRequest(message as unknown[])
      checkOp(op)
      result = this.#host.execute(op.name, op.table, op.args)
    } catch (error) {
      this.#replyError(id, error)
      return true
    }
    if (log !== undefined && log.appended !== appended) this.#mustCommit = log.appended
    if (result instanceof Promise) {
      this.#inFlight++
      result.then(
        (value) => this.#reply(id, STATUS_OK, value),
        (error) => this.#replyError(id, error),
      ).finally(() => {
        this.#inFlight--
        if (this.#ending) this.#endWhenAnswered()
        else this.flush()
      })
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
    if (this.#ended) return
    const codec = this.#host.codec
    let packed: Packed
    try {
      packed = packInPlace(codec, [id, status, payload])
    } catch (error) {
      packed = packInPlace(codec, [id, STATUS_ERROR, ['INTERNAL', `reply did not encode: ${error}`]])
    }
    const bytes = packed.end - packed.start
    if (bytes > this.#host.maxFrameBytes) {
      const message = `a reply of ${bytes} bytes exceeds the frame limit of ${this.#host.maxFrameBytes}`
      packed = packInPlace(codec, [id, STATUS_ERROR, ['FRAME_TOO_LARGE', message]])
    }
    this.#out.frames.writeRange(packed, packed.start, packed.end)
  }
}
