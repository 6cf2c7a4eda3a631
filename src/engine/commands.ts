// The operation registry: every call on a handle is a plain data Op, and this table says, for
// each operation name, which table type it runs on, whether it writes (what the host logs, and
// what replay and the change feed run again), how many arguments it takes, and how it runs.
// Store.apply looks commands up here; the op names are a union type (OpName) derived from the
// table, and each command's result type bounds what the handles' methods may promise.
// Handlers check their arguments: remote ops arrive from untrusted bytes.

import { badArgument } from '../errors.ts'
import { checkDeadline, checkSetOptions, checkTtl, deadlineAfter, resolveSetOptions } from './cache-options.ts'
import { DictTable } from './dict-table.ts'
import { ListTable, type SortOptions } from './list-table.ts'
import type { Cursors } from './cursors.ts'
import { atomicRun, loggedBatch } from './batch.ts'
import * as listing from './listing.ts'
import type { Store } from './store.ts'
import { checkListing } from './value-model.ts'
import { checkKey, describe, type Key } from './values.ts'

/** One operation on one table, as plain data: what crosses the wire and what the log holds. A
 * decoded op's name is any string (Store.apply refuses an unknown one); the client builds
 * `Op<OpName>`. */
export interface Op<N extends string = string> {
  table: string
  name: N
  args: unknown[]
}

export type TableType = 'dict' | 'list'
export type Table = DictTable | ListTable

/** `name` is the op's table name; `cursors` are the caller's own open iterations. */
type Run<T, R> = (table: T, args: unknown[], store: Store, name: string, cursors: Cursors) => R

interface Command<T, R = unknown> {
  readonly on: T extends DictTable ? 'dict' : T extends ListTable ? 'list' : 'db'
  readonly writes: boolean
  readonly minArgs: number
  readonly maxArgs: number
  readonly run: Run<T, R>
  /** A write's deterministic form: the arguments it is applied and logged with, anything that
   * depends on the moment (the clock) resolved into absolute values, so that replaying the log gives
   * the same tables as the original run. The host calls it; without it, the request's own. */
  readonly logged?: (args: unknown[], clock: { now(): number }) => unknown[]
  /** Run by the host, not the engine (it does I/O, and answers later): db.save. */
  readonly host?: true
}

export type AnyCommand = Command<DictTable> | Command<ListTable> | Command<null>

function dict<R>(writes: boolean, minArgs: number, maxArgs: number,
  run: Run<DictTable, R>): Command<DictTable, R> {
  return { on: 'dict', writes, minArgs, maxArgs, run }
}
function list<R>(writes: boolean, minArgs: number, maxArgs: number,
  run: Run<ListTable, R>): Command<ListTable, R> {
  return { on: 'list', writes, minArgs, maxArgs, run }
}
function db<R>(writes: boolean, minArgs: number, maxArgs: number,
  run: Run<null, R>): Command<null, R> {
  return { on: 'db', writes, minArgs, maxArgs, run }
}

// --- argument checks ---

export function checkIndex(value: unknown, what = 'an index'): number {
  if (Number.isSafeInteger(value)) return value as number
  throw badArgument(`${what} must be an integer, not ${describe(value)}`)
}

function optionalIndex(value: unknown): number | undefined {
  return value === undefined ? undefined : checkIndex(value)
}

function checkCount(value: unknown): number {
  const n = checkIndex(value, 'a count')
  if (n < 1) throw badArgument(`a count must be at least 1, not ${n}`)
  return n
}

function checkAmount(value: unknown): number | bigint {
  if ((typeof value === 'number' && Number.isFinite(value)) || typeof value === 'bigint') return value
  throw badArgument(`incr takes a finite number or a bigint, not ${describe(value)}`)
}

function checkSortOptions(value: unknown): SortOptions {
  if (value === undefined || value === null) return {}
  if (typeof value !== 'object') throw badArgument(`sort options must be an object, not ${describe(value)}`)
  const { by, descending } = value as Record<string, unknown>
  if (by !== undefined && typeof by !== 'string') {
    throw badArgument(`sort option "by" must be a field path string, not ${describe(by)}`)
  }
  if (descending !== undefined && typeof descending !== 'boolean') {
    throw badArgument(`sort option "descending" must be a boolean, not ${describe(descending)}`)
  }
  return { by, descending }
}

function checkArray(value: unknown, what: string): unknown[] {
  if (Array.isArray(value)) return value
  throw badArgument(`${what} takes an array, not ${describe(value)}`)
}

