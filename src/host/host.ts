// The one write path. A Host owns the Store, the clock, the data file's operation log, the commit
// sequence and the counters: every operation of the embedded transport and of the server goes
// through apply(), so the modes cannot drift apart in how a write reaches memory and disk. A write
// is first put in its deterministic form (the command's `logged` hook, given the clock), and its
// log record is encoded before the write is applied: a value the encoder refuses never touches the
// store (else it would sit in memory, missing from the log, and break every later snapshot).
// durable() is the one way to wait for the disk (through the log's one wait, OpLog.durable). Every
// commit enters the change feed (feed.ts) in its logged form, with its seq.
// Time: every op runs at the host's `now` (the clock, never going back: a watermark), handed to
// the engine, and a write's record carries it, so replay evaluates expiry as the run did. Expiry
// and eviction are writes of the host (expiry.ts): dict.expire / dict.evict records naming the
// keys removed, so replay never sweeps or evicts by itself.
// Waiting takes live here too (one place for every mode): a write that leaves elements in a list
// with takes waiting hands them out, each through a logged list.shift. (Longer than the ~300-line
// rule: the synchronous database's fast paths, getIn/setIn, must count and seq as apply() does,
// with the same private state.)

import { CyberError, badArgument } from '../errors.ts'
import { failedCheck } from '../engine/batch.ts'
import { COMMANDS, type Op, type RegisteredCommand } from '../engine/commands.ts'
import type { Cursors } from '../engine/cursors.ts'
import type { DictTable } from '../engine/dict-table.ts'
import { Store } from '../engine/store.ts'
import type { Key } from '../engine/values.ts'
import { Snapshotter } from '../persistence/data-file.ts'
import type { OpLog } from '../persistence/op-log.ts'
import type { FeedState, SnapshotStats } from '../persistence/snapshot.ts'
import { systemClock, systemTimer, type Clock, type SetTimer } from './clock.ts'
import { Expiry } from './expiry.ts'
import { describeHost, type DatabaseInfo, type ServerStats } from './info.ts'
import { Feed, type WatchOptions, type Watcher } from './feed.ts'
import { replicaImage } from './replicate.ts'
import { Takers, Takes, Waiter, takeWait } from './takes.ts'

const DICT_GET = COMMANDS.get('dict.get')!
const DICT_SET = COMMANDS.get('dict.set')!
const ATOMIC = COMMANDS.get('db.atomic')!
const INFO = COMMANDS.get('db.info')!
const LIST_LENGTH = COMMANDS.get('list.length')!
const LIST_SHIFT = COMMANDS.get('list.shift')!

/** What a fast path answers when the general one (apply) must run instead. */
export const SLOW: unique symbol = Symbol('slow')

/** What apply() did: the stored result (callers copy it) and the write's commit number. */
export interface Applied {
  readonly result: unknown
  /** The commit sequence number this write got; 0 for a read (or a write that changed nothing
   * the log records: none today). */
  readonly seq: number
}

/** Who writes snapshots: a data file (which knows its path) or a plain snapshotter. */
export interface Saver {
  save(path: string): Promise<SnapshotStats>
  /** The data file's own path, when it has one: save() without a path goes there. */
  readonly path?: string
}

/** Who asked: a remote client may not pick where the server writes a file. */
export type Origin = 'local' | 'remote'

/** Plain numbers, counted since the host started. */
export interface HostCounters {
  /** Operations that succeeded, by name. */
  readonly ops: ReadonlyMap<string, number>
  /** dict.get calls that found their key, and those that did not. */
  readonly hits: number
  readonly misses: number
  /** Keys the sweep removed after their deadline, and keys evicted past a table's bound. */
  readonly expired: number
  readonly evicted: number
}

export interface HostOptions {
  store?: Store
  clock?: Clock
  /** Who saves (default: a snapshot of the store to the path save() is given; a data file sets
   * itself once open). */
  saver?: Saver
  /** The BAD_ARGUMENT message of save() without a path when the saver has none. */
  noFile?: string
  /** Schedules the timeouts of waiting takes and the expiry sweep (default: real timers; the
   * sweep's are unref'd). A manual clock needs none for the sweep: its advance() runs it. */
  setTimer?: SetTimer
  /** Changes the feed keeps for watchers that resume (`since`) or lag (default 10 000). */
  feedHistory?: number
}

