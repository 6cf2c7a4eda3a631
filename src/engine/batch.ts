// An atomic batch (db.atomic): checks, then table ops, all or nothing, as ONE operation: one
// request, one host apply, one log record, one seq. Its args are items [table, op, args]; an item
// named dict.check is a check [key, expected] (deep equality; undefined means absent). The checks
// run first and a failed one applies nothing; an op that throws takes back the ops before it
// (undo.ts) and rethrows. The logged form drops the checks: they held when it was applied.

import { CyberError, badArgument } from '../errors.ts'
import { COMMANDS, type Op, type RegisteredCommand } from './commands.ts'
import type { Cursors } from './cursors.ts'
import type { Store } from './store.ts'
import { Rollback } from './undo.ts'
import { checkKey, deepEqual, describe } from './values.ts'

/** The item name of a check. Not a command: a check means something only inside a batch. */
export const CHECK = 'dict.check'

// Ops a batch cannot hold: scans answer with cursors that outlive the batch.
const NOT_IN_BATCH: ReadonlySet<string> = new Set(['dict.scan', 'list.scan'])

export type AtomicOutcome =
  | { ok: true; results: unknown[] }
  | { ok: false; failed: number }

interface Step extends Op {
  command: RegisteredCommand | undefined // undefined: a check
}

/** Every item checked for shape before anything runs: a bad batch is BAD_ARGUMENT as a whole. */
function parse(args: unknown[]): Step[] {
  const steps: Step[] = []
  for (let i = 0; i < args.length; i++) {
    const item = args[i]
    if (!Array.isArray(item) || item.length !== 3 || typeof item[0] !== 'string' ||
      typeof item[1] !== 'string' || !Array.isArray(item[2])) {
      throw badArgument(`db.atomic item ${i} must be [table, op, args], not ${describe(item)}`)
    }
    const [table, name, opArgs] = item as [string, string, unknown[]]
    if (name === CHECK) {
      if (opArgs.length !== 2) throw badArgument(`a check takes a key and a value, not ${opArgs.length} arguments`)
      steps.push({ table, name, args: opArgs, command: undefined })
      continue
    }
    const command = COMMANDS.get(name)
    if (command === undefined) throw badArgument(`db.atomic: unknown operation ${JSON.stringify(name)}`)
    if (command.on === 'db' || command.host === true || NOT_IN_BATCH.has(name)) {
      throw badArgument(`db.atomic cannot hold ${name}: a batch holds table operations (no database ` +
        'operation, nested batch, scan or operation the host answers later)')
    }
    if (opArgs.length < command.minArgs || opArgs.length > command.maxArgs) {
      throw badArgument(`${name} in db.atomic takes ${command.minArgs} to ${command.maxArgs} arguments, ` +
        `not ${opArgs.length}`)
    }
    steps.push({ table, name, args: opArgs, command })
  }
  return steps
}

/** The index (among the checks, from 0) of the first check that fails; -1 when all hold. A
 * check on a missing table or a list throws, as an op on it would. `now` is the time the batch
 * runs at (a key past its deadline then is absent), by default the store's latest. */
export function failedCheck(store: Store, args: unknown[], now = store.now): number {
  let index = 0
  for (const step of parse(args)) {
    if (step.command !== undefined) continue
    const table = store.tables.get(step.table)
    if (table === undefined) throw new CyberError('TABLE_NOT_FOUND', `table "${step.table}" not found`)
    if (table.type !== 'dict') {
      throw new CyberError('WRONG_TABLE_TYPE', `table "${step.table}" is a ${table.type}, not a dict`)
    }
    table.advance(now)
    const key = checkKey(step.args[0])
    const expected = step.args[1]
    const holds = expected === undefined ? !table.has(key)
      : table.has(key) && deepEqual(table.get(key), expected)
    if (!holds) return index
    index++
  }
  return -1
}

/** The batch as the log holds it: its ops (no checks), each in its own logged form. */
export function loggedBatch(args: unknown[], clock: { now(): number }): unknown[] {
  const items: unknown[] = []
  for (const { table, name, args: opArgs, command } of parse(args)) {
    if (command === undefined) continue
    items.push([table, name, command.logged === undefined ? opArgs : command.logged(opArgs, clock)])
  }
  return items
}

/** db.atomic's run: the checks, then the ops with their undo. */
export function atomicRun(_: null, args: unknown[], store: Store, _name: string,
  cursors: Cursors): AtomicOutcome {
  const failed = failedCheck(store, args)
  if (failed >= 0) return { ok: false, failed }
  const ops = parse(args).filter((step) => step.command !== undefined)
  const results = new Array<unknown>(ops.length)
  const rollback = new Rollback(store)
  try {
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i]!
      // The last op needs no undo: every op fails before it changes anything.
      const table = i < ops.length - 1 && op.command!.writes ? store.tables.get(op.table) : undefined
      if (table !== undefined) rollback.before(table, op.name, op.args)
      results[i] = store.run(op, op.command, cursors)
      rollback.ran(results[i])
    }
  } catch (error) {
    rollback.undo()
    throw error
  }
  return { ok: true, results }
}
