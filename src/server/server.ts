// The CyberDB server: one Store behind Bun.listen. It owns the listener, the sessions, and the
// backup file (lock, periodic snapshots, the final snapshot on close). It installs no signal
// handlers: how a process stops is its owner's choice (the CLI saves and exits on SIGINT/SIGTERM).

import type { Socket, SocketHandler, TCPSocketListener, UnixSocketListener } from 'bun'
import { CyberError, badArgument } from '../errors.ts'
import type { Store } from '../engine/store.ts'
import type { Op, RegisteredCommand } from '../engine/commands.ts'
import type { Cursors } from '../engine/cursors.ts'
import { checkArgs, checkMaxMemory } from '../engine/value-model.ts'
import { createCodec } from '../protocol/codec.ts'
import { MAX_FRAME_BYTES } from '../protocol/frame.ts'
import { unrefTimer, type Clock, type SetTimer } from '../host/clock.ts'
import { Host } from '../host/host.ts'
import type { DatabaseInfo, ServerStats } from '../host/info.ts'
import type { Takers } from '../host/takes.ts'
import type { Address, ListenOptions } from '../listen-options.ts'
import { DataFile, crashSkip, type DataFileOptions } from '../persistence/data-file.ts'
import { recover, type LoadProgress, type Recovered } from '../persistence/log-reader.ts'
import type { SnapshotStats } from '../persistence/snapshot.ts'
import { AllowList } from '../security/allow-list.ts'
import { masterKey } from '../security/seal.ts'
import { AuthThrottle } from '../security/throttle.ts'
import { listenMetrics, type Health, type MetricsListener } from './metrics-http.ts'
import { Session, type SessionHost } from './session.ts'
import { UNIX_PEER, bindOwnerOnly, clearStaleSocket, removeSocket, type BoundSocket } from './unix-socket.ts'

export type { Address, ListenOptions }

/** Output held for clients that have not taken it, and the memory of the sessions' buffers. */
export interface OutputStats {
  /** Unsent output of every session, now. */
  unsentBytes: number
  /** The most unsent output held at once since the server started. */
  peakUnsentBytes: number
  /** Sessions that read no requests for now (their own output, or the server's, is too high). */
  pausedSessions: number
  /** Memory of the sessions' buffers (frames, reassembly, held output, waiting requests). */
  bufferBytes: number
}

/** Connections the server turned away, by reason, since it started listening. */
export interface RefusalCounts {
  notAllowed: number
  tooMany: number
  /** Proofs that waited for the guess throttle (see SECURITY.md). */
  throttled: number
  authFailed: number
  /** Connections closed or refused by the unauthenticated caps. */
  unauthenticated: number
}

export interface ServerOptions {
  /** Serve this store instead of a new one. */
  store?: Store
  /** Serve through this host (an embedded database's: its store, its log and its saves). */
  host?: Host
  /** Where the server reads the time (default Date.now); kept on its host. */
  clock?: Clock
  /** Approximate bytes of keys and values past which writes that can grow the store fail with
   * MEMORY_LIMIT (deletes, pops and clears still run). Default: no limit. */
  maxMemory?: number
  /** The password-guess throttle (tests give one on a manual clock). */
  authThrottle?: AuthThrottle
  /** Schedules the server's own timers: the idle sweep, each connection's auth deadline,
   * close()'s grace and its host's expiry sweep (tests give manual ones, test/fixtures/timers.ts).
   * Default: real ones, unref'd. */
  setTimer?: SetTimer
  /** Milliseconds close() lets clients take their last replies before it cuts them. Default
   * 2000. */
  closeGraceMs?: number
  /** Changes the change feed keeps for watchers that resume or lag (default 10 000, about 100
   * bytes each plus their values); ignored with `host` (the host has its own). */
  feedHistory?: number
}


const MAX_UNSENT_BYTES = 8 * 1024 * 1024
const MAX_UNSENT_TOTAL_BYTES = 256 * 1024 * 1024

