// The operation registry against what the log records: every command in COMMANDS is run (none is
// listed here by hand) through a host with a recording log, and whether it is marked as a write
// must match what it does. A write marked as a read would change the tables without a log record
// (lost on restart); a read marked as a write would log records that change nothing.

import { describe, expect, test } from 'bun:test'
import { COMMANDS, type Op } from '../../src/engine/commands.ts'
import { Cursors } from '../../src/engine/cursors.ts'
import { Store } from '../../src/engine/store.ts'
import { Host } from '../../src/host/host.ts'
import { recordingLog } from '../fixtures/recording-log.ts'

// Arguments to try on every command: enough that each one succeeds with some of them and, when it
// writes, changes something with some of them.
const ARGS: unknown[][] = [
  [], ['a'], ['zz'], ['a', 5], ['zz', 5], [0], [1], [3], [0, 9], [1, 2], [0, 2], [[7, 8]],
  [{ x: 1 }], [{ descending: true }], ['dict'], ['list', [1]], [['a', 'b']], [['d', 'dict.set', ['a', 9]]],
  // cache ops: a set with options, a ttl, removals by key
  ['a', 5, { ttl: 10 }], ['a', { ttl: 10 }], [['a']], ['c'],
]
const TABLES = { dict: ['d'], list: ['l'], db: ['d', 'l', 'new'] }

function fresh(): Store {
  const store = new Store()
  store.create('d', 'dict', { a: 1, b: 2, c: [1, 2] }, undefined)
  // A key with a deadline, for the ops that change one (persist)
  store.apply({ table: 'd', name: 'dict.set', args: ['c', [1, 2], { deadline: 1e15 }] })
  store.create('l', 'list', [3, 1, 2, 1], undefined)
  return store
}

/** Every table's contents, copied: what a change must show up in. */
function contents(store: Store): unknown {
  return structuredClone([...store.tables].map(([name, table]) => [name, table.type, [...table],
    table.type === 'dict' ? table.deadlineEntries() : []]))
}

/** A host whose log only records what it is given. */
function recording(store: Store): { host: Host; records: Op[] } {
  const { log, records } = recordingLog()
  const host = new Host({ store })
  host.attach(log)
  return { host, records }
}

describe('the operation registry', () => {
  test('COMMANDS is not empty, and has reads and writes', () => {
    const marks = new Set([...COMMANDS.values()].map((command) => command.writes))
    expect([COMMANDS.size > 20, [...marks].sort()]).toEqual([true, [false, true]])
  })

  test('every command logs a record exactly when it is a write, and only writes change tables', () => {
    const seen: unknown[] = []
    const expected: unknown[] = []
    for (const [name, command] of COMMANDS) {
      // Host-run ops (db.save) do I/O through Host.applyLater and change no table: tested with
      // the host (test/host/logged-form.test.ts) and the server, not here.
      if (command.host === true) continue
      let ran = 0
      let changed = false
      let unlogged = 0 // runs that changed the tables with no record logged
      let logged = 0 // runs that logged a record
      for (const table of TABLES[command.on]) {
        for (const args of ARGS) {
          const store = fresh()
          const { host, records } = recording(store)
          const before = contents(store)
          try {
            host.apply({ table, name, args: structuredClone(args) }, new Cursors())
          } catch {
            continue
          }
          ran++
          const differs = !Bun.deepEquals(contents(store), before)
          if (differs) changed = true
          if (differs && records.length === 0) unlogged++
          if (records.length > 0) logged++
        }
      }
      seen.push({ name, ran: ran > 0, changed, unlogged, logged: logged === ran })
      expected.push({ name, ran: true, changed: command.writes, unlogged: 0, logged: command.writes })
    }
    expect(seen).toEqual(expected)
  })
})
