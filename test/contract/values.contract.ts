// What a value may be, as the contract sees it: every storable type round-trips through a dict and
// a list unchanged (type included), values are copies both ways, and what is not data is refused.

import { describe, expect, test } from 'bun:test'
import type { Key } from '../../src/index.ts'
import type { Open } from './dict.contract.ts'
import { newDict } from './dict.contract.ts'
import { expectCode } from './helpers.ts'
import { newList } from './list.contract.ts'

/** `levels` objects nested in one another, the innermost holding `leaf`. */
export function nest(levels: number, leaf: unknown = 'bottom'): unknown {
  let value = leaf
  for (let i = 0; i < levels; i++) value = { down: value }
  return value
}

/** The type as a string precise enough to tell a bigint from a number or a Map from an object. */
export function kindOf(value: unknown): string {
  return `${typeof value}:${Object.prototype.toString.call(value)}`
}

export const VALUE_CASES: [string, () => unknown][] = [
  ['null', () => null],
  ['true', () => true],
  ['false', () => false],
  ['zero', () => 0],
  ['a negative float', () => -1.5],
  ['NaN', () => Number.NaN],
  ['Infinity', () => Number.POSITIVE_INFINITY],
  ['-Infinity', () => Number.NEGATIVE_INFINITY],
  ['the largest safe integer', () => Number.MAX_SAFE_INTEGER],
  ['the smallest safe integer', () => Number.MIN_SAFE_INTEGER],
  ['a small bigint', () => 42n],
  ['a negative bigint', () => -7n],
  ['the bigint 2n ** 200n', () => 2n ** 200n],
  ['the empty string', () => ''],
  ['a unicode string with emoji', () => 'héllo 世界 😀 \u{1F468}\u200D\u{1F469}\u200D\u{1F467} \u0000 end'],
  ['a long string', () => 'x'.repeat(100_000)],
  ['a Uint8Array', () => new Uint8Array([0, 1, 254, 255])],
  ['an empty Uint8Array', () => new Uint8Array(0)],
  ['a Date', () => new Date('2024-02-29T12:34:56.789Z')],
  ['an array of mixed values', () => [1, 'two', null, [3, [4]], { five: 5 }]],
  ['an empty array', () => []],
  ['a nested plain object', () => ({ a: 1, b: { c: [1, 2, { d: 'e' }], f: null }, g: true })],
  ['an empty object', () => ({})],
  ['a Map with number and string keys', () => new Map<Key, unknown>([[1, 'one'], ['1', 'string one'], ['x', { y: 2 }]])],
  ['a Set', () => new Set([1, 'a', 2n])],
  ['undefined', () => undefined],
  ['an object holding undefined', () => ({ present: undefined, other: 1 })],
  ['values nested 50 levels deep', () => nest(50, [1, { x: 2n }])],
]

