// Length-prefixed frames: the reader reassembles frames from chunks split anywhere, refuses an
// oversized prefix before its body arrives, and can stop mid-chunk; the writer and the outbox keep
// bytes in order across partial socket writes.

import { describe, expect, test } from 'bun:test'
import { CyberError } from '../../src/errors.ts'
import { KEEP_BYTES } from '../../src/protocol/byte-buffer.ts'
import { FrameReader, FrameWriter, LENGTH_BYTES, Outbox, encodeFrame } from '../../src/protocol/frame.ts'
import { expectCode } from '../contract/helpers.ts'

const bytes = (...values: number[]) => new Uint8Array(values)

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, part) => n + part.length, 0))
  let at = 0
  for (const part of parts) {
    out.set(part, at)
    at += part.length
  }
  return out
}

// Frames of several sizes, including an empty one and one longer than the reader's first buffer.
const BODIES = [
  bytes(1, 2, 3),
  bytes(),
  bytes(255),
  Uint8Array.from({ length: 300 }, (_, i) => i % 251),
  bytes(9, 8, 7, 6, 5),
]
const STREAM = concat(BODIES.map(encodeFrame))

/** Feeds `chunks` to a fresh reader and returns copies of the bodies it delivered. */
function readAll(chunks: Uint8Array[], reader = new FrameReader()): Uint8Array[] {
  const frames: Uint8Array[] = []
  for (const chunk of chunks) reader.push(chunk, (body) => void frames.push(body.slice()))
  return frames
}

describe('FrameReader', () => {
  test('a whole stream in one chunk yields every frame in order', () => {
    expect(readAll([STREAM])).toEqual(BODIES)
  })

  test('a stream split in two at every byte offset yields the same frames', () => {
    for (let at = 0; at <= STREAM.length; at++) {
      expect({ at, frames: readAll([STREAM.subarray(0, at), STREAM.subarray(at)]) })
        .toEqual({ at, frames: BODIES })
    }
  })

  test('a stream split in three at every pair of offsets yields the same frames', () => {
    // The first 40 bytes hold the boundaries of four frames: enough to cross every case.
    const head = 40
    for (let a = 0; a <= head; a++) {
      for (let b = a; b <= head; b++) {
        const chunks = [STREAM.subarray(0, a), STREAM.subarray(a, b), STREAM.subarray(b)]
        expect({ a, b, frames: readAll(chunks) }).toEqual({ a, b, frames: BODIES })
      }
    }
  })

  test('a stream fed one byte at a time yields the same frames', () => {
    const chunks = Array.from(STREAM, (byte) => bytes(byte))
    expect(readAll(chunks)).toEqual(BODIES)
  })

  test('bytes kept across chunks do not depend on the caller reusing its chunk buffer', () => {
    // Bun may reuse a chunk's memory after the data callback: simulate it by scribbling over it.
    const reader = new FrameReader()
    const frames: Uint8Array[] = []
    const scratch = new Uint8Array(STREAM.length)
    for (let at = 0; at < STREAM.length; at += 7) {
      const piece = STREAM.subarray(at, at + 7)
      const chunk = scratch.subarray(0, piece.length)
      chunk.set(piece)
      reader.push(chunk, (body) => void frames.push(body.slice()))
      chunk.fill(0xee)
    }
    expect(frames).toEqual(BODIES)
  })

  test('buffered counts the bytes of an unfinished frame', () => {
    const reader = new FrameReader()
    expect(readAll([STREAM.subarray(0, 5)], reader)).toEqual([])
    expect(reader.buffered).toBe(5)
    expect(readAll([STREAM.subarray(5, 7)], reader)).toEqual([bytes(1, 2, 3)])
    expect(reader.buffered).toBe(0)
  })

  test('zero-length frames are delivered as empty bodies', () => {
    const stream = concat([encodeFrame(bytes()), encodeFrame(bytes()), encodeFrame(bytes(4))])
    expect(readAll([stream])).toEqual([bytes(), bytes(), bytes(4)])
    expect(readAll(Array.from(stream, (byte) => bytes(byte)))).toEqual([bytes(), bytes(), bytes(4)])
  })

  test('a frame exactly at the limit is accepted', () => {
    const body = new Uint8Array(64).fill(3)
    expect(readAll([encodeFrame(body)], new FrameReader(64))).toEqual([body])
  })

  test('a length prefix over the limit fails with FRAME_TOO_LARGE before any body byte arrives', async () => {
    const reader = new FrameReader(1024)
    const prefix = new Uint8Array(LENGTH_BYTES)
    new DataView(prefix.buffer).setUint32(0, 1025)
    await expectCode(() => reader.push(prefix, () => {}), 'FRAME_TOO_LARGE')
  })

  test('a length prefix over the limit split across chunks fails on its last byte', async () => {
    const reader = new FrameReader(1024)
    const prefix = new Uint8Array(LENGTH_BYTES)
    new DataView(prefix.buffer).setUint32(0, 0xffffffff)
    reader.push(prefix.subarray(0, 3), () => {})
    await expectCode(() => reader.push(prefix.subarray(3), () => {}), 'FRAME_TOO_LARGE')
  })

  test('frames before an oversized prefix in the same chunk are delivered first', () => {
    const reader = new FrameReader(16)
    const frames: Uint8Array[] = []
    const huge = new Uint8Array(LENGTH_BYTES)
    new DataView(huge.buffer).setUint32(0, 17)
    let caught: unknown
    try {
      reader.push(concat([encodeFrame(bytes(1)), huge]), (body) => void frames.push(body.slice()))
    } catch (error) {
      caught = error
    }
    expect(frames).toEqual([bytes(1)])
    expect((caught as CyberError).code).toBe('FRAME_TOO_LARGE')
  })

  test('onFrame returning false stops reading and drops the rest of the chunk', () => {
    const reader = new FrameReader()
    const seen: Uint8Array[] = []
    reader.push(STREAM, (body) => {
      seen.push(body.slice())
      return seen.length < 2
    })
    expect(seen).toEqual(BODIES.slice(0, 2))
    expect(reader.buffered).toBe(0)
  })

  test('a reader stopped mid-stream on a kept partial frame drops that too', () => {
    const reader = new FrameReader()
    const seen: Uint8Array[] = []
    reader.push(STREAM.subarray(0, 5), () => {}) // part of the first frame is kept
    reader.push(STREAM.subarray(5), (body) => {
      seen.push(body.slice())
      return false
    })
    expect({ seen, buffered: reader.buffered }).toEqual({ seen: [BODIES[0]!], buffered: 0 })
  })
})