function scan(table: DictTable | ListTable, args: unknown[], store: Store, name: string,
  cursors: Cursors): [number, unknown[]] {
  const cursor = checkIndex(args[0], 'a cursor')
  // dict.scan takes { prefix } (checked on every call, used by the first); list.scan has no options.
  const keep = table.type === 'dict' ? listing.scanFilter(args[2]) : undefined
  return cursors.scan(name, table, store.epoch, cursor, checkCount(args[1]), keep)
}

/** dict.setTtl's second argument: { ttl: ms } (a request) or { deadline: ms | null } (logged). */
function expiryArg(value: unknown, now: number): number | null {
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const o = value as Record<string, unknown>
    const names = Object.keys(o)
    if (names.length === 1 && names[0] === 'ttl') return deadlineAfter(now, checkTtl(o.ttl))
    if (names.length === 1 && names[0] === 'deadline') return checkDeadline(o.deadline)
  }
  throw badArgument(`dict.setTtl takes { ttl } or { deadline }, not ${describe(value)}`)
}

function checkKeys(value: unknown, what: string): Key[] {
  const keys = checkArray(value, what)
  for (const key of keys) checkKey(key)
  return keys as Key[]
}

// --- the command table ---

function hostOnly(): never {
  throw badArgument('this operation is run by the host, not the engine')
}

