import { describe, expect, test } from 'bun:test'
import { MAX_VALUE_DEPTH, checkKey, cloneValue, deepEqual, describe as describeValue, isKey, setOwn } from '../../src/engine/values.ts'
import { MAX_VALUE_BYTES, acceptArgs, checkArgs, sizeOf } from '../../src/engine/value-model.ts'
import { createCodec } from '../../src/protocol/codec.ts'
import { expectCode } from '../contract/helpers.ts'
import { MODEL_MESSAGES, VALUE_CASES, kindOf, nest } from '../contract/values.contract.ts'

class Point {
  constructor(readonly x: number, readonly y: number) {}
  get length(): number {
    return Math.hypot(this.x, this.y)
  }
}

describe('cloneValue', () => {
  for (const [what, make] of VALUE_CASES) {
    test(`copies ${what} into an equal value of the same type`, () => {
      const value = make()
      const copy = cloneValue(value)
      expect(copy).toEqual(value)
      expect(kindOf(copy)).toBe(kindOf(value))
      if (typeof value === 'object' && value !== null) expect(copy).not.toBe(value)
    })
  }

  test('copies deeply: no object of the copy is shared with the original', () => {
    const inner = { n: 1 }
    const bytes = new Uint8Array([1])
    const date = new Date(0)
    const value = { list: [inner], map: new Map([[inner, inner]]), set: new Set([inner]), bytes, date }
    const copy = cloneValue(value)
    inner.n = 2
    bytes[0] = 9
    date.setTime(1000)
    expect(copy).toEqual({
      list: [{ n: 1 }], map: new Map([[{ n: 1 }, { n: 1 }]]), set: new Set([{ n: 1 }]),
      bytes: new Uint8Array([1]), date: new Date(0),
    })
  })

  const others: [string, () => unknown, unknown][] = [
    ['a Buffer as a plain Uint8Array', () => Buffer.from([1, 2]), new Uint8Array([1, 2])],
    ['a Float64Array', () => new Float64Array([1.5, -2]), new Float64Array([1.5, -2])],
    ['a RegExp', () => /a+b/gi, /a+b/gi],
    ['a class instance as a plain object of its own fields', () => new Point(3, 4), { x: 3, y: 4 }],
    ['an object without a prototype as a plain object', () => Object.assign(Object.create(null), { a: 1 }), { a: 1 }],
    ['a sparse array with undefined in the holes', () => [1, , 3], [1, undefined, 3]],
  ]
  for (const [what, make, expected] of others) {
    test(`copies ${what}`, () => {
      const copy = cloneValue(make())
      expect(copy).toEqual(expected)
      expect(kindOf(copy)).toBe(kindOf(expected))
    })
  }

  test('a Buffer copy does not share memory with the Buffer', () => {
    const buffer = Buffer.from([1, 2, 3])
    const copy: unknown = cloneValue(buffer)
    buffer[0] = 99
    expect(copy).toEqual(new Uint8Array([1, 2, 3]))
  })

  const refused: [string, () => unknown][] = [
    ['a function', () => () => 1],
    ['a symbol', () => Symbol('s')],
    ['a function in an array', () => [1, () => 1]],
    ['a symbol in an object', () => ({ s: Symbol('s') })],
    ['a function as a Map key', () => new Map([[() => 1, 1]])],
    ['a function in a Set', () => new Set([() => 1])],
    ['a Promise', () => Promise.resolve(1)],
    ['a WeakMap', () => new WeakMap()],
    ['a WeakSet', () => new WeakSet()],
    ['a cyclic object', () => {
      const value: Record<string, unknown> = {}
      value.self = value
      return value
    }],
    ['a cyclic array through a Map', () => {
      const list: unknown[] = []
      list.push(new Map([['back', list]]))
      return list
    }],
    [`a value nested ${MAX_VALUE_DEPTH + 1} levels deep`, () => nest(MAX_VALUE_DEPTH + 1)],
    ['a value nested 200 levels deep', () => nest(200)],
    ['an array nested 10000 levels deep', () => {
      let value: unknown = []
      for (let i = 0; i < 10_000; i++) value = [value]
      return value
    }],
  ]
  for (const [what, make] of refused) {
    test(`refuses ${what} with BAD_ARGUMENT`, async () => {
      await expectCode(() => cloneValue(make()), 'BAD_ARGUMENT')
    })
  }

  test(`accepts a value nested exactly ${MAX_VALUE_DEPTH} levels deep`, () => {
    expect(cloneValue(nest(MAX_VALUE_DEPTH))).toEqual(nest(MAX_VALUE_DEPTH))
  })

  test('the same object twice (not a cycle) is copied twice', () => {
    const shared = { n: 1 }
    const copy = cloneValue({ a: shared, b: shared }) as { a: { n: number }; b: { n: number } }
    copy.a.n = 2
    expect(copy).toEqual({ a: { n: 2 }, b: { n: 1 } })
  })

  test('stores a "__proto__" key as "__proto_", as the wire does, and never changes a prototype', () => {
    const hostile = JSON.parse('{"__proto__": {"polluted": true}, "nested": {"__proto__": {"polluted": 1}}}')
    const copy = cloneValue(hostile) as Record<string, unknown>
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype)
    expect(Object.keys(copy)).toEqual(['__proto_', 'nested'])
    expect(copy).toEqual({ __proto_: { polluted: true }, nested: { __proto_: { polluted: 1 } } })
    expect(Object.getPrototypeOf(copy.nested)).toBe(Object.prototype)
    expect((copy as { polluted?: unknown }).polluted).toBeUndefined()
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined()
    expect(Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted')).toBe(false)
  })
})