/** How long a client has to prove the password by default (ListenOptions.authTimeout). */
export const DEFAULT_AUTH_TIMEOUT_MS = 5000

// How long close() waits for clients to take their last replies before cutting the sockets.
const CLOSE_GRACE_MS = 2000
// How often idle connections are looked for (at most: an idleTimeout below it is its own period).
const IDLE_SWEEP_MS = 1000

/**
 * A CyberDB server.
 * @example
 * const server = new Server()
 * await server.load('data.cdb')
 * server.setBackup('data.cdb', 300)
 * const { port } = await server.listen({ host: '127.0.0.1', port: 9980, password: 'secret' })
 */
export class Server implements AsyncDisposable {
  // The one write path: the store, the clock, the data file's log, the saves. Private: a caller
  // that needs the store builds the host and passes it (new Server({ host })).
  readonly #host: Host
  readonly #store: Store
  // What sessions read: their configuration, and the server's side of their output budget.
  readonly #sessionHost: SessionHost
  #maxFrameBytes = MAX_FRAME_BYTES
  #idleTimeout = 900
  #masterKey: Uint8Array = new Uint8Array(0)
  #encrypt = false
  #authTimeoutMs = DEFAULT_AUTH_TIMEOUT_MS
  #maxUnsentBytes = MAX_UNSENT_BYTES
  #maxUnsentTotal = MAX_UNSENT_TOTAL_BYTES
  #unsentTotal = 0
  #peakUnsent = 0
  // Sessions waiting for the server-wide output budget, in the order they started waiting.
  readonly #waitingOutput = new Set<Session>()
  #resumeScheduled = false
  readonly #throttle: AuthThrottle
  readonly #refused: RefusalCounts = { notAllowed: 0, tooMany: 0, throttled: 0, authFailed: 0, unauthenticated: 0 }
  readonly #setTimer: SetTimer
  readonly #closeGraceMs: number
  #cancelSweep: (() => void) | undefined
  // Sessions not authenticated yet, oldest first, in all and per address.
  readonly #unauthenticated = new Set<Session>()
  readonly #unauthenticatedBy = new Map<string, Set<Session>>()
  #maxUnauthenticated = 1024
  #maxUnauthenticatedPerAddress = 128
  #allow: AllowList | undefined
  // The data file setBackup() gave the host, which close() closes; an embedded database's own
  // data file is not this server's to replace or close.
  #backup: DataFile | undefined
  // Whether the host is this server's own (not given): its expiry sweep then ends with the server.
  readonly #ownsHost: boolean
  // What load() recovered, so that setBackup() on the same file continues its log.
  #loaded: { path: string; recovered: Recovered } | undefined
  #listener: TCPSocketListener<Session> | undefined
  // The unix socket listener (listen({ unix })), beside or instead of the TCP one.
  #unixListener: UnixSocketListener<Session> | undefined
  #unixSocket: BoundSocket | undefined
  #metrics: MetricsListener | undefined
  // Loads running now: /health answers 503 while the tables are being replaced.
  #loading = 0
  #sessions = new Set<Session>()
  #maxConnections = 10_000
  #logger: ((message: string) => void) | undefined
  #closing: Promise<SnapshotStats | undefined> | undefined
  // Sessions close() is waiting for, with what to call when each is gone.
  readonly #onSessionClosed = new Map<Session, () => void>()

