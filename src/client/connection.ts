// One client connection: hello, password proof, then pipelined requests. Requests made in one
// tick leave in one socket write (flushed in a microtask); replies are matched to requests by id.

import type { Socket, TCPSocketConnectOptions } from 'bun'
import type { Packr } from 'msgpackr'
import { CyberError, badArgument } from '../errors.ts'
import type { Op } from '../engine/commands.ts'
import { checkOp } from '../engine/store.ts'
import { createCodec, type Packed } from '../protocol/codec.ts'
import { Inbox, MAX_FRAME_BYTES, Outbox } from '../protocol/frame.ts'
import { Opener, Sealer, masterKey, sessionKeys } from '../security/seal.ts'
import { PendingRequests, type Unanswered } from './pending.ts'
import {
  CONNECTION_ID, FIRST_BYTES, FLAG_ENCRYPT, PROTOCOL_VERSION, STATUS_OK, authProof, checkFirstBytes,
  decodeHello, decodeReply, encodeRequest, errorFromPayload, writeRequest,
} from '../protocol/messages.ts'

export interface ConnectionOptions {
  host: string
  port: number
  /** Connect to this unix socket file instead of host:port (no TLS on it). */
  unix?: string
  password: string
  /** Milliseconds for the TCP connect, the hello and the password proof together. */
  connectTimeoutMs: number
  /** Seal every frame after the hello (the server must listen with encrypt: true). */
  encrypt?: boolean
  /** Connect over TLS, verifying the server's certificate (against `ca` when given). */
  tls?: { ca?: string; serverName?: string }
  /** Milliseconds close() waits for replies still in flight. Default 2000. */
  closeWaitMs?: number
}

const CLOSE_WAIT_MS = 2000

interface Pending {
  resolve(value: unknown): void
  reject(error: CyberError): void
}

/** A request sent on a connection the server then retired unread: safe to send again. */
export type { Unanswered }

type State = 'hello' | 'auth' | 'ready' | 'closed'

/** Where the frames of a pushed stream go (a watch). */
export interface PushHandler {
  /** One frame: a result, or the server's error. Returns true when the stream ended with it. */
  frame(ok: boolean, payload: unknown): boolean
  /** The connection closed first. */
  closed(reason: CyberError): void
}

export class Connection {
  readonly #codec: Packr = createCodec()
  readonly #reader = new Inbox(MAX_FRAME_BYTES)
  readonly #pending = new PendingRequests()
  // Push path (issue 12): requests the server answers with many frames (a watch), by id.
  readonly #streams = new Map<number, PushHandler>()
  #socket!: Socket<Connection>
  #out!: Outbox
  #state: State = 'hello'
  #nextId = 1
  #flushQueued = false
  #readSinceFlush = false
  #maxFrameBytes = MAX_FRAME_BYTES
  #password: string
  #encrypt: boolean
  readonly #closeWaitMs: number
  #opened: Pending
  #closeReason: CyberError | undefined
  // The peer's first bytes (up to FIRST_BYTES), checked as they come in before the hello.
  #firstBytes = new Uint8Array(0)
  #onIdle: (() => void) | undefined
  /** When the last request was made (ms since epoch): the pool drops idle connections. */
  lastUsed = Date.now()
  /** Called once when the connection is gone, whoever closed it. */
  onClose: ((connection: Connection) => void) | undefined
  /** Given the requests a server's goodbye left unread (they were never applied), to send again;
   * without it they fail with CONNECTION_CLOSED. */
  onRetry: ((requests: Unanswered[]) => void) | undefined

  private constructor(options: ConnectionOptions, opened: Pending) {
    this.#password = options.password
    this.#encrypt = options.encrypt ?? false
    this.#closeWaitMs = options.closeWaitMs ?? CLOSE_WAIT_MS
    this.#opened = opened
  }

