// The dict half of the table-behaviour contract: every DictHandle method with its exact semantics.
// Public API only, fresh uniquely named tables, so it runs unchanged against any transport.

import { describe, expect, test } from 'bun:test'
import type { Database, DictHandle, Key } from '../../src/index.ts'
import { expectCode, uniqueName } from './helpers.ts'

export type Open = () => Promise<Database>

export async function newDict<V = unknown>(
  db: Database,
  content?: Record<string, V> | Map<Key, V> | [Key, V][],
): Promise<DictHandle<V>> {
  const name = uniqueName('dict')
  expect(await db.createDict(name, content)).toBe(true)
  return db.dict<V>(name)
}

export function dictContract(open: Open): void {
  describe('dict', () => {
    test('set and get round-trip, and get of a missing key is undefined', async () => {
      await using db = await open()
      const d = await newDict(db)
      await d.set('a', 1)
      await d.set('b', { x: [1, 2] })
      expect([await d.get('a'), await d.get('b'), await d.get('nope')]).toEqual([1, { x: [1, 2] }, undefined])
    })

    test('a Promise.all burst of mixed values gets each request its own value or error', async () => {
      await using db = await open()
      const d = await newDict<unknown>(db)
      // Plain ASCII strings and numbers, and values only the general encoder writes (non-ASCII,
      // bigints, objects, long arrays), interleaved in one burst.
      const kinds = (i: number): unknown => [
        `v-${i}`, `naïve-${i}`, i, -i - 0.5, -0, BigInt(i) ** 3n, { i, tags: ['a', 'é'] },
        Array.from({ length: 20 }, (_, j) => `${i}-${j}`), [i, 'x', null], null, true, undefined,
      ][i % 12]
      const count = 300
      await Promise.all(Array.from({ length: count }, (_, i) => d.set(`k${i}`, kinds(i))))
      // Every 25th asks incr of a string value: a BAD_ARGUMENT of its own, amid the burst.
      const incrOfString = (i: number) =>
        d.incr(`k${i - (i % 12)}`).then(() => 'no error', (error) => error.code)
      const got = await Promise.all(Array.from({ length: count }, (_, i) =>
        i % 25 === 7 ? incrOfString(i) : d.get(`k${i}`)))
      for (let i = 0; i < count; i++) {
        const want = i % 25 === 7 ? 'BAD_ARGUMENT' : kinds(i) === 0 ? 0 : kinds(i)
        expect(got[i]).toEqual(want)
      }
    })

    test('get returns the fallback only when the key is missing', async () => {
      await using db = await open()
      const d = await newDict<unknown>(db, { zero: 0, empty: '', nil: null, undef: undefined })
      expect([
        await d.get('missing', 'fb'),
        await d.get('zero', 'fb'),
        await d.get('empty', 'fb'),
        await d.get('nil', 'fb'),
        await d.get('undef', 'fb'),
      ]).toEqual(['fb', 0, '', null, undefined])
    })

    test('set on an existing key replaces the value and keeps the key in place', async () => {
      await using db = await open()
      const d = await newDict(db, [['a', 1], ['b', 2], ['c', 3]])
      await d.set('a', 10)
      expect(await d.entries()).toEqual([['a', 10], ['b', 2], ['c', 3]])
    })

    test('has and delete report whether the key was there', async () => {
      await using db = await open()
      const d = await newDict(db, { a: 1 })
      expect([await d.has('a'), await d.has('b')]).toEqual([true, false])
      expect([await d.delete('a'), await d.delete('a'), await d.has('a')]).toEqual([true, false, false])
    })

    test('keys, values and entries follow insertion order, as in a Map', async () => {
      await using db = await open()
      const d = await newDict(db)
      for (const key of ['z', 3, 'a', 1, 'm']) await d.set(key, String(key))
      await d.delete('a')
      await d.set('a', 'again')
      expect(await d.keys()).toEqual(['z', 3, 1, 'm', 'a'])
      expect(await d.values()).toEqual(['z', '3', '1', 'm', 'again'])
      expect(await d.entries()).toEqual([['z', 'z'], [3, '3'], [1, '1'], ['m', 'm'], ['a', 'again']])
    })

    test('size counts the entries and clear empties the dict', async () => {
      await using db = await open()
      const d = await newDict(db, { a: 1, b: 2, c: 3 })
      expect(await d.size()).toBe(3)
      await d.clear()
      expect([await d.size(), await d.entries()]).toEqual([0, []])
      await d.set('after', 1)
      expect(await d.entries()).toEqual([['after', 1]])
    })

    describe('update', () => {
      const sources: [string, () => unknown][] = [
        ['a plain object', () => ({ b: 20, c: 3 })],
        ['a Map', () => new Map<Key, number>([['b', 20], ['c', 3]])],
        ['an array of entries', () => [['b', 20], ['c', 3]]],
        ['a generic iterable of entries', () => (function* () {
          yield ['b', 20] as const
          yield ['c', 3] as const
        })()],
      ]
      for (const [what, source] of sources) {
        test(`dict.update merges ${what}, replacing existing keys in place`, async () => {
          await using db = await open()
          const d = await newDict(db, { a: 1, b: 2 })
          await d.update(source() as Map<Key, number>)
          expect(await d.entries()).toEqual([['a', 1], ['b', 20], ['c', 3]])
        })
      }

      test('dict.update keeps number keys of a Map or entries as numbers', async () => {
        await using db = await open()
        const d = await newDict(db)
        await d.update(new Map<Key, string>([[1, 'n'], ['1', 's']]))
        await d.update([[2, 'two']])
        expect(await d.entries()).toEqual([[1, 'n'], ['1', 's'], [2, 'two']])
      })

      test('dict.update with a bad pair fails with BAD_ARGUMENT and changes nothing', async () => {
        await using db = await open()
        const d = await newDict(db, { a: 1 })
        await expectCode(d.update([['b', 2], ['c'] as never]), 'BAD_ARGUMENT')
        await expectCode(d.update(new Map<unknown, number>([['b', 2], [{}, 3]]) as never), 'BAD_ARGUMENT')
        await expectCode(d.update(42 as never), 'BAD_ARGUMENT')
        expect(await d.entries()).toEqual([['a', 1]])
      })
    })

    test('setdefault stores the value only when the key is missing and returns the stored value', async () => {
      await using db = await open()
      const d = await newDict<unknown>(db, { a: 1, u: undefined })
      expect(await d.setdefault('a', 99)).toBe(1)
      expect(await d.setdefault('b', { deep: [1] })).toEqual({ deep: [1] })
      expect(await d.setdefault('u', 5)).toBeUndefined()
      expect(await d.entries()).toEqual([['a', 1], ['u', undefined], ['b', { deep: [1] }]])
    })

    describe('pop', () => {
      test('dict.pop removes and returns the value', async () => {
        await using db = await open()
        const d = await newDict(db, { a: { v: 1 }, b: 2 })
        expect(await d.pop('a')).toEqual({ v: 1 })
        expect(await d.entries()).toEqual([['b', 2]])
      })

      test('dict.pop of a missing key without a fallback fails with KEY_NOT_FOUND', async () => {
        await using db = await open()
        const d = await newDict(db, { a: 1 })
        await expectCode(d.pop('b'), 'KEY_NOT_FOUND')
        expect(await d.entries()).toEqual([['a', 1]])
      })

      test('dict.pop of a missing key returns the fallback, even an undefined one', async () => {
        await using db = await open()
        const d = await newDict(db, { a: 1 })
        expect(await d.pop('b', 'fb')).toBe('fb')
        expect(await d.pop('b', null)).toBeNull()
        expect(await d.pop('b', undefined)).toBeUndefined()
        expect(await d.pop('a', 'fb')).toBe(1)
        expect(await d.size()).toBe(0)
      })
    })

    describe('popitem', () => {
      test('dict.popitem takes the last inserted entry', async () => {
        await using db = await open()
        const d = await newDict(db, [['a', 1], ['b', 2], ['c', 3]])
        expect(await d.popitem()).toEqual(['c', 3])
        expect(await d.entries()).toEqual([['a', 1], ['b', 2]])
      })

      test('dict.popitem ignores updates of existing keys but sees a delete and re-insert', async () => {
        await using db = await open()
        const d = await newDict(db, [['a', 1], ['b', 2], ['c', 3]])
        await d.set('a', 10) // an update keeps a's place
        expect(await d.popitem()).toEqual(['c', 3])
        await d.delete('a')
        await d.set('a', 11) // re-inserted: now the last one
        expect(await d.popitem()).toEqual(['a', 11])
        expect(await d.popitem()).toEqual(['b', 2])
      })

      test('repeated dict.popitem drains the dict newest first, then fails with KEY_NOT_FOUND', async () => {
        await using db = await open()
        const d = await newDict(db)
        const keys: Key[] = []
        for (let i = 0; i < 100; i++) keys.push(i % 3 === 0 ? i : `k${i}`)
        for (const key of keys) await d.set(key, key)
        // Interleave writes with the draining: a re-inserted key goes to the end again.
        expect(await d.popitem()).toEqual([99, 99])
        await d.delete(0)
        await d.set(0, 0)
        const drained: Key[] = []
        for (let i = 0; i < 99; i++) drained.push((await d.popitem())[0])
        expect(drained).toEqual([0, ...keys.slice(1, 99).reverse()])
        await expectCode(d.popitem(), 'KEY_NOT_FOUND')
        await d.set('fresh', 1)
        expect(await d.popitem()).toEqual(['fresh', 1])
      })

      test('dict.popitem on an empty dict fails with KEY_NOT_FOUND', async () => {
        await using db = await open()
        const d = await newDict(db)
        await expectCode(d.popitem(), 'KEY_NOT_FOUND')
      })
    })

    describe('incr', () => {
      test('dict.incr starts a missing key at 0 and adds 1 by default', async () => {
        await using db = await open()
        const d = await newDict(db)
        expect([await d.incr('n'), await d.incr('n'), await d.get('n')]).toEqual([1, 2, 2])
      })

      test('dict.incr adds negative and float amounts', async () => {
        await using db = await open()
        const d = await newDict(db, { n: 10 })
        expect(await d.incr('n', -15)).toBe(-5)
        expect(await d.incr('n', 0.25)).toBe(-4.75)
        expect(await d.incr('f', 1.5)).toBe(1.5)
      })

      test('dict.incr keeps a bigint counter a bigint, also beyond 2**64', async () => {
        await using db = await open()
        const d = await newDict(db)
        expect(await d.incr('b', 5n)).toBe(5n)
        await d.set('big', 2n ** 70n)
        expect(await d.incr('big', 1n)).toBe(2n ** 70n + 1n)
        expect(await d.incr('big') as unknown).toBe(2n ** 70n + 2n)
        expect(await d.incr('big', -3) as unknown).toBe(2n ** 70n - 1n)
        expect(typeof (await d.get('big'))).toBe('bigint')
      })

      test('dict.incr on a value that is not a number fails with BAD_ARGUMENT and keeps it', async () => {
        await using db = await open()
        const d = await newDict<unknown>(db, { s: 'text', o: { n: 1 }, nil: null })
        for (const key of ['s', 'o', 'nil']) await expectCode(d.incr(key), 'BAD_ARGUMENT')
        await d.set('num', 1)
        await expectCode(d.incr('num', 1n), 'BAD_ARGUMENT')
        await expectCode(d.incr('num', Number.NaN), 'BAD_ARGUMENT')
        await expectCode(d.incr('num', '1' as never), 'BAD_ARGUMENT')
        expect(await d.toObject()).toEqual({ s: 'text', o: { n: 1 }, nil: null, num: 1 })
      })

      test('concurrent dict.incr calls are atomic: none is lost', async () => {
        await using db = await open()
        const d = await newDict(db)
        const results = await Promise.all(Array.from({ length: 200 }, () => d.incr('hits')))
        expect(results.toSorted((a, b) => a - b)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1))
        expect(await d.get('hits')).toBe(200)
      })
    })

    test('toObject and toMap copy the whole dict, toMap keeping key types', async () => {
      await using db = await open()
      const d = await newDict<unknown>(db, [[1, 'one'], ['b', { x: 1 }], ['1', 'string one']])
      expect(await d.toMap()).toEqual(new Map<Key, unknown>([[1, 'one'], ['b', { x: 1 }], ['1', 'string one']]))
      expect(await d.toObject()).toEqual({ 1: 'string one', b: { x: 1 } })
    })

    describe('keys', () => {
      test('the empty string is a key like any other', async () => {
        await using db = await open()
        const d = await newDict(db)
        await d.set('', 'empty')
        expect([await d.get(''), await d.has(''), await d.keys()]).toEqual(['empty', true, ['']])
      })

      test('unicode keys are kept exactly', async () => {
        await using db = await open()
        const d = await newDict(db)
        const keys = ['é', 'e\u0301', '日本語', '😀', '\u{1F468}\u200D\u{1F469}\u200D\u{1F467}', 'a\u0000b']
        for (const [i, key] of keys.entries()) await d.set(key, i)
        expect(await d.entries()).toEqual(keys.map((key, i) => [key, i]))
        expect(await d.get('e\u0301')).toBe(1)
      })

      test('0 and "0" are different keys', async () => {
        await using db = await open()
        const d = await newDict(db)
        await d.set(0, 'number')
        await d.set('0', 'string')
        expect([await d.get(0), await d.get('0'), await d.size()]).toEqual(['number', 'string', 2])
        expect(await d.keys()).toEqual([0, '0'])
        expect(await d.pop(0)).toBe('number')
        expect(await d.keys()).toEqual(['0'])
      })

      test('negative and float number keys round-trip', async () => {
        await using db = await open()
        const d = await newDict(db)
        for (const key of [-1, 1.5, -0.25, 2 ** 53 - 1, 1e300]) await d.set(key, key)
        expect(await d.keys()).toEqual([-1, 1.5, -0.25, 2 ** 53 - 1, 1e300])
        expect([await d.get(1.5), await d.get('1.5')]).toEqual([1.5, undefined])
      })

      test('a "__proto__" dict key is plain data and pollutes nothing', async () => {
        await using db = await open()
        const d = await newDict(db)
        await d.set('__proto__', { polluted: true })
        await d.set('constructor', 1)
        const object = await d.toObject()
        expect(Object.getPrototypeOf(object)).toBe(Object.prototype)
        expect(Object.keys(object)).toEqual(['__proto__', 'constructor'])
        expect(Object.getOwnPropertyDescriptor(object, '__proto__')?.value).toEqual({ polluted: true })
        expect(({} as Record<string, unknown>).polluted).toBeUndefined()
      })

      test('an object key "__proto__" is stored as "__proto_" in every mode', async () => {
        await using db = await open()
        const d = await newDict(db)
        await d.update(JSON.parse('{"__proto__": {"polluted": 2}, "constructor": 1}'))
        await d.set('value', JSON.parse('{"__proto__": {"polluted": 3}, "a": 1}'))
        expect(await d.entries()).toEqual([
          ['__proto_', { polluted: 2 }], ['constructor', 1], ['value', { __proto_: { polluted: 3 }, a: 1 }],
        ])
        expect(({} as Record<string, unknown>).polluted).toBeUndefined()
      })
    })
  })
}