describe('setOwn', () => {
  test('defines "__proto__" as an own enumerable property and sets any other key', () => {
    const target: Record<string, unknown> = {}
    setOwn(target, '__proto__', { x: 1 })
    setOwn(target, 'a', 2)
    expect(Object.getPrototypeOf(target)).toBe(Object.prototype)
    expect(Object.entries(target)).toEqual([['__proto__', { x: 1 }], ['a', 2]])
  })
})

describe('deepEqual', () => {
  const equal: [string, unknown, unknown][] = [
    ['the same number', 1, 1],
    ['NaN and NaN', Number.NaN, Number.NaN],
    ['0 and -0', 0, -0],
    ['equal strings', 'a', 'a'],
    ['equal bigints', 2n ** 100n, 2n ** 100n],
    ['null and null', null, null],
    ['nested objects in another key order', { a: [1, { b: 2 }], c: 3 }, { c: 3, a: [1, { b: 2 }] }],
    ['arrays with NaN', [Number.NaN], [Number.NaN]],
    ['Maps with the same entries', new Map<unknown, unknown>([[1, { a: 1 }]]), new Map<unknown, unknown>([[1, { a: 1 }]])],
    ['Sets of objects', new Set([{ a: 1 }]), new Set([{ a: 1 }])],
    ['Dates of the same time', new Date(5), new Date(5)],
    ['Uint8Arrays of the same bytes', new Uint8Array([1, 2]), new Uint8Array([1, 2])],
  ]
  for (const [what, a, b] of equal) {
    test(`holds for ${what}`, () => {
      expect([deepEqual(a, b), deepEqual(b, a)]).toEqual([true, true])
    })
  }

  const different: [string, unknown, unknown][] = [
    ['1 and "1"', 1, '1'],
    ['1 and 1n', 1, 1n],
    ['null and undefined', null, undefined],
    ['an object and null', {}, null],
    ['{a: undefined} and {}', { a: undefined }, {}],
    ['arrays of another order', [1, 2], [2, 1]],
    ['an array and an array-like object', [1], { 0: 1 }],
    ['a Map and a plain object', new Map([['a', 1]]), { a: 1 }],
    ['Maps whose keys differ in type', new Map([[1, 'a']]), new Map([['1', 'a']])],
    ['Dates of another time', new Date(5), new Date(6)],
    ['Uint8Arrays of other bytes', new Uint8Array([1]), new Uint8Array([2])],
    ['objects differing deep down', nest(30, 1), nest(30, 2)],
  ]
  for (const [what, a, b] of different) {
    test(`fails for ${what}`, () => {
      expect([deepEqual(a, b), deepEqual(b, a)]).toEqual([false, false])
    })
  }
})

describe('keys', () => {
  test('strings and numbers are keys; nothing else is', async () => {
    expect([isKey('a'), isKey(''), isKey(0), isKey(-1.5), isKey(null), isKey(1n), isKey({}), isKey(true)])
      .toEqual([true, true, true, true, false, false, false, false])
    expect([checkKey('a'), checkKey(3)]).toEqual(['a', 3])
    const error = await expectCode(() => checkKey({}), 'BAD_ARGUMENT')
    expect(error.message).toContain('a key must be a string or a number')
  })
})

