import { describe, expect, test } from 'bun:test'
import { DictTable, REBUILD_MIN_DUE } from '../../src/engine/dict-table.ts'
import type { Key } from '../../src/engine/values.ts'
import { mulberry32 } from '../fixtures/random.ts'
import { expectCode } from '../contract/helpers.ts'

function dictOf(entries: [Key, unknown][]): DictTable {
  const table = new DictTable()
  for (const [key, value] of entries) table.set(key, value)
  return table
}

describe('DictTable', () => {
  test('get tells a stored undefined from a missing key by the fallback', () => {
    const t = dictOf([['u', undefined], ['n', null]])
    expect([t.get('u', 'fb'), t.get('n', 'fb'), t.get('x', 'fb'), t.get('x')]).toEqual([undefined, null, 'fb', undefined])
  })

  test('size follows sets, deletes and clear', () => {
    const t = dictOf([['a', 1], ['b', 2]])
    t.set('a', 3)
    expect(t.size).toBe(2)
    expect([t.delete('a'), t.delete('a'), t.size]).toEqual([true, false, 1])
    t.clear()
    expect(t.size).toBe(0)
  })

  describe('popitem', () => {
    test('popitem keeps taking the newest live entry while keys are deleted and re-added', () => {
      const t = dictOf([['a', 1], ['b', 2], ['c', 3], ['d', 4]])
      expect(t.popitem()).toEqual(['d', 4]) // builds the order index
      t.delete('b')
      t.set('b', 20) // now last
      t.set('a', 10) // update: keeps its place
      t.delete('c')
      expect([t.popitem(), t.popitem()]).toEqual([['b', 20], ['a', 10]])
      expect(t.size).toBe(0)
    })

    test('popitem after clear starts from the entries added since', () => {
      const t = dictOf([['a', 1], ['b', 2]])
      t.popitem()
      t.clear()
      t.set('x', 1)
      t.set('y', 2)
      expect([t.popitem(), t.popitem()]).toEqual([['y', 2], ['x', 1]])
    })

    test('popitem stays right when stale keys pile up past the rebuild threshold', () => {
      const t = dictOf([['keep', 0]])
      t.popitem()
      t.set('keep', 0)
      // Each delete + re-insert leaves a stale key behind; 500 of them force several rebuilds.
      for (let i = 0; i < 500; i++) {
        t.set(`k${i % 7}`, i)
        t.delete(`k${i % 7}`)
        t.set(`k${i % 7}`, i)
      }
      const drained = []
      while (t.size > 0) drained.push(t.popitem())
      expect(drained).toEqual([
        ['k2', 499], ['k1', 498], ['k0', 497], ['k6', 496], ['k5', 495], ['k4', 494], ['k3', 493], ['keep', 0],
      ])
    })

    test('popitem agrees with the last key of a Map over random operations', () => {
      const random = mulberry32(7)
      const t = new DictTable()
      const m = new Map<Key, number>()
      const log: unknown[] = []
      for (let i = 0; i < 20_000; i++) {
        const key = Math.floor(random() * 40)
        const r = random()
        if (r < 0.45) {
          t.set(key, i)
          m.set(key, i)
        } else if (r < 0.7) {
          expect(t.delete(key)).toBe(m.delete(key))
        } else if (m.size > 0) {
          const last = [...m.keys()].at(-1)!
          const want = [last, m.get(last)]
          m.delete(last)
          const got = t.popitem()
          if (log.length < 5 && JSON.stringify(got) !== JSON.stringify(want)) log.push({ i, got, want })
        }
      }
      expect(log).toEqual([])
      expect([...t.entries()]).toEqual([...m.entries()])
    })

    test('the popitem index stays bounded by the live keys through set + delete cycles (8.13)', () => {
      const t = dictOf([['a', 1], ['b', 2], ['c', 3]])
      expect(t.popitem()).toEqual(['c', 3]) // builds the index
      let most = 0
      for (let i = 0; i < 100_000; i++) {
        t.set(`k${i}`, i)
        t.delete(`k${i}`)
        most = Math.max(most, t.orderLength)
      }
      expect(most).toBeLessThanOrEqual(2 * 3 + 64)
      for (let i = 0; i < 10_000; i++) t.set(`m${i}`, i)
      for (let i = 0; i < 10_000; i++) t.delete(`m${i}`)
      expect(t.orderLength).toBeLessThanOrEqual(2 * t.size + 64)
      t.set('z', 26)
      expect([t.popitem(), t.popitem(), t.popitem(), t.size]).toEqual([['z', 26], ['b', 2], ['a', 1], 0])
    })

    test('popitem on an empty dict fails with KEY_NOT_FOUND', async () => {
      await expectCode(() => new DictTable().popitem(), 'KEY_NOT_FOUND')
    })
  })

  describe('update', () => {
    test('update takes a Map, entries or a plain object', () => {
      const t = new DictTable()
      t.update(new Map<Key, number>([[1, 1], ['1', 2]]))
      t.update([[2, 3]])
      t.update({ b: 4, 1: 5 })
      expect([...t.entries()]).toEqual([[1, 1], ['1', 5], [2, 3], ['b', 4]])
    })

    const bad: [string, unknown][] = [
      ['a number', 42],
      ['a string', 'ab'],
      ['null', null],
      ['a pair of one', [['a', 1], ['b']]],
      ['a pair of three', [['a', 1, 2]]],
      ['a pair that is not an array', [{ 0: 'a', 1: 1 }]],
      ['a pair with an object key', [['a', 1], [{}, 2]]],
      ['a Map with a boolean key', new Map<unknown, number>([['a', 1], [true, 2]])],
      ['a Set (its own keys are not its content)', new Set([['a', 1]])],
      ['a Date', new Date(0)],
      ['a Uint8Array', new Uint8Array([1, 2])],
    ]
    for (const [what, source] of bad) {
      test(`update from ${what} fails with BAD_ARGUMENT and changes nothing`, async () => {
        const t = dictOf([['x', 0]])
        await expectCode(() => t.update(source), 'BAD_ARGUMENT')
        expect([...t.entries()]).toEqual([['x', 0]])
      })
    }
  })

  test('setdefault returns the stored value and stores only when missing', () => {
    const t = dictOf([['a', 1]])
    expect([t.setdefault('a', 2), t.setdefault('b', 3), [...t]]).toEqual([1, 3, [['a', 1], ['b', 3]]])
  })

  test('pop with and without a fallback', async () => {
    const t = dictOf([['a', 1]])
    expect(t.pop('x', true, undefined)).toBeUndefined()
    expect(t.pop('x', true, 'fb')).toBe('fb')
    const error = await expectCode(() => t.pop('x', false, undefined), 'KEY_NOT_FOUND')
    expect(error.message).toContain('"x"')
    expect([t.pop('a', false, undefined), t.size]).toEqual([1, 0])
  })

  const incrs: [string, unknown, number | bigint, number | bigint][] = [
    ['a missing key starts from the amount', undefined, 5, 5],
    ['a missing key takes a bigint amount as a bigint', undefined, 5n, 5n],
    ['a number adds a number', 1, -3, -2],
    ['a float adds a float', 0.5, 0.25, 0.75],
    ['a bigint adds a bigint', 10n ** 30n, 1n, 10n ** 30n + 1n],
    ['a bigint adds an integer number as a bigint', 10n, -11, -1n],
  ]
  for (const [what, start, by, result] of incrs) {
    test(`incr: ${what}`, () => {
      const t = new DictTable()
      if (start !== undefined) t.set('n', start)
      expect([t.incr('n', by), t.get('n')]).toEqual([result, result])
    })
  }

  const badIncrs: [string, unknown, number | bigint][] = [
    ['a string value', 'x', 1],
    ['a null value', null, 1],
    ['a stored undefined', undefined, 1],
    ['a number value with a bigint amount', 1, 1n],
    ['a bigint value with a float amount', 1n, 0.5],
  ]
  for (const [what, start, by] of badIncrs) {
    test(`incr on ${what} fails with BAD_ARGUMENT and keeps the value`, async () => {
      const t = dictOf([['n', start]])
      await expectCode(() => t.incr('n', by), 'BAD_ARGUMENT')
      expect([...t]).toEqual([['n', start]])
    })
  }

  test('incr of a number by a bigint says which is which and that they must match (8.16c)', async () => {
    const error = await expectCode(() => dictOf([['n', 1]]).incr('n', 1n), 'BAD_ARGUMENT')
    expect(error.message).toBe('incr of key "n": the stored value is a number and the amount a bigint; they must match')
    const fraction = await expectCode(() => dictOf([['n', 1n]]).incr('n', 0.5), 'BAD_ARGUMENT')
    expect(fraction.message).toBe('incr of key "n": the stored value is a bigint and the amount 0.5 is not an integer; a bigint counter takes bigints or integers')
  })

  for (const [what, start, by] of [
    ['past Number.MAX_VALUE', Number.MAX_VALUE, Number.MAX_VALUE],
    ['below -Number.MAX_VALUE', -Number.MAX_VALUE, -Number.MAX_VALUE],
  ] as const) {
    test(`incr that would overflow ${what} fails with BAD_ARGUMENT and keeps the value (8.16c)`, async () => {
      const t = dictOf([['n', start]])
      const error = await expectCode(() => t.incr('n', by), 'BAD_ARGUMENT')
      expect(error.message).toContain('overflow')
      expect([...t]).toEqual([['n', start]])
    })
  }
})