export function valuesContract(open: Open): void {
  describe('values', () => {
    for (const [what, make] of VALUE_CASES) {
      test(`${what} round-trips through dict.set and dict.get with its type`, async () => {
        await using db = await open()
        const d = await newDict(db)
        await d.set('k', make())
        const got = await d.get('k', 'missing')
        expect(got).toEqual(make())
        expect(kindOf(got)).toBe(kindOf(make()))
        expect(await d.entries()).toEqual([['k', make()]])
      })

      test(`${what} round-trips through list.push and list.at with its type`, async () => {
        await using db = await open()
        const l = await newList(db)
        await l.push('before', make())
        const got = await l.at(1)
        expect(got).toEqual(make())
        expect(kindOf(got)).toBe(kindOf(make()))
        expect(await l.toArray()).toEqual(['before', make()])
      })
    }

    test('Map values keep non-string keys and nested types', async () => {
      await using db = await open()
      const d = await newDict(db)
      await d.set('m', new Map<unknown, unknown>([[1, 2n], ['n', new Set([new Date(0)])]]))
      const got = (await d.get('m')) as Map<unknown, unknown>
      expect([...got.keys()]).toEqual([1, 'n'])
      expect(typeof got.get(1)).toBe('bigint')
      expect([...(got.get('n') as Set<Date>)][0]).toBeInstanceOf(Date)
    })

    describe('copies', () => {
      test('mutating an object after dict.set does not change what is stored', async () => {
        await using db = await open()
        const d = await newDict(db)
        const value = { list: [1, 2], inner: { n: 1 }, map: new Map([['a', 1]]) }
        await d.set('k', value)
        value.list.push(3)
        value.inner.n = 99
        value.map.set('b', 2)
        expect(await d.get('k')).toEqual({ list: [1, 2], inner: { n: 1 }, map: new Map([['a', 1]]) })
      })

      test('mutating an object returned by dict.get does not change what is stored', async () => {
        await using db = await open()
        const d = await newDict(db)
        await d.set('k', { list: [1], inner: { n: 1 } })
        const got = (await d.get('k')) as { list: number[]; inner: { n: number } }
        got.list.push(2)
        got.inner.n = 2
        const entries = await d.entries()
        ;(entries[0]![1] as { list: number[] }).list.push(3)
        const popped = await d.setdefault('k', null) as { inner: { n: number } }
        popped.inner.n = 3
        expect(await d.get('k')).toEqual({ list: [1], inner: { n: 1 } })
      })

      test('mutating values after dict.update or createDict does not change what is stored', async () => {
        await using db = await open()
        const source = { a: { n: 1 } }
        const d = await newDict(db, source)
        const more = new Map([['b', { n: 2 }]])
        await d.update(more)
        source.a.n = 10
        more.get('b')!.n = 20
        expect(await d.toObject()).toEqual({ a: { n: 1 }, b: { n: 2 } })
      })

      test('mutating an object after list.push, extend or set does not change what is stored', async () => {
        await using db = await open()
        const l = await newList<{ n: number }>(db)
        const pushed = { n: 1 }
        const extended = [{ n: 2 }]
        const replaced = { n: 3 }
        await l.push(pushed)
        await l.extend(extended)
        await l.push({ n: 0 })
        await l.set(2, replaced)
        pushed.n = 10
        extended[0]!.n = 20
        extended.push({ n: 99 })
        replaced.n = 30
        expect(await l.toArray()).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }])
      })

      test('mutating an object returned by list.at, slice or toArray does not change what is stored', async () => {
        await using db = await open()
        const content = [{ n: 1 }, { n: 2 }]
        const l = await newList(db, content)
        content[0]!.n = 100
        ;(await l.at(0))!.n = 10
        ;(await l.slice(1))[0]!.n = 20
        ;(await l.toArray()).push({ n: 3 })
        expect(await l.toArray()).toEqual([{ n: 1 }, { n: 2 }])
      })
    })

    describe('bad input', () => {
      const cyclic = (): unknown => {
        const value: Record<string, unknown> = { name: 'loop' }
        value.self = value
        return value
      }
      const badValues: [string, () => unknown][] = [
        ['a function', () => () => 1],
        ['a symbol', () => Symbol('s')],
        ['a function inside an object', () => ({ ok: 1, f: () => 1 })],
        ['a cyclic value', cyclic],
        ['a value nested 200 levels deep', () => nest(200)],
      ]
      for (const [what, make] of badValues) {
        test(`dict.set of ${what} fails with BAD_ARGUMENT and stores nothing`, async () => {
          await using db = await open()
          const d = await newDict(db)
          await expectCode(d.set('k', make()), 'BAD_ARGUMENT')
          expect(await d.entries()).toEqual([])
        })

        test(`list.push of ${what} fails with BAD_ARGUMENT and stores nothing`, async () => {
          await using db = await open()
          const l = await newList(db)
          await expectCode(l.push(1, make()), 'BAD_ARGUMENT')
          expect(await l.toArray()).toEqual([])
        })
      }

      const badKeys: [string, unknown][] = [
        ['an object', { k: 1 }],
        ['an array', ['k']],
        ['null', null],
        ['a boolean', true],
        ['a bigint', 1n],
      ]
      for (const [what, key] of badKeys) {
        test(`a dict key that is ${what} fails with BAD_ARGUMENT`, async () => {
          await using db = await open()
          const d = await newDict(db)
          await expectCode(d.set(key as Key, 1), 'BAD_ARGUMENT')
          await expectCode(d.get(key as Key), 'BAD_ARGUMENT')
          expect(await d.size()).toBe(0)
        })
      }
    })
  })
}