  /** Connects and authenticates; rejects with CONNECTION_CLOSED, AUTH_FAILED or TIMEOUT, in time. */
  static open(options: ConnectionOptions): Promise<Connection> {
    const where = options.unix ?? `${options.host}:${options.port}`
    // Settled once: by the server's ok reply, or by the first failure or the timer.
    const opened = Promise.withResolvers<Connection>()
    const connection: Connection = new Connection(options, {
      resolve: () => opened.resolve(connection),
      reject: opened.reject,
    })
    const timer = setTimeout(() => {
      // A TLS or HTTP port waits for the client to speak first: silence is the clue to give.
      const why = connection.#firstBytes.length > 0 ? ''
        : ': the peer sent nothing, no CyberDB hello (a TLS port needs cyberdbs://; an HTTP or other ' +
          'service waits silently: check the port)'
      const took = `connecting to ${where} took longer than ${options.connectTimeoutMs} ms`
      opened.reject(new CyberError('TIMEOUT', `${took}${why}`))
      connection.#socket?.terminate()
    }, options.connectTimeoutMs)
    const stop = (): void => clearTimeout(timer)
    opened.promise.then(stop, stop)
    connectTo(options.unix)({
      hostname: options.host,
      port: options.port,
      data: connection,
      ...(options.tls ? { tls: { ...options.tls, rejectUnauthorized: true } } : {}),
      socket: {
        open(socket) {
          connection.#attach(socket)
        },
        data(socket, chunk) {
          socket.data.#onData(chunk)
        },
        drain(socket) {
          socket.data.#out.onDrain()
          socket.data.#out.flush()
        },
        close(socket) {
          socket.data.#closed(new CyberError('CONNECTION_CLOSED', `the connection to ${where} closed`))
        },
        error(socket, error) {
          socket.data.#closed(new CyberError('CONNECTION_CLOSED', `the connection to ${where} failed: ${error.message}`))
        },
        handshake(socket, success, authorizationError) {
          // TLS only: a certificate that does not verify is refused here, and said so.
          if (!success || authorizationError) {
            const why = authorizationError?.message ?? 'the TLS handshake failed'
            socket.data.#closed(new CyberError('CONNECTION_CLOSED', `TLS with ${where} refused: ${why}`))
            socket.terminate()
          }
        },
        connectError(_socket, error) {
          connection.#closed(new CyberError('CONNECTION_CLOSED', `could not connect to ${where}: ${error.message}`))
        },
      },
    }).catch((error: Error) => {
      connection.#closed(new CyberError('CONNECTION_CLOSED', `could not connect to ${where}: ${error.message}`))
    })
    return opened.promise
  }

  get isReady(): boolean {
    return this.#state === 'ready'
  }

  get inFlight(): number {
    return this.#pending.size
  }

