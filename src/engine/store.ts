// The database in memory: named tables and the one entry point, apply(op, cursors), that runs
// every operation by looking it up in the command registry (commands.ts). Pure and synchronous:
// no sockets, no files, no timers. The host (src/host/) is its one caller for the transports and
// puts the operation log around it; the snapshot and log loaders restore tables through
// replaceAll. Open iterations live in each caller's Cursors (cursors.ts), not here.

import { CyberError, badArgument } from '../errors.ts'
import { COMMANDS, type AnyCommand, type Op, type OpName, type Table, type TableType } from './commands.ts'
import { checkDictOptions, checkListOptions } from './cache-options.ts'
import { Cursors } from './cursors.ts'
import { DictTable } from './dict-table.ts'
import { ListTable } from './list-table.ts'
import { describe, type Key } from './values.ts'

export interface TableInfo {
  name: string
  type: TableType
  size: number
}

// The writes that never make the store bigger: they still run at the memory limit, so a full
// store can always be emptied. Every other write is refused there (a new write op is limited
// unless it is listed here).
// db.atomic is listed because each op of a batch passes this check on its own.
const FREES_MEMORY: ReadonlySet<string> = new Set<OpName>(['dict.delete', 'dict.clear', 'dict.pop', 'dict.popitem', 'list.pop',
  'list.shift', 'list.remove', 'list.reverse', 'list.sort', 'list.clear', 'db.drop', 'dict.deleteMany',
  'db.atomic',
  // the host's removals (a full store must still expire and evict) and deadline changes
  'dict.expire', 'dict.evict', 'dict.persist', 'dict.setTtl'])

export class Store {
  readonly tables = new Map<string, Table>()
  /** The cursors of callers that pass none to apply (tests, a Store used on its own). */
  readonly #cursors = new Cursors()
  #epoch = 0
  /** Approximate bytes of every table's keys and values (sizeOf), kept by every write. */
  #bytes = 0
  /** Writes that can grow the store are refused (MEMORY_LIMIT) once `bytes` is at or past this;
   * 0 for no limit. A write that starts below it may end above it by at most one request. */
  maxMemory = 0
  // The latest time an op was run at (never goes back): what expiry is evaluated against.
  #now = -Infinity
  #timed = false
  #cached = false
  #layout = 0

  /** Whether any dict table has (or had) deadlines or a default ttl: until then reads need no
   * time, and the host reads no clock for them (a plain table's get stays as fast as before). */
  get timed(): boolean {
    return this.#timed
  }

  /** Whether any dict table has (or had) cache options or deadlines: until then no write needs the
   * host's look at bounds and deadlines afterwards. */
  get cached(): boolean {
    return this.#cached
  }

  /** The latest `now` an operation was run at (-Infinity: none given yet). */
  get now(): number {
    return this.#now
  }

  get bytes(): number {
    return this.#bytes
  }

  /** Counts snapshot loads (replaceAll): a cursor opened before the last one is expired. */
  get epoch(): number {
    return this.#epoch
  }

  /** Runs one operation; a scan or cursor.close uses the caller's `cursors`. Throws CyberError;
   * returns stored values as they are (callers copy). */
  apply(op: Op, cursors: Cursors = this.#cursors, now?: number): unknown {
    return this.run(op, COMMANDS.get(op.name), cursors, now)
  }

