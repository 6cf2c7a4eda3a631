// What the transport reads from an op's arguments before it runs (the keys an op names, so the
// optimistic path reads only those; the tables of a batch), and how a Redis reply error becomes
// the CyberError every mode gives. No I/O.

import { CyberError, badArgument } from '../errors.ts'
import { COMMANDS, type Op } from '../engine/commands.ts'
import { isKey, type Key } from '../engine/values.ts'
import { encodeKey } from './keys.ts'

// The dict ops that touch only the keys they name (so a partial table gives the whole answer),
// and where those keys are among their arguments.
const ONE_KEY: ReadonlySet<string> = new Set(['dict.get', 'dict.set', 'dict.has', 'dict.delete', 'dict.setdefault',
  'dict.pop', 'dict.incr', 'dict.setTtl', 'dict.persist', 'dict.ttl'])
const KEY_LIST: ReadonlySet<string> = new Set(['dict.getMany', 'dict.deleteMany'])
const ENTRIES: ReadonlySet<string> = new Set(['dict.setMany', 'dict.update'])

/** The fields an op reads and writes, or undefined: it needs the whole table (or its arguments
 * are odd, and the engine on the whole table gives the error every mode gives). */
export function namedKeys(op: Op): string[] | undefined {
  const first = op.args[0]
  if (ONE_KEY.has(op.name)) return isKey(first) ? [encodeKey(first)] : undefined
  let keys: unknown[] | undefined
  if (KEY_LIST.has(op.name) && Array.isArray(first)) keys = first
  if (ENTRIES.has(op.name)) {
    if (first instanceof Map) keys = [...first.keys()]
    else if (Array.isArray(first)) keys = first.map((pair) => (Array.isArray(pair) ? pair[0] : undefined))
    else if (typeof first === 'object' && first !== null) keys = Object.keys(first)
  }
  if (keys === undefined || keys.length === 0 || keys.length > 10_000 || !keys.every(isKey)) return undefined
  return keys.map((key) => encodeKey(key as Key))
}

export function batchTables(items: unknown[]): string[] {
  const names = new Set<string>()
  for (const item of items) if (Array.isArray(item) && typeof item[0] === 'string') names.add(item[0])
  return [...names]
}

/** A script's 'CDB CODE detail' reply as the engine's own error for `op`; CROSSSLOT as the
 * BAD_ARGUMENT it is; anything else (a dead connection, a cluster that is down) as
 * CONNECTION_CLOSED, the request having failed on the way. */
export function toCyberError(error: unknown, op: Op): unknown {
  if (error instanceof CyberError) return error
  const message = error instanceof Error ? error.message : String(error)
  const cdb = /CDB (\w+) ?(\S*)/.exec(message)
  if (cdb !== null) {
    const [, code, detail] = cdb
    const on = COMMANDS.get(op.name)?.on ?? 'dict'
    if (code === 'TABLE_NOT_FOUND') return new CyberError(code, `table "${op.table}" not found`)
    if (code === 'WRONG_TABLE_TYPE') return new CyberError(code, `table "${op.table}" is a ${detail}, not a ${on}`)
    if (code === 'INDEX_OUT_OF_RANGE') return new CyberError(code, 'pop from an empty list')
    return new CyberError('INTERNAL', message)
  }
  if (/CROSSSLOT/.test(message)) {
    return badArgument('these tables are on different Redis Cluster slots: one operation spans one table')
  }
  return new CyberError('CONNECTION_CLOSED', `redis: ${message}`, { cause: error })
}
