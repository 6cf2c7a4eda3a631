// The change feed (issue 12): the host's history of its last commits, each in its deterministic
// form (the op as the log holds it) expanded into changes, and the watchers reading it. A watcher
// is a position in that history plus a filter, not a buffer of its own: a commit costs the writer
// one push here and a wake-up of the watchers whose tables it touched, never a copy per watcher,
// and a watcher that stops reading holds nothing but its position. When history drops a commit a
// watcher has not read, its next read throws FEED_COMPACTED (the error carries the oldest held seq).
// Writers never wait on watchers: delivery is a microtask after the commit (after the log's own
// write of the tick, queued first), so no watcher outside this process sees a change that is not
// in the OS yet.

import { CyberError, badArgument } from '../errors.ts'
import { COMMANDS, type Op } from '../engine/commands.ts'
import { describe, type Key } from '../engine/values.ts'
import type { SavedCommit } from '../persistence/snapshot.ts'

/** One change of a commit: `key` for an op on one dict key (an op on several keys is one change
 * per key, with the same seq and op name and its args narrowed to that key). */
export interface Change {
  readonly seq: number
  readonly table: string
  readonly op: string
  readonly key?: Key
  readonly args: unknown[]
}

export interface WatchOptions {
  /** Only changes of these tables (default: every table). */
  tables?: string[]
  /** Only changes of dict keys starting with this; changes without a key (a clear, a drop, a
   * list op) of a watched table are delivered too: they may touch such keys. */
  prefix?: string
  /** Every change after this seq first (from history), then live; default: from the next commit. */
  since?: number
}

/** One commit in history: its seq, its logged op (what a snapshot saves), how many changes it
 * makes, and those changes once a watcher has read them (made then: a write with no watcher
 * reading pays for none). */
interface Commit {
  readonly seq: number
  readonly op: Op
  readonly count: number
  changes?: Change[]
}


/** Default history: the last 10 000 changes (about 100 bytes each plus their values). */
export const DEFAULT_FEED_HISTORY = 10_000

// Ops on one dict key: args[0] is the key.
const ONE_KEY = new Set(['dict.set', 'dict.delete', 'dict.setdefault', 'dict.pop', 'dict.incr',
  'dict.setTtl', 'dict.persist'])
// Ops on a list of keys (args[0]): one change per key.
const KEY_LIST = new Set(['dict.expire', 'dict.evict', 'dict.deleteMany'])
// Ops on entries (args[0]: a Map, [key, value] pairs or a plain object): one change per key.
const ENTRIES = new Set(['dict.setMany', 'dict.update'])

/** Appends the changes of one logged op at `seq` to `out` (an atomic batch: each of its writes). */
export function changesOf(seq: number, op: Op, out: Change[]): void {
  const { table, name, args } = op
  if (name === 'db.atomic') {
    for (const [t, n, a] of args as [string, string, unknown[]][]) {
      if (COMMANDS.get(n)?.writes === true) changesOf(seq, { table: t, name: n, args: a }, out)
    }
  } else if (ONE_KEY.has(name)) {
    out.push({ seq, table, op: name, key: args[0] as Key, args })
  } else if (KEY_LIST.has(name) && Array.isArray(args[0])) {
    for (const key of args[0] as Key[]) out.push({ seq, table, op: name, key, args: [[key]] })
  } else if (ENTRIES.has(name)) {
    const rest = args.slice(1)
    for (const [key, value] of entriesOf(args[0])) {
      out.push({ seq, table, op: name, key, args: [[[key, value]], ...rest] })
    }
  } else {
    out.push({ seq, table, op: name, args })
  }
}

/** How many changes changesOf() makes of `op`, without making them. */
export function changeCount(op: Op): number {
  const { name, args } = op
  if (name === 'db.atomic') {
    let n = 0
    for (const [t, n2, a] of args as [string, string, unknown[]][]) {
      if (COMMANDS.get(n2)?.writes === true) n += changeCount({ table: t, name: n2, args: a })
    }
    return n
  }
  if (ONE_KEY.has(name)) return 1
  if (KEY_LIST.has(name) && Array.isArray(args[0])) return args[0].length
  if (ENTRIES.has(name)) {
    const source = args[0]
    if (source instanceof Map) return source.size
    if (Array.isArray(source)) return source.length
    return isPlainObject(source) ? Object.keys(source).length : 0
  }
  return 1
}

