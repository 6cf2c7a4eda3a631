// One client socket: hello, then the password proof, then requests. Replies to all the frames of
// one data event leave in one socket write. Output a client does not read is bounded before it is
// made: past its own bound, or past the server-wide one, the session runs no further request (they
// wait unread) until the output drains.

import type { Socket } from 'bun'
import type { Packr } from 'msgpackr'
import { CyberError } from '../errors.ts'
import { Inbox, LENGTH_BYTES, Outbox } from '../protocol/frame.ts'
import {
  CONNECTION_ID, FLAG_ENCRYPT, PROOF_BYTES, PROTOCOL_VERSION, STATUS_ERROR, STATUS_OK, authProof,
  checkProof, checkRequest, decodeRequest, encodeHello, encodeReply, errorPayload, writeReply,
} from '../protocol/messages.ts'
import type { Op, RegisteredCommand } from '../engine/commands.ts'
import { Cursors } from '../engine/cursors.ts'
import { Host, type Applied } from '../host/host.ts'
import { Takers } from '../host/takes.ts'
import { checkOp } from '../engine/store.ts'
import { Opener, Sealer, sessionKeys } from '../security/seal.ts'
import type { AuthThrottle } from '../security/throttle.ts'
import type { SetTimer } from '../host/clock.ts'
import { UNIX_PEER } from './unix-socket.ts'
import type { WatchOptions, Watcher } from '../host/feed.ts'
import { WATCH_OPS, Watches } from './watches.ts'

// A paused session reads again once its unsent output is below this share of its bound, so that
// it does not flip between paused and reading on every drain.
const RESUME_UNSENT_SHARE = 1 / 8
// Frames a client may send after its proof while the proof waits for the throttle.
const MAX_EARLY_BYTES = 64 * 1024

/** What a session needs from its server: a private object of the server's, not the server. */
export interface SessionHost {
  readonly codec: Packr
  readonly maxFrameBytes: number
  readonly idleTimeout: number
  /** The password's master key: proofs are HMACs keyed by it, session keys derive from it. */
  readonly masterKey: Uint8Array
  readonly encrypt: boolean
  /** Milliseconds from connecting by which the proof must have arrived. */
  readonly authTimeoutMs: number
  /** Schedules the auth deadline (tests give manual timers). */
  readonly setTimer: SetTimer
  readonly throttle: AuthThrottle
  readonly refused: { authFailed: number; throttled: number }
  /** Runs one request through the host (a scan on the session's own `cursors`, the command
   * already looked up); `seq` is not 0 when it wrote. Throws CyberError. */
  apply(op: Op, cursors: Cursors, command: RegisteredCommand | undefined): Applied
  /** Runs a request that answers later (db.save, list.take), the host's one async path; a take
   * waits as one of `takers`, the session's. */
  applyLater(op: Op, takers: Takers): Promise<unknown>
  /** Undefined when commits `from`..`to` are durable; else a promise for it, rejected when the
   * disk refused any of them (see Host.durable). */
  durable(from: number, to: number): Promise<void> | undefined
  /** A watcher of the host's change feed (watches.ts); throws BAD_ARGUMENT, FEED_COMPACTED. */
  watch?(options: WatchOptions | undefined, wake: () => void): Watcher
  /** The session proved the password: it no longer counts as unauthenticated. */
  authenticated(session: Session): void
  /** Unsent output past which this session runs no further request until it drains. */
  readonly maxUnsentBytes: number
  /** Whether the server-wide output budget has room for another request's reply; if not, the
   * host calls `resumeReading()` once it has. */
  reserveOutput(session: Session): boolean
  /** This session's unsent output grew or shrank by `delta` bytes. */
  outputChanged(delta: number): void
  log(message: string): void
  /** The session closed (once): it is no longer unauthenticated nor waiting for output room. */
  closed(session: Session): void
}

/** proof: waiting for the password proof; open: serving requests; draining: reading no more,
 * answering what it read; closed: its socket ended (for writing too), or the peer left. Only
 * #close() enters closed. */
