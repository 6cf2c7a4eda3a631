// The hand-written msgpack of the simple shapes must agree with msgpackr both ways: what it writes
// msgpackr reads as the same values, and whatever it reads msgpackr reads the same (or it leaves
// the bytes to msgpackr).

import { describe, expect, test } from 'bun:test'
import { createCodec } from '../../src/protocol/codec.ts'
import { readReply, readRequest } from '../../src/protocol/fast-path.ts'
import { FrameReader, FrameWriter, LENGTH_BYTES } from '../../src/protocol/frame.ts'
import { decodeReply, decodeRequest, writeReply, writeRequest } from '../../src/protocol/messages.ts'

const codec = createCodec()
const MAX = 64 * 1024 * 1024

const SIMPLE: unknown[] = [
  '', 'a', 'x'.repeat(31), 'x'.repeat(32), 'y'.repeat(255), 'z'.repeat(256), 'w'.repeat(0xffff),
  0, -0, 1, 127, 128, 255, 256, 0xffff, 0x10000, 0xffffffff, 2 ** 32, -1, -32, -33, -128, -129,
  -0x8000, -0x8001, -0x80000000, -0x80000001, 0.5, -1.25, 1e300, NaN, Infinity, -Infinity,
  Number.MAX_SAFE_INTEGER, true, false, null, undefined,
  [], [1], ['a', 2, null, undefined, true, 1.5], Array.from({ length: 15 }, (_, i) => `k${i}`),
  Array.from({ length: 16 }, (_, i) => i), Array.from({ length: 0xffff }, (_, i) => i & 0xff),
]
// Values the fast path leaves to msgpackr.
const OTHER: unknown[] = [
  'é', 'naïve ascii-looking', '\u{1F600}', 'v'.repeat(0x10000), 1n, { a: 1 }, new Map(),
  new Uint8Array([1, 2]), new Date(0), [[1]], [1, [2]], ['é'], [{ a: 1 }], [1n],
  Array.from({ length: 0x10000 }, () => 0), new (class List extends Array {})(),
]

function frames(write: (writer: FrameWriter) => boolean): { ok: boolean; bodies: Uint8Array[] } {
  const writer = new FrameWriter(16)
  const ok = write(writer)
  const bodies: Uint8Array[] = []
  new FrameReader().push(writer.take(), (body) => void bodies.push(body.slice()))
  return { ok, bodies }
}

describe('writeRequest and writeReply', () => {
  test('every simple value is written so that msgpackr reads it back the same', () => {
    for (const value of SIMPLE) {
      for (const id of [1, 127, 128, 65535, 65536, 0xffffffff]) {
        const request = frames((w) => writeRequest(w, id, 'dict.set', 'kv', ['key', value], MAX))
        expect(request.ok).toBe(true)
        expect(request.bodies.length).toBe(1)
        const stored = value === 0 ? 0 : value // -0 goes as 0, as msgpackr sends it
        expect(codec.unpack(request.bodies[0]!)).toEqual([id, 'dict.set', 'kv', ['key', stored]])
        const reply = frames((w) => writeReply(w, id, 0, value, MAX))
        expect(reply.ok).toBe(true)
        expect(codec.unpack(reply.bodies[0]!)).toEqual([id, 0, stored])
      }
    }
  })

  test('anything else is left to msgpackr, with nothing appended', () => {
    for (const value of OTHER) {
      const request = frames((w) => writeRequest(w, 1, 'dict.set', 'kv', ['key', value], MAX))
      expect(request).toEqual({ ok: false, bodies: [] })
      const reply = frames((w) => writeReply(w, 1, 0, value, MAX))
      expect(reply).toEqual({ ok: false, bodies: [] })
    }
    const many = Array.from({ length: 16 }, (_, i) => i)
    expect(frames((w) => writeRequest(w, 1, 'dict.x', 'kv', many, MAX)).ok).toBe(false)
    expect(frames((w) => writeRequest(w, 1, 'dict.é', 'kv', [], MAX)).ok).toBe(false)
    expect(frames((w) => writeRequest(w, 2 ** 32, 'dict.get', 'kv', [], MAX)).ok).toBe(false)
  })

  test('a frame past the frame limit is not written (the slow path says why)', () => {
    const big = 'b'.repeat(2000)
    expect(frames((w) => writeReply(w, 1, 0, big, 1000))).toEqual({ ok: false, bodies: [] })
    expect(frames((w) => writeRequest(w, 1, 'dict.set', 'kv', ['k', big], 1000)))
      .toEqual({ ok: false, bodies: [] })
    expect(frames((w) => writeReply(w, 1, 0, big, 2000 + 10)).ok).toBe(true)
  })

  test('frames written in place follow each other in one batch', () => {
    const writer = new FrameWriter(8) // grows while writing
    for (let i = 1; i <= 100; i++) expect(writeReply(writer, i, 0, `value-${i}`, MAX)).toBe(true)
    const ids: unknown[] = []
    new FrameReader().push(writer.take(), (body) => void ids.push((codec.unpack(body) as unknown[])[2]))
    expect(ids).toEqual(Array.from({ length: 100 }, (_, i) => `value-${i + 1}`))
  })
})

