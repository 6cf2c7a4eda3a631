// The hand-written msgpack reader must agree with msgpackr: whatever it reads msgpackr reads the
// same, and what it does not read it leaves to msgpackr.

import { describe, expect, test } from 'bun:test'
import { createCodec } from '../../src/protocol/codec.ts'
import { readReply, readRequest } from '../../src/protocol/fast-read.ts'
import { LENGTH_BYTES } from '../../src/protocol/frame.ts'
import { decodeReply, decodeRequest } from '../../src/protocol/messages.ts'
import { OTHER, SIMPLE } from '../fixtures/msgpack-values.ts'

const codec = createCodec()

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
      expect(decodeReply(codec, reply, { start: 0, end: reply.length }))
        .toEqual(codec.unpack(reply) as never)
      expect(decodeRequest(codec, request, { start: 0, end: request.length }).message)
        .toEqual(codec.unpack(request) as unknown[])
    }
  })

  test('read a frame in the middle of a buffer, and names come back equal every time', () => {
    const body = codec.pack([300, 'dict.get', 'users', ['user:1']])
    const data = new Uint8Array(body.length + 10)
    data.set(body, 5)
    for (let i = 0; i < 3; i++) {
      expect(readRequest(data, 5, 5 + body.length)).toEqual([300, 'dict.get', 'users', ['user:1']])
    }
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
      for (let f = 0; f < flips; f++) {
        bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256)
      }
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