export class Host {
  readonly store: Store
  readonly clock: Clock
  saver: Saver
  readonly #noFile: string
  #log: OpLog | undefined
  // Host seq minus the log's record number: records count from 1 in each log, commits from 1 in
  // the host.
  #logBase = 0
  #seq = 0
  readonly #feed: Feed
  // Successful operations by command id (an array: a Map update per call costs more than a get).
  readonly #ops: number[] = new Array<number>(COMMANDS.size).fill(0)
  #hits = 0
  #misses = 0
  // The fast path's dict.set calls (counters adds them in): a field costs it less than an element
  // of #ops. Its gets need none: each is a hit or a miss.
  #fastSets = 0
  readonly #setTimer: SetTimer
  readonly #takes = new Takes()
  // The waiting takes of callers that pass no Takers of their own.
  readonly #takers = new Takers()
  // The latest time seen: a clock stepping back never makes an expired key live again.
  #now = -Infinity
  readonly #expiry: Expiry
  readonly #since: number
  /** A server serving this host adds its part to db.info (set while it listens). */
  serverStats: (() => ServerStats) | undefined

  constructor(options: HostOptions = {}) {
    this.store = options.store ?? new Store()
    this.clock = options.clock ?? systemClock
    this.#setTimer = options.setTimer ?? systemTimer
    this.#feed = new Feed(options.feedHistory)
    this.saver = options.saver ?? new Snapshotter(this.store, () => this.feedState())
    this.#noFile = options.noFile ?? 'there is no data file: pass save(path)'
    this.#expiry = new Expiry(this, options.setTimer)
    this.#since = this.clock.now()
  }

