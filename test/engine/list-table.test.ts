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

describe('shift and unshift (a queue drained from the front: issue 11.3)', () => {
  test('shift returns the first value, then undefined once empty, and gives its bytes back', () => {
    const t = listOf(['a', { b: 1 }])
    expect([t.shift(), t.shift(), t.shift(), t.size, t.bytes, t.slice()]).toEqual(['a', { b: 1 }, undefined, 0, 0, []])
  })

  const unshifts: [string, unknown[], number, unknown[], unknown[]][] = [
    ['into an empty list', [], 0, [1, 2], [1, 2]],
    ['nothing', ['a', 'b', 'c'], 0, [], ['a', 'b', 'c']],
    ['into the room shifts left', ['a', 'b', 'c'], 2, ['x', 'y'], ['x', 'y', 'c']],
    ['more than the room shifts left', ['a', 'b', 'c'], 1, ['x', 'y', 'z'], ['x', 'y', 'z', 'b', 'c']],
  ]
  for (const [what, start, shifts, values, expected] of unshifts) {
    test(`unshift ${what} puts the values first in the order given, as Array.prototype.unshift`, () => {
      const t = listOf(start)
      for (let i = 0; i < shifts; i++) t.shift()
      const length = t.unshift(values)
      expect([length, t.slice(), t.bytes]).toEqual([expected.length, expected, listOf(expected).bytes])
    })
  }

  test('a million values drained by shift take linear time (an array shift each would take hours)', () => {
    const n = 1_000_000
    const t = ListTable.from(Array.from({ length: n }, (_, i) => i))
    let sum = 0
    for (let i = 0; i < n; i++) sum += t.shift() as number
    expect([sum, t.size, t.bytes, t.shift()]).toEqual([(n * (n - 1)) / 2, 0, 0, undefined])
  })

  // Every method against a plain Array model, over a front that is shifted past the compaction
  // threshold many times: indexes, slices, iteration and sizes must never see the dead front.
  // Filling phases run every method (the O(n) ones compact); draining phases only shift, push and
  // read, so the dead front grows past the threshold and is compacted by shift itself.
  test('every method agrees with an Array model while the front is shifted and compacted', () => {
    let seed = 12345
    const random = (n: number): number => { // mulberry32: seeded, so a failure replays
      seed = (seed + 0x6d2b79f5) | 0
      let x = Math.imul(seed ^ (seed >>> 15), 1 | seed)
      x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
      return Math.floor((((x ^ (x >>> 14)) >>> 0) / 2 ** 32) * n)
    }
    const t = new ListTable()
    const model: number[] = []
    const seen: unknown[] = []
    const wanted: unknown[] = []
    for (let step = 0; step < 24_000; step++) {
      const draining = step % 8000 >= 4000
      // Draining: a push (1.5 values) for five shifts, and reads (at, slice) that never compact.
      const r = draining ? [0, 40, 44, 48, 52, 56, 86, 90][random(8)]! + random(4) : random(100)
      const size = model.length
      if (r < 40) {
        const k = 1 + random(draining ? 2 : 4)
        const values = Array.from({ length: k }, () => random(1000))
        seen.push(t.append(values))
        wanted.push(model.push(...values))
      } else if (r < 70) {
        seen.push(t.shift())
        wanted.push(model.shift())
      } else if (r < 76) {
        const values = [random(1000), random(1000)]
        seen.push(t.unshift(values))
        wanted.push(model.unshift(...values))
      } else if (r < 80 && size > 0) {
        const i = random(size) - (random(2) === 0 ? size : 0)
        seen.push(t.pop(i))
        wanted.push(model.splice(i < 0 ? i + size : i, 1)[0])
      } else if (r < 83) {
        const i = random(size + 2) - 1
        t.insert(i, -1)
        model.splice(i, 0, -1)
      } else if (r < 86 && size > 0) {
        const i = random(size)
        t.set(i, -2)
        model[i] = -2
      } else if (r < 90) {
        const i = random(size + 4) - 2 - (random(2) === 0 ? size : 0)
        seen.push(t.at(i))
        wanted.push(model.at(i))
      } else if (r < 94) {
        const start = random(size + 4) - 2
        const end = random(size + 4) - 2
        seen.push(t.slice(start, end), t.slice(-start), t.slice())
        wanted.push(model.slice(start, end), model.slice(-start), model.slice())
      } else if (r < 96) {
        const v = random(1000)
        seen.push(t.indexOf(v), t.count(v))
        wanted.push(model.indexOf(v), model.filter((x) => x === v).length)
      } else if (r < 97) {
        t.reverse()
        model.reverse()
      } else if (r < 98 && size > 0) {
        const v = model[random(size)]!
        t.remove(v)
        model.splice(model.indexOf(v), 1)
      } else if (r < 99) {
        seen.push([...t])
        wanted.push([...model])
      } else {
        t.sort({})
        model.sort((a, b) => a - b)
      }
      seen.push(t.size)
      wanted.push(model.length)
      if (step % 97 === 0) {
        seen.push(t.bytes)
        wanted.push(listOf(model).bytes)
      }
    }
    expect(seen).toEqual(wanted)
  })

  test('shift past the compaction threshold keeps a long-lived list exact', () => {
    const t = ListTable.from(Array.from({ length: 5000 }, (_, i) => i))
    for (let i = 0; i < 3000; i++) t.shift()
    t.unshift(['a'])
    expect([t.size, t.at(0), t.at(1), t.at(-1), t.slice(0, 3), t.slice(-2), [...t].length])
      .toEqual([2001, 'a', 3000, 4999, ['a', 3000, 3001], [4998, 4999], 2001])
  })

  test('an iteration sees a shift as an Array iteration does (it moves on past one value)', () => {
    const t = listOf([1, 2, 3, 4, 5, 6])
    const model = [1, 2, 3, 4, 5, 6]
    const seen: unknown[] = []
    for (const v of t) {
      seen.push(v)
      t.shift()
    }
    const wanted: unknown[] = []
    for (const v of model) {
      wanted.push(v)
      model.shift()
    }
    expect(seen).toEqual(wanted)
  })

  test('an iteration begun before a sort goes on over the old order', () => {
    const t = listOf([3, 1, 2])
    t.shift()
    const iterator = t.values()
    const first = iterator.next().value
    t.sort({})
    expect([first, [...iterator], t.slice()]).toEqual([1, [2], [1, 2]])
  })
})
