// What a value may be, as the contract sees it: every storable type round-trips through a dict and
// a list unchanged (type included), values are copies both ways, and what is not data is refused.

import { describe, expect, test } from 'bun:test'
import type { CyberError, Key } from '../../src/index.ts'
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
  modelContract(open)
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

// --- the value model: one table of what every JS type becomes, run in every mode ---

class Point {
  constructor(readonly x: number, readonly y: number) {}
  get length(): number {
    return Math.hypot(this.x, this.y)
  }
}

/** An Error whose non-enumerable `cause` chain is `depth` long. */
export function causeChain(depth: number): Error {
  let error = new Error('root')
  for (let i = 0; i < depth; i++) error = new Error(`level ${i}`, { cause: error })
  return error
}

const DATA = 'values are data (no code ever crosses)'
const NOT_DATA = 'it is not data the value model stores (see the README)'
export const MODEL_MESSAGES = {
  function: `a function cannot be stored: ${DATA}`,
  symbol: `a symbol cannot be stored: ${DATA}`,
  error: 'an Error cannot be stored: copy the fields you need (name, message) into a plain object',
  deep: 'a value may nest at most 100 levels (or it refers to itself)',
  surrogate: 'a string must be well-formed unicode: it has a lone surrogate (\\ud800-\\udfff), which UTF-8 cannot carry',
  large: 'the values of one request may take at most 33554432 bytes (32 MiB) encoded',
}

/** What a value becomes in every mode: itself, a stated transformation, or a refusal (message). */
export type Outcome = 'same' | { becomes: () => unknown } | { refused: string }

const cyclic = (): unknown => {
  const value: Record<string, unknown> = { name: 'loop' }
  value.self = value
  return value
}
const typed = (Typed: new (values: number[]) => unknown): () => unknown => () => new Typed([1, 2, 250])

export const MODEL_CASES: [string, () => unknown, Outcome][] = [
  ['an ArrayBuffer', () => new Uint8Array([1, 2, 3]).buffer, 'same'],
  ['a DataView', () => new DataView(new Uint8Array([1, 2, 3, 4]).buffer, 1, 2), { becomes: () => new DataView(new Uint8Array([2, 3]).buffer) }],
  ['a SharedArrayBuffer', () => new SharedArrayBuffer(4), { refused: 'a SharedArrayBuffer cannot be stored: copy it into a Uint8Array' }],
  ['an Int8Array', typed(Int8Array), 'same'],
  ['a Uint8ClampedArray', typed(Uint8ClampedArray), 'same'],
  ['an Int16Array', typed(Int16Array), 'same'],
  ['a Uint16Array', typed(Uint16Array), 'same'],
  ['an Int32Array', typed(Int32Array), 'same'],
  ['a Uint32Array', typed(Uint32Array), 'same'],
  ['a Float32Array', typed(Float32Array), 'same'],
  ['a Float64Array', () => new Float64Array([1.5, -0, NaN]), 'same'],
  ['a BigInt64Array', () => new BigInt64Array([1n, -2n]), 'same'],
  ['a BigUint64Array', () => new BigUint64Array([1n, 2n ** 64n - 1n]), 'same'],
  ['a Float16Array', () => new Float16Array([1]), { refused: 'a Float16Array cannot be stored: the codec carries no 16-bit floats: use a Float32Array' }],
  ['a typed array view into a larger buffer', () => new Int16Array(new Int16Array([1, 2, 3, 4]).buffer, 2, 2), { becomes: () => new Int16Array([2, 3]) }],
  ['a Buffer', () => Buffer.from([1, 2, 3]), { becomes: () => new Uint8Array([1, 2, 3]) }],
  ['an Error', () => new Error('boom'), { refused: MODEL_MESSAGES.error }],
  ['an Error with a non-enumerable cause', () => new Error('outer', { cause: new Error('inner') }), { refused: MODEL_MESSAGES.error }],
  ['a TypeError subclass instance', () => new (class MyError extends TypeError {})('x'), { refused: MODEL_MESSAGES.error }],
  ['an Error inside an object', () => ({ ok: 1, error: new Error('x') }), { refused: MODEL_MESSAGES.error }],
  ['a 20,000-deep Error cause chain', () => causeChain(20_000), { refused: MODEL_MESSAGES.error }],
  ['a URL', () => new URL('https://example.com/a?b=1'), { refused: 'a URL cannot be stored: store its href' }],
  ['a RegExp', () => /a+b/gi, 'same'],
  ['a WeakMap', () => new WeakMap(), { refused: `a WeakMap cannot be stored: ${NOT_DATA}` }],
  ['a WeakSet', () => new WeakSet(), { refused: `a WeakSet cannot be stored: ${NOT_DATA}` }],
  ['a WeakRef', () => new WeakRef({}), { refused: `a WeakRef cannot be stored: ${NOT_DATA}` }],
  ['a Promise', () => Promise.resolve(1), { refused: 'a Promise cannot be stored: store what it resolves to' }],
  ['a boxed string', () => new String('x'), { refused: `a String cannot be stored: ${NOT_DATA}` }],
  ['a symbol', () => Symbol('s'), { refused: MODEL_MESSAGES.symbol }],
  ['a symbol inside a Map', () => new Map([['s', Symbol('s')]]), { refused: MODEL_MESSAGES.symbol }],
  ['a function', () => () => 1, { refused: MODEL_MESSAGES.function }],
  ['a function inside an object', () => ({ ok: 1, f: () => 1 }), { refused: MODEL_MESSAGES.function }],
  ['a class instance', () => new Point(3, 4), { becomes: () => ({ x: 3, y: 4 }) }],
  ['an object without a prototype', () => Object.assign(Object.create(null), { a: 1 }), { becomes: () => ({ a: 1 }) }],
  ['-0', () => -0, { becomes: () => 0 }],
  ['-0 inside an array and an object', () => [-0, { z: -0 }], { becomes: () => [0, { z: 0 }] }],
  ['NaN', () => NaN, 'same'],
  ['-Infinity', () => -Infinity, 'same'],
  ['a huge bigint', () => -(3n ** 20_000n), 'same'],
  ['undefined in an array and an object', () => [undefined, { a: undefined, b: 1 }], 'same'],
  ['a sparse array', () => [1, , 3], { becomes: () => [1, undefined, 3] }],
  ['an array with an extra named property', () => Object.assign([1], { extra: 2 }), { becomes: () => [1] }],
  ['a Map with object keys', () => new Map<unknown, unknown>([[{ a: 1 }, 'object'], [[1], 'array'], [2n, 'bigint']]), 'same'],
  ['a Set of mixed values', () => new Set<unknown>([1, '1', { a: 1 }, 2n]), 'same'],
  ['a Date', () => new Date(-1), 'same'],
  ['an invalid Date', () => new Date(NaN), 'same'],
  ['values nested 100 levels deep', () => nest(100), 'same'],
  ['values nested 101 levels deep', () => nest(101), { refused: MODEL_MESSAGES.deep }],
  ['a cyclic value', cyclic, { refused: MODEL_MESSAGES.deep }],
  ['a string with a lone high surrogate', () => 'a\ud800b', { refused: MODEL_MESSAGES.surrogate }],
  ['a string with a lone low surrogate', () => '\udbff', { refused: MODEL_MESSAGES.surrogate }],
  ['an object key with a lone surrogate', () => ({ '\udc00': 1 }), { refused: MODEL_MESSAGES.surrogate }],
  ['a replacement character (well-formed)', () => '\ufffd', 'same'],
  ['a string over the size limit', () => 'x'.repeat(32 * 1024 * 1024 + 1), { refused: MODEL_MESSAGES.large }],
]

