// The host's side of cache tables: the sweep on its timer (in slices, each one logged dict.expire),
// eviction as a logged dict.evict, the counters, and replay: a data file recovered with any clock
// gives exactly the tables the run had, expired-but-unswept keys and writes that met them included.

import { describe, expect, test } from 'bun:test'
import type { Op } from '../../src/engine/commands.ts'
import { REBUILD_MIN_DUE, type DictTable } from '../../src/engine/dict-table.ts'
import type { Store } from '../../src/engine/store.ts'
import { manualClock } from '../../src/host/clock.ts'
import { REBUILD_STEP, SLICE_KEYS } from '../../src/host/expiry.ts'
import { Host } from '../../src/host/host.ts'
import { DataFile } from '../../src/persistence/data-file.ts'
import { recoverSync } from '../../src/persistence/log-reader.ts'
import type { OpLog } from '../../src/persistence/op-log.ts'
import { tempDir } from '../contract/helpers.ts'
import { manualTimers } from '../fixtures/timers.ts'

const T0 = 1_000_000

/** A host whose log only records what it is given (op and the time it ran at). */
function recordingHost(options: ConstructorParameters<typeof Host>[0]): { host: Host; records: [Op, number?][] } {
  const records: [Op, number?][] = []
  let pending: [Op, number?] | undefined
  const log = {
    appended: 0,
    check() {},
    encode: (op: Op, now?: number) => (pending = [structuredClone(op), now]),
    appendEncoded: () => void records.push(pending!),
  }
  const host = new Host(options)
  host.attach(log as unknown as OpLog)
  return { host, records }
}

/** Everything a table stores, expired keys and deadlines included. */
function physical(store: Store): unknown {
  return [...store.tables].map(([name, table]) => table.type === 'list' ? [name, table.slice()]
    : [name, [...(table as DictTable).storedKeys()], [...(table as DictTable).storedValues()],
      (table as DictTable).deadlineEntries(), table.options])
}

describe('the sweep', () => {
  test('runs on its timer at the earliest deadline, in slices of SLICE_KEYS keys, each one dict.expire record', () => {
    const timers = manualTimers(T0)
    const { host, records } = recordingHost({ clock: timers, setTimer: timers.setTimer })
    host.apply({ table: 'd', name: 'db.create', args: ['dict'] })
    const n = SLICE_KEYS * 2 + 5
    for (let i = 0; i < n; i++) host.apply({ table: 'd', name: 'dict.set', args: [i, i, { ttl: 50 }] })
    records.length = 0
    timers.advance(49)
    expect(records).toEqual([])
    timers.advance(1) // due: one slice per timer turn until none is left
    expect(records.map(([op, now]) => [op.name, (op.args[0] as unknown[]).length, now]))
      .toEqual([['dict.expire', SLICE_KEYS, T0 + 50], ['dict.expire', SLICE_KEYS, T0 + 50], ['dict.expire', 5, T0 + 50]])
    expect(host.store.tables.get('d')!.size).toBe(0)
    expect([(host.store.tables.get('d') as DictTable).deadlineCount, host.counters.expired]).toEqual([0, n])
  })

  test('a relative ttl is logged as an absolute deadline, and every write record carries its time', () => {
    const clock = manualClock(T0)
    const { host, records } = recordingHost({ clock })
    host.apply({ table: 'd', name: 'db.create', args: ['dict'] })
    host.apply({ table: 'd', name: 'dict.set', args: ['k', 1, { ttl: 10 }] })
    host.apply({ table: 'd', name: 'dict.setTtl', args: ['k', { ttl: 20 }] })
    expect(records.slice(1)).toEqual([
      [{ table: 'd', name: 'dict.set', args: ['k', 1, { deadline: T0 + 10 }] }, T0],
      [{ table: 'd', name: 'dict.setTtl', args: ['k', { deadline: T0 + 20 }] }, T0],
    ])
  })

  test('until a table has a deadline, table writes read no clock and their records carry no time', () => {
    let reads = 0
    const { host, records } = recordingHost({ clock: { now: () => (reads++, T0) } })
    host.apply({ table: 'd', name: 'db.create', args: ['dict'] })
    const afterCreate = reads
    host.apply({ table: 'd', name: 'dict.set', args: ['plain', 1] })
    host.apply({ table: 'd', name: 'dict.get', args: ['plain'] })
    expect(reads).toBe(afterCreate)
    host.apply({ table: 'd', name: 'dict.set', args: ['k', 1, { ttl: 10 }] }) // its logged form needs the time
    host.apply({ table: 'd', name: 'dict.set', args: ['after', 1] }) // the store is timed now
    expect(records.slice(1)).toEqual([
      [{ table: 'd', name: 'dict.set', args: ['plain', 1] }, undefined],
      [{ table: 'd', name: 'dict.set', args: ['k', 1, { deadline: T0 + 10 }] }, T0],
      [{ table: 'd', name: 'dict.set', args: ['after', 1] }, T0],
    ])
  })

  test('a clock that steps back changes nothing: the host runs at the latest time it saw', () => {
    let now = T0
    const host = new Host({ clock: { now: () => now }, setTimer: () => () => {} })
    host.apply({ table: 'd', name: 'db.create', args: ['dict'] })
    host.apply({ table: 'd', name: 'dict.set', args: ['k', 1, { ttl: 10 }] })
    now = T0 + 10
    expect(host.apply({ table: 'd', name: 'dict.has', args: ['k'] }).result).toBe(false)
    now = T0
    expect([host.apply({ table: 'd', name: 'dict.has', args: ['k'] }).result, host.now()]).toEqual([false, T0 + 10])
  })

  test('a manual clock drives the host until it closes', () => {
    const clock = manualClock(T0)
    const host = new Host({ clock })
    host.apply({ table: 'd', name: 'db.create', args: ['dict'] })
    host.apply({ table: 'd', name: 'dict.set', args: ['a', 1, { ttl: 5 }] })
    host.apply({ table: 'd', name: 'dict.set', args: ['b', 1, { ttl: 10 }] })
    clock.advance(5)
    expect(host.counters.expired).toBe(1)
    host.close()
    clock.advance(5)
    const table = host.store.tables.get('d') as DictTable
    expect([host.counters.expired, table.deadlineCount]).toEqual([1, 1])
  })
})