describe('readRequest and readReply', () => {
  test('read what msgpackr writes as msgpackr reads it', () => {
    for (const value of [...SIMPLE, ...OTHER]) {
      const request = codec.pack([7, 'dict.set', 'kv', ['key', value]])
      const fast = readRequest(request, 0, request.length)
      if (fast !== undefined) expect(fast).toEqual(codec.unpack(request) as unknown[])
      // Arrays past 15 items are read by msgpackr (its native extractor is faster at many strings).
      const short = !Array.isArray(value) || value.length <= 15
      if (SIMPLE.includes(value) && typeof value !== 'number' && short) expect(fast).toBeDefined()
      if (!short) expect(fast).toBeUndefined()
      const reply = codec.pack([7, 1, value])
      const fastReply = readReply(reply, 0, reply.length)
      if (fastReply !== undefined) expect(fastReply).toEqual(codec.unpack(reply) as never)
      // Through the message functions, whichever path: the same values.
      expect(decodeReply(codec, reply, { start: 0, end: reply.length })).toEqual(codec.unpack(reply) as never)
      expect(decodeRequest(codec, request, { start: 0, end: request.length }).message)
        .toEqual(codec.unpack(request) as unknown[])
    }
  })

  test('read a frame in the middle of a buffer, and names come back equal every time', () => {
    const body = codec.pack([300, 'dict.get', 'users', ['user:1']])
    const data = new Uint8Array(body.length + 10)
    data.set(body, 5)
    for (let i = 0; i < 3; i++) expect(readRequest(data, 5, 5 + body.length)).toEqual([300, 'dict.get', 'users', ['user:1']])
  })

  test('mutated frames: whatever the fast path accepts, msgpackr reads the same', () => {
    // A seeded walk over corrupted bytes: bounded, and the same every run.
    let seed = 12345
    const random = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32
    const samples = [
      [1, 'dict.set', 'kv', ['user:100000', 'value-000042-xxxxxxx']],
      [65536, 'dict.incr', 't', ['n', -5, 1.5, null, true, undefined]],
      [9, 0, 'x'.repeat(40)],
      [3, 'dict.getMany', 'kv', [['a', 'b', 'cc', 'user:1']]],
      [4, 0, ['v1', null, undefined, 'value-2', 17, -3]],
    ].map((message) => Uint8Array.from(codec.pack(message)))
    let accepted = 0
    for (let trial = 0; trial < 20_000; trial++) {
      const bytes = Uint8Array.from(samples[trial % samples.length]!)
      const flips = 1 + Math.floor(random() * 3)
      for (let f = 0; f < flips; f++) bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256)
      const end = random() < 0.1 ? Math.floor(random() * bytes.length) : bytes.length
      for (const fast of [readRequest(bytes, 0, end), readReply(bytes, 0, end)]) {
        if (fast === undefined) continue
        accepted++
        expect(codec.unpack(bytes.subarray(0, end))).toEqual(fast as never)
      }
    }
    expect(accepted).toBeGreaterThan(1000)
  })

  test('a truncated frame is never read by the fast path', () => {
    const body = codec.pack([1, 'dict.set', 'kv', ['key', 'value']])
    for (let end = 0; end < body.length; end++) {
      expect(readRequest(body, 0, end)).toBeUndefined()
      expect(readReply(body, 0, end)).toBeUndefined()
    }
    expect(LENGTH_BYTES).toBe(4)
  })
})