const TABLE = {
  // database
  'db.create': db(true, 1, 4,
    (_, args, store, table) => store.create(table, args[0], args[1], args[2], args[3])),
  'db.drop': db(true, 0, 0, (_, _args, store, table) => store.drop(table)),
  'db.tables': db(false, 0, 0, (_, _args, store) => store.list()),
  'db.save': { on: 'db', writes: false, minArgs: 0, maxArgs: 1, host: true, run: hostOnly } as Command<null, never>,
  // what the database is doing (src/host/info.ts): counters and gauges the host keeps
  'db.info': { on: 'db', writes: false, minArgs: 0, maxArgs: 0, host: true, run: hostOnly } as Command<null, never>,
  'cursor.close': db(false, 1, 1,
    (_, a, _store, _name, cursors) => cursors.close(checkIndex(a[0], 'a cursor'))),

  // dict
  'dict.get': dict(false, 1, 2, (t, a) => t.get(checkKey(a[0]), a[1])),
  // set(k, v, { ttl | keepTtl }): the logged form holds the absolute deadline
  'dict.set': {
    ...dict(true, 2, 3, (t, a) => a.length < 3 ? t.set(checkKey(a[0]), a[1])
      : t.set(checkKey(a[0]), a[1], checkSetOptions(a[2], t.now))),
    // (a wrong arity is left as it is, for run() to refuse)
    logged: (a, clock) => a.length !== 3 ? a : [a[0], a[1], resolveSetOptions(a[2], clock.now())],
  },
  'dict.has': dict(false, 1, 1, (t, a) => t.has(checkKey(a[0]))),
  'dict.delete': dict(true, 1, 1, (t, a) => t.delete(checkKey(a[0]))),
  'dict.size': dict(false, 0, 0, (t) => t.size),
  'dict.keys': dict(false, 0, 1, (t, a) => listing.list(t, a[0], 'dict.keys', (k) => k) as Key[]),
  'dict.values': dict(false, 0, 1, (t, a) => listing.list(t, a[0], 'dict.values', (_, v) => v)),
  'dict.entries': dict(false, 0, 1,
    (t, a) => listing.list(t, a[0], 'dict.entries', (k, v) => [k, v]) as [Key, unknown][]),
  'dict.clear': dict(true, 0, 1, (t, a) => listing.clear(t, a)),
  'dict.update': dict(true, 1, 1, (t, a) => t.update(a[0])),
  'dict.setdefault': dict(true, 2, 2, (t, a) => t.setdefault(checkKey(a[0]), a[1])),
  'dict.pop': dict(true, 1, 2, (t, a) => t.pop(checkKey(a[0]), a.length > 1, a[1])),
  'dict.popitem': dict(true, 0, 0, (t) => t.popitem()),
  'dict.incr': dict(true, 1, 2,
    (t, a) => t.incr(checkKey(a[0]), a.length > 1 ? checkAmount(a[1]) : 1)),
  'dict.scan': dict(false, 2, 3, scan),
  // cache: deadlines (the request's ttl becomes an absolute deadline in the logged form)
  'dict.setTtl': {
    ...dict(true, 2, 2, (t, a) => t.expireAt(checkKey(a[0]), expiryArg(a[1], t.now))),
    logged: (a, clock) => a.length !== 2 ? a : [a[0], resolveSetOptions(a[1], clock.now())],
  },
  'dict.persist': dict(true, 1, 1, (t, a) => t.persist(checkKey(a[0]))),
  'dict.ttl': dict(false, 1, 1, (t, a) => t.ttl(checkKey(a[0]))),
  // the host's removals, logged with their keys so that replay removes exactly those
  'dict.expire': dict(true, 1, 1, (t, a) => t.removeKeys(checkKeys(a[0], 'dict.expire'))),
  'dict.evict': dict(true, 1, 1, (t, a) => t.removeKeys(checkKeys(a[0], 'dict.evict'))),

  // list
  'list.push': list(true, 0, Infinity, (t, a) => t.append(a)),
  'list.extend': list(true, 1, 1, (t, a) => t.append(checkArray(a[0], 'extend'))),
  'list.insert': list(true, 2, 2, (t, a) => t.insert(checkIndex(a[0]), a[1])),
  'list.pop': list(true, 0, 1, (t, a) => t.pop(a.length > 0 ? checkIndex(a[0]) : -1)),
  'list.remove': list(true, 1, 1, (t, a) => t.remove(a[0])),
  'list.at': list(false, 1, 1, (t, a) => t.at(checkIndex(a[0]))),
  'list.set': list(true, 2, 2, (t, a) => t.set(checkIndex(a[0]), a[1])),
  'list.slice': list(false, 0, 2, (t, a) => {
    const items = t.slice(optionalIndex(a[0]), optionalIndex(a[1]))
    checkListing(items, t.bytes, 'list.slice')
    return items
  }),
  'list.indexOf': list(false, 1, 1, (t, a) => t.indexOf(a[0])),
  'list.count': list(false, 1, 1, (t, a) => t.count(a[0])),
  'list.reverse': list(true, 0, 0, (t) => t.reverse()),
  'list.sort': list(true, 0, 1, (t, a) => t.sort(checkSortOptions(a[0]))),
  'list.clear': list(true, 0, 0, (t) => t.clear()),
  'list.length': list(false, 0, 0, (t) => t.size),
  'list.scan': list(false, 2, 2, scan),

  // bulk (issue 11): one operation for many keys
  'dict.getMany': dict(false, 1, 1, (t, a) => listing.getMany(t, a[0])),
  'dict.setMany': {
    ...dict(true, 1, 2, (t, a) => listing.setMany(t, a)),
    logged: (a, clock) => a.length !== 2 ? a : [a[0], resolveSetOptions(a[1], clock.now())],
  },
  'dict.deleteMany': dict(true, 1, 1, (t, a) => listing.deleteMany(t, a[0])),

  // atomic batches (issue 11): checks, then every op or none, as one write (batch.ts)
  'db.atomic': { ...db(true, 0, Infinity, atomicRun), logged: loggedBatch },

  // queues (issue 11.3). take waits in the host (it answers later) and removes through a logged
  // list.shift, so neither the log nor replay ever sees a take; take.cancel ends the caller's
  // waiting takes (a client closing: what they were handed first still reaches it).
  'list.shift': list(true, 0, 0, (t) => t.shift()),
  'list.unshift': list(true, 0, Infinity, (t, a) => t.unshift(a)),
  'list.take': { on: 'list', writes: false, minArgs: 0, maxArgs: 1, host: true, run: hostOnly } as Command<ListTable, never>,
  'take.cancel': { on: 'db', writes: false, minArgs: 0, maxArgs: 0, host: true, run: hostOnly } as Command<null, never>,
} as const satisfies Record<string, AnyCommand>

/** The name of every operation, checked at compile time where the client builds an op. */
export type OpName = keyof typeof TABLE

/** What an operation returns in the engine (before the transport copies it). */
export type OpResult<N extends OpName> = ReturnType<(typeof TABLE)[N]['run']>

/** Every operation by name. A `Map`, so a hostile name like `__proto__` finds nothing. */
/** A command of the registry, numbered: hosts count operations in an array by this `id`. */
export type RegisteredCommand = AnyCommand & { readonly id: number }

// A Map, so a hostile name like `__proto__` finds nothing; mutable only for registerTestCommand.
const REGISTRY = new Map<string, RegisteredCommand>(
  Object.entries(TABLE).map(([name, command], id) => [name, { ...command, id }]))
export const COMMANDS: ReadonlyMap<string, RegisteredCommand> = REGISTRY
let nextId = REGISTRY.size

/** Tests only: adds a command (one whose logged form differs from its request, say) until the
 * returned function removes it. Production code never calls it: the table above is the registry. */
export function registerTestCommand(name: string, command: AnyCommand): () => void {
  if (REGISTRY.has(name)) throw badArgument(`operation ${name} exists already`)
  REGISTRY.set(name, { ...command, id: nextId++ })
  return () => void REGISTRY.delete(name)
}
