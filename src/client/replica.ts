// A replica (issue 16): a remote database that keeps a copy of some tables in this process. The
// tables are loaded once at one seq (db.replicate, src/host/replicate.ts), then kept current by
// the change feed from that seq, each change applied in its deterministic form to a local Store
// (the same engine: the same values, copies and errors). Reads of those tables are answered here,
// synchronously underneath; everything else, and every write, goes to the server. A write on a
// replicated table is sent as a one-op db.atomic, whose answer carries the write's seq, and
// resolves once the replica has applied that seq: a client reads its own writes.
// Consistency: one push of the feed holds whole commits and is applied in one synchronous step,
// so a read never sees part of a commit, nor a state the server never had. A watch that fails for
// good (FEED_COMPACTED, a server that came back with another history) reloads the tables; reads
// meanwhile answer from the last consistent state.
// Time: the replica reads its own clock (the server's machine shares it; tests share a manual one)
// to hide a key whose absolute deadline has passed, and applies changes at that time.

import { badArgument } from '../errors.ts'
import { COMMANDS, type Op, type RegisteredCommand, type Table } from '../engine/commands.ts'
import { Cursors } from '../engine/cursors.ts'
import { DictTable } from '../engine/dict-table.ts'
import { Store } from '../engine/store.ts'
import { acceptArgs, copyStored } from '../engine/value-model.ts'
import type { Clock } from '../host/clock.ts'
import type { DatabaseInfo, ReplicaInfo } from '../host/info.ts'
import { restoreTable, type ReplicaImage } from '../host/replicate.ts'
import type { Change, ChangeStream, WatchOptions } from './change-stream.ts'
import { ProxyTransport } from './proxy-transport.ts'
import { RemoteTransport, type RemoteOptions } from './remote.ts'
import { closedError, type Transport } from './transport.ts'

// Answered in process: the reads of one table (scans keep their cursors on the server).
const LOCAL_READS: ReadonlySet<string> = new Set(['dict.get', 'dict.has', 'dict.size', 'dict.keys',
  'dict.values', 'dict.entries', 'dict.ttl', 'dict.getMany', 'list.at', 'list.slice', 'list.indexOf',
  'list.count', 'list.length'])

// Reloading after a failure: the wait before each attempt, doubling up to the last.
const RETRY_FIRST_MS = 10
const RETRY_MAX_MS = 1000

interface SeqWaiter {
  seq: number
  at: number
  resolve: () => void
  reject: (error: unknown) => void
}

export class ReplicaTransport implements Transport {
  readonly #inner: RemoteTransport
  readonly #names: ReadonlySet<string>
  readonly #clock: Clock
  readonly #store = new Store()
  readonly #cursors = new Cursors()
  #seq = 0
  #stream: ChangeStream | undefined
  #closed = false
  #waiters: SeqWaiter[] = []
  // Creates and drops applied, per table: a create or drop through this client waits for one more.
  readonly #ddl = new Map<string, number>()
  #ddlWaiters: { table: string; count: number; resolve: () => void }[] = []
  #lagMs = 0
  #maxLagMs = 0
  #reloads = -1
  #failures = 0

  private constructor(inner: RemoteTransport, names: string[], clock: Clock) {
    this.#inner = inner
    this.#names = new Set(names)
    this.#clock = clock
  }

  /** Connects, loads the tables, then follows the feed in the background. */
  static async open(options: RemoteOptions, names: string[], clock: Clock): Promise<ReplicaTransport> {
    const inner = await RemoteTransport.open(options)
    const replica = new ReplicaTransport(inner, names, clock)
    try {
      await replica.#load()
    } catch (error) {
      await inner.close()
      throw error
    }
    void replica.#follow()
    return replica
  }

  get isClosed(): boolean {
    return this.#closed
  }

  /** The seq the replica's tables are current to. */
  get seq(): number {
    return this.#seq
  }

  /** Whether `table` is one of the replica's. */
  holds(table: string): boolean {
    return this.#names.has(table)
  }

  call(op: Op): Promise<unknown> {
    return this.#route(op, (o) => this.#inner.call(o))
  }

