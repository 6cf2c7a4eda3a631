// The expiry index and the expiry rules of a dict table, in the engine alone: time is only what
// advance() is given, and nothing is removed until the host sweeps (removeKeys).

import { describe, expect, test } from 'bun:test'
import { KEEP_TTL } from '../../src/engine/cache-options.ts'
import { Deadlines } from '../../src/engine/deadlines.ts'
import { DictTable } from '../../src/engine/dict-table.ts'

describe('Deadlines', () => {
  test('a bucket becomes due as a whole when now reaches its time, and removals keep the count', () => {
    const d = new Deadlines()
    d.set('a', 10)
    d.set('b', 10)
    d.set('c', 20)
    d.advance(9)
    expect([d.dueCount, d.next, d.isExpired('a')]).toEqual([0, 10, false])
    d.advance(10)
    expect([d.dueCount, d.next, d.isExpired('a'), d.isExpired('c')]).toEqual([2, 20, true, false])
    d.delete('a')
    expect([d.dueCount, d.dueKeys(10)]).toEqual([1, ['b']])
    d.set('b', 30) // a new deadline takes it out of the due bucket
    expect([d.dueCount, d.size]).toEqual([0, 2])
  })

  test('time never goes back: an earlier now changes nothing', () => {
    const d = new Deadlines()
    d.set('a', 10)
    d.advance(10)
    d.advance(5)
    expect([d.now, d.isExpired('a'), d.dueCount]).toEqual([10, true, 1])
  })

  test('emptied buckets leave stale heap times that are skipped and compacted', () => {
    const d = new Deadlines()
    for (let i = 0; i < 10_000; i++) d.set('k', 1000 + i) // one key moved 10k times
    expect(d.next).toBeLessThanOrEqual(10_999) // maybe stale, and harmless: a pop that finds no bucket skips
    d.advance(5000)
    // the heap was rebuilt on the way (no time below 10k left), and the key is in its last bucket
    expect([d.dueCount, d.isExpired('k'), d.next >= 10_000, d.get('k')]).toEqual([0, false, true, 10_999])
    d.advance(10_999)
    expect([d.dueCount, d.dueKeys(5)]).toEqual([1, ['k']])
  })

  test('1M keys with one deadline: becoming due is one step, and they leave in bounded slices', () => {
    const table = new DictTable()
    table.advance(0)
    for (let i = 0; i < 1_000_000; i++) table.set(i, i, 100)
    let started = performance.now()
    table.advance(100)
    const dueTook = performance.now() - started
    expect([table.size, table.dueCount, table.has(5)]).toEqual([0, 1_000_000, false])
    const took: number[] = []
    while (table.dueCount > 0 && took.length < 2000) {
      started = performance.now()
      table.removeKeys(table.dueKeys(1024))
      took.push(performance.now() - started)
    }
    expect([table.dueCount, table.deadlineCount, took.length]).toEqual([0, 0, Math.ceil(1_000_000 / 1024)])
    // Generous bounds for a shared machine; the point is O(1) and O(slice), not O(n). (A few
    // slices take longer: the Map of 1M keys rehashes as it shrinks, as any mass delete does.)
    took.sort((a, b) => a - b)
    expect(dueTook).toBeLessThan(5)
    expect(took[took.length >> 1]!).toBeLessThan(5)
  })
})

describe('DictTable expiry, before any sweep', () => {
  function table(): DictTable {
    const t = new DictTable()
    t.advance(0)
    t.set('live', 1)
    t.set('old', 2, 10)
    t.set('later', 3, 100)
    t.advance(10)
    return t
  }

  test('an expired key is invisible to reads, iteration and size while still stored', () => {
    const t = table()
    expect([t.size, t.has('old'), t.get('old', 'fb'), [...t.keys()], [...t.values()], [...t],
      t.ttl('old'), t.dueCount, [...t.storedKeys()]])
      .toEqual([2, false, 'fb', ['live', 'later'], [1, 3], [['live', 1], ['later', 3]], undefined, 1,
        ['live', 'old', 'later']])
  })

  test('writes treat an expired key as missing: incr from 0, setdefault stores, pop misses, delete is false', () => {
    for (const [what, run, expected] of [
      ['incr', (t: DictTable) => t.incr('old', 5), 5],
      ['setdefault', (t: DictTable) => t.setdefault('old', 'new'), 'new'],
      ['pop', (t: DictTable) => t.pop('old', true, 'none'), 'none'],
      ['delete', (t: DictTable) => t.delete('old'), false],
      ['expireAt', (t: DictTable) => t.expireAt('old', 500), false],
      ['persist', (t: DictTable) => t.persist('old'), false],
    ] as const) {
      const t = table()
      expect([what, run(t)]).toEqual([what, expected])
    }
  })

  test('popitem skips expired keys; on only expired keys it fails with KEY_NOT_FOUND', () => {
    const t = new DictTable()
    t.advance(0)
    t.set('a', 1)
    t.set('b', 2, 5)
    t.advance(5)
    expect(t.popitem()).toEqual(['a', 1])
    expect(() => t.popitem()).toThrow('popitem on an empty dict')
  })

  test('a deadline that has come removes the key instead of storing it', () => {
    const t = new DictTable()
    t.advance(50)
    t.set('a', 1)
    t.set('a', 2, 50)
    expect([t.has('a'), [...t.storedKeys()]]).toEqual([false, []])
  })

  test('KEEP_TTL keeps a live key\'s deadline and gives a new key the default', () => {
    const t = new DictTable({ ttl: 100 })
    t.advance(0)
    t.set('a', 1, 30)
    t.set('a', 2, KEEP_TTL)
    t.set('b', 1, KEEP_TTL)
    expect([t.ttl('a'), t.ttl('b')]).toEqual([30, 100])
  })

  test('overflow names the least recently used keys past maxEntries; a get is a use', () => {
    const t = new DictTable({ maxEntries: 2 })
    t.set('a', 1)
    t.set('b', 2)
    t.get('a')
    t.set('c', 3)
    expect(t.overflow()).toEqual(['b'])
  })
})

describe('at the memory limit', () => {
  test('the removals of the sweep and of eviction, and deadline changes, still run', async () => {
    const { Store } = await import('../../src/engine/store.ts')
    const store = new Store()
    store.apply({ table: 'd', name: 'db.create', args: ['dict', { a: 'x'.repeat(100), b: 1 }] }, undefined, 0)
    store.maxMemory = 1
    const run = (name: string, ...args: unknown[]) => store.apply({ table: 'd', name, args }, undefined, 0)
    expect(() => run('dict.set', 'c', 1)).toThrow('memory limit')
    expect([run('dict.setTtl', 'a', { ttl: 5 }), run('dict.persist', 'a'), run('dict.expire', ['a']),
      run('dict.evict', ['b'])]).toEqual([true, true, 1, 1])
  })
})