  /** Sends one operation; resolves with its result or rejects with the server's CyberError. */
  request(op: Op): Promise<unknown> {
    if (this.#state !== 'ready') {
      return Promise.reject(this.#closeReason ?? new CyberError('CONNECTION_CLOSED', 'the connection is not open'))
    }
    let packed: Packed
    try {
      // Refused here, as apply() refuses it in process: on the wire it would cost the request a
      // round trip (issue 8.15).
      checkOp(op)
    } catch (error) {
      return Promise.reject(error)
    }
    const id = this.#nextId++
    const frames = this.#out.frames
    if (!writeRequest(frames, id, op.name, op.table, op.args, this.#maxFrameBytes)) {
      try {
        packed = encodeRequest(this.#codec, id, op.name, op.table, op.args)
      } catch (error) {
        return Promise.reject(encodeError(error))
      }
      const bytes = packed.end - packed.start
      if (bytes > this.#maxFrameBytes) {
        return Promise.reject(new CyberError('FRAME_TOO_LARGE',
          `a request of ${bytes} bytes exceeds the server's frame limit of ${this.#maxFrameBytes}`))
      }
      frames.writeRange(packed, packed.start, packed.end)
    }
    if (!this.#flushQueued) {
      this.#flushQueued = true
      // A request made in answer to replies (a sequential caller, a sliding window) or with nothing
      // in flight leaves at the end of this tick, with the rest of its burst (Promise.all: one
      // write, not one per request). Writing the first request at once would let an idle server
      // start waking sooner, but a write is the costliest step of a request on either end
      // (issue 13: ~40% of both processes' CPU in bursts), and the burst then costs two writes
      // here and three replies' writes there. Requests made since our last write by other
      // callbacks of this wakeup (the handlers of concurrent HTTP requests, each followed by its
      // own microtask checkpoint) wait for the end of the event-loop turn, so they too share one
      // write instead of costing a system call each.
      if (this.#pending.size === 0 || this.#readSinceFlush) {
        this.#readSinceFlush = false
        queueMicrotask(this.#flush)
      } else {
        setImmediate(this.#flush)
      }
    }
    // Only a connection with requests in flight keeps the process alive (issue 8.16f).
    if (this.#pending.size === 0) this.#socket.ref()
    return new Promise((resolve, reject) => this.#pending.add(id, op, resolve, reject))
  }

  // --- push path (issue 12) ---

  /** Sends `op` (a watch) and hands each frame the server sends on its id to `handler` until
   * frame() returns true; a connection that closes first calls closed() (once). Returns the id,
   * which later requests name (watch.more, watch.cancel); throws a CyberError when it cannot send. */
  stream(op: Op, handler: PushHandler): number {
    if (this.#state !== 'ready') throw this.#closeReason ?? new CyberError('CONNECTION_CLOSED', 'the connection is not open')
    checkOp(op)
    const id = this.#nextId++
    let packed: Packed
    try {
      packed = encodeRequest(this.#codec, id, op.name, op.table, op.args)
    } catch (error) {
      throw encodeError(error)
    }
    this.#streams.set(id, handler)
    this.#socket.ref() // a watch keeps the process alive, as a request in flight does
    this.#out.frames.writeRange(packed, packed.start, packed.end)
    this.#out.flush()
    return id
  }

  /** Watches open on this connection. */
  get streams(): number {
    return this.#streams.size
  }

  #onPush(id: number, handler: PushHandler, status: number, payload: unknown): boolean {
    if (!handler.frame(status === STATUS_OK, status === STATUS_OK ? payload : errorFromPayload(payload))) return true
    this.#streams.delete(id)
    if (this.#pending.size === 0 && this.#streams.size === 0) this.#socket.unref()
    return true
  }

  /** Waits for the replies in flight (at most closeWaitMs: a hung server cannot hold close()
   * forever; what is still unanswered then fails with CONNECTION_CLOSED), then closes. */
  async close(): Promise<void> {
    if (this.#state === 'closed') return
    // Takes waiting on the server would hold close() for as long as they wait: the server is
    // asked to end them first. A value it handed one before that still arrives, and resolves it.
    if (this.#pending.hasOp('list.take')) {
      void this.request({ table: '', name: 'take.cancel', args: [] }).catch(() => {})
    }
    if (this.#pending.size > 0) {
      await new Promise<void>((resolve) => {
        this.#onIdle = resolve
        setTimeout(resolve, this.#closeWaitMs).unref()
      })
    }
    this.#closed(new CyberError('CONNECTION_CLOSED', 'the connection was closed by the client'))
    this.#socket.end()
  }

  #flush = (): void => {
    this.#flushQueued = false
    this.#readSinceFlush = false
    this.lastUsed = Date.now()
    this.#out.flush()
  }

  #attach(socket: Socket<Connection>): void {
    this.#socket = socket
    this.#out = new Outbox((bytes) => socket.write(bytes))
    socket.setNoDelay(true)
  }

  #onData(chunk: Uint8Array): void {
    this.#readSinceFlush = true
    try {
      if (this.#state === 'hello' && this.#firstBytes.length < FIRST_BYTES) this.#checkFirstBytes(chunk)
      this.#reader.push(chunk, this.#onFrame)
    } catch (error) {
      let reason = error instanceof CyberError ? error : new CyberError('PROTOCOL', String(error))
      // Before the hello, a huge length prefix is an HTTP or SSH banner read as one: the peer is
      // no CyberDB server, which is what the caller needs to hear.
      if (this.#state === 'hello' && reason.code === 'FRAME_TOO_LARGE') {
        reason = new CyberError('PROTOCOL', 'the peer is not a CyberDB server', { cause: reason })
      }
      // Record the reason first: terminate() runs the close handler at once.
      this.#closed(reason)
      this.#socket.terminate()
    }
  }

  readonly #range = { start: 0, end: 0 }

  // Another service fails at its first bytes, not at the connect timeout (issue 8.16e).
  #checkFirstBytes(chunk: Uint8Array): void {
    const seen = new Uint8Array(Math.min(FIRST_BYTES, this.#firstBytes.length + chunk.length))
    seen.set(this.#firstBytes)
    seen.set(chunk.subarray(0, seen.length - this.#firstBytes.length), this.#firstBytes.length)
    this.#firstBytes = seen
    checkFirstBytes(seen)
  }

  // One bound function for every frame, rather than a closure per data event.
  readonly #onFrame = (data: Uint8Array, start: number, end: number): boolean => {
    if (this.#state === 'hello') return this.#onHello(data.subarray(start, end))
    this.#range.start = start
    this.#range.end = end
    const [id, status, payload] = decodeReply(this.#codec, data, this.#range)
    if (id === CONNECTION_ID) return this.#onConnectionReply(status, payload)
    if (this.#streams.size !== 0) {
      const handler = this.#streams.get(id)
      if (handler !== undefined) return this.#onPush(id, handler, status, payload)
    }
    if (!this.#pending.settle(id, status === STATUS_OK, payload, errorFromPayload)) {
      throw new CyberError('PROTOCOL', `the server answered unknown request ${id}`)
    }
    if (this.#pending.size === 0 && this.#streams.size === 0) {
      this.#socket.unref()
      this.#onIdle?.()
    }
    return true
  }

  #onHello(body: Uint8Array): boolean {
    const hello = decodeHello(body)
    if (hello === undefined) {
      // Not a hello: the server refused the connection with an error frame, or it is no server.
      throw this.#plainRefusal(body) ?? new CyberError('PROTOCOL', 'the peer is not a CyberDB server')
    }
    if (hello.version !== PROTOCOL_VERSION) {
      throw new CyberError('PROTOCOL', `the server speaks protocol ${hello.version}, this client ${PROTOCOL_VERSION}`)
    }
    const serverEncrypts = (hello.flags & FLAG_ENCRYPT) !== 0
    if (serverEncrypts !== this.#encrypt) {
      throw new CyberError('PROTOCOL', serverEncrypts
        ? 'the server encrypts: connect with ?encrypt=true'
        : 'this connection asked for encryption (encrypt=true), but the server does not encrypt')
    }
    this.#maxFrameBytes = hello.maxFrameBytes
    this.#state = 'auth'
    const key = masterKey(this.#password)
    this.#out.frames.write(authProof(key, hello.nonce))
    this.#out.flush() // the proof leaves plain; everything after it is sealed
    if (this.#encrypt) this.#startSealing(key, hello.nonce)
    return true
  }

  #startSealing(key: Uint8Array, nonce: Uint8Array): void {
    const keys = sessionKeys(key, nonce)
    const sealer = new Sealer(keys.clientToServer)
    const opener = new Opener(keys.serverToClient)
    this.#out.sealWith((plain) => sealer.seal(plain))
    this.#reader.openWith((sealed) => {
      try {
        return opener.open(sealed)
      } catch (error) {
        // A refused proof is answered in plain (the server cannot seal for a wrong password).
        if (this.#state === 'auth') throw this.#plainRefusal(sealed) ?? error
        throw error
      }
    })
  }

  /** The error of a plain connection-level refusal [0, error, [code, message]], if `body` is one. */
  #plainRefusal(body: Uint8Array): CyberError | undefined {
    try {
      const reply = this.#codec.unpack(body)
      if (Array.isArray(reply) && reply[0] === CONNECTION_ID && reply[1] !== STATUS_OK) return errorFromPayload(reply[2])
    } catch {
      // not a plain reply either
    }
    return undefined
  }

  #onConnectionReply(status: number, payload: unknown): boolean {
    if (status !== STATUS_OK) {
      const error = errorFromPayload(payload)
      if (this.#state === 'ready' && error.code === 'CONNECTION_CLOSED') {
        this.#retire(error)
        return false
      }
      // Closed by the server after its hello, before the proof was answered (to make room, or
      // shutting down): nothing was sent on it, so opening another connection is safe.
      if (this.#state === 'auth' && error.code === 'CONNECTION_CLOSED') closedInHandshake.add(error)
      throw error
    }
    if (this.#state !== 'auth') throw new CyberError('PROTOCOL', 'the server sent an unexpected connection reply')
    this.#state = 'ready'
    // An idle pooled connection must not keep the process alive: a script that never calls
    // close() still exits when its work is done (issue 8.16f). request() refs it while it waits.
    if (this.#pending.size === 0) this.#socket.unref()
    this.#opened.resolve(this)
    return true
  }

  // The server's goodbye: it read nothing after the replies that came before it, so what is
  // still pending was never applied and can go again on a fresh connection.
  #retire(goodbye: CyberError): void {
    const unanswered = this.#pending.drain()
    this.#closed(goodbye)
    this.#socket.end()
    if (this.onRetry) this.onRetry(unanswered)
    else for (const request of unanswered) request.reject(goodbye)
  }

  #closed(reason: CyberError): void {
    if (this.#state === 'closed') return
    this.#state = 'closed'
    this.#closeReason = reason.code === 'CONNECTION_CLOSED' ? reason
      : new CyberError('CONNECTION_CLOSED', `the connection closed: ${reason.message}`, { cause: reason })
    this.#opened.reject(reason)
    for (const pending of this.#pending.drain()) pending.reject(this.#closeReason)
    const streams = [...this.#streams.values()]
    this.#streams.clear()
    for (const handler of streams) handler.closed(this.#closeReason)
    this.#onIdle?.()
    this.onClose?.(this)
  }
}

function encodeError(error: unknown): CyberError {
  if (error instanceof CyberError) return error
  if (error instanceof RangeError) {
    return badArgument('a value nests too deep to send (or it refers to itself)')
  }
  return badArgument(`a value cannot be sent: ${(error as Error)?.message ?? String(error)}`)
}

const closedInHandshake = new WeakSet<CyberError>()

/** Whether Connection.open failed because the server closed it during the handshake. */
export function isClosedInHandshake(error: unknown): boolean {
  return error instanceof CyberError && closedInHandshake.has(error)
}

// Bun.connect to host:port, or with the same handlers to a unix socket file instead.
function connectTo(unix: string | undefined): (tcp: TCPSocketConnectOptions<Connection>) => Promise<Socket<Connection>> {
  if (unix === undefined) return (tcp) => Bun.connect<Connection>(tcp)
  return (tcp) => Bun.connect<Connection>({ unix, data: tcp.data, socket: tcp.socket })
}