  /** What this database is doing now, as plain data (info.ts). Not an operation: a metrics
   * scrape reads it too; the db.info op is run by applyLater, or by runInfo. */
  info(): DatabaseInfo {
    return describeHost(this, this.#since)
  }

  /** The db.info op answered now (the synchronous database), counted as applyLater counts it. */
  runInfo(): DatabaseInfo {
    const info = this.info()
    this.#ops[INFO.id] = (this.#ops[INFO.id] ?? 0) + 1
    return info
  }

  /** The time ops run at now: the clock's, or the latest seen when the clock went back. */
  now(): number {
    const now = this.clock.now()
    if (now > this.#now) this.#now = now
    return this.#now
  }

  /** Stops the expiry timer (and a manual clock's subscription); the host still answers. */
  close(): void {
    this.#expiry.close()
  }

  /** Runs the sweep now, in slices, until no expired key is left (a manual clock's advance, and
   * tests). Each slice is one logged dict.expire. */
  sweep(): void {
    this.#expiry.sweepAll()
  }

  /** Tables changed under the host (a snapshot load): look for deadlines to sweep. */
  tablesReplaced(): void {
    this.#expiry.reschedule()
  }

  /** The data file's operation log, when there is one. */
  get log(): OpLog | undefined {
    return this.#log
  }

  /** Writes go to `log` from now on (a data file starting or stopping to log). */
  attach(log: OpLog | undefined): void {
    this.#log = log
    if (log !== undefined) this.#logBase = this.#seq - log.appended
  }

  /** The last commit's sequence number (0: none yet). */
  get seq(): number {
    return this.#seq
  }

  // --- the change feed ---

  /** The oldest seq the feed's history still holds (seq + 1 when it holds none). */
  get oldestSeq(): number {
    return this.#feed.oldest
  }

  /** Watchers reading the feed now (every database and session on this host). */
  get watchers(): number {
    return this.#feed.watchers
  }

  /** The feed's bound, in changes. */
  get feedHistory(): number {
    return this.#feed.capacity
  }

  /** A watcher of the feed from `options.since` (default: the next commit); `wake` hears, a
   * microtask after a commit, that there is more to read. Throws BAD_ARGUMENT, FEED_COMPACTED. */
  watch(options: WatchOptions | undefined, wake: () => void): Watcher {
    return this.#feed.watch(options, wake)
  }

  /** The newest commit history holds that changed one of `tables` (0: none held). */
  lastChangeOf(tables: ReadonlySet<string>): number {
    return this.#feed.lastOf(tables)
  }

  /** The seq and history a snapshot taken now holds. */
  feedState(): FeedState {
    return { seq: this.#seq, history: this.#feed.history() }
  }

  /** Continues from a data file's feed (before the log is attached); open watchers end with
   * FEED_COMPACTED. `skip` seqs are left out after it (see DataFile: a crash may have lost
   * commits watchers saw). The seq never goes back; a host that committed already (a load into
   * a running server) keeps no history: its seqs there named other changes. */
  restoreFeed(state: FeedState, skip = 0): void {
    const fresh = this.#seq === 0
    this.#seq = Math.max(this.#seq, state.seq + skip)
    this.#feed.restore(this.#seq, fresh ? state.history : [])
  }

  /** Takes waiting now for a value, on every list. */
  get waitingTakes(): number {
    return this.#takes.waiting
  }

  get counters(): HostCounters {
    const ops = new Map<string, number>()
    for (const [name, command] of COMMANDS) {
      let n = this.#ops[command.id] ?? 0
      // every dict.get is a hit or a miss: those #ops does not count are the fast path's
      if (command === DICT_GET) n = this.#hits + this.#misses
      else if (command === DICT_SET) n += this.#fastSets
      if (n > 0) ops.set(name, n)
    }
    return { ops, hits: this.#hits, misses: this.#misses, expired: this.#expiry.expired,
      evicted: this.#expiry.evicted }
  }

  /** The command an op names (undefined: unknown, which apply() refuses): callers look it up once
   * and hand it to apply(), which would otherwise look it up again. */
  static command(name: string): RegisteredCommand | undefined {
    return COMMANDS.get(name)
  }

  /** Runs one operation, synchronously; a write gets the next seq. With a log: encode its record,
   * apply it, then append the record (dropped when apply throws). Throws CyberError. Returns
   * stored values as they are. A scan runs on the caller's `cursors` (a session's, a
   * database's). */
  apply(op: Op, cursors?: Cursors, command = COMMANDS.get(op.name)): Applied {
    if (command === undefined || !command.writes) {
      // No deadline anywhere yet: a read needs no time (and no clock read on the hot path).
      const now = this.store.timed ? this.now() : undefined
      const result = this.store.run(op, command, cursors, now)
      this.#count(op, command!, result, now) // run() threw for an unknown op
      return { result, seq: 0 }
    }
    // Until some table has a deadline, no table write's outcome depends on the time: it reads no
    // clock and its record carries none (a logged form that needs the time reads it: #lazyClock).
    // Database ops always have one (a table created with a ttl gives its content deadlines).
    const now = this.store.timed || command.on === 'db' ? this.now() : undefined
    if (command === ATOMIC) {
      const applied = this.#atomic(op, cursors, now)
      if (applied.seq !== 0) for (const [table] of op.args as [string][]) this.#afterWrite(table)
      return applied
    }
    const applied = this.write(op, command, cursors, now)
    this.#afterWrite(op.table)
    return applied
  }

  // --- the synchronous database's fast paths ---
  // dict.get [key] and dict.set [key, string] on a dict table the caller looked up once
  // (store.dictNamed, kept while store.layout is unchanged), without an Op, an args array or the
  // registry's dispatch: what apply() does for them, counted alike. Anything unusual (a key or
  // value the value model must check or copy, a log to write, the memory limit) answers SLOW
  // and the caller takes apply(), which gives the same result or the same error.
  // The change feed sees setIn's writes as it sees #write's.

  /** dict.get of `key` on `table` (`name`'s), or SLOW. The stored value, uncopied. */
  getIn(table: DictTable, key: unknown): unknown {
    if (typeof key !== 'string' && typeof key !== 'number') return SLOW
    // A table without deadlines needs no time (and no clock read): run() would advance it to a
    // time nothing reads (what does read it, ttl and set options, takes apply(), which advances).
    if (table.timed) this.store.advance(table, this.now())
    const value = table.get(key)
    // A key that was found is well-formed (every stored key is); a missing one may not be, and
    // apply() must then refuse it.
    if (value === undefined && typeof key === 'string' && !isFastString(key)) return SLOW
    if (value !== undefined) this.#hits++
    else this.#misses++
    return value
  }

  /** dict.set of `key` to the string `value` on `table` (`name`'s; no log: a logged write takes
   * apply()), or SLOW. Its seq otherwise. */
  setIn(table: DictTable, name: string, key: unknown, value: string): number | typeof SLOW {
    if (this.#log !== undefined || !isFastString(value)) return SLOW
    if (typeof key === 'string' ? !isFastString(key) : typeof key !== 'number' || key === 0) return SLOW
    if (table.timed) this.store.advance(table, this.now())
    if (!this.store.setIn(table, key as Key, value)) return SLOW
    this.#fastSets++
    const seq = ++this.#seq
    this.#feed.publish(seq, { table: name, name: 'dict.set', args: [key, value] })
    this.#expiry.afterWriteTo(table, name)
    if (this.#takes.size !== 0) this.#handOut(name)
    return seq
  }

  // After a write to `table`: it may be past its bound, or have a key with the earliest deadline
  // (expiry); it may have values for waiting takes.
  #afterWrite(table: string): void {
    if (this.store.cached) this.#expiry.afterWrite(table)
    if (this.#takes.size !== 0) this.#handOut(table)
  }

  // The clock a logged form reads when the op has no time yet (an untimed store's set with a
  // ttl): reading it gives the op a time (#timeRead), which it then runs and is logged at.
  #timeRead = false
  readonly #lazyClock: Clock = {
    now: () => {
      this.#timeRead = true
      return this.now()
    },
  }

  // The clock of a write that has its time: one object, set per write (a logged form reads it
  // synchronously, before the next write).
  readonly #fixedClock = { at: 0, now(): number { return this.at } }

  #clockFor(now: number | undefined): Clock {
    if (now === undefined) return this.#lazyClock
    this.#fixedClock.at = now
    return this.#fixedClock
  }

  // The time a write whose logged form was made with #clockFor(now) runs at.
  #timeOf(now: number | undefined): number | undefined {
    if (now !== undefined || !this.#timeRead) return now
    this.#timeRead = false
    return this.#now
  }

  /** Applies and logs one write at `now` (apply's core; the sweep and eviction call it for their
   * own dict.expire and dict.evict); `now` undefined: an untimed store's write, see apply(). */
  write(op: Op, command: RegisteredCommand, cursors: Cursors | undefined, now: number | undefined): Applied {
    if (command.logged === undefined) return this.#write(op, command, cursors, now)
    // A logged form that is the request's own arguments (a set without options) needs no new op.
    const args = command.logged(op.args, this.#clockFor(now))
    const logged = args === op.args ? op : { table: op.table, name: op.name, args }
    return this.#write(logged, command, cursors, this.#timeOf(now))
  }

  // A write in its logged form: with a log, encode its record (with its time, when it has one),
  // apply it, then append the record (dropped when apply throws).
  #write(logged: Op, command: RegisteredCommand, cursors: Cursors | undefined, now: number | undefined): Applied {
    const log = this.#log
    let result: unknown
    if (log === undefined) {
      result = this.store.run(logged, command, cursors, now)
    } else {
      log.check()
      const record = log.encode(logged, now, this.#seq + 1) // valid until the log encodes again: apply never logs
      result = this.store.run(logged, command, cursors, now)
      log.appendEncoded(record)
    }
    this.#ops[command.id] = (this.#ops[command.id] ?? 0) + 1
    const seq = ++this.#seq
    this.#feed.publish(seq, logged)
    return { result, seq }
  }

  // An atomic batch: its checks run before anything is logged, so a failed one neither logs nor
  // takes a seq; then its ops are one write (one record, one seq), checks left out of the record.
  #atomic(op: Op, cursors: Cursors | undefined, now: number | undefined): Applied {
    const failed = failedCheck(this.store, op.args, now)
    if (failed >= 0) {
      this.#ops[ATOMIC.id] = (this.#ops[ATOMIC.id] ?? 0) + 1
      return { result: { ok: false, failed }, seq: 0 }
    }
    const logged = { table: op.table, name: op.name, args: ATOMIC.logged!(op.args, this.#clockFor(now)) }
    now = this.#timeOf(now)
    const { result, seq } = this.#write(logged, ATOMIC, cursors, now)
    return { result: { ok: true, seq, results: (result as { results: unknown[] }).results }, seq }
  }

  /** Runs an operation that answers later (db.save, list.take, take.cancel). Bad arguments, and
   * a take on a missing table or a dict, throw CyberError at once (a session answers them in
   * order, as it does every refusal); the work rejects with one. A take's waiting belongs to
   * `takers` (the caller's: a session, a database), which take.cancel ends. */
  applyLater(op: Op, origin: Origin, takers = this.#takers): Promise<unknown> {
    const command = COMMANDS.get(op.name)
    if (command?.host !== true) throw badArgument(`${op.name} is not run later`)
    if (op.args.length < command.minArgs || op.args.length > command.maxArgs) {
      throw badArgument(`${op.name} takes ${command.minArgs} to ${command.maxArgs} arguments, ` +
        `not ${op.args.length}`)
    }
    const work = op.name === 'db.save' ? this.#save(op.args, origin)
      : op.name === 'db.info' ? Promise.resolve(this.info())
      : op.name === 'db.replicate' ? Promise.resolve(replicaImage(this, op.args, origin === 'local'))
      : op.name === 'list.take' ? this.#take(op, takers)
      : Promise.resolve(takers.cancel(new CyberError('CONNECTION_CLOSED', 'the take was cancelled: ' +
        'its connection is closing')))
    return work.then((value) => {
      this.#ops[command.id] = (this.#ops[command.id] ?? 0) + 1
      return value
    })
  }

  // --- waiting takes ---

  // The first element at once when there is one (or there is no wait); else a place in the
  // list's line until an element comes (#handOut), the wait ends (undefined) or the caller goes.
  #take(op: Op, takers: Takers): Promise<unknown> {
    const wait = takeWait(op.args[0])
    const length = this.store.run({ table: op.table, name: 'list.length', args: [] }, LIST_LENGTH) as number
    if (length > 0) return this.#shift(op.table)
    if (wait === 0) return Promise.resolve(undefined)
    const settle = Promise.withResolvers<unknown>()
    const waiter = new Waiter(op.table, takers, this.#takes, settle)
    this.#takes.add(waiter)
    waiter.cancelTimer = this.#setTimer(() => {
      waiter.leave()
      settle.resolve(undefined)
    }, wait)
    return settle.promise
  }

  // After a write to `table`: while it has elements and takes wait, the first take in line gets
  // the first element. A table that is gone (or no longer a list) ends its takes with the error a
  // take on it now would get.
  #handOut(table: string): void {
    let waiter = this.#takes.first(table)
    if (waiter === undefined) return
    const list = this.store.tables.get(table)
    if (list === undefined || list.type !== 'list') {
      const error = list === undefined
        ? new CyberError('TABLE_NOT_FOUND', `table "${table}" was dropped while a take waited on it`)
        : new CyberError('WRONG_TABLE_TYPE', `table "${table}" is a ${list.type}, not a list`)
      for (; waiter !== undefined; waiter = this.#takes.first(table)) {
        waiter.leave()
        waiter.reject(error)
      }
      return
    }
    for (; waiter !== undefined && list.size > 0; waiter = this.#takes.first(table)) {
      waiter.leave()
      this.#shift(table).then(waiter.resolve, waiter.reject)
    }
  }

  // Removes the first element through a logged list.shift (what the log, replay and a replica
  // see of a take); resolves with it once the shift is durable as the log's policy says. A disk
  // that refuses it puts memory back as the files are, the element still first in the list.
  // Never throws: a log that refuses the write (see OpLog.check) rejects this take alone, and
  // the write that made the element arrive still succeeds.
  #shift(table: string): Promise<unknown> {
    try {
      const shift = { table, name: 'list.shift', args: [] }
      const { result, seq } = this.#write(shift, LIST_SHIFT, undefined, this.now())
      const wait = this.durable(seq, seq)
      return wait === undefined ? Promise.resolve(result) : wait.then(() => result)
    } catch (error) {
      return Promise.reject(error)
    }
  }

  /**
   * Undefined when commits `from`..`to` are durable as the log's policy says (always so without a
   * log, and under everysec and no); else a promise for it, rejected when the disk refused any of
   * them (they were then not applied). Writes what is pending now.
   */
  durable(from: number, to: number): Promise<void> | undefined {
    const log = this.#log
    if (log === undefined) return undefined
    const last = to - this.#logBase
    if (last < 1) return undefined // committed before this log started: its snapshot holds them
    log.flush(last)
    return log.durable(Math.max(1, from - this.#logBase), last)
  }

  #save(args: unknown[], origin: Origin): Promise<SnapshotStats> {
    const [path] = args
    if (path !== undefined && origin === 'remote') {
      throw badArgument('a remote database saves to the server\'s backup file: call save() without a path')
    }
    if (path !== undefined && (typeof path !== 'string' || path === '')) {
      throw badArgument(`a save path is a non-empty string, not ${path === '' ? 'an empty one' : typeof path}`)
    }
    const target = path ?? this.saver.path
    if (target === undefined) throw new CyberError('BAD_ARGUMENT', this.#noFile)
    return this.saver.save(target)
  }

  #count(op: Op, command: RegisteredCommand, result: unknown, now: number | undefined): void {
    this.#ops[command.id] = (this.#ops[command.id] ?? 0) + 1
    if (command !== DICT_GET) return
    // A get with a fallback returns it when the key is missing: ask the table then.
    const found = op.args.length < 2 ? result !== undefined
      : this.store.apply({ table: op.table, name: 'dict.has', args: [op.args[0]] }, undefined, now) === true
    if (found) this.#hits++
    else this.#misses++
  }
}

// A string the fast paths take as it is: well-formed (the value model refuses a lone surrogate)
// and far below the request size limit (a long one takes apply(), whose walk counts it).
const FAST_STRING_CHARS = 1 << 16
function isFastString(value: string): boolean {
  return value.length <= FAST_STRING_CHARS && value.isWellFormed()
}