  pin(): Transport {
    if (this.#closed) throw closedError('database')
    const inner = this.#inner.pin()
    return new ProxyTransport(this, (op) => this.#route(op, (o) => inner.call(o)), (o) => inner.watch!(o))
  }

  watch(options: WatchOptions | undefined): ChangeStream {
    return this.#inner.watch(options)
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.version.generation++
    this.#stream?.finish()
    const error = closedError('database')
    for (const waiter of this.#waiters.splice(0)) waiter.reject(error)
    for (const waiter of this.#ddlWaiters.splice(0)) waiter.resolve()
    await this.#inner.close()
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }

  /** A read of a replicated table, answered now (the synchronous view); throws CyberError. */
  read(table: string, name: string, args: unknown[]): unknown {
    if (this.#closed) throw closedError('database')
    if (!this.#names.has(table)) throw badArgument(`table "${table}" is not one of this replica's`)
    if (!LOCAL_READS.has(name)) throw badArgument(`${name} is not a read the replica answers`)
    acceptArgs(args)
    const result = this.#store.run({ table, name, args }, COMMANDS.get(name), this.#cursors, this.#clock.now())
    return typeof result === 'object' && result !== null ? copyStored(result) : result
  }

  /** Bumped whenever the tables changed (a load, an applied push, close): views keep what they
   * looked up between bumps. A plain object: the hot path reads a field, not a getter. */
  readonly version = { generation: 0 }

  /** The dict a view reads on its hot path (undefined: take read(), for its error). */
  dictOf(table: string): DictTable | undefined {
    const dict = this.#store.tables.get(table)
    return !this.#closed && dict instanceof DictTable && this.#names.has(table) ? dict : undefined
  }

  /** The replica's time (its clock's): a key whose deadline has passed is hidden. */
  now(): number {
    return this.#clock.now()
  }

  #route(op: Op, send: (op: Op) => Promise<unknown>): Promise<unknown> {
    if (this.#closed) return Promise.reject(closedError('database'))
    const command = COMMANDS.get(op.name)
    if (command === undefined) return send(op)
    if (op.name === 'db.info') {
      const probe = { table: '', name: 'db.replicate', args: [[...this.#names], false] }
      return Promise.all([send(op), send(probe)])
        .then(([info, seqs]) => this.#info(info as DatabaseInfo, seqs as ReplicaImage))
    }
    if (op.name === 'db.atomic') {
      return send(op).then((outcome) => this.#afterAtomic(op, outcome))
    }
    if (!this.#names.has(op.table)) return send(op)
    if (LOCAL_READS.has(op.name)) {
      try {
        return Promise.resolve(this.read(op.table, op.name, op.args))
      } catch (error) {
        return Promise.reject(error)
      }
    }
    if (op.name === 'db.create' || op.name === 'db.drop') {
      const count = this.#ddl.get(op.table) ?? 0
      return send(op).then((done) => done === true ? this.#ddlApplied(op.table, count).then(() => done) : done)
    }
    if (!command.writes || command.host === true) return send(op)
    return this.#write(op, command, send)
  }

  // A table write: as a one-op batch (its answer carries the seq), resolved once applied here.
  // A wrong arity goes as it is, for the server's own message.
  async #write(op: Op, command: RegisteredCommand, send: (op: Op) => Promise<unknown>): Promise<unknown> {
    if (op.args.length < command.minArgs || op.args.length > command.maxArgs) return send(op)
    acceptArgs(op.args) // the direct op's refusal (the batch adds depth)
    const outcome = await send({ table: '', name: 'db.atomic',
      args: [[op.table, op.name, op.args]] }) as { seq: number; results: unknown[] }
    await this.#reach(outcome.seq)
    return outcome.results[0]
  }

  async #afterAtomic(op: Op, outcome: unknown): Promise<unknown> {
    const { ok, seq } = outcome as { ok: boolean; seq?: number }
    if (ok && typeof seq === 'number' && seq > 0 &&
      (op.args as unknown[][]).some((item) => this.#names.has(item[0] as string))) {
      await this.#reach(seq)
    }
    return outcome
  }

  #reach(seq: number): Promise<void> {
    if (this.#seq >= seq) {
      this.#lagMs = 0
      return Promise.resolve()
    }
    const waiting = Promise.withResolvers<void>()
    this.#waiters.push({ seq, at: this.#clock.now(), resolve: waiting.resolve, reject: waiting.reject })
    return waiting.promise
  }

  #ddlApplied(table: string, count: number): Promise<void> {
    if ((this.#ddl.get(table) ?? 0) > count) return Promise.resolve()
    const waiting = Promise.withResolvers<void>()
    this.#ddlWaiters.push({ table, count, resolve: waiting.resolve })
    return waiting.promise
  }

  // Waiters whose seq the replica reached (`all`: every one, the server's history changed).
  #settle(all = false): void {
    if (this.#waiters.length > 0) {
      const now = this.#clock.now()
      const left: SeqWaiter[] = []
      for (const waiter of this.#waiters) {
        if (!all && waiter.seq > this.#seq) {
          left.push(waiter)
          continue
        }
        this.#lagMs = now - waiter.at
        this.#maxLagMs = Math.max(this.#maxLagMs, this.#lagMs)
        waiter.resolve()
      }
      this.#waiters = left
    }
    if (this.#ddlWaiters.length > 0) {
      this.#ddlWaiters = this.#ddlWaiters.filter((waiter) => {
        if (!all && (this.#ddl.get(waiter.table) ?? 0) <= waiter.count) return true
        waiter.resolve()
        return false
      })
    }
  }

  #info(info: DatabaseInfo, server: ReplicaImage): DatabaseInfo {
    const now = this.#clock.now()
    const waiting = this.#waiters.reduce((at, waiter) => Math.min(at, waiter.at), Infinity)
    // Current: it has the newest change of its tables the feed holds, and, when the feed holds
    // none, it is not older than what the feed dropped (a change may have gone with it).
    const oldest = info.feed.oldest
    const current = this.#seq >= server.last && (server.last > 0 || oldest === null || this.#seq >= oldest - 1)
    const replica: ReplicaInfo = {
      tables: [...this.#names],
      seq: this.#seq,
      serverSeq: server.seq,
      behind: current ? 0 : Math.max(0, server.seq - this.#seq),
      lagMs: waiting === Infinity ? this.#lagMs : Math.max(this.#lagMs, now - waiting),
      maxLagMs: this.#maxLagMs,
      reloads: Math.max(0, this.#reloads),
    }
    this.#maxLagMs = 0
    return { ...info, replica }
  }

  // --- loading and following ---

  // The tables at one seq, then a watch of them from there.
  async #load(): Promise<void> {
    const names = [...this.#names]
    const image = await this.#inner.call({ table: '', name: 'db.replicate', args: [names] }) as ReplicaImage
    if (this.#closed) return
    const tables = new Map<string, Table>()
    for (const saved of image.tables) {
      const table = restoreTable(saved)
      if (table !== undefined) tables.set(saved[0], table)
    }
    this.#store.replaceAll(tables)
    this.version.generation++
    this.#cursors.clear()
    const wentBack = image.seq < this.#seq
    this.#seq = image.seq
    this.#reloads++
    // Writes the image holds are applied; a server that came back with a shorter history lost
    // the rest (they are not to be had any more).
    this.#settle(wentBack)
    this.#stream = this.#inner.watch({ tables: names, since: image.seq })
  }

  async #follow(): Promise<void> {
    while (!this.#closed) {
      try {
        if (this.#stream === undefined) await this.#load()
        const stream = this.#stream
        if (stream === undefined) return // closed while loading
        const first = await stream.next()
        if (first.done) {
          if (stream === this.#stream) this.#stream = undefined // the connection's end: load again
          continue
        }
        this.#failures = 0
        this.#apply([first.value, ...stream.drain()])
      } catch {
        if (this.#closed) return
        this.#stream?.finish()
        this.#stream = undefined
        const wait = Math.min(RETRY_FIRST_MS * 2 ** this.#failures++, RETRY_MAX_MS)
        // Unref'd: a replica waiting for its server never keeps the process alive by itself.
        await new Promise((resolve) => setTimeout(resolve, this.#failures === 1 ? 0 : wait).unref())
      }
    }
  }

  // Whole commits, in seq order, at once. A change the local copy refuses means it is not the
  // server's any more (it cannot happen when both ran the same ops): load again.
  #apply(changes: Change[]): void {
    const now = this.#clock.now()
    let diverged = false
    for (const change of changes) {
      const op = { table: change.table, name: change.op, args: change.args }
      try {
        this.#store.run(op, COMMANDS.get(change.op), this.#cursors, now)
      } catch {
        diverged = true
      }
      if (change.op === 'db.create' || change.op === 'db.drop') {
        this.#ddl.set(change.table, (this.#ddl.get(change.table) ?? 0) + 1)
      }
    }
    this.#seq = changes.at(-1)!.seq
    this.version.generation++
    this.#settle()
    if (diverged) {
      this.#stream?.finish()
      this.#stream = undefined
    }
  }
}
