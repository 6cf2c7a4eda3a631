// The one msgpack configuration: every value type CyberDB stores survives a round trip with its
// type intact, and a function is refused rather than silently dropped.

import { describe, expect, test } from 'bun:test'
import { Packr } from 'msgpackr'
import { randomBytes } from 'node:crypto'
import { DictTable } from '../../src/engine/dict-table.ts'
import { Host } from '../../src/host/host.ts'
import { Server, connect } from '../../src/index.ts'
import { CODEC_OPTIONS, createCodec } from '../../src/protocol/codec.ts'
import { expectCode, tempDir } from '../contract/helpers.ts'
import { spawnFixture } from '../fixtures/spawn.ts'
import { RawClient } from '../fixtures/wire.ts'

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

describe('decoded values own their memory (issue 8.1)', () => {
  test('a decoded Uint8Array is a copy: changing the source bytes later does not change it', () => {
    // A Buffer packs as msgpack bin (a Uint8Array as a typed-array extension, always sliced).
    const packed = codec.pack({ bytes: Buffer.from([1, 2, 3]) })
    const decoded = codec.unpack(packed) as { bytes: Uint8Array }
    packed.fill(0)
    expect([decoded.bytes, decoded.bytes.constructor]).toEqual([new Uint8Array([1, 2, 3]), Uint8Array])
  })

  test('a bin decoded from a Buffer is a plain Uint8Array, as embedded values are', () => {
    const decoded = codec.unpack(Buffer.from(codec.pack(Buffer.from([7, 8])))) as Uint8Array
    expect([decoded, decoded.constructor]).toEqual([new Uint8Array([7, 8]), Uint8Array])
  })

  test('over a real server, stored bytes stay intact under later traffic, pipelined, and after save and load', async () => {
    using dir = tempDir()
    const path = dir.file('bytes.cdb')
    await using server = new Server()
    server.setBackup(path, 3600)
    const { port } = await server.listen({ host: '127.0.0.1', port: 0, password: 'pw' })
    await using db = await connect(`cyberdb://:pw@127.0.0.1:${port}?pool=1`)
    await db.createDict('bytes')
    const d = db.dict<Uint8Array>('bytes')
    const big = randomBytes(1 << 20)
    await d.set('big', big)
    for (let i = 0; i < 3; i++) await d.set(`more${i}`, randomBytes(1 << 20))
    const small = Array.from({ length: 200 }, () => randomBytes(10_000))
    await Promise.all(small.map((bytes, i) => d.set(`s${i}`, bytes)))
    const plain = (b: Buffer) => new Uint8Array(b)
    const expected = { big: plain(big), small: small.map(plain) }
    const got = async (read: (key: string) => Promise<unknown> | unknown) => ({
      big: await read('big'),
      small: await Promise.all(small.map((_, i) => read(`s${i}`))),
    })
    expect(await got((k) => d.get(k))).toEqual(expected)
    // The log replay path, then the snapshot path: each decodes into values the store keeps.
    const table = async (): Promise<DictTable> => {
      const host = new Host()
      await new Server({ host }).load(path)
      return host.store.tables.get('bytes') as DictTable
    }
    const replayed = await table()
    expect(await got((k) => replayed.get(k))).toEqual(expected)
    await db.save()
    const loaded = await table()
    expect(await got((k) => loaded.get(k))).toEqual(expected)
  })
})

describe('shared-reference graphs are refused (issue 8.2)', () => {
  // msgpackr's structured-clone encoding: ids (0x69) and pointers (0x70) to earlier objects.
  const cloner = new Packr({ ...CODEC_OPTIONS, structuredClone: true })
  const dag = (depth: number): unknown => {
    let value: unknown = [1]
    for (let i = 0; i < depth; i++) value = [value, value]
    return value
  }

  test('the decoder refuses a frame with reference extensions before anything walks it', () => {
    const packed = cloner.pack(['k', dag(40)])
    expect(packed.length).toBeLessThan(1000)
    expect(() => codec.unpack(packed)).toThrow('Structured clone extension is disabled')
  })

  test('a 40-level DAG sent to a server in its own process is refused at once with PROTOCOL; others are still served', async () => {
    const child = spawnFixture('values-server-fixture.ts', ['pw'])
    try {
      await child.stdout.until((lines) => lines.some((l) => l.startsWith('listening ')), 'the port')
      const port = Number(child.stdout.lines()[0]!.split(' ')[1])
      await using bystander = await connect(`cyberdb://:pw@127.0.0.1:${port}?pool=1`)
      await bystander.createDict('d', { n: 1 })
      await using attacker = await RawClient.connect(port)
      expect(await attacker.handshake('pw')).toEqual([0, 0, null])
      const started = performance.now()
      attacker.sendFrame(cloner.pack([1, 'dict.set', 'd', ['k', dag(40)]]))
      const [id, status, [code]] = await attacker.nextMessage() as [number, number, [string]]
      await attacker.closed
      expect({ id, status, code, fast: performance.now() - started < 2000 })
        .toEqual({ id: 0, status: 1, code: 'PROTOCOL', fast: true })
      expect(await bystander.dict('d').toObject()).toEqual({ n: 1 })
      await using fresh = await connect(`cyberdb://:pw@127.0.0.1:${port}`)
      expect(await fresh.dict('d').get('n')).toBe(1)
    } finally {
      child.proc.kill('SIGKILL') // before the fix it spins and ignores SIGTERM
      await child.finish()
    }
  })
})