describe('describe', () => {
  test('names a value by its type for error messages', () => {
    expect([null, undefined, [], 1, 'a', 1n, new Map(), new Date(0)].map(describeValue))
      .toEqual(['null', 'undefined', 'an array', 'a number', 'a string', 'a bigint', 'a Map', 'a Date'])
  })
})

describe('the value model on the server: checkArgs over decoded values', () => {
  const codec = createCodec()
  const decoded = (value: unknown) => codec.unpack(codec.pack(value))

  test('a decoded Error (msgpackr extension) is refused with the clients\' message', async () => {
    const error = await expectCode(() => checkArgs(['k', decoded({ e: new Error('x', { cause: 1 }) })]), 'BAD_ARGUMENT')
    expect(error.message).toBe(MODEL_MESSAGES.error)
  })

  test('decoded -0 is stored as 0, at the top and nested; nothing else is rewritten', () => {
    const nested = decoded([new Float64Array([-0]), { z: -0 }, new Map([['m', -0]])]) as unknown[]
    const args = [decoded(-0), nested]
    checkArgs(args)
    expect(Bun.inspect(args)).toBe(Bun.inspect([0, [new Float64Array([-0]), { z: 0 }, new Map([['m', 0]])]]))
    expect(args[1]).toBe(nested)
  })

  test('depth, cycles, lone surrogates and size are checked as on the clients', async () => {
    for (const [value, message] of [[nest(101), MODEL_MESSAGES.deep], ['\ud800', MODEL_MESSAGES.surrogate]] as const) {
      expect((await expectCode(() => checkArgs([value]), 'BAD_ARGUMENT')).message).toBe(message)
    }
    const chunk = new Uint8Array(MAX_VALUE_BYTES / 2)
    expect((await expectCode(() => checkArgs([chunk, chunk]), 'BAD_ARGUMENT')).message).toBe(MODEL_MESSAGES.large)
  })
})

describe('sizes', () => {
  const values: unknown[] = [1, 'héllo', '日本語', 2n ** 300n, new Uint8Array(1000), { a: [1, 'b', new Date(0)] },
    new Map([[1, new Set(['x'])]]), 'x'.repeat(100_000), [null, undefined, true]]

  test('what acceptArgs counts is at least the msgpack size, so a request under the limit fits a frame', () => {
    for (const value of values) expect(acceptArgs([value])).toBeGreaterThanOrEqual(createCodec().pack(value).length)
  })

  test('sizeOf (what maxMemory counts) counts a string by its length, everything else by msgpack size', () => {
    expect(sizeOf('日本語')).toBe(3 + 5)
    expect(sizeOf('x'.repeat(100_000))).toBe(100_000 + 5)
    for (const value of values.filter((v) => typeof v !== 'string')) {
      expect(sizeOf(value)).toBeGreaterThanOrEqual(createCodec().pack(value).length)
    }
  })

  test('scalar-only arguments (the fast path) count and rewrite as the walk does', async () => {
    const cases: unknown[][] = [['k', 1], ['k', -0], [-0, 'v', true, undefined], ['日本語', NaN, false], [],
      ['k', null], ['k', 2n], ['k', [1]]]
    for (const args of cases) {
      const fast = [...args], walked = [...args]
      expect(acceptArgs(fast)).toBe(checkArgs(walked))
      expect(fast.map((a) => Object.is(a, -0))).toEqual(walked.map((a) => Object.is(a, -0)))
      expect(fast.some((a) => Object.is(a, -0))).toBe(false)
    }
    const lone = await expectCode(() => acceptArgs(['k', '\ud800']), 'BAD_ARGUMENT')
    expect(lone.message).toBe((await expectCode(() => checkArgs(['\ud800']), 'BAD_ARGUMENT')).message)
  })

  test('strings count an upper bound until it passes the limit, then their exact UTF-8 bytes', async () => {
    // 3 bytes per code unit would be 60 MiB: counted exactly, 20 MiB of ASCII is within the limit.
    const ascii = 'a'.repeat(20 * 1024 * 1024)
    expect(acceptArgs([ascii])).toBe(ascii.length + 5)
    // 12 Mi code units of a 3-byte character are 36 MiB of UTF-8: over it, exactly counted too.
    const wide = '語'.repeat(12 * 1024 * 1024)
    expect((await expectCode(() => acceptArgs([wide]), 'BAD_ARGUMENT')).message).toBe(MODEL_MESSAGES.large)
    expect((await expectCode(() => checkArgs([wide]), 'BAD_ARGUMENT')).message).toBe(MODEL_MESSAGES.large)
  })
})