function changesOfCommit(commit: Commit): Change[] {
  if (commit.changes === undefined) {
    const changes: Change[] = []
    changesOf(commit.seq, commit.op, changes)
    commit.changes = changes
  }
  return commit.changes
}

function entriesOf(source: unknown): Iterable<[Key, unknown]> {
  if (source instanceof Map) return source as Map<Key, unknown>
  if (Array.isArray(source)) return source as [Key, unknown][]
  return isPlainObject(source) ? Object.entries(source) : []
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

/** The history and its watchers: the Host owns one. */
export class Feed {
  readonly capacity: number
  // Commits oldest first from #head (a deque on an array: shifting one by one would be O(n)).
  #commits: Commit[] = []
  #head = 0
  #held = 0 // changes held, over the commits from #head
  // Every commit after #floor is held: a watcher at or past it can read on.
  #floor = 0
  #seq = 0
  readonly #watchers = new Set<Watcher>()
  #waking = false
  readonly #wake = () => {
    this.#waking = false
    for (const watcher of this.#watchers) watcher.wake()
  }

  constructor(capacity = DEFAULT_FEED_HISTORY) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) {
      throw badArgument(`feedHistory is a whole number of changes, 1 or more, not ${describe(capacity)}`)
    }
    this.capacity = capacity
  }

  /** The last commit's seq. */
  get seq(): number {
    return this.#seq
  }

  /** The oldest seq history still holds (seq + 1 when it holds none: the next commit). */
  get oldest(): number {
    return this.#head < this.#commits.length ? this.#commits[this.#head]!.seq : this.#floor + 1
  }

  /** Watchers open now (a server's, an embedded database's). */
  get watchers(): number {
    return this.#watchers.size
  }

  /** Records commit `seq` (the host's next) of logged op `op`. */
  publish(seq: number, op: Op): void {
    this.#seq = seq
    this.#push(seq, op)
    if (this.#watchers.size !== 0 && !this.#waking) {
      this.#waking = true
      queueMicrotask(this.#wake)
    }
  }

  /** After a load: the host continues from `seq` with `history` (oldest first, whole commits);
   * watchers open across it end with FEED_COMPACTED (their tables changed without changes). */
  restore(seq: number, history: readonly SavedCommit[]): void {
    this.#commits = []
    this.#head = 0
    this.#held = 0
    this.#floor = seq
    // A commit has a change or more (nearly always): the last `capacity` commits are all that can
    // stay, and a long log's replay need not expand the rest.
    for (let i = Math.max(0, history.length - this.capacity); i < history.length; i++) {
      const [at, table, name, args] = history[i]!
      if (this.#commits.length === 0) this.#floor = at - 1
      this.#push(at, { table, name, args })
    }
    this.#seq = seq
    for (const watcher of this.#watchers) watcher.compact()
  }

  /** The newest seq history holds a change of one of `tables` at (0: history holds none). */
  lastOf(tables: ReadonlySet<string>): number {
    for (let i = this.#commits.length - 1; i >= this.#head; i--) {
      const commit = this.#commits[i]!
      if (touches(commit.op, tables)) return commit.seq
    }
    return 0
  }

  /** The commits history holds, oldest first, as a snapshot saves them. */
  history(): SavedCommit[] {
    const out: SavedCommit[] = []
    for (let i = this.#head; i < this.#commits.length; i++) {
      const { seq, op } = this.#commits[i]!
      out.push([seq, op.table, op.name, op.args])
    }
    return out
  }

  #push(seq: number, op: Op): void {
    const count = changeCount(op)
    this.#commits.push({ seq, op, count })
    this.#held += count
    // Whole commits leave from the front, the newest always stays (a batch larger than history
    // is still delivered whole).
    while (this.#held > this.capacity && this.#commits.length - this.#head > 1) {
      const dropped = this.#commits[this.#head++]!
      this.#held -= dropped.count
      this.#floor = dropped.seq
    }
    if (this.#head > 1024 && this.#head * 2 > this.#commits.length) {
      this.#commits = this.#commits.slice(this.#head)
      this.#head = 0
    }
  }

  /** A watcher from `options.since` (default: now); BAD_ARGUMENT on bad options, FEED_COMPACTED
   * when history no longer reaches `since`. `wake` hears of new changes (a microtask later). */
  watch(options: WatchOptions | undefined, wake: () => void): Watcher {
    const filter = checkWatch(options)
    const since = options?.since ?? this.#seq
    if (since > this.#seq) {
      throw badArgument(`since ${since} is past the latest seq (${this.#seq})`)
    }
    if (since < this.#floor) throw feedCompacted(since, this.oldest)
    const watcher = new Watcher(this, this.#watchers, filter, since, wake)
    this.#watchers.add(watcher)
    return watcher
  }

  /** Whole commits after `after` that match `filter`, up to about `max` changes (a commit is never
   * split); sets `out.last` to the last seq looked at. Throws FEED_COMPACTED past history. */
  read(after: number, filter: Filter, max: number, out: Change[]): number {
    if (after < this.#floor) throw feedCompacted(after, this.oldest)
    const commits = this.#commits
    // The first commit past `after`: binary search (seqs increase).
    let lo = this.#head
    let hi = commits.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (commits[mid]!.seq <= after) lo = mid + 1
      else hi = mid
    }
    let last = after
    for (let i = lo; i < commits.length && out.length < max; i++) {
      const commit = commits[i]!
      for (const change of changesOfCommit(commit)) if (filter(change)) out.push(change)
      last = commit.seq
    }
    return last
  }
}

// Whether a logged op changes one of `tables` (without expanding it into changes).
function touches(op: Op, tables: ReadonlySet<string>): boolean {
  if (op.name !== 'db.atomic') return tables.has(op.table)
  return (op.args as [string, string][]).some(([table, name]) => tables.has(table) && COMMANDS.get(name)?.writes === true)
}

export type Filter = (change: Change) => boolean

/** A position in history and a filter; the embedded iterator and a server session read it. */
export class Watcher {
  readonly #feed: Feed
  readonly #set: Set<Watcher>
  readonly filter: Filter
  /** The last seq this watcher has read past. */
  position: number
  #wake: () => void
  #compacted = false

  constructor(feed: Feed, set: Set<Watcher>, filter: Filter, since: number, wake: () => void) {
    this.#feed = feed
    this.#set = set
    this.filter = filter
    this.position = since
    this.#wake = wake
  }

  get isClosed(): boolean {
    return !this.#set.has(this)
  }

  /** Reads on: up to about `max` changes (whole commits), [] when none are new. Throws
   * FEED_COMPACTED when history dropped commits it had not read (and then is closed). */
  read(max = 1024): Change[] {
    const out: Change[] = []
    try {
      if (this.#compacted) throw feedCompacted(this.position, this.#feed.oldest)
      this.position = this.#feed.read(this.position, this.filter, max, out)
    } catch (error) {
      this.close()
      throw error
    }
    return out
  }

  /** Whether a read now would return something (or throw). */
  get hasMore(): boolean {
    return this.#compacted || this.position < this.#feed.seq
  }

  wake(): void {
    this.#wake()
  }

  compact(): void {
    this.#compacted = true
    this.#wake()
  }

  /** Stops watching: the host holds nothing of it any more. */
  close(): void {
    this.#set.delete(this)
  }
}

export function feedCompacted(since: number, oldest: number): CyberError {
  return new CyberError('FEED_COMPACTED', `the change feed no longer holds the changes after ` +
    `seq ${since}: the oldest it holds is ${oldest} (reload, then watch from there)`, { oldest })
}

/** Watch options checked (BAD_ARGUMENT), as the filter they select. */
export function checkWatch(options: WatchOptions | undefined): Filter {
  if (options === undefined) return () => true
  if (!isPlainObject(options)) throw badArgument(`watch options are an object, not ${describe(options)}`)
  for (const name of Object.keys(options)) {
    if (name !== 'tables' && name !== 'prefix' && name !== 'since') {
      throw badArgument(`watch takes { tables, prefix, since }, not "${name}"`)
    }
  }
  const { tables, prefix, since } = options as Record<string, unknown>
  if (tables !== undefined && (!Array.isArray(tables) || !tables.every((t) => typeof t === 'string'))) {
    throw badArgument(`watch's tables are an array of table names, not ${describe(tables)}`)
  }
  if (prefix !== undefined && typeof prefix !== 'string') {
    throw badArgument(`watch's prefix is a string, not ${describe(prefix)}`)
  }
  if (since !== undefined && (!Number.isSafeInteger(since) || (since as number) < 0)) {
    throw badArgument(`watch's since is a seq (a whole number, 0 or more), not ${describe(since)}`)
  }
  const names = tables === undefined ? undefined : new Set(tables as string[])
  if (names === undefined && prefix === undefined) return () => true
  return (change) => (names === undefined || names.has(change.table)) && (prefix === undefined ||
    change.key === undefined || (typeof change.key === 'string' && change.key.startsWith(prefix)))
}