  /** apply() with the op's command already looked up (`COMMANDS.get(op.name)`): the host looks
   * it up once for everything it does with an op. `now` (ms) is the time the op runs at: the
   * host's clock, or a log record's at replay; expiry is evaluated against the latest one given
   * (a time before it changes nothing). The engine never reads a clock itself. */
  run(op: Op, command: AnyCommand | undefined, cursors: Cursors = this.#cursors, now?: number): unknown {
    if (now !== undefined && now > this.#now) this.#now = now
    checkOp(op)
    if (command === undefined) throw badArgument(`unknown operation ${quote(op.name)}`)
    const { args, table: name } = op
    if (args.length < command.minArgs || args.length > command.maxArgs) {
      throw badArgument(`${op.name} takes ${arity(command.minArgs, command.maxArgs)}, not ${args.length}`)
    }
    if (command.writes && this.maxMemory > 0 && this.#bytes >= this.maxMemory && !FREES_MEMORY.has(op.name)) {
      throw new CyberError('MEMORY_LIMIT', `the database is at its memory limit (maxMemory ${this.maxMemory} ` +
        `bytes, about ${this.#bytes} stored): delete data, or raise maxMemory (the Server or connect ` +
        'option, ?maxMemory= in a memory: or file: URL, cyberdb serve --max-memory)')
    }
    if (command.on === 'db') return command.run(null, args, this, name, cursors)
    const table = this.tables.get(name)
    if (table === undefined) throw new CyberError('TABLE_NOT_FOUND', `table "${name}" not found`)
    if (table.type !== command.on) {
      throw new CyberError('WRONG_TABLE_TYPE', `table "${name}" is a ${table.type}, not a ${command.on}`)
    }
    if (table.type === 'dict') table.advance(this.#now)
    if (!command.writes) return command.run(table as never, args, this, name, cursors)
    const before = table.bytes
    let result: unknown
    try {
      result = command.run(table as never, args, this, name, cursors)
    } catch (error) {
      this.#afterRun(table, before)
      throw error
    }
    this.#afterRun(table, before)
    return result
  }

  // A write's bookkeeping, thrown or not (a failed bulk op may have written part of its work).
  #afterRun(table: Table, before: number): void {
    this.#bytes += table.bytes - before
    if (!this.#timed && table.type === 'dict' && table.deadlineCount > 0) this.#timed = this.#cached = true
  }

  // --- the synchronous database's fast paths (the host's getIn/setIn) ---

  /** Counts changes to which tables exist (create, drop, load): a table looked up while it is
   * unchanged is still the store's. */
  get layout(): number {
    return this.#layout
  }

  /** The dict table `name`, or undefined when there is none or it is a list (the caller then
   * takes run(), for its error). */
  dictNamed(name: string): DictTable | undefined {
    const table = this.tables.get(name)
    return table === undefined || table.type !== 'dict' ? undefined : table
  }

  /** Time for a table from dictNamed(), as run() gives it to a dict op at `now`. */
  advance(table: DictTable, now: number | undefined): void {
    if (now !== undefined && now > this.#now) this.#now = now
    table.advance(this.#now)
  }

  /** dict.set [key, value] on a table from dictNamed() (advanced), as run() would do it; false
   * (nothing done) at the memory limit, where run() must refuse it. */
  setIn(table: DictTable, key: Key, value: unknown): boolean {
    if (this.maxMemory > 0 && this.#bytes >= this.maxMemory) return false
    const before = table.bytes
    table.set(key, value)
    this.#bytes += table.bytes - before
    if (!this.#timed && table.deadlineCount > 0) this.#timed = true
    return true
  }

  /** Runs `change` on one of this store's tables outside the command table (an atomic batch
   * taking its ops back), keeping the byte count. */
  change(table: Table, change: () => void): void {
    const before = table.bytes
    try {
      change()
    } finally {
      this.#bytes += table.bytes - before
    }
  }

  /** Whether an operation changes the store: what an operation log must record. */
  static writes(name: string): boolean {
    return COMMANDS.get(name)?.writes ?? false
  }

  // --- tables ---

  /** `options`: a dict's { ttl, maxEntries, maxBytes }, a list's { maxLength } (cache-options.ts). */
  create(name: string, type: unknown, content: unknown, ifNotExists: unknown, options?: unknown): boolean {
    if (name === '') throw badArgument('a table name must not be empty')
    if (type !== 'dict' && type !== 'list') {
      throw badArgument(`a table type is "dict" or "list", not ${quote(type)}`)
    }
    const dictOptions = type === 'dict' ? checkDictOptions(options) : undefined
    const listOptions = type === 'list' ? checkListOptions(options) : undefined
    const existing = this.tables.get(name)
    if (existing !== undefined) {
      if (ifNotExists !== true) throw new CyberError('TABLE_EXISTS', `table "${name}" already exists`)
      if (existing.type !== type) {
        throw new CyberError('WRONG_TABLE_TYPE', `table "${name}" is a ${existing.type}, not a ${type}`)
      }
      return false
    }
    const empty = content === undefined || content === null
    let table: Table
    if (type === 'dict') {
      table = new DictTable(dictOptions)
      table.advance(this.#now)
      if (dictOptions?.ttl !== undefined) this.#timed = true
      if (dictOptions !== undefined) this.#cached = true
      if (!empty) {
        if (typeof content !== 'object') {
          const what = describe(content)
          throw badArgument(`a dict's content is an object, a Map or [key, value] pairs, not ${what}`)
        }
        table.update(content)
      }
    } else if (empty) {
      table = new ListTable(listOptions)
    } else if (Array.isArray(content)) {
      table = ListTable.from(content, listOptions)
    } else {
      const what = describe(content)
      throw badArgument(`a list's content is an array or another iterable, not ${what}`)
    }
    this.tables.set(name, table)
    this.#layout++
    this.#bytes += table.bytes
    return true
  }

  drop(name: string): boolean {
    const table = this.tables.get(name)
    if (table === undefined) return false
    this.tables.delete(name)
    this.#layout++
    this.#bytes -= table.bytes
    return true
  }

  list(): TableInfo[] {
    const out: TableInfo[] = []
    for (const [name, table] of this.tables) {
      if (table.type === 'dict') table.advance(this.#now)
      out.push({ name, type: table.type, size: table.size })
    }
    return out
  }

  /** Replaces every table at once (snapshot load). Every open cursor, of every caller, expires:
   * it would go on over a table that is no longer the store's. */
  replaceAll(tables: Map<string, Table>): void {
    this.tables.clear()
    this.#layout++
    this.#cursors.clear()
    this.#epoch++
    this.#bytes = 0
    for (const [name, table] of tables) {
      this.#bytes += table.bytes
      this.tables.set(name, table)
      if (table.type === 'dict' && (table.deadlineCount > 0 || table.options?.ttl !== undefined)) this.#timed = true
      if (table.type === 'dict' && (table.deadlineCount > 0 || table.options !== undefined)) this.#cached = true
    }
  }
}

/**
 * Checks an op's shape: what a typed caller cannot get wrong but `db.dict(42 as any)`, or a hand-made
 * request, can. The one check every mode runs, with one message: the remote client before sending
 * (so a bad name never reaches the wire), the server before its host sees the op (it then fails
 * alone, on its own request id), and apply() for the embedded modes.
 */
export function checkOp(op: { table: unknown; name: unknown; args: unknown }): asserts op is Op {
  if (typeof op.name !== 'string') {
    throw badArgument(`an operation name must be a string, not ${describe(op.name)}`)
  }
  if (typeof op.table !== 'string') {
    throw badArgument(`a table name must be a string, not ${describe(op.table)}`)
  }
  if (!Array.isArray(op.args)) {
    throw badArgument(`the arguments of ${op.name} must be an array, not ${describe(op.args)}`)
  }
}

/** A value in a message: strings quoted, anything else described (JSON.stringify throws on a
 * bigint, and a message must never fail to build). */
function quote(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : describe(value)
}

function arity(min: number, max: number): string {
  if (max === Infinity) return `at least ${min} argument${min === 1 ? '' : 's'}`
  if (min === max) return `${min} argument${min === 1 ? '' : 's'}`
  return `${min} to ${max} arguments`
}