describe('eviction', () => {
  test('a write past maxEntries is followed by one dict.evict record of the least recently used keys', () => {
    const { host, records } = recordingHost({ clock: manualClock(T0) })
    host.apply({ table: 'd', name: 'db.create', args: ['dict', { a: 1, b: 2 }, false, { maxEntries: 2 }] })
    host.apply({ table: 'd', name: 'dict.get', args: ['a'] })
    host.apply({ table: 'd', name: 'dict.update', args: [{ c: 3, e: 4 }] })
    expect(records.slice(1).map(([op]) => [op.name, op.args])).toEqual([
      ['dict.update', [{ c: 3, e: 4 }]], ['dict.evict', [['b', 'a']]],
    ])
    expect(host.counters.evicted).toBe(2)
  })
})

describe('replay', () => {
  for (const [when, shift] of [['far in the future', 10 ** 10], ['in the past', -(10 ** 10)]] as const) {
    test(`a data file recovered with a clock ${when} has exactly the tables of the run`, async () => {
      using dir = tempDir()
      const path = dir.file('replay.cdb')
      let now = T0
      // Timers that never fire: expired keys stay stored, so writes meet them before any sweep.
      const host = new Host({ clock: { now: () => now }, setTimer: () => () => {} })
      const file = await DataFile.open(host, path, { durability: 'always' })
      host.saver = file
      const run = (name: string, ...args: unknown[]) => host.apply({ table: 'd', name, args })
      host.apply({ table: 'd', name: 'db.create', args: ['dict', { a: 1 }, false, { ttl: 100 }] })
      host.apply({ table: 'b', name: 'db.create', args: ['dict', undefined, false, { maxEntries: 2 }] })
      host.apply({ table: 'l', name: 'db.create', args: ['list', [1, 2], false, { maxLength: 3 }] })
      run('dict.set', 'x', 1, { ttl: 5 })
      run('dict.set', 'y', 1, { ttl: 5 })
      run('dict.set', 'z', 'v', { ttl: 5 })
      run('dict.set', 'p', 1)
      now = T0 + 5 // x, y, z expired and not swept
      run('dict.incr', 'x', 7) // from 0, a new key at the end, the default deadline
      run('dict.setdefault', 'y', 'new')
      expect(run('dict.pop', 'z', 'none').result).toBe('none')
      run('dict.setTtl', 'p', { ttl: 1 })
      for (const k of ['q', 'r', 's']) host.apply({ table: 'b', name: 'dict.set', args: [k, k] })
      host.apply({ table: 'l', name: 'list.push', args: [3, 4] })
      now = T0 + 6
      host.sweep()
      run('dict.set', 'late', 1)
      await host.durable(1, host.seq)
      const live = physical(host.store)
      const recovered = recoverSync(path)
      await file.close()
      const store = new (host.store.constructor as typeof Store)()
      store.replaceAll(recovered.tables!)
      expect(physical(store)).toEqual(live)
      // and what a read sees at the restarted clock: deadlines are absolute
      now = T0 + shift
      const seen = store.apply({ table: 'd', name: 'dict.entries', args: [] }, undefined, now)
      expect(seen).toEqual(shift > 0 ? [] : [['a', 1], ['x', 7], ['y', 'new'], ['late', 1]])
    })
  }
})

