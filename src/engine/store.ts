// The database in memory: named tables and the one entry point, apply(op), that runs every
// operation. Pure and synchronous: no sockets, no files, no timers. Both transports, the snapshot
// loader and (later) the operation log reach the tables only through here.

import { CyberError, badArgument } from '../errors.ts'
import { COMMANDS, type Op, type Table, type TableType } from './commands.ts'
import { DictTable } from './dict-table.ts'
import { ListTable } from './list-table.ts'
import { describe } from './values.ts'

export interface TableInfo {
  name: string
  type: TableType
  size: number
}

interface Cursor {
  table: Table
  iterator: Iterator<unknown>
}

// The writes that never make the store bigger: they still run at the memory limit, so a full
// store can always be emptied. Every other write is refused there (a new write op is limited
// unless it is listed here).
const FREES_MEMORY = new Set(['dict.delete', 'dict.clear', 'dict.pop', 'dict.popitem', 'list.pop',
  'list.remove', 'list.reverse', 'list.sort', 'list.clear', 'db.drop'])

// Open cursors are bounded: a client that starts iterations and never finishes them evicts its
// own oldest cursor rather than growing the server. An evicted cursor answers BAD_ARGUMENT.
const MAX_CURSORS = 4096

export class Store {
  readonly tables = new Map<string, Table>()
  readonly #cursors = new Map<number, Cursor>()
  #nextCursor = 1
  /** Approximate bytes of every table's keys and values (sizeOf), kept by every write. */
  #bytes = 0
  /** Writes that can grow the store are refused (MEMORY_LIMIT) once `bytes` is at or past this;
   * 0 for no limit. A write that starts below it may end above it by at most one request. */
  maxMemory = 0

  get bytes(): number {
    return this.#bytes
  }

  /** Runs one operation. Throws CyberError; returns stored values as they are (callers copy). */
  apply(op: Op): unknown {
    checkOp(op)
    const command = COMMANDS.get(op.name)
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
    if (command.on === 'db') return command.run(null, args, this, name)
    const table = this.tables.get(name)
    if (table === undefined) throw new CyberError('TABLE_NOT_FOUND', `table "${name}" not found`)
    if (table.type !== command.on) {
      throw new CyberError('WRONG_TABLE_TYPE', `table "${name}" is a ${table.type}, not a ${command.on}`)
    }
    if (!command.writes) return command.run(table as never, args, this, name)
    const before = table.bytes
    try {
      return command.run(table as never, args, this, name)
    } finally {
      this.#bytes += table.bytes - before
    }
  }

  /** Whether an operation changes the store: what an operation log must record. */
  static writes(name: string): boolean {
    return COMMANDS.get(name)?.writes ?? false
  }

  // --- tables ---

  create(name: string, type: unknown, content: unknown, ifNotExists: unknown): boolean {
    if (name === '') throw badArgument('a table name must not be empty')
    if (type !== 'dict' && type !== 'list') {
      throw badArgument(`a table type is "dict" or "list", not ${quote(type)}`)
    }
    const existing = this.tables.get(name)
    if (existing !== undefined) {
      if (ifNotExists !== true) throw new CyberError('TABLE_EXISTS', `table "${name}" already exists`)
      if (existing.type !== type) {
        throw new CyberError('WRONG_TABLE_TYPE', `table "${name}" is a ${existing.type}, not a ${type}`)
      }
      return false
    }
    const table = type === 'dict' ? new DictTable() : new ListTable()
    if (content !== undefined && content !== null) {
      if (table instanceof DictTable) {
        if (typeof content !== 'object') {
          const what = describe(content)
          throw badArgument(`a dict's content is an object, a Map or [key, value] pairs, not ${what}`)
        }
        table.update(content)
      } else if (Array.isArray(content)) {
        table.items = content
      } else {
        throw badArgument(`a list's content is an array or another iterable, not ${describe(content)}`)
      }
      table.recount()
    }
    this.tables.set(name, table)
    this.#bytes += table.bytes
    return true
  }

  drop(name: string): boolean {
    const table = this.tables.get(name)
    if (table === undefined) return false
    this.tables.delete(name)
    this.#bytes -= table.bytes
    return true
  }

  list(): TableInfo[] {
    const out: TableInfo[] = []
    for (const [name, table] of this.tables) out.push({ name, type: table.type, size: table.size })
    return out
  }

  /** Replaces every table at once (snapshot load). */
  replaceAll(tables: Map<string, Table>): void {
    this.tables.clear()
    this.#cursors.clear()
    this.#bytes = 0
    for (const [name, table] of tables) {
      table.recount()
      this.#bytes += table.bytes
      this.tables.set(name, table)
    }
  }

  // --- cursors: chunked iteration that survives concurrent writes ---

  /**
   * The next chunk of a table: [cursor for the next call, or 0 when done, items]. Cursor 0 starts
   * an iteration. Map and Array iterators are live, so writes during an iteration behave as they
   * do in a `for...of` over a Map or an Array.
   */
  scan(name: string, table: Table, cursor: number, count: number): [number, unknown[]] {
    let state: Cursor | undefined
    if (cursor === 0) {
      state = { table, iterator: table instanceof DictTable ? table.map.entries() : table.items.values() }
    } else {
      state = this.#cursors.get(cursor)
      this.#cursors.delete(cursor)
      if (state === undefined) throw badArgument(`cursor ${cursor} is unknown or expired`)
      if (state.table !== table) {
        throw new CyberError('TABLE_NOT_FOUND', `table "${name}" was dropped during the iteration`)
      }
    }
    const items: unknown[] = []
    while (items.length < count) {
      const next = state.iterator.next()
      if (next.done) return [0, items]
      items.push(next.value)
    }
    const id = this.#nextCursor++
    this.#cursors.set(id, state)
    if (this.#cursors.size > MAX_CURSORS) this.#cursors.delete(this.#cursors.keys().next().value!)
    return [id, items]
  }

  closeCursor(cursor: number): boolean {
    return this.#cursors.delete(cursor)
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