describe('restore (a snapshot load)', () => {
  const refuse = (why: string) => new Error(why)

  test('builds the dict from flat chunks, in order, a repeated key keeping its last value, counted', () => {
    const restored = DictTable.restore([['a', 1, 'b', { x: [2] }], ['a', 'three']], refuse)
    const built = dictOf([['a', 1], ['b', { x: [2] }], ['a', 'three']])
    expect([[...restored], restored.size, restored.bytes]).toEqual([[...built], 2, built.bytes])
  })

  test('refuses a chunk of odd length and a key that is not a key', () => {
    expect(() => DictTable.restore([['a', 1, 'b']], refuse)).toThrow('odd chunk')
    expect(() => DictTable.restore([[{}, 1]], refuse)).toThrow('bad key')
  })
})

describe('the rebuild (most of a big table due: survivors copied, not the due keys deleted)', () => {
  // Two tables take the same writes; one rebuilds meanwhile (one entry per step, so writes land
  // before, during and after the copy), the other deletes as before. They must look the same
  // at every step, and hold the same keys, deadlines and bytes once both are swept.
  function fill(table: DictTable): void {
    table.advance(0)
    for (let i = 0; i < 30; i++) table.set(i, `v${i}`, i < 20 ? 100 : i < 25 ? 200 : undefined)
    table.advance(100)
  }
  const sweep = (table: DictTable) => {
    let n = 0
    for (let i = 0; i < 1000 && table.dueCount > 0; i++) n += table.removeKeys(table.dueKeys(3))
    return n
  }
  const view = (table: DictTable) => [[...table.entries()], table.size,
    Array.from({ length: 40 }, (_, k) => [table.has(k), table.get(k, 'none'), table.ttl(k)])]

  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    test(`seed ${seed}: every write during and after the copy is kept, ghosts stay invisible`, () => {
      const random = mulberry32(seed)
      const plain = new DictTable()
      const rebuilt = new DictTable()
      fill(plain)
      fill(rebuilt)
      rebuilt.beginRebuild()
      expect(rebuilt.isRebuilding).toBe(true)
      let now = 100
      for (let step = 0; step < 120; step++) {
        const key = Math.floor(random() * 40)
        const pick = random()
        const expiry = random() < 0.5 ? undefined : now + 60
        for (const table of [plain, rebuilt]) {
          if (pick < 0.3) table.set(key, `w${step}`, expiry)
          else if (pick < 0.45) table.delete(key)
          else if (pick < 0.55) table.expireAt(key, now + 30)
          else if (pick < 0.6) table.persist(key)
          else if (pick < 0.65) table.incr(`n${key % 3}`, 1)
          else if (pick < 0.7) table.advance(now + 40)
        }
        if (pick >= 0.65 && pick < 0.7) now += 40
        if (step % 2 === 0) rebuilt.rebuildStep(1)
        expect(view(rebuilt)).toEqual(view(plain))
      }
      expect(rebuilt.isRebuilding).toBe(false)
      expect(sweep(rebuilt)).toBe(sweep(plain))
      expect([...rebuilt.storedKeys()]).toEqual([...plain.storedKeys()])
      expect(rebuilt.deadlineEntries().sort()).toEqual(plain.deadlineEntries().sort())
      expect([rebuilt.bytes, rebuilt.deadlineCount, rebuilt.dueCount])
        .toEqual([plain.bytes, plain.deadlineCount, 0])
    })
  }

  test('the ghosts are swept by name, counted once, and a write that meets one removes it silently', () => {
    const table = new DictTable()
    fill(table)
    table.beginRebuild()
    while (table.rebuildStep(4));
    // Swapped: the due keys 0..19 are outside the table but still due for the sweep.
    expect([table.size, table.dueCount, table.deadlineCount, [...table.storedKeys()].length]).toEqual([10, 20, 25, 10])
    table.set(3, 'back')
    expect(table.delete(4)).toBe(false)
    expect(table.dueCount).toBe(18)
    const named = table.dueKeys(100)
    expect(named).not.toContain(3)
    expect(named).not.toContain(4)
    expect(table.removeKeys(named)).toBe(18)
    expect([table.dueCount, table.get(3), table.size]).toEqual([0, 'back', 11])
    expect(table.removeKeys([5])).toBe(0) // gone already: counted once
  })

  test('only a big table mostly due asks for it; a bounded one never does', () => {
    const big = new DictTable()
    big.advance(0)
    for (let i = 0; i < REBUILD_MIN_DUE; i++) big.set(i, i, 10)
    expect(big.wantsRebuild).toBe(false)
    big.advance(10)
    expect(big.wantsRebuild).toBe(true)
    const bounded = new DictTable({ maxEntries: 10 * REBUILD_MIN_DUE })
    bounded.advance(0)
    for (let i = 0; i < REBUILD_MIN_DUE; i++) bounded.set(i, i, 10)
    bounded.advance(10)
    expect(bounded.wantsRebuild).toBe(false)
    const small = new DictTable()
    small.advance(0)
    for (let i = 0; i < 100; i++) small.set(i, i, 10)
    small.advance(10)
    expect(small.wantsRebuild).toBe(false)
  })
})