describe('the sweep of a big table mostly due (the rebuild)', () => {
  test('1M keys with one deadline: survivors copied in bounded steps, no big Map emptied key by key, every key logged once', () => {
    const timers = manualTimers(T0)
    const { host, records } = recordingHost({ clock: timers, setTimer: timers.setTimer })
    host.apply({ table: 'd', name: 'db.create', args: ['dict'] })
    const n = 1_000_000
    const entries: [number, number][] = []
    for (let i = 0; i < n; i++) entries.push([i, i])
    host.apply({ table: 'd', name: 'dict.setMany', args: [entries, { ttl: 50 }] })
    for (let i = 0; i < 5; i++) host.apply({ table: 'd', name: 'dict.set', args: [`keep${i}`, i] })
    records.length = 0
    // A delete from a Map that is emptying is what makes JSC rehash the rest in one go: count
    // deletes on big Maps while the sweep runs, and each step's work, instead of timing turns.
    const original = Map.prototype.delete
    let bigDeletes = 0
    Map.prototype.delete = function (this: Map<unknown, unknown>, key: unknown) {
      if (this.size > 10_000) bigDeletes++
      return original.call(this, key)
    }
    const table = host.store.tables.get('d') as DictTable
    const steps: number[] = []
    const step = table.rebuildStep.bind(table)
    table.rebuildStep = (limit: number) => (steps.push(limit), step(limit))
    try {
      timers.advance(50)
    } finally {
      Map.prototype.delete = original
    }
    expect(bigDeletes).toBe(0)
    expect(steps.length).toBeGreaterThan(0)
    expect(Math.max(...steps)).toBe(REBUILD_STEP)
    expect(records.every(([op]) => op.name === 'dict.expire' && (op.args[0] as unknown[]).length <= SLICE_KEYS))
      .toBe(true)
    const named = records.flatMap(([op]) => op.args[0] as number[])
    expect(named.length).toBe(n)
    expect(new Set(named).size).toBe(n)
    expect([host.counters.expired, table.size, table.dueCount, table.deadlineCount]).toEqual([n, 5, 0, 0])
    expect([...table.entries()]).toEqual([0, 1, 2, 3, 4].map((i) => [`keep${i}`, i]))
  })

  test('writes during the copy and on ghosts, and a snapshot between: the recovered file has exactly the tables of the run', async () => {
    using dir = tempDir()
    const path = dir.file('rebuild.cdb')
    let now = T0
    const host = new Host({ clock: { now: () => now }, setTimer: () => () => {} })
    const file = await DataFile.open(host, path, { durability: 'always' })
    host.saver = file
    const run = (name: string, ...args: unknown[]) => host.apply({ table: 'd', name, args })
    host.apply({ table: 'd', name: 'db.create', args: ['dict'] })
    const n = REBUILD_MIN_DUE + 100
    run('dict.setMany', Array.from({ length: n }, (_, i) => [i, i]), { ttl: 5 })
    for (let i = 0; i < 5; i++) run('dict.set', `keep${i}`, i)
    now = T0 + 5
    const table = host.store.tables.get('d') as DictTable
    table.advance(now)
    expect(table.wantsRebuild).toBe(true)
    // Step by hand, so that writes land at known points of the copy.
    table.beginRebuild()
    table.rebuildStep(n / 2)
    run('dict.set', 0, 'again') // a due key the copy has passed
    run('dict.set', n - 1, 'again') // one it has not reached
    run('dict.set', 'keep1', 'new')
    run('dict.delete', 'keep2')
    while (table.rebuildStep(1000));
    run('dict.set', 5, 'back') // ghosts
    run('dict.delete', 6)
    await file.save()
    host.sweep()
    run('dict.set', 'late', 1)
    await host.durable(1, host.seq)
    expect(host.counters.expired).toBe(n - 4)
    const live = physical(host.store)
    const recovered = recoverSync(path)
    await file.close()
    const store = new (host.store.constructor as typeof Store)()
    store.replaceAll(recovered.tables!)
    expect(physical(store)).toEqual(live)
    expect(store.apply({ table: 'd', name: 'dict.entries', args: [] }, undefined, now)).toEqual([
      ['keep0', 0], ['keep1', 'new'], ['keep3', 3], ['keep4', 4], [0, 'again'], [n - 1, 'again'],
      [5, 'back'], ['late', 1]])
  })
})