describe('FrameReader memory', () => {
  const BIG = 4 * 1024 * 1024
  test('the buffer that reassembled a large frame goes back to a small one once the frame is read', () => {
    const reader = new FrameReader()
    const big = encodeFrame(new Uint8Array(BIG).fill(7))
    const frames: number[] = []
    for (let at = 0; at < big.length; at += 64 * 1024) {
      reader.push(big.subarray(at, Math.min(at + 64 * 1024, big.length)), (body) => void frames.push(body.length))
    }
    expect(frames).toEqual([BIG])
    expect(reader.capacity).toBeLessThanOrEqual(KEEP_BYTES)
  })

  test('a large frame followed by the start of a small one keeps only a small buffer', () => {
    const reader = new FrameReader()
    const stream = concat([encodeFrame(new Uint8Array(BIG)), encodeFrame(bytes(1, 2, 3))])
    const cut = stream.length - 2
    const frames: number[] = []
    for (let at = 0; at < cut; at += 64 * 1024) {
      reader.push(stream.subarray(at, Math.min(at + 64 * 1024, cut)), (body) => void frames.push(body.length))
    }
    expect({ frames, buffered: reader.buffered }).toEqual({ frames: [BIG], buffered: LENGTH_BYTES + 1 })
    expect(reader.capacity).toBeLessThanOrEqual(KEEP_BYTES)
    reader.push(stream.subarray(cut), (body) => void frames.push(body.length))
    expect(frames).toEqual([BIG, 3])
  })
})

describe('FrameWriter', () => {
  test('write prefixes each body with its big-endian length', () => {
    const writer = new FrameWriter(4)
    writer.write(bytes(1, 2))
    writer.write(bytes())
    writer.write(new Uint8Array(258).fill(7))
    expect(writer.length).toBe(6 + 4 + 262)
    const out = writer.take()
    expect(out.subarray(0, 10)).toEqual(bytes(0, 0, 0, 2, 1, 2, 0, 0, 0, 0))
    expect(out.subarray(10, 14)).toEqual(bytes(0, 0, 1, 2))
    expect(readAll([out])).toEqual([bytes(1, 2), bytes(), new Uint8Array(258).fill(7)])
  })

  test('take empties the writer and returns only the bytes written since the last take', () => {
    const writer = new FrameWriter()
    writer.write(bytes(1))
    expect(writer.take()).toEqual(encodeFrame(bytes(1)))
    expect(writer.length).toBe(0)
    expect(writer.take()).toEqual(bytes())
    writer.writeRaw(bytes(9, 9))
    expect(writer.take()).toEqual(bytes(9, 9))
  })

  test('writeRaw appends bytes as they are, after the frames already written', () => {
    const writer = new FrameWriter(2)
    writer.write(bytes(5))
    writer.writeRaw(bytes(0, 0, 0, 1, 6))
    expect(readAll([writer.take()])).toEqual([bytes(5), bytes(6)])
  })
})

/** A fake socket that takes at most `accept` bytes per write (-1: closed). */
function fakeSocket(accept: number[]) {
  const received: Uint8Array[] = []
  const write = (chunk: Uint8Array): number => {
    const n = accept.shift() ?? chunk.length
    if (n > 0) received.push(chunk.slice(0, n))
    return n < 0 ? n : Math.min(n, chunk.length)
  }
  return { received, write, all: () => concat(received) }
}

