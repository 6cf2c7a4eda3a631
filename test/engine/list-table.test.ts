import { describe, expect, test } from 'bun:test'
import { ListTable, type SortOptions } from '../../src/engine/list-table.ts'
import { expectCode } from '../contract/helpers.ts'

function listOf(items: unknown[]): ListTable {
  const table = new ListTable()
  table.append(items)
  return table
}

describe('ListTable', () => {
  test('append returns the new length and takes more values than a call can spread', () => {
    const t = new ListTable()
    const many = Array.from({ length: 300_000 }, (_, i) => i)
    expect([t.append([]), t.append(many), t.append(['end']), t.size]).toEqual([0, 300_000, 300_001, 300_001])
    expect(t.at(-2)).toBe(299_999)
  })

  const inserts: [number, unknown[]][] = [
    [-100, ['X', 1, 2]], [-2, ['X', 1, 2]], [-1, [1, 'X', 2]], [0, ['X', 1, 2]], [1, [1, 'X', 2]],
    [2, [1, 2, 'X']], [100, [1, 2, 'X']],
  ]
  for (const [index, expected] of inserts) {
    test(`insert at ${index} into [1, 2] clamps like splice`, () => {
      const t = listOf([1, 2])
      t.insert(index, 'X')
      expect(t.slice()).toEqual(expected)
    })
  }

  test('pop takes the value at an index, the last one through the fast path', async () => {
    const t = listOf(['a', 'b', 'c', 'd'])
    expect([t.pop(-1), t.pop(0), t.pop(1), t.slice()]).toEqual(['d', 'a', 'c', ['b']])
    const error = await expectCode(() => t.pop(1), 'INDEX_OUT_OF_RANGE')
    expect(error.message).toContain('index 1 is out of range for a list of length 1')
    t.pop(0)
    expect((await expectCode(() => t.pop(-1), 'INDEX_OUT_OF_RANGE')).message).toContain('empty list')
  })

  test('set replaces in range and fails with INDEX_OUT_OF_RANGE outside', async () => {
    const t = listOf([1, 2, 3])
    t.set(-3, 'first')
    t.set(2, 'last')
    await expectCode(() => t.set(3, 'x'), 'INDEX_OUT_OF_RANGE')
    await expectCode(() => t.set(-4, 'x'), 'INDEX_OUT_OF_RANGE')
    expect(t.slice()).toEqual(['first', 2, 'last'])
  })

  test('remove deletes the first deep-equal value only', async () => {
    const t = listOf([{ a: 1 }, 2, { a: 1 }])
    t.remove({ a: 1 })
    expect(t.slice()).toEqual([2, { a: 1 }])
    await expectCode(() => t.remove(3), 'VALUE_NOT_FOUND')
  })

  const searches: [string, unknown, number, number][] = [
    ['a number (fast path)', 2, 1, 2],
    ['zero matching negative zero', -0, 0, 1],
    ['a string', 'x', 3, 1],
    ['a bigint', 5n, 4, 1],
    ['NaN', Number.NaN, 5, 1],
    ['an object', { a: [1] }, 6, 1],
    ['a Map', new Map([[1, 'a']]), 7, 1],
    ['a Date', new Date(5), 8, 1],
    ['a number where only a string matches', 5, -1, 0],
    ['undefined', undefined, 9, 1],
    ['null', null, -1, 0],
  ]
  const haystack = [0, 2, 2, 'x', 5n, Number.NaN, { a: [1] }, new Map([[1, 'a']]), new Date(5), undefined, '5']
  for (const [what, needle, index, count] of searches) {
    test(`indexOf and count find ${what}`, () => {
      const t = listOf(haystack)
      expect([t.indexOf(needle), t.count(needle)]).toEqual([index, count])
    })
  }

  describe('sort', () => {
    const sorts: [string, unknown[], SortOptions, unknown[]][] = [
      ['numbers numerically', [10, 9, -1, 1.5, 100], {}, [-1, 1.5, 9, 10, 100]],
      ['NaN after every number', [3, Number.NaN, -1, Number.NaN, 2], {}, [-1, 2, 3, Number.NaN, Number.NaN]],
      ['NaN first when descending', [3, Number.NaN, -1], { descending: true }, [Number.NaN, 3, -1]],
      ['infinities at the ends', [0, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY], {}, [Number.NEGATIVE_INFINITY, 0, Number.POSITIVE_INFINITY]],
      ['strings by code unit', ['b', 'B', 'a', '😀', 'é'], {}, ['B', 'a', 'b', 'é', '😀']],
      ['an empty list', [], {}, []],
      ['by a top-level field', [{ n: 2 }, { n: 1 }], { by: 'n' }, [{ n: 1 }, { n: 2 }]],
      ['by a field inside a Map', [new Map([['n', 2]]), new Map([['n', 1]])], { by: 'n' }, [new Map([['n', 1]]), new Map([['n', 2]])]],
      ['with an empty path as the values themselves', [2, 1], { by: '' }, [1, 2]],
    ]
    for (const [what, items, options, expected] of sorts) {
      test(`sort orders ${what}`, () => {
        const t = listOf(items)
        t.sort(options)
        expect(t.slice()).toEqual(expected)
      })
    }

    test('sort is stable over many equal keys, ascending and descending', () => {
      const items = Array.from({ length: 1000 }, (_, i) => ({ k: i % 3, i }))
      const up = listOf(items)
      up.sort({ by: 'k' })
      expect(up.slice()).toEqual([0, 1, 2].flatMap((k) => items.filter((x) => x.k === k)))
      const down = listOf(items)
      down.sort({ by: 'k', descending: true })
      expect(down.slice()).toEqual([2, 1, 0].flatMap((k) => items.filter((x) => x.k === k)))
    })

    const refusals: [string, unknown[], SortOptions, string][] = [
      ['a mix of numbers and strings', [1, 'a'], {}, 'a mix of numbers and strings'],
      ['objects', [{}, {}], {}, 'numbers or strings, found a'],
      ['bigints', [2n, 1n], {}, 'found a bigint'],
      ['a missing field', [{ a: 1 }, { b: 1 }], { by: 'a' }, 'found undefined (by "a")'],
      ['a path through a non-object', [{ a: 1 }], { by: 'a.b' }, 'has no field "b"'],
    ]
    for (const [what, items, options, message] of refusals) {
      test(`sort of ${what} fails with BAD_ARGUMENT and leaves the list as it was`, async () => {
        const t = listOf(items)
        expect((await expectCode(() => t.sort(options), 'BAD_ARGUMENT')).message).toContain(message)
        expect(t.slice()).toEqual(items)
      })
    }
  })
})

describe('from and restore (a snapshot load)', () => {
  test('restore joins the chunks in order and counts them as appends would', () => {
    const restored = ListTable.restore([[1, 'two'], [{ three: 3 }]])
    const built = listOf([1, 'two', { three: 3 }])
    expect([restored.slice(), restored.bytes]).toEqual([built.slice(), built.bytes])
  })

  test('from takes the array as its storage and counts it', () => {
    const items = ['a', 'b']
    const list = ListTable.from(items)
    expect([[...list], list.size, list.bytes]).toEqual([['a', 'b'], 2, listOf(['a', 'b']).bytes])
  })
})
