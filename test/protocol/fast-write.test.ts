// The hand-written msgpack writer must agree with msgpackr: what it writes msgpackr reads as the
// same values, and what it cannot write it leaves, with nothing appended.

import { describe, expect, test } from 'bun:test'
import { createCodec } from '../../src/protocol/codec.ts'
import { FrameReader, FrameWriter } from '../../src/protocol/frame.ts'
import { writeReply, writeRequest } from '../../src/protocol/messages.ts'
import { OTHER, SIMPLE } from '../fixtures/msgpack-values.ts'

const codec = createCodec()
const MAX = 64 * 1024 * 1024

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
