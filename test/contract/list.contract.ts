// The list half of the table-behaviour contract: every ListHandle method with its exact semantics.
// Public API only, fresh uniquely named tables, so it runs unchanged against any transport.

import { describe, expect, test } from 'bun:test'
import type { Database, ListHandle } from '../../src/index.ts'
import type { Open } from './dict.contract.ts'
import { expectCode, uniqueName } from './helpers.ts'

export async function newList<V = unknown>(db: Database, content?: V[]): Promise<ListHandle<V>> {
  const name = uniqueName('list')
  expect(await db.createList(name, content)).toBe(true)
  return db.list<V>(name)
}

export function listContract(open: Open): void {
  describe('list', () => {
    test('push appends values and returns the new length', async () => {
      await using db = await open()
      const l = await newList(db)
      expect(await l.push('a')).toBe(1)
      expect(await l.push('b', 'c', { d: 1 })).toBe(4)
      expect(await l.push()).toBe(4)
      expect(await l.toArray()).toEqual(['a', 'b', 'c', { d: 1 }])
    })

    test('extend appends an array, a Set or a generator and returns the new length', async () => {
      await using db = await open()
      const l = await newList<number>(db, [0])
      expect(await l.extend([1, 2])).toBe(3)
      expect(await l.extend(new Set([3, 4]))).toBe(5)
      expect(await l.extend((function* () {
        yield 5
        yield 6
      })())).toBe(7)
      expect(await l.extend([])).toBe(7)
      expect(await l.toArray()).toEqual([0, 1, 2, 3, 4, 5, 6])
    })

    test('extend with more values than a chunk appends them all in order', async () => {
      await using db = await open()
      const l = await newList<number>(db)
      const values = Array.from({ length: 5000 }, (_, i) => i)
      expect(await l.extend(values)).toBe(5000)
      expect(await l.toArray()).toEqual(values)
    })

    const inserts: [string, number, string[]][] = [
      ['at 0 (the front)', 0, ['X', 'a', 'b', 'c']],
      ['in the middle', 1, ['a', 'X', 'b', 'c']],
      ['at the length (the end)', 3, ['a', 'b', 'c', 'X']],
      ['past the end, clamping to the end', 100, ['a', 'b', 'c', 'X']],
      ['at -1, before the last value', -1, ['a', 'b', 'X', 'c']],
      ['at -3, the front', -3, ['X', 'a', 'b', 'c']],
      ['past the front, clamping to the front', -100, ['X', 'a', 'b', 'c']],
    ]
    for (const [where, index, expected] of inserts) {
      test(`list.insert ${where}`, async () => {
        await using db = await open()
        const l = await newList(db, ['a', 'b', 'c'])
        expect(await l.insert(index, 'X')).toBeUndefined()
        expect(await l.toArray()).toEqual(expected)
      })
    }

    test('list.insert into an empty list at any index gives a one-value list', async () => {
      await using db = await open()
      for (const index of [-5, 0, 5]) {
        const l = await newList(db)
        await l.insert(index, index)
        expect(await l.toArray()).toEqual([index])
      }
    })

    describe('pop', () => {
      const pops: [string, number | undefined, string, string[]][] = [
        ['with no index takes the last value', undefined, 'd', ['a', 'b', 'c']],
        ['at -1 takes the last value', -1, 'd', ['a', 'b', 'c']],
        ['at 0 takes the first value', 0, 'a', ['b', 'c', 'd']],
        ['at 2 takes that value', 2, 'c', ['a', 'b', 'd']],
        ['at -4 takes the first value', -4, 'a', ['b', 'c', 'd']],
      ]
      for (const [what, index, value, rest] of pops) {
        test(`list.pop ${what}`, async () => {
          await using db = await open()
          const l = await newList(db, ['a', 'b', 'c', 'd'])
          expect(await l.pop(index)).toBe(value)
          expect(await l.toArray()).toEqual(rest)
        })
      }

      test('list.pop on an empty list fails with INDEX_OUT_OF_RANGE', async () => {
        await using db = await open()
        const l = await newList(db)
        await expectCode(l.pop(), 'INDEX_OUT_OF_RANGE')
        await expectCode(l.pop(0), 'INDEX_OUT_OF_RANGE')
      })

      test('list.pop past either end fails with INDEX_OUT_OF_RANGE and removes nothing', async () => {
        await using db = await open()
        const l = await newList(db, [1, 2])
        await expectCode(l.pop(2), 'INDEX_OUT_OF_RANGE')
        await expectCode(l.pop(-3), 'INDEX_OUT_OF_RANGE')
        expect(await l.toArray()).toEqual([1, 2])
      })
    })

    describe('remove', () => {
      test('list.remove deletes only the first deep-equal value', async () => {
        await using db = await open()
        const l = await newList<unknown>(db, [1, { a: [1] }, 2, { a: [1] }, 'x'])
        await l.remove({ a: [1] })
        expect(await l.toArray()).toEqual([1, 2, { a: [1] }, 'x'])
        await l.remove('x')
        expect(await l.toArray()).toEqual([1, 2, { a: [1] }])
      })

      test('list.remove of an absent value fails with VALUE_NOT_FOUND and changes nothing', async () => {
        await using db = await open()
        const l = await newList<unknown>(db, [1, { a: 1 }])
        await expectCode(l.remove({ a: 2 }), 'VALUE_NOT_FOUND')
        await expectCode(l.remove('1'), 'VALUE_NOT_FOUND')
        await expectCode(l.remove({ a: 1, b: undefined }), 'VALUE_NOT_FOUND')
        expect(await l.toArray()).toEqual([1, { a: 1 }])
      })
    })

    test('list.at counts negative indexes from the end and is undefined out of range', async () => {
      await using db = await open()
      const l = await newList(db, ['a', 'b', 'c'])
      const indexes = [0, 2, -1, -3, 3, -4, 1000]
      const got = []
      for (const i of indexes) got.push(await l.at(i))
      expect(got).toEqual(['a', 'c', 'c', 'a', undefined, undefined, undefined])
    })

    describe('set', () => {
      test('list.set replaces a value, counting negative indexes from the end', async () => {
        await using db = await open()
        const l = await newList(db, ['a', 'b', 'c'])
        await l.set(0, 'A')
        await l.set(-1, 'C')
        await l.set(1, 'B')
        expect(await l.toArray()).toEqual(['A', 'B', 'C'])
      })

      test('list.set past either end fails with INDEX_OUT_OF_RANGE and changes nothing', async () => {
        await using db = await open()
        const l = await newList(db, ['a', 'b'])
        await expectCode(l.set(2, 'x'), 'INDEX_OUT_OF_RANGE')
        await expectCode(l.set(-3, 'x'), 'INDEX_OUT_OF_RANGE')
        expect(await l.toArray()).toEqual(['a', 'b'])
        const empty = await newList(db)
        await expectCode(empty.set(0, 'x'), 'INDEX_OUT_OF_RANGE')
      })
    })

    const slices: [string, [number?, number?], number[]][] = [
      ['with no bounds copies the whole list', [], [0, 1, 2, 3, 4]],
      ['from a start', [2], [2, 3, 4]],
      ['from a negative start', [-2], [3, 4]],
      ['between two bounds', [1, 3], [1, 2]],
      ['to a negative end', [1, -1], [1, 2, 3]],
      ['with only an end', [undefined, 2], [0, 1]],
      ['with a start after the end is empty', [4, 1], []],
      ['past the end is empty', [10], []],
      ['with bounds past both ends clamps them', [-100, 100], [0, 1, 2, 3, 4]],
    ]
    for (const [what, [start, end], expected] of slices) {
      test(`list.slice ${what}`, async () => {
        await using db = await open()
        const l = await newList(db, [0, 1, 2, 3, 4])
        expect(await l.slice(start, end)).toEqual(expected)
      })
    }

    test('list.indexOf and list.count compare deeply, NaN included', async () => {
      await using db = await open()
      const values = [1, { a: [1, { b: 2 }] }, Number.NaN, 'x', { a: [1, { b: 2 }] }, Number.NaN, [1, 2], 1]
      const l = await newList<unknown>(db, values)
      const probes: [unknown, number, number][] = [
        [1, 0, 2],
        [{ a: [1, { b: 2 }] }, 1, 2],
        [Number.NaN, 2, 2],
        ['x', 3, 1],
        [[1, 2], 6, 1],
        ['1', -1, 0],
        [{ a: [1, { b: 3 }] }, -1, 0],
        [[2, 1], -1, 0],
        [null, -1, 0],
      ]
      const got = []
      for (const [value] of probes) got.push([value, await l.indexOf(value), await l.count(value)])
      expect(got).toEqual(probes)
    })

    test('list.reverse reverses in place', async () => {
      await using db = await open()
      const l = await newList(db, [1, 'b', { c: 3 }])
      expect(await l.reverse()).toBeUndefined()
      expect(await l.toArray()).toEqual([{ c: 3 }, 'b', 1])
    })

    describe('sort', () => {
      test('list.sort orders numbers numerically, negatives and floats included', async () => {
        await using db = await open()
        const l = await newList(db, [10, -2, 1.5, 2, -10.25, 0, 100, 9, 1e-3])
        await l.sort()
        expect(await l.toArray()).toEqual([-10.25, -2, 0, 1e-3, 1.5, 2, 9, 10, 100])
        await l.sort({ descending: true })
        expect(await l.toArray()).toEqual([100, 10, 9, 2, 1.5, 1e-3, 0, -2, -10.25])
      })

      test('list.sort orders strings by UTF-16 code unit', async () => {
        await using db = await open()
        const strings = ['b', 'a', 'B', 'é', 'Z', '😀', '\uffff', 'aa', '', '10', '9']
        const l = await newList(db, strings)
        await l.sort()
        expect(await l.toArray()).toEqual(['', '10', '9', 'B', 'Z', 'a', 'aa', 'b', 'é', '😀', '\uffff'])
      })

      test('list.sort by a field path is stable, ascending and descending', async () => {
        await using db = await open()
        const rows = [
          { id: 'a', s: { rank: 2 } },
          { id: 'b', s: { rank: 1 } },
          { id: 'c', s: { rank: 2 } },
          { id: 'd', s: { rank: 1 } },
          { id: 'e', s: { rank: 3 } },
        ]
        const l = await newList(db, rows)
        await l.sort({ by: 's.rank' })
        expect((await l.toArray()).map((r) => r.id)).toEqual(['b', 'd', 'a', 'c', 'e'])
        const m = await newList(db, rows)
        await m.sort({ by: 's.rank', descending: true })
        expect((await m.toArray()).map((r) => r.id)).toEqual(['e', 'a', 'c', 'b', 'd'])
      })

      test('list.sort of a mix of numbers and strings fails with BAD_ARGUMENT and changes nothing', async () => {
        await using db = await open()
        const l = await newList<unknown>(db, [3, '1', 2])
        await expectCode(l.sort(), 'BAD_ARGUMENT')
        expect(await l.toArray()).toEqual([3, '1', 2])
      })

      test('list.sort by a field some values lack fails with BAD_ARGUMENT', async () => {
        await using db = await open()
        const l = await newList<unknown>(db, [{ a: { b: 1 } }, { a: 2 }])
        await expectCode(l.sort({ by: 'a.b' }), 'BAD_ARGUMENT')
        await expectCode(l.sort({ by: 3 } as never), 'BAD_ARGUMENT')
        expect(await l.toArray()).toEqual([{ a: { b: 1 } }, { a: 2 }])
      })
    })

    test('clear empties the list, length counts values and toArray copies them', async () => {
      await using db = await open()
      const l = await newList(db, [1, 2, 3])
      expect(await l.length()).toBe(3)
      await l.clear()
      expect([await l.length(), await l.toArray()]).toEqual([0, []])
      await l.push(4)
      expect(await l.toArray()).toEqual([4])
    })

    test('a non-integer index fails with BAD_ARGUMENT', async () => {
      await using db = await open()
      const l = await newList(db, [1, 2, 3])
      const calls: (() => Promise<unknown>)[] = [
        () => l.at(1.5),
        () => l.pop(0.5),
        () => l.insert(Number.NaN, 0),
        () => l.set('1' as never, 0),
        () => l.slice(1.5),
        () => l.at(Number.POSITIVE_INFINITY),
      ]
      for (const call of calls) await expectCode(call(), 'BAD_ARGUMENT')
      expect(await l.toArray()).toEqual([1, 2, 3])
    })

    describe('shift and unshift (issue 11.3)', () => {
      test('shift removes and returns the first value, and undefined on an empty list', async () => {
        await using db = await open()
        const l = await newList(db, ['a', { b: [1] }])
        expect([await l.shift(), await l.shift(), await l.shift(), await l.length()])
          .toEqual(['a', { b: [1] }, undefined, 0])
      })

      test('unshift puts the values first in the order given, as Array.prototype.unshift, and returns the length', async () => {
        await using db = await open()
        const l = await newList<unknown>(db, ['c'])
        expect([await l.unshift('a', 'b'), await l.unshift(), await l.unshift({ z: 0 })]).toEqual([3, 3, 4])
        expect(await l.toArray()).toEqual([{ z: 0 }, 'a', 'b', 'c'])
      })

      test('a list drained from the front past a chunk keeps indexes, slices, iteration and length exact', async () => {
        await using db = await open()
        const l = await newList<unknown>(db, Array.from({ length: 3000 }, (_, i) => i))
        const shifted = await Promise.all(Array.from({ length: 2500 }, () => l.shift()))
        expect(shifted).toEqual(Array.from({ length: 2500 }, (_, i) => i))
        expect(await l.unshift('x')).toBe(501)
        const all: unknown[] = []
        for await (const v of l) all.push(v)
        expect([await l.at(0), await l.at(1), await l.at(-1), await l.slice(0, 2), await l.slice(-1), all.length,
          await l.pop(0), await l.indexOf(2999), await l.length()])
          .toEqual(['x', 2500, 2999, ['x', 2500], [2999], 501, 'x', 499, 500])
      })

      test('shift and unshift on a missing table fail with TABLE_NOT_FOUND, on a dict with WRONG_TABLE_TYPE', async () => {
        await using db = await open()
        const name = uniqueName('dict')
        await db.createDict(name)
        await expectCode(db.list(uniqueName('none')).shift(), 'TABLE_NOT_FOUND')
        await expectCode(db.list(uniqueName('none')).unshift(1), 'TABLE_NOT_FOUND')
        await expectCode(db.list(name).shift(), 'WRONG_TABLE_TYPE')
        await expectCode(db.list(name).unshift(1), 'WRONG_TABLE_TYPE')
      })

      test('unshift of a value the model refuses fails with BAD_ARGUMENT and changes nothing', async () => {
        await using db = await open()
        const l = await newList(db, [1])
        await expectCode(l.unshift(2, (() => 3) as never), 'BAD_ARGUMENT')
        expect(await l.toArray()).toEqual([1])
      })
    })
  })
}