type Phase = 'proof' | 'open' | 'draining' | 'closed'

export class Session {
  readonly socket: Socket<Session>
  /** The peer's address as it was at connect time (Bun's may be empty once the socket closed). */
  readonly address: string
  readonly #host: SessionHost
  readonly #reader: Inbox
  readonly #out: Outbox
  readonly #nonce: Uint8Array
  readonly #proof: Uint8Array
  #cancelAuthTimer: (() => void) | undefined
  // Data arrived since the last idle sweep; silence counted since (see idleTick).
  #active = true
  #idleMs = 0
  // Reused for every decode: msgpackr reads the frame in place from the chunk.
  readonly #range = { start: 0, end: 0 }
  // The session's life: its password proof, then its requests, then (no longer reading) the
  // answers to what it read, then its socket ended. Every step is one way.
  #phase: Phase = 'proof'
  // The password was proved: a draining session says goodbye only to a client that proved it.
  #proved = false
  // A proof arrived (the connection is no longer a silent one the server may reclaim); checking:
  // it waits for the throttle, which calls #verdict, or is withdrawn if the socket leaves first.
  #proofArrived = false
  #checking = false
  #withdraw: (() => void) | undefined
  #early: Uint8Array[] = []
  #earlyBytes = 0
  #paused = false
  #goodbye: string | undefined
  // Replies still being computed (db.save), and held ones waiting for the log: closing waits.
  #inFlight = 0
  // Requests that arrived in the same chunk after the session paused: one chunk of small
  // requests can ask for gigabytes of replies, so they wait here, unread, until the client drains.
  #backlog: Uint8Array[] = []
  // Unsent output last reported to the host.
  #counted = 0
  // The commit (the host's seq) this session's buffered replies wait for (0: none): no reply
  // leaves before the writes it acknowledges are durable as the log's policy says.
  #mustCommit = 0
  // The first write of that hold: the hold covers records #heldFrom..#mustCommit.
  #heldFrom = 0
  #committing = false
  // Requests whose replies are buffered and not yet handed to the socket: if the disk refuses
  // their writes, these are answered with its error instead.
  readonly #unsentIds: number[] = []
  // This connection's open iterations: no other connection can continue, close or evict them.
  readonly #cursors = new Cursors()
  // This connection's waiting takes (issue 11.3): see #endTakes.
  readonly #takers = new Takers()
  // --- push path (issue 12): this connection's watches, pushing changes on their request ids ---
  readonly #watches = new Watches({
    watch: (options, wake) => {
      if (this.#host.watch === undefined) throw new CyberError('BAD_ARGUMENT', 'this server has no change feed')
      return this.#host.watch(options, wake)
    },
    push: (id, ok, payload) => ok ? this.#reply(id, STATUS_OK, payload) : this.#replyError(id, payload),
    flush: () => this.flush(),
  })

  /** Sends the hello; or, given a `refusal`, only that error frame (no hello), then closes. */
  constructor(socket: Socket<Session>, host: SessionHost, refusal?: CyberError) {
    this.socket = socket
    this.address = socket.remoteAddress ?? UNIX_PEER // a unix socket has none
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
    this.#cancelAuthTimer = host.setTimer(() => {
      this.fail(new CyberError('TIMEOUT', `authentication must finish within ${host.authTimeoutMs} ms of connecting`))
    }, host.authTimeoutMs)
    const flags = host.encrypt ? FLAG_ENCRYPT : 0
    this.#out.frames.write(encodeHello({ version: PROTOCOL_VERSION, flags, maxFrameBytes: host.maxFrameBytes, nonce: this.#nonce }))
    this.flush()
  }

  /** The socket is gone (its close event): the session is closed, if it was not already. */
  onSocketClosed(): void {
    this.#close(undefined)
  }

  // --- waiting takes (issue 11.3) ---
  // The one hook: every way a session stops reading (end, fail, its socket gone) ends its waiting
  // takes here, with CONNECTION_CLOSED, before anything else is said: each leaves its list's line
  // at once, so an element pushed later goes to the next take or stays in the list. A take ended
  // while the socket can still write is answered (closing waits for it, as for any reply).
  #endTakes(why: string): void {
    if (this.#takers.size > 0) this.#takers.cancel(new CyberError('CONNECTION_CLOSED', `the take ended: ${why}`))
    this.#watches.closeAll() // push path: the client's watch resumes on another connection
  }

  /** Watches open on this connection. */
  get watches(): number {
    return this.#watches.size
  }

  /** Bytes of memory this session holds for its socket: buffers, held output, waiting requests. */
  get bufferBytes(): number {
    let waiting = 0
    for (const body of this.#backlog) waiting += body.length
    return this.#out.capacity + this.#reader.capacity + waiting
  }

  /** Unsent output held for this client. */
  get unsent(): number {
    return this.#out.unsent
  }

  get isPaused(): boolean {
    return this.#paused
  }

  // Reading frames (the proof, or requests): neither draining nor closed.
  #reading(): boolean {
    return this.#phase === 'proof' || this.#phase === 'open'
  }

  // A method, not a field test: a request run in between may have closed the session.
  #closed(): boolean {
    return this.#phase === 'closed'
  }

  get isAuthenticated(): boolean {
    return this.#proved
  }

  /** Connected, not authenticated, and no proof sent yet: a slot the server may reclaim. (A
   * proved session had a proof arrive.) */
  get isSilent(): boolean {
    return !this.#proofArrived
  }

  onData(chunk: Uint8Array): void {
    if (!this.#reading()) return
    this.#active = true
    try {
      this.#reader.push(chunk, this.#onFrame)
    } catch (error) {
      // FRAME_TOO_LARGE, or a sealed frame that does not open: the stream cannot be resynchronised.
      this.fail(error as CyberError)
      return
    }
    // Before the proof nothing longer than a proof is kept: a stranger must not make the server
    // buffer up to maxFrameBytes per connection until the auth deadline.
    const pastProof = this.#reader.buffered > LENGTH_BYTES + PROOF_BYTES
    if (this.#phase === 'proof' && !this.#checking && pastProof) {
      this.#refuseProof()
    }
    this.flush()
  }

  onDrain(): void {
    if (this.#phase === 'closed') return // everything left went to socket.end
    this.#out.onDrain()
    this.flush() // what was gathered since, unless it waits for the log (flush checks)
    if (this.#out.frames.length === 0) this.#unsentIds.length = 0
    this.#account()
    this.resumeReading()
    if (this.#phase === 'draining') this.#endWhenAnswered()
  }

  /** Runs the requests that waited, and reads again, if the output bounds allow it now. */
  resumeReading(): void {
    if (!this.#paused || this.#phase === 'closed') return
    if (this.#out.unsent >= this.#host.maxUnsentBytes * RESUME_UNSENT_SHARE) return // its drain calls again
    this.#paused = false
    while (!this.#closed() && this.#backlog.length > 0) {
      if (!this.#mayRun()) {
        this.#pause()
        break
      }
      const body = this.#backlog.shift()!
      this.#onRequest(body, 0, body.length)
    }
    this.flush()
    if (!this.#paused && this.#reading()) this.socket.resume()
  }

  /** The server's idle sweep, every `periodMs`: past idleTimeout of silence, onTimeout. */
  idleTick(periodMs: number): void {
    if (this.#phase === 'closed') return
    // A client waiting on a take, or watching, is not idle.
    if (this.#active || this.#takers.size > 0 || this.#watches.size > 0) {
      this.#active = false
      this.#idleMs = 0
      return
    }
    this.#idleMs += periodMs
    if (this.#idleMs < this.#host.idleTimeout * 1000) return
    this.#idleMs = 0
    this.#host.log(`idle timeout: ${this.address}`)
    this.onTimeout()
  }

  /** The client was silent for idleTimeout: close it, and cut it if it is still there next time
   * (it is not taking the replies it was owed). */
  onTimeout(): void {
    if (this.#phase === 'draining') {
      this.socket.terminate()
      return
    }
    this.end(`idle for ${this.#host.idleTimeout} s`)
  }

  /** Sends what is buffered (once the writes it acknowledges are durable); stops reading from a
   * client that leaves too much of it unread. */
  flush(): void {
    if (this.#phase === 'closed') return
    if (this.#mustCommit !== 0 && !this.#commit()) return
    this.#out.flush()
    if (this.#out.frames.length === 0) this.#unsentIds.length = 0
    this.#account()
    if (this.#out.unsent > this.#host.maxUnsentBytes) this.#pause()
  }

  #pause(): void {
    if (this.#paused) return
    this.#paused = true
    this.socket.pause()
  }

  // Checked BEFORE a request runs, so its reply is never made when the output it would join is
  // already past a bound: the session's own (what the socket leaves after one more try), or the
  // server's total. A session thus holds at most its bound plus one reply, and the server at
  // most its budget plus one reply.
  #mayRun(): boolean {
    if (this.#out.unsent >= this.#host.maxUnsentBytes) {
      this.flush()
      if (this.#out.unsent >= this.#host.maxUnsentBytes) return false
    }
    return this.#host.reserveOutput(this)
  }

  // Tells the host how much this session's unsent output changed since last time.
  #account(): void {
    const unsent = this.#out.unsent
    if (unsent === this.#counted) return
    this.#host.outputChanged(unsent - this.#counted)
    this.#counted = unsent
  }

  /** Sends a connection-level error, then closes: the client learns why. */
  fail(error: CyberError): void {
    if (this.#phase === 'closed') return
    this.#host.log(`closing ${this.socket.remoteAddress}: ${error.code} ${error.message}`)
    this.#reply(CONNECTION_ID, STATUS_ERROR, errorPayload(error))
    this.#drain(undefined)
    // Replies to writes still waiting for the log leave with the error once the log has them.
    if (this.#mustCommit !== 0 && !this.#commit()) return
    this.#close(undefined)
  }

  /**
   * Whether the log has made this session's writes durable; if not, starts waiting for it (the
   * replies stay buffered, and closing waits too) and flushes when it has. Under everysec and no
   * the log writes at once and this is true; under always it waits for the turn's fdatasync.
   */
  #commit(): boolean {
    if (this.#committing) return false
    const seq = this.#mustCommit
    const wait = this.#host.durable(this.#heldFrom, seq)
    if (wait === undefined) {
      this.#mustCommit = 0
      this.#heldFrom = 0
      return true
    }
    this.#committing = true
    this.#inFlight++
    wait.then(() => {
      this.#committing = false
      this.#inFlight--
      if (this.#mustCommit === seq) this.#mustCommit = this.#heldFrom = 0
      else this.#heldFrom = seq + 1
      this.#settled()
    }, (error) => {
      // The disk refused writes of this hold (memory was brought back to the files): their
      // replies must never leave. Every reply not yet sent is replaced by the error, so the
      // writers learn it, and the connection goes on serving.
      this.#committing = false
      this.#inFlight--
      if (this.#mustCommit === seq) this.#mustCommit = this.#heldFrom = 0
      else this.#heldFrom = seq + 1
      this.#out.frames.take()
      const payload = errorPayload(error instanceof CyberError ? error : new CyberError('INTERNAL', String(error)))
      for (const id of this.#unsentIds.splice(0)) this.#reply(id, STATUS_ERROR, payload)
      this.#settled()
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
    if (!this.#reading()) return
    this.#drain(why)
    this.#endWhenAnswered()
  }

  // The one way into 'draining': no more frames are read; what was read is answered, then the
  // session closes, saying `goodbye` last to a client that proved the password.
  #drain(goodbye: string | undefined): void {
    if (this.#phase === 'closed') return
    this.#endTakes(goodbye ?? 'the connection is closing')
    this.#phase = 'draining'
    this.#goodbye = goodbye
  }

  // A reply that waited (for the log, or a save) is in: send it, or, draining, close once
  // everything read is answered.
  #settled(): void {
    if (this.#phase === 'draining') this.#endWhenAnswered()
    else this.flush()
  }

  #endWhenAnswered(): void {
    this.flush()
    if (this.#inFlight === 0 && this.#backlog.length === 0 && this.#out.unsent === 0) this.#close(this.#goodbye)
  }

  // The one way into 'closed', from every path (an error, a graceful end once answered, the peer
  // leaving), and the one place that lets go of what the session holds, once: the auth timer, a
  // proof waiting for the throttle, its share of the output budget, its cursors, the server's
  // bookkeeping, and its waiting takes and watches (#endTakes). Replies still being computed
  // (db.save) are dropped when they come (#reply). A `goodbye` goes to a client that proved the
  // password, as the last frame.
  #close(goodbye: string | undefined): void {
    if (this.#phase === 'closed') return
    if (goodbye !== undefined && this.#proved) {
      this.#reply(CONNECTION_ID, STATUS_ERROR, ['CONNECTION_CLOSED', goodbye])
    }
    this.#phase = 'closed'
    this.#cancelAuthTimer?.()
    this.#withdraw?.()
    this.#withdraw = undefined
    const bytes = this.#out.takeAll()
    // Ending a socket that is already gone does nothing.
    if (bytes.length > 0) this.socket.end(bytes)
    else this.socket.end()
    this.#host.outputChanged(-this.#counted)
    this.#counted = 0
    this.#backlog.length = 0
    this.#cursors.clear()
    this.#endTakes('the connection closed')
    this.#host.closed(this)
  }

  // One bound function for every frame, rather than a closure per data event.
  readonly #onFrame = (data: Uint8Array, start: number, end: number): boolean => {
    // Once draining, the reader was told to stop: only 'proof' and 'open' see frames.
    if (this.#phase === 'open') return this.#onQueuedRequest(data, start, end)
    if (this.#checking) return this.#keepEarly(data.slice(start, end))
    return this.#submitProof(data.slice(start, end)) // the chunk is only valid during the callback
  }

  // Every proof, right or wrong (or not a proof at all), goes through the throttle, which
  // checks it at once or when its turn comes: a guesser cannot tell a right proof from a
  // wrong one by how soon it is answered. Meanwhile nothing more is read from the socket.
  #submitProof(proof: Uint8Array | undefined): boolean {
    this.#cancelAuthTimer?.()
    this.#proofArrived = true
    const withdraw = this.#host.throttle.submit(this.address, () => this.#verdict(proof))
    if (withdraw === undefined) return this.#phase === 'open' && !this.#host.encrypt // checked now
    this.#host.refused.throttled++
    this.#checking = true
    this.#withdraw = withdraw
    this.socket.pause()
    return true
  }

  // Frames a client sent after its proof, before the verdict: kept (bounded) to be read in order
  // once it is in, dropped if it is not.
  #keepEarly(body: Uint8Array): boolean {
    this.#earlyBytes += body.length
    if (this.#earlyBytes > MAX_EARLY_BYTES) {
      this.fail(new CyberError('PROTOCOL', `more than ${MAX_EARLY_BYTES} bytes sent before the proof was answered`))
      return false
    }
    this.#early.push(body)
    return true
  }

  // The throttle's turn for this proof: lets the client in or refuses it; true when right.
  #verdict(proof: Uint8Array | undefined): boolean {
    this.#withdraw = undefined
    const waited = this.#checking
    this.#checking = false
    const early = this.#early
    this.#early = []
    this.#earlyBytes = 0
    if (proof === undefined || proof.length !== PROOF_BYTES || !checkProof(this.#proof, proof)) {
      this.#host.refused.authFailed++
      this.fail(new CyberError('AUTH_FAILED', 'wrong password'))
      return false
    }
    this.#proved = true
    if (this.#phase === 'proof') this.#phase = 'open'
    this.#host.authenticated(this)
    if (this.#host.encrypt) {
      const keys = sessionKeys(this.#host.masterKey, this.#nonce)
      const sealer = new Sealer(keys.serverToClient)
      const opener = new Opener(keys.clientToServer)
      this.#out.sealWith((plain) => sealer.seal(plain))
      this.#reader.openWith((sealed) => opener.open(sealed))
    }
    this.#reply(CONNECTION_ID, STATUS_OK, null) // sealed when encrypting: the server proves the key too
    if (waited) {
      // When encrypting, what followed the proof was sealed for keys that did not exist yet (our
      // client sends nothing before the reply): it is dropped rather than read as plain frames.
      if (this.#phase === 'open') this.socket.resume()
      if (!this.#host.encrypt) {
        for (const body of early) {
          if (this.#phase === 'open') this.#onQueuedRequest(body, 0, body.length)
        }
      }
      this.flush()
    }
    return true
  }

  // Not a proof (too long to be one): a failed guess, through the throttle like any other.
  #refuseProof(): void {
    this.#submitProof(undefined)
    this.#drain(undefined)
  }

  #onQueuedRequest(data: Uint8Array, start: number, end: number): boolean {
    if (!this.#paused && !this.#mayRun()) this.#pause()
    if (this.#paused) {
      this.#backlog.push(data.slice(start, end)) // the chunk is only valid during the reader's callback
      return true
    }
    // The replies to a chunk leave together at its end (onData flushes), in one write: a write
    // is the costliest step of a request (issue 13), so the first reply does not get one of its
    // own. A reply to a write leaves once the log has its record (flush writes the log first).
    return this.#onRequest(data, start, end)
  }

  #onRequest(data: Uint8Array, start: number, end: number): boolean {
    let request: { id: number; message: unknown[] }
    try {
      this.#range.start = start
      this.#range.end = end
      // No id to answer on: only then is the stream not to be trusted.
      request = decodeRequest(this.#host.codec, data, this.#range)
    } catch (error) {
      this.fail(error as CyberError)
      return false
    }
    const { id, message } = request
    let applied: Applied
    try {
      // An ill-shaped request fails alone, on its own id (issue 8.15).
      const op = checkRequest(message)
      checkOp(op)
      if (WATCH_OPS.has(op.name)) { // push path: answered on its id until it ends (watches.ts)
        if (this.#phase === 'open') this.#watches.request(id, op.name, op.args)
        else this.#replyError(id, new CyberError('CONNECTION_CLOSED', 'the connection is closing'))
        return true
      }
      const command = Host.command(op.name)
      if (command?.host === true) {
        this.#replyLater(id, this.#host.applyLater(op, this.#takers))
        if (this.#phase !== 'open') this.#endTakes('the connection is closing') // run from the backlog
        return true
      }
      applied = this.#host.apply(op, this.#cursors, command)
    } catch (error) {
      this.#replyError(id, error)
      return true
    }
    const seq = applied.seq
    if (seq !== 0) {
      if (this.#mustCommit === 0) this.#heldFrom = seq
      this.#mustCommit = seq
    }
    this.#reply(id, STATUS_OK, applied.result)
    return true
  }

  // The reply to a request the host answers later: closing waits for it.
  #replyLater(id: number, result: Promise<unknown>): void {
    this.#inFlight++
    result.then(
      (value) => this.#reply(id, STATUS_OK, value),
      (error) => this.#replyError(id, error),
    ).finally(() => {
      this.#inFlight--
      this.#settled()
    })
  }

  #replyError(id: number, error: unknown): void {
    const known = error instanceof CyberError ? error
      : new CyberError('INTERNAL', `internal error: ${(error as Error)?.message ?? String(error)}`)
    if (!(error instanceof CyberError)) console.error('cyberdb: internal error:', error)
    this.#reply(id, STATUS_ERROR, errorPayload(known))
  }

  #reply(id: number, status: number, payload: unknown): void {
    if (this.#phase === 'closed') return
    const frames = this.#out.frames
    if (!writeReply(frames, id, status, payload, this.#host.maxFrameBytes)) {
      const packed = encodeReply(this.#host.codec, id, status, payload, this.#host.maxFrameBytes)
      frames.writeRange(packed, packed.start, packed.end)
    }
    if (id !== CONNECTION_ID) this.#unsentIds.push(id)
    this.#account()
  }
}