describe('Outbox', () => {
  test('flush sends every frame gathered since the last flush in one write', () => {
    const socket = fakeSocket([])
    const outbox = new Outbox(socket.write)
    outbox.frames.write(bytes(1))
    outbox.frames.write(bytes(2, 3))
    outbox.flush()
    expect(socket.received).toEqual([concat([encodeFrame(bytes(1)), encodeFrame(bytes(2, 3))])])
    expect(outbox.unsent).toBe(0)
    outbox.flush()
    expect(socket.received.length).toBe(1)
  })

  test('a partial write keeps the rest, in order, ahead of later frames until onDrain', () => {
    const socket = fakeSocket([3])
    const outbox = new Outbox(socket.write)
    outbox.frames.write(bytes(1, 2, 3, 4))
    outbox.flush()
    expect(socket.all()).toEqual(bytes(0, 0, 0))
    expect(outbox.unsent).toBe(5)
    // More frames while waiting for drain: flush must not write around the leftover.
    outbox.frames.write(bytes(5))
    outbox.flush()
    expect(socket.received.length).toBe(1)
    expect(outbox.unsent).toBe(10)
    outbox.onDrain()
    outbox.flush()
    expect(outbox.unsent).toBe(0)
    expect(readAll([socket.all()])).toEqual([bytes(1, 2, 3, 4), bytes(5)])
  })

  test('a drain sends only what earlier flushes released: frames gathered since wait for flush', () => {
    // A server gathers replies to writes that are not durable yet and flushes them only once the
    // log says so; a drain in between must not send them around that hold.
    const socket = fakeSocket([3])
    const outbox = new Outbox(socket.write)
    outbox.frames.write(bytes(1, 2, 3, 4))
    outbox.flush()
    outbox.frames.write(bytes(5))
    outbox.onDrain()
    expect(readAll([socket.all()])).toEqual([bytes(1, 2, 3, 4)])
    expect(outbox.unsent).toBe(5)
    outbox.flush()
    expect(readAll([socket.all()])).toEqual([bytes(1, 2, 3, 4), bytes(5)])
  })

  test('several partial writes in a row still deliver every byte in order', () => {
    const socket = fakeSocket([1, 0, 2, 5, 1])
    const outbox = new Outbox(socket.write)
    const bodies = [bytes(1, 2, 3), bytes(4), bytes(), bytes(5, 6)]
    for (const body of bodies) outbox.frames.write(body)
    outbox.flush()
    for (let i = 0; i < 6 && outbox.unsent > 0; i++) outbox.onDrain()
    expect(outbox.unsent).toBe(0)
    expect(readAll([socket.all()])).toEqual(bodies)
  })

  test('a write to a closed socket (-1) drops the bytes without waiting for a drain', () => {
    const socket = fakeSocket([-1])
    const outbox = new Outbox(socket.write)
    outbox.frames.write(bytes(1))
    outbox.flush()
    expect(outbox.unsent).toBe(0)
    expect(socket.received).toEqual([])
  })

  test('a large batch the socket takes only in part is held once, not copied, and the buffers shrink after', () => {
    const BIG = 4 * 1024 * 1024
    const socket = fakeSocket([1000])
    const outbox = new Outbox(socket.write)
    outbox.frames.write(new Uint8Array(BIG).fill(3))
    outbox.flush()
    expect(outbox.unsent).toBe(BIG + LENGTH_BYTES - 1000)
    // The rest of the batch, plus a fresh small frame buffer: not a second copy of the reply.
    expect(outbox.capacity).toBeLessThan(BIG + KEEP_BYTES)
    outbox.onDrain()
    expect(outbox.unsent).toBe(0)
    expect(outbox.capacity).toBeLessThanOrEqual(KEEP_BYTES)
    expect(readAll([socket.all()]).map((body) => body.length)).toEqual([BIG])
  })

  test('a large batch sent whole leaves no large buffer behind', () => {
    const outbox = new Outbox(fakeSocket([]).write)
    outbox.frames.write(new Uint8Array(4 * 1024 * 1024))
    outbox.flush()
    expect(outbox.capacity).toBeLessThanOrEqual(KEEP_BYTES)
  })

  test('sealed batches shrink back too', () => {
    const socket = fakeSocket([500])
    const outbox = new Outbox(socket.write)
    outbox.sealWith((plain) => plain.slice()) // a stand-in cipher: the framing is what is tested
    outbox.frames.write(new Uint8Array(2 * 1024 * 1024).fill(5))
    outbox.flush()
    outbox.onDrain()
    expect({ unsent: outbox.unsent, small: outbox.capacity <= KEEP_BYTES }).toEqual({ unsent: 0, small: true })
  })
})