async function outcomeOf(action: () => Promise<unknown>): Promise<{ value: unknown } | { code: string; message: string }> {
  try {
    return { value: await action() }
  } catch (error) {
    const { code, message } = error as CyberError
    return { code, message }
  }
}

function modelContract(open: Open): void {
  describe('the value model', () => {
    for (const [what, make, outcome] of MODEL_CASES) {
      const expected = outcome === 'same' ? make : 'becomes' in outcome ? outcome.becomes : undefined
      const label = expected ? (outcome === 'same' ? 'comes back identical' : 'comes back transformed as the model says')
        : 'is refused with BAD_ARGUMENT and the model\'s message'
      test(`${what} ${label}, through dict.set and list.push`, async () => {
        await using db = await open()
        const d = await newDict(db)
        const l = await newList(db)
        const set = await outcomeOf(() => d.set('k', make()))
        const push = await outcomeOf(() => l.push(make()))
        if (expected === undefined) {
          const refusal = { code: 'BAD_ARGUMENT', message: (outcome as { refused: string }).refused }
          expect([set, push, await d.size(), await l.length()]).toEqual([refusal, refusal, 0, 0])
          return
        }
        // Bun.inspect shows the type, -0, holes, NaN in a typed array and an invalid Date, which
        // toEqual treats loosely or not at all.
        const got = [await d.get('k'), await l.at(0)]
        expect(got.map((v) => Bun.inspect(v))).toEqual([Bun.inspect(expected()), Bun.inspect(expected())])
        expect(got.map(kindOf)).toEqual([kindOf(expected()), kindOf(expected())])
      })
    }

    test('the size limit counts every value of one request together', async () => {
      await using db = await open()
      const l = await newList(db)
      const chunk = new Uint8Array(8 * 1024 * 1024)
      await l.push(chunk, chunk, chunk)
      expect(await outcomeOf(() => l.push(chunk, chunk, chunk, chunk, chunk)))
        .toEqual({ code: 'BAD_ARGUMENT', message: MODEL_MESSAGES.large })
      expect(await l.length()).toBe(3)
    })

    test('keys with lone surrogates are refused; U+FFFD is a key of its own', async () => {
      await using db = await open()
      const d = await newDict(db)
      const refusal = { code: 'BAD_ARGUMENT', message: MODEL_MESSAGES.surrogate }
      expect([await outcomeOf(() => d.set('\ud800', 1)), await outcomeOf(() => d.set('\udbff', 2)),
        await outcomeOf(() => d.get('\ud800'))]).toEqual([refusal, refusal, refusal])
      await d.set('\ufffd', 3)
      await d.set('\ud83d\ude00', 4)
      expect(await d.entries()).toEqual([['\ufffd', 3], ['\ud83d\ude00', 4]])
    })
  })
}