  constructor(options: ServerOptions = {}) {
    this.#ownsHost = options.host === undefined
    this.#host = options.host ?? new Host({ store: options.store, clock: options.clock,
      setTimer: options.setTimer, feedHistory: options.feedHistory,
      noFile: 'the server has no backup file: pass save(path)' })
    this.#store = this.#host.store
    if (options.maxMemory !== undefined) this.#store.maxMemory = checkMaxMemory(options.maxMemory)
    this.#throttle = options.authThrottle ?? new AuthThrottle()
    this.#setTimer = options.setTimer ?? unrefTimer
    this.#closeGraceMs = options.closeGraceMs ?? CLOSE_GRACE_MS
    this.#sessionHost = this.#makeSessionHost()
  }

  /** Connections turned away since the server started listening, by reason. */
  get refused(): Readonly<RefusalCounts> {
    return this.#refused
  }

  /** Replaces the tables with a data file's: its snapshot, then its operation log. Missing file:
   * nothing changes. Corrupt: SNAPSHOT_CORRUPT, nothing changes and the files are left as they are.
   * Call it before setBackup() on the same file, so that the log goes on where it stopped.
   * `progress` hears how far it got (the CLI's progress line). */
  async load(path: string, options: { progress?: (loaded: LoadProgress) => void } = {}): Promise<SnapshotStats> {
    this.#loading++
    try {
      return await this.#load(path, options.progress)
    } finally {
      this.#loading--
    }
  }

  async #load(path: string, progress: ((loaded: LoadProgress) => void) | undefined): Promise<SnapshotStats> {
    const recovered = await recover(path, console.warn, progress)
    if (recovered.tables) this.#store.replaceAll(recovered.tables)
    this.#host.restoreFeed(recovered.feed, crashSkip(recovered)) // the seq goes on past the file's
    this.#host.tablesReplaced() // deadlines loaded: the sweep's timer
    this.#loaded = { path, recovered }
    // A log already running describes the tables just replaced: snapshot the new ones at once.
    if (this.#host.log !== undefined) {
      void this.save().catch((error) => console.error('cyberdb: snapshot after load failed:', error))
    }
    let entries = 0
    for (const table of this.#store.tables.values()) entries += table.size
    return { tables: this.#store.tables.size, entries, bytes: recovered.snapshotBytes }
  }

  /**
   * Snapshots to `path` every `seconds`, and on close (call it from your own SIGTERM handler, as
   * the CLI does: the library installs none); logs every write to
   * `path.log` with the given durability (default everysec: see DataFileOptions), which is fixed
   * once the file is set. Takes the file's lock (LOCKED when another process holds it). A previous
   * backup file gets its final snapshot. Without a load() of the same file first, the file is
   * rewritten with this server's tables at once.
   */
  setBackup(path: string, seconds: number, options: Omit<DataFileOptions, 'backup'> = {}): void {
    if (!(seconds > 0)) throw badArgument(`a backup interval is a positive number of seconds, not ${seconds}`)
    const current = this.#host.saver
    if (current instanceof DataFile && current.path === path) {
      current.setBackup(seconds)
      return
    }
    if (current instanceof DataFile && current !== this.#backup) {
      throw badArgument('this server saves through its embedded database')
    }
    const next = DataFile.lock(this.#host, path)
    const loaded = this.#loaded?.path === path ? this.#loaded.recovered : undefined
    try {
      next.startLog(loaded?.log, loaded?.snapshotBytes ?? 0, options)
    } catch (error) {
      next.release() // no snapshot: the store was never logged to this file
      throw error
    }
    this.#loaded = undefined
    next.setBackup(seconds)
    this.#host.saver = next
    this.#backup = next
    if (current instanceof DataFile) {
      current.close().catch((error) => console.error(`cyberdb: final snapshot of ${current.path} failed:`, error))
    }
  }

  /** The backup file, if one is set. */
  get backupPath(): string | undefined {
    return this.#host.saver instanceof DataFile ? this.#host.saver.path : undefined
  }

  /** Snapshots now, to `path` or the backup file. */
  save(path?: string): Promise<SnapshotStats> {
    try {
      const args = path === undefined ? [] : [path]
      return this.#host.applyLater({ table: '', name: 'db.save', args }, 'local') as Promise<SnapshotStats>
    } catch (error) {
      return Promise.reject(error)
    }
  }

  /** Starts serving; resolves with the bound address (port 0 picks a free port). With `unix`, on
   * that socket file too; with `unix` and neither `port` nor `host`, on the socket only. */
  async listen(options: ListenOptions = {}): Promise<Address> {
    if (this.#listener || this.#unixListener) throw badArgument('this server is already listening')
    const host = (options.host ?? '127.0.0.1').replace(/^\[(.*)\]$/, '$1') // [::1], as in a URL, is ::1
    const tcp = options.unix === undefined || options.port !== undefined || options.host !== undefined
    const password = options.password ?? ''
    if (tcp && password === '' && !isLoopback(host)) {
      throw badArgument(`refusing to listen on ${host} without a password: anyone who can reach it ` +
        'could read and change everything (give a password, or listen on 127.0.0.1)')
    }
    if (options.unix !== undefined) await clearStaleSocket(options.unix)
    if (this.#listener || this.#unixListener) throw badArgument('this server is already listening')
    this.#allow = options.allow === undefined ? undefined : new AllowList(options.allow)
    this.#masterKey = masterKey(password)
    this.#encrypt = options.encrypt ?? false
    this.#authTimeoutMs = options.authTimeout === undefined ? DEFAULT_AUTH_TIMEOUT_MS : options.authTimeout * 1000
    this.#idleTimeout = options.idleTimeout ?? 900
    this.#maxFrameBytes = options.maxFrameBytes ?? MAX_FRAME_BYTES
    this.#maxConnections = options.maxConnections ?? 10_000
    this.#maxUnauthenticated = options.maxUnauthenticated ?? 1024
    this.#maxUnauthenticatedPerAddress = options.maxUnauthenticatedPerAddress ?? 128
    this.#maxUnsentBytes = positive(options.maxUnsentBytes ?? MAX_UNSENT_BYTES, 'maxUnsentBytes')
    this.#maxUnsentTotal = positive(options.maxUnsentTotalBytes ?? MAX_UNSENT_TOTAL_BYTES, 'maxUnsentTotalBytes')
    // A function takes the lines itself (the CLI stamps them with the time); true prints them.
    const log = options.log ?? false
    this.#logger = typeof log === 'function' ? log : log ? (message) => console.log(`cyberdb: ${message}`) : undefined
    if (tcp) {
      this.#listener = bindOrRefuse(host, options.port ?? 9980, () => Bun.listen<Session>({
        hostname: host,
        port: options.port ?? 9980,
        ...(options.tls ? { tls: options.tls } : {}),
        socket: this.#handlers(false),
      }))
    }
    if (options.unix !== undefined) {
      const path = options.unix
      try {
        // No TLS on the socket: its traffic never leaves the machine (encrypt still applies).
        const socket = this.#handlers(true)
        const { listener, bound } = bindOwnerOnly(path, () => Bun.listen<Session>({ unix: path, socket }))
        this.#unixListener = listener
        this.#unixSocket = bound
      } catch (error) {
        this.#listener?.stop(true)
        this.#listener = undefined
        throw error
      }
    }
    if (options.metrics !== undefined) this.#listenMetrics(options.metrics)
    if (this.#idleTimeout > 0) this.#sweepIdle()
    this.#host.serverStats = this.#stats
    // The host as given (normalized), as before unix sockets: not Bun's spelling of it.
    const address: Address = this.#listener ? { host, port: this.#listener.port } : { host: '', port: 0 }
    if (this.#unixSocket !== undefined) address.unix = this.#unixSocket.path
    if (this.#metrics !== undefined) address.metrics = this.#metrics.address
    return address
  }

  // Stops the database listeners again (a later part of listen() failed): listen() either serves
  // everything it was asked to or nothing.
  #unlisten(): void {
    this.#listener?.stop(true)
    this.#listener = undefined
    this.#unixListener?.stop(true)
    this.#unixListener = undefined
    if (this.#unixSocket) removeSocket(this.#unixSocket)
    this.#unixSocket = undefined
  }

  #handlers(unix: boolean): SocketHandler<Session> {
    const server = this
    return {
      open(socket) {
        server.#open(socket, unix)
      },
      data(socket, chunk) {
        socket.data?.onData(chunk)
      },
      drain(socket) {
        socket.data?.onDrain()
      },
      close(socket) {
        if (socket.data) server.#socketClosed(socket.data)
      },
      error(socket, error) {
        server.#log(`socket error from ${unix ? UNIX_PEER : socket.remoteAddress}: ${error.message}`)
      },
    }
  }

  // The metrics listener binds after the database listeners: a metrics port that is taken stops
  // them again, so listen() either serves everything or nothing.
  #listenMetrics(options: { port?: number; host?: string }): void {
    if (typeof options !== 'object' || options === null) {
      this.#unlisten()
      throw badArgument('metrics is { port, host }')
    }
    const host = (options.host ?? '127.0.0.1').replace(/^\[(.*)\]$/, '$1')
    const port = options.port ?? 9981
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      this.#unlisten()
      throw badArgument(`a metrics port is an integer from 0 to 65535, not ${port}`)
    }
    try {
      this.#metrics = bindOrRefuse(host, port, () => listenMetrics(this.#metricsSource, host, port, this.#allow))
    } catch (error) {
      this.#unlisten()
      throw error
    }
  }

  readonly #metricsSource = { info: (): DatabaseInfo => this.#host.info(), health: (): Health => this.health }

  /** What /health answers: 'loading' while load() replaces the tables, 'closing' once close()
   * was called, else 'serving'. */
  get health(): Health {
    return this.#closing !== undefined ? 'closing' : this.#loading > 0 ? 'loading' : 'serving'
  }

  /** Where the metrics listener is bound, when listen() was given `metrics`. */
  get metricsAddress(): Address | undefined {
    return this.#metrics?.address
  }

  // One sweep over every connection rather than a timer per socket, reset on each data event:
  // a session is closed once a whole idleTimeout passed with no data from it (between that and
  // one period more of silence, never sooner).
  #sweepIdle(): void {
    const periodMs = Math.min(IDLE_SWEEP_MS, this.#idleTimeout * 1000)
    const tick = (): void => {
      for (const session of this.#sessions) session.idleTick(periodMs)
      this.#cancelSweep = this.#setTimer(tick, periodMs)
    }
    this.#cancelSweep = this.#setTimer(tick, periodMs)
  }

  /** Where the server listens: a unix socket alone shows host '' and port 0. */
  get address(): Address | undefined {
    const unix = this.#unixSocket?.path
    if (this.#listener) {
      const address = { host: this.#listener.hostname, port: this.#listener.port }
      return unix === undefined ? address : { ...address, unix }
    }
    return unix === undefined ? undefined : { host: '', port: 0, unix }
  }

  /** What the database and this server are doing now (what a client's db.info() gets). */
  info(): DatabaseInfo {
    return this.#host.info()
  }

  // The server's part of db.info, read when asked (the counters are kept anyway).
  readonly #stats = (): ServerStats => {
    const { unsentBytes, bufferBytes } = this.output
    return { connections: this.#sessions.size, refused: { ...this.#refused }, unsentBytes, bufferBytes }
  }

  get connections(): number {
    return this.#sessions.size
  }

  /** Output held for clients, and the sessions' buffer memory (counted as of now). */
  get output(): OutputStats {
    let pausedSessions = 0
    let bufferBytes = 0
    for (const session of this.#sessions) {
      if (session.isPaused) pausedSessions++
      bufferBytes += session.bufferBytes
    }
    return { unsentBytes: this.#unsentTotal, peakUnsentBytes: this.#peakUnsent, pausedSessions, bufferBytes }
  }

  /** Stops accepting, lets clients take their replies, closes them, takes the final snapshot
   * (resolving with its figures) when a backup file is set. */
  close(): Promise<SnapshotStats | undefined> {
    this.#closing ??= this.#close()
    return this.#closing
  }

  async #close(): Promise<SnapshotStats | undefined> {
    this.#listener?.stop(false)
    this.#unixListener?.stop(false)
    const drained = Promise.all([...this.#sessions].map((session) => new Promise<void>((resolve) => {
      this.#onSessionClosed.set(session, resolve)
      session.end('the server is shutting down')
    })))
    this.#cancelSweep?.()
    let cancelGrace: (() => void) | undefined
    const grace = new Promise<void>((resolve) => {
      cancelGrace = this.#setTimer(resolve, this.#closeGraceMs)
    })
    await Promise.race([drained, grace])
    cancelGrace?.()
    this.#unlisten()
    this.#metrics?.stop()
    this.#metrics = undefined
    if (this.#host.serverStats === this.#stats) this.#host.serverStats = undefined
    if (this.#ownsHost) this.#host.close() // its expiry sweep ends with the server
    return this.#backup?.close()
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  // --- what sessions see ---

  // A private object, not the server itself: the sessions' configuration (the master key, the
  // codec, the budgets) is no part of the server's public surface.
  #makeSessionHost(): SessionHost {
    const server = this
    const host = this.#host
    return {
      codec: createCodec(),
      get maxFrameBytes() { return server.#maxFrameBytes },
      get idleTimeout() { return server.#idleTimeout },
      get masterKey() { return server.#masterKey },
      get encrypt() { return server.#encrypt },
      get authTimeoutMs() { return server.#authTimeoutMs },
      get maxUnsentBytes() { return server.#maxUnsentBytes },
      throttle: this.#throttle,
      setTimer: this.#setTimer,
      refused: this.#refused,
      apply(op: Op, cursors: Cursors, command: RegisteredCommand | undefined) {
        checkArgs(op.args)
        return host.apply(op, cursors, command)
      },
      applyLater(op: Op, takers: Takers) {
        checkArgs(op.args)
        return host.applyLater(op, 'remote', takers)
      },
      durable: (from: number, to: number) => host.durable(from, to),
      watch: (options, wake) => host.watch(options, wake),
      authenticated: (session) => this.#forgetUnauthenticated(session),
      reserveOutput: (session) => this.#reserveOutput(session),
      outputChanged: (delta) => this.#outputChanged(delta),
      log: (message) => this.#log(message),
      closed: (session) => this.#sessionClosed(session),
    }
  }

  #log(message: string): void {
    this.#logger?.(message)
  }

  #reserveOutput(session: Session): boolean {
    if (this.#unsentTotal < this.#maxUnsentTotal) return true
    this.#waitingOutput.add(session)
    return false
  }

  #outputChanged(delta: number): void {
    this.#unsentTotal += delta
    if (this.#unsentTotal > this.#peakUnsent) this.#peakUnsent = this.#unsentTotal
    if (delta < 0 && this.#waitingOutput.size > 0 && !this.#resumeScheduled && this.#unsentTotal < this.#maxUnsentTotal) {
      // Not from inside the drain that freed the room: the session draining finishes first.
      this.#resumeScheduled = true
      queueMicrotask(() => this.#resumeWaiting())
    }
  }

  // Round robin: each waiting session in turn runs what it holds until the budget is spent
  // again; a session that spends it goes back to the end of the line.
  #resumeWaiting(): void {
    this.#resumeScheduled = false
    for (const session of [...this.#waitingOutput]) {
      if (this.#unsentTotal >= this.#maxUnsentTotal) return
      this.#waitingOutput.delete(session)
      session.resumeReading()
    }
  }

  // What the server keeps about a session that closed (Session.#close calls it, once).
  #sessionClosed(session: Session): void {
    this.#forgetUnauthenticated(session)
    this.#waitingOutput.delete(session)
  }

  // The socket is gone: the session closes (if it had not), and its connection slot is free.
  #socketClosed(session: Session): void {
    session.onSocketClosed()
    this.#sessions.delete(session)
    this.#log(`closed: ${session.address} (${this.#sessions.size} open)`)
    const resolve = this.#onSessionClosed.get(session)
    if (resolve) {
      this.#onSessionClosed.delete(session)
      resolve()
    }
  }

  #open(socket: Socket<Session>, unix: boolean): void {
    // A unix socket has no peer address: its file's permissions decide who connects, not the
    // allow-list (see ListenOptions.unix).
    const address = unix ? UNIX_PEER : socket.remoteAddress
    if (!unix && this.#allow && !this.#allow.allows(address)) {
      // Not even a hello: nothing from this address is read or answered.
      this.#refused.notAllowed++
      this.#log(`refused ${address}: not on the allow-list`)
      socket.terminate()
      return
    }
    // A refused connection gets the error frame instead of the hello, as the protocol says.
    const refusal = this.#refusal(address)
    const session = new Session(socket, this.#sessionHost, refusal)
    socket.data = session
    if (refusal) return
    this.#sessions.add(session)
    this.#unauthenticated.add(session)
    let mine = this.#unauthenticatedBy.get(address)
    if (mine === undefined) this.#unauthenticatedBy.set(address, mine = new Set())
    mine.add(session)
    this.#log(`open: ${address} (${this.#sessions.size} open)`)
  }

  #refusal(address: string): CyberError | undefined {
    if (this.#closing) return new CyberError('CONNECTION_CLOSED', 'the server is shutting down')
    // A slot held by a connection that has not even sent a proof is reclaimable: strangers
    // holding silent sockets cannot keep a client that knows the password out.
    if (this.#sessions.size >= this.#maxConnections && !this.#reclaim(this.#unauthenticated)) {
      this.#refused.tooMany++
      return new CyberError('NOT_ALLOWED', `the server is at its limit of ${this.#maxConnections} connections`)
    }
    const mine = this.#unauthenticatedBy.get(address)
    if (mine !== undefined && mine.size >= this.#maxUnauthenticatedPerAddress && !this.#reclaim(mine)) {
      this.#refused.unauthenticated++
      return new CyberError('NOT_ALLOWED', `${mine.size} connections from ${address} are already waiting to authenticate`)
    }
    if (this.#unauthenticated.size >= this.#maxUnauthenticated && !this.#reclaim(this.#unauthenticated)) {
      this.#refused.unauthenticated++
      return new CyberError('NOT_ALLOWED', `${this.#unauthenticated.size} connections are already waiting to authenticate`)
    }
    return undefined
  }

  // Closes the oldest connection of `among` that has sent no proof yet, to make room; false when
  // every one of them has (a proof waiting for the throttle keeps its slot: dropping it would
  // let a guesser recycle slots faster than the throttle answers).
  #reclaim(among: Set<Session>): boolean {
    for (const session of among) {
      if (!session.isSilent) continue
      this.#refused.unauthenticated++
      this.#sessions.delete(session) // its slot is free now; closing forgets the rest
      // CONNECTION_CLOSED, not NOT_ALLOWED: the client did nothing wrong and may connect again
      // (ours does, a few times: see openConnection in client/remote.ts).
      session.fail(new CyberError('CONNECTION_CLOSED', 'closed to make room: too many connections waiting to authenticate'))
      return true
    }
    return false
  }

  #forgetUnauthenticated(session: Session): void {
    if (!this.#unauthenticated.delete(session)) return
    const address = session.address
    const mine = this.#unauthenticatedBy.get(address)
    mine?.delete(session)
    if (mine?.size === 0) this.#unauthenticatedBy.delete(address)
  }
}

function positive(value: number, name: string): number {
  if (!(value > 0)) throw badArgument(`${name} must be a positive number of bytes, not ${value}`)
  return value
}

// Bun throws a bare Error (ENOTFOUND, EADDRINUSE, or just "Failed to listen") for a host it cannot
// bind: the caller gets a CyberError that names the address, with the system's reason as cause.
function bindOrRefuse<T>(host: string, port: number, bind: () => T): T {
  try {
    return bind()
  } catch (error) {
    const why = (error as { code?: string }).code ?? (error as Error)?.message ?? String(error)
    throw new CyberError('BAD_ARGUMENT', `cannot listen on ${host.includes(':') ? `[${host}]` : host}:${port}: ${why} ` +
      '(is the host an address of this machine, and the port free?)', { cause: error })
  }
}

/** Whether a listen address is reachable from this machine only. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host)
}
