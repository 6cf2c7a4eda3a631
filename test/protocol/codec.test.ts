// The one msgpack configuration: every value type CyberDB stores survives a round trip with its
// type intact, and a function is refused rather than silently dropped.

import { describe, expect, test } from 'bun:test'
import { createCodec } from '../../src/protocol/codec.ts'
import { expectCode } from '../contract/helpers.ts'

const codec = createCodec()
const roundTrip = (value: unknown) => codec.unpack(codec.pack(value))

describe('createCodec', () => {
  const cases: [string, unknown][] = [
    ['null', null],
    ['booleans', [true, false]],
    ['zero', 0],
    ['a float', 1.5],
    ['the largest safe integer', Number.MAX_SAFE_INTEGER],
    ['NaN', NaN],
    ['Infinity', [Infinity, -Infinity]],
    ['undefined', undefined],
    ['undefined inside an array and an object', [undefined, { a: undefined }]],
    ['a string with non-ASCII text', 'héllo ✓ 😀'],
    ['a small bigint', 5n],
    ['a negative bigint', -7n],
    ['2n ** 64n', 2n ** 64n],
    ['2n ** 300n', 2n ** 300n],
    ['-(2n ** 300n)', -(2n ** 300n)],
    ['a Uint8Array', new Uint8Array([0, 1, 254, 255])],
    ['a Date', new Date('2024-02-29T12:34:56.789Z')],
    ['a Set', new Set([1, 'a', null])],
    ['a Map with string and number keys', new Map<unknown, unknown>([['a', 1], [1, 'one']])],
    ['a plain object', { a: 1, b: 'two' }],
    ['nested containers', { list: [new Map([['k', new Set([new Date(0)])]])], deep: { x: [1n] } }],
  ]
  for (const [what, value] of cases) {
    test(`${what} survives a round trip with its type`, () => {
      expect(roundTrip(value)).toEqual(value)
    })
  }

  test('a Map stays a Map and a plain object stays a plain object', () => {
    const back = roundTrip([new Map([['a', 1]]), { a: 1 }]) as unknown[]
    expect(back[0]).toBeInstanceOf(Map)
    expect(back[1]).not.toBeInstanceOf(Map)
    expect(Object.getPrototypeOf(back[1])).toBe(Object.prototype)
  })

  test('a small bigint stays a bigint and a number never becomes one', () => {
    expect(typeof roundTrip(5n)).toBe('bigint')
    expect(typeof roundTrip(5)).toBe('number')
    expect(typeof roundTrip(2 ** 53)).toBe('number')
  })

  test('NaN comes back as NaN', () => {
    expect(Number.isNaN(roundTrip(NaN))).toBe(true)
  })

  test('a Date comes back as a Date at the same instant', () => {
    const back = roundTrip(new Date(1_700_000_000_123)) as Date
    expect(back).toBeInstanceOf(Date)
    expect(back.getTime()).toBe(1_700_000_000_123)
  })

  test('a Uint8Array comes back as a Uint8Array', () => {
    expect(roundTrip(new Uint8Array([1, 2]))).toBeInstanceOf(Uint8Array)
  })

  const functions: [string, unknown][] = [
    ['a function', () => 1],
    ['a function inside an object', { f: () => 1 }],
    ['a function inside a Map', new Map([['f', function named() {}]])],
  ]
  for (const [what, value] of functions) {
    test(`${what} is refused with BAD_ARGUMENT`, async () => {
      await expectCode(() => codec.pack(value), 'BAD_ARGUMENT')
    })
  }

  test('the codec still works after refusing a function', () => {
    try {
      codec.pack({ f: () => 1 })
    } catch {}
    expect(roundTrip({ ok: [1, 2] })).toEqual({ ok: [1, 2] })
  })
})
