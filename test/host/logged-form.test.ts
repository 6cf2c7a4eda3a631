// The deterministic form: a write is applied and logged as its command's `logged` hook resolves
// it with the host's clock, so a replay after a restart gives the tables the original run gave,
// whatever the clock says then. Also the host's commit sequence and counters.

import { afterAll, describe, expect, test } from 'bun:test'
import { copyFileSync } from 'node:fs'
import { EmbeddedTransport } from '../../src/client/embedded.ts'
import { registerTestCommand } from '../../src/engine/commands.ts'
import type { DictTable } from '../../src/engine/dict-table.ts'
import { Host } from '../../src/host/host.ts'
import { tempDir } from '../contract/helpers.ts'

// dict.stamp(key): sets key to the moment it ran. Its request has no time in it; its logged form
// does, so replay must not read the clock again.
const unregister = registerTestCommand('dict.stamp', {
  on: 'dict', writes: true, minArgs: 1, maxArgs: 2,
  logged: (args, clock) => [args[0], clock.now()],
  run: (table: DictTable, args) => table.set(args[0] as string, args[1]),
})
afterAll(unregister)

describe('the logged form of a write', () => {
  test('a command whose logged form differs from its request replays to the same table after a restart', async () => {
    using dir = tempDir()
    const path = dir.file('stamp.cdb')
    const first = await EmbeddedTransport.file({ path, clock: { now: () => 1234 } })
    await first.call({ table: 'd', name: 'db.create', args: ['dict'] })
    await first.call({ table: 'd', name: 'dict.stamp', args: ['at'] })
    expect(await first.call({ table: 'd', name: 'dict.get', args: ['at'] })).toBe(1234)
    // A crash rather than a close: copy the files before the final snapshot, so the copy holds
    // the write only in its log.
    const copy = dir.file('copy.cdb')
    copyFileSync(`${path}.log`, `${copy}.log`)
    await first.close()
    const again = await EmbeddedTransport.file({ path: copy, clock: { now: () => 9999 } })
    try {
      expect(await again.call({ table: 'd', name: 'dict.get', args: ['at'] })).toBe(1234)
    } finally {
      await again.close()
    }
  })
})

describe('Host', () => {
  test('each successful write gets the next seq, from 1; reads and failed writes get 0', () => {
    const host = new Host()
    expect(host.seq).toBe(0)
    expect(host.apply({ table: 'd', name: 'db.create', args: ['dict'] }).seq).toBe(1)
    expect(host.apply({ table: 'd', name: 'dict.get', args: ['x'] })).toEqual({ result: undefined, seq: 0 })
    expect(() => host.apply({ table: 'd', name: 'dict.pop', args: ['x'] })).toThrow()
    expect(host.apply({ table: 'd', name: 'dict.set', args: ['x', 1] }).seq).toBe(2)
    expect(host.seq).toBe(2)
  })

  test('counts operations by name, and get hits and misses', () => {
    const host = new Host()
    host.apply({ table: 'd', name: 'db.create', args: ['dict', { a: 1 }] })
    host.apply({ table: 'd', name: 'dict.get', args: ['a'] })
    host.apply({ table: 'd', name: 'dict.get', args: ['b'] })
    host.apply({ table: 'd', name: 'dict.get', args: ['b', 0] })
    const { ops, hits, misses } = host.counters
    expect({ ops: Object.fromEntries(ops), hits, misses })
      .toEqual({ ops: { 'db.create': 1, 'dict.get': 3 }, hits: 1, misses: 2 })
  })

  test('the clock is the one given, Date.now by default', () => {
    const clock = { now: () => 42 }
    expect(new Host({ clock }).clock).toBe(clock)
    expect(new Host().clock.now()).toBeGreaterThan(0)
  })
})

describe('an atomic batch through the host', () => {
  // A log that keeps what it is given, as commands.test.ts's does.
  function recording(host: Host): unknown[] {
    const records: unknown[] = []
    host.attach({ appended: 0, check() {}, encode: (op: unknown) => structuredClone(op),
      appendEncoded: (record: unknown) => void records.push(record) } as never)
    return records
  }

  test('a commit is one record and one seq: its ops in their logged form, its checks left out', () => {
    const host = new Host({ clock: { now: () => 77 } })
    host.apply({ table: 'd', name: 'db.create', args: ['dict', { a: 1 }] })
    const records = recording(host)
    const batch = [['d', 'dict.check', ['a', 1]], ['d', 'dict.stamp', ['at']], ['d', 'dict.incr', ['a']]]
    expect(host.apply({ table: '', name: 'db.atomic', args: batch }))
      .toEqual({ result: { ok: true, seq: 2, results: [undefined, 2] }, seq: 2 })
    expect(records).toEqual([{ table: '', name: 'db.atomic',
      args: [['d', 'dict.stamp', ['at', 77]], ['d', 'dict.incr', ['a']]] }])
  })

  test('a failed check logs nothing and takes no seq; a failing op logs nothing either', () => {
    const host = new Host()
    host.apply({ table: 'd', name: 'db.create', args: ['dict', { a: 1 }] })
    const records = recording(host)
    expect(host.apply({ table: '', name: 'db.atomic', args: [['d', 'dict.check', ['a', 2]], ['d', 'dict.set', ['a', 3]]] }))
      .toEqual({ result: { ok: false, failed: 0 }, seq: 0 })
    expect(() => host.apply({ table: '', name: 'db.atomic', args: [['d', 'dict.set', ['a', 3]], ['d', 'dict.pop', ['x']]] }))
      .toThrow('not found')
    expect([records, host.seq, host.store.apply({ table: 'd', name: 'dict.get', args: ['a'] })]).toEqual([[], 1, 1])
    expect(Object.fromEntries(host.counters.ops)).toEqual({ 'db.create': 1, 'db.atomic': 1 })
  })
})
