// Length-prefixed frames: a u32 big-endian body length, then the body. FrameReader reassembles
// frames from socket chunks split at any byte; FrameWriter gathers the frames of one tick into one
// buffer, because every socket.write() in Bun is its own system call.

import { CyberError } from '../errors.ts'
import { ByteBuffer, KEEP_BYTES } from './byte-buffer.ts'
import type { Room } from './fast-write.ts'

// 64 MiB by default: room for a large list reply, but one bad client cannot make us buffer
// gigabytes before the length prefix gives it away.
export const MAX_FRAME_BYTES = 64 * 1024 * 1024
export const LENGTH_BYTES = 4

export class FrameReader {
  readonly maxFrameBytes: number
  // Bytes of an unfinished frame, kept across chunks. Bun may reuse a chunk's memory after the
  // data callback returns, so what is kept is copied.
  #pending = new Uint8Array(0)
  #pendingLength = 0

  constructor(maxFrameBytes = MAX_FRAME_BYTES) {
    this.maxFrameBytes = maxFrameBytes
  }

  /**
   * Feeds one chunk; calls `onFrame` with each complete body, a view that is valid only during the
   * call (decode it there). Throws FRAME_TOO_LARGE as soon as a length prefix is too big.
   * `onFrame` may return false to stop reading (the rest of the chunk is dropped).
   */
  push(chunk: Uint8Array, onFrame: (body: Uint8Array) => boolean | void): void {
    this.pushRanges(chunk, (data, start, end) => onFrame(data.subarray(start, end)))
  }

  /**
   * As push(), but hands each body as a range of a buffer instead of a view of its own: the hot
   * paths decode in place (msgpackr's `unpack(data, { start, end })`) and allocate nothing per frame.
   */
  pushRanges(chunk: Uint8Array, onFrame: (data: Uint8Array, start: number, end: number) => boolean | void): void {
    let data = chunk
    let offset = 0
    if (this.#pendingLength > 0) {
      data = this.#append(chunk)
    }
    const end = data.length
    while (end - offset >= LENGTH_BYTES) {
      const length = ((data[offset]! << 24) >>> 0) + (data[offset + 1]! << 16) +
        (data[offset + 2]! << 8) + data[offset + 3]!
      if (length > this.maxFrameBytes) {
        this.#pendingLength = 0
        throw new CyberError('FRAME_TOO_LARGE',
          `a frame of ${length} bytes exceeds the limit of ${this.maxFrameBytes} bytes`)
      }
      const start = offset + LENGTH_BYTES
      if (end - start < length) break
      offset = start + length
      if (onFrame(data, start, offset) === false) {
        this.#pendingLength = 0
        return
      }
    }
    this.#keep(data, offset, end)
  }

  /** Bytes received but not yet part of a complete frame. */
  get buffered(): number {
    return this.#pendingLength
  }

  /** Bytes of memory held for reassembly. */
  get capacity(): number {
    return this.#pending.length
  }

  #append(chunk: Uint8Array): Uint8Array {
    const needed = this.#pendingLength + chunk.length
    if (needed > this.#pending.length) {
      const grown = new Uint8Array(Math.max(needed, this.#pending.length * 2))
      grown.set(this.#pending.subarray(0, this.#pendingLength))
      this.#pending = grown
    }
    this.#pending.set(chunk, this.#pendingLength)
    this.#pendingLength = needed
    return this.#pending.subarray(0, needed)
  }

  // What is left of a chunk waits for the rest of its frame. Once a large frame is done, the
  // buffer that reassembled it goes back to a small one: it is not kept for the connection's life.
  #keep(data: Uint8Array, offset: number, end: number): void {
    const rest = end - offset
    if (rest === 0) {
      this.#pendingLength = 0
      if (this.#pending.length > KEEP_BYTES) this.#pending = new Uint8Array(0)
    } else if (data.buffer === this.#pending.buffer && (rest > KEEP_BYTES || this.#pending.length <= KEEP_BYTES)) {
      this.#pending.copyWithin(0, offset, end)
      this.#pendingLength = rest
    } else {
      if (rest > this.#pending.length || this.#pending.length > KEEP_BYTES) {
        const kept = new Uint8Array(Math.max(rest, 4096))
        kept.set(data.subarray(offset, end))
        this.#pending = kept
      } else {
        this.#pending.set(data.subarray(offset, end))
      }
      this.#pendingLength = rest
    }
  }
}

/** Gathers frames into one growable buffer; `take()` hands out the bytes written so far. */
export class FrameWriter extends ByteBuffer {
  /** Appends one frame: the length prefix, then a copy of `body`. */
  write(body: Uint8Array): void {
    const at = this.reserve(LENGTH_BYTES + body.length)
    this.view.setUint32(at, body.length)
    this.bytes.set(body, at + LENGTH_BYTES)
  }

  /** Appends one frame whose body is `source[start..end)`, copied without an intermediate view. */
  writeRange(source: Buffer, start: number, end: number): void {
    const length = end - start
    const at = this.reserve(LENGTH_BYTES + length)
    this.view.setUint32(at, length)
    source.copy(this.bytes, at + LENGTH_BYTES, start, end)
  }

  // The buffer as it is after the last beginFrame(), for writers that fill a frame in place.
  readonly room: Room = { bytes: this.bytes, view: this.view }

  /** Reserves one frame of at most `maxBody` bytes to be written in place through `room`;
   * returns where its body starts. endFrame() closes it at its real size. */
  beginFrame(maxBody: number): number {
    const body = this.reserve(LENGTH_BYTES + maxBody) + LENGTH_BYTES
    this.room.bytes = this.bytes
    this.room.view = this.view
    return body
  }

  /** Closes the frame begun at `body` with its body ending at `end`; `end < body` drops it. */
  endFrame(body: number, end: number): void {
    if (end < body) {
      this.truncate(body - LENGTH_BYTES)
      return
    }
    this.view.setUint32(body - LENGTH_BYTES, end - body)
    this.truncate(end)
  }

  /** Appends raw bytes that are already framed (or a partial write's leftover). */
  writeRaw(bytes: Uint8Array): void {
    const at = this.reserve(bytes.length) // first: it may replace the buffer
    this.bytes.set(bytes, at)
  }
}

/** One frame as its own buffer: length prefix and body. */
export function encodeFrame(body: Uint8Array): Uint8Array {
  const frame = new Uint8Array(LENGTH_BYTES + body.length)
  new DataView(frame.buffer).setUint32(0, body.length)
  frame.set(body, LENGTH_BYTES)
  return frame
}

// An encrypted connection seals its write batches in pieces of at most this many bytes; inner
// frames may span pieces (the inner stream is a byte stream), so no reply is too big to seal.
export const SEAL_CHUNK_BYTES = 256 * 1024
// Room for the cipher's tag and any padding past the sealed piece itself.
const SEAL_OVERHEAD_BYTES = 64

// A partial write leaves the rest held for the drain event: up to this size it is copied out (the
// batch buffer is reused at once); past it, the batch buffer itself is handed over, so a large
// reply is never held twice.
const COPY_REST_BYTES = 64 * 1024

/**
 * Frames waiting for one socket: gathered by `frames.write()`, sent by `flush()` in one write
 * (sealed first, in SEAL_CHUNK_BYTES pieces, once the connection is encrypted). What the socket
 * does not take waits for `onDrain()`; `unsent` tells how much is held, so the owner can stop
 * reading from a peer that does not read. Buffers shrink back once a large batch has left.
 */
export class Outbox {
  readonly frames = new FrameWriter()
  // Sealed pieces of the current batch, when sealing.
  readonly #sealed = new FrameWriter(0)
  // Bytes the socket did not take yet, oldest first; each view owns its memory.
  readonly #held: Uint8Array[] = []
  #heldBytes = 0
  readonly #write: (bytes: Uint8Array) => number
  #seal: ((plain: Uint8Array) => Uint8Array) | undefined
  #waitingDrain = false

  constructor(write: (bytes: Uint8Array) => number) {
    this.#write = write
  }

  /** From now on, every batch is sealed with `seal` before it is written. */
  sealWith(seal: (plain: Uint8Array) => Uint8Array): void {
    this.#seal = seal
  }

  /** Bytes gathered or held that the socket has not taken. */
  get unsent(): number {
    return this.frames.length + this.#sealed.length + this.#heldBytes
  }

  /** Bytes of memory held for this socket: buffers (used or not) and what waits for a drain. */
  get capacity(): number {
    return this.frames.capacity + this.#sealed.capacity + this.#heldBytes
  }

  flush(): void {
    if (this.#waitingDrain || !this.#sendHeld()) return
    if (this.#seal) {
      this.#sealPending()
      if (this.#sealed.length > 0) this.#send(this.#sealed)
    } else if (this.frames.length > 0) {
      this.#send(this.frames) // straight from the batch, no copy
    }
  }

  /** The socket drained: sends what it had left of batches already flushed, and nothing newer.
   * Frames gathered since wait for the owner's flush(): a server holds replies to writes until
   * they are durable, and a drain must not send them around that hold. */
  onDrain(): void {
    this.#waitingDrain = false
    this.#sendHeld()
  }

  /** Everything still to send, sealed when sealing, for a final socket.end(bytes). */
  takeAll(): Uint8Array {
    this.#sealPending()
    const last = this.#seal ? this.#sealed : this.frames
    if (this.#held.length === 0) return last.take()
    const all = Buffer.concat([...this.#held, last.take()])
    this.#held.length = 0
    this.#heldBytes = 0
    return all
  }

  #sealPending(): void {
    if (this.#seal === undefined || this.frames.length === 0) return
    const plain = this.frames.take()
    for (let at = 0; at < plain.length; at += SEAL_CHUNK_BYTES) {
      this.#sealed.write(this.#seal(plain.subarray(at, Math.min(at + SEAL_CHUNK_BYTES, plain.length))))
    }
    this.frames.shrink()
  }

  // Writes what is held, in order; false while the socket still leaves some of it.
  #sendHeld(): boolean {
    while (this.#held.length > 0) {
      const bytes = this.#held[0]!
      const written = this.#write(bytes)
      if (written < 0) { // closed: its close event follows, and nothing will be taken
        this.#held.length = 0
        this.#heldBytes = 0
        return false
      }
      this.#heldBytes -= written
      if (written < bytes.length) {
        this.#held[0] = bytes.subarray(written)
        this.#waitingDrain = true
        return false
      }
      this.#held.shift()
    }
    return true
  }

  #send(batch: FrameWriter): void {
    const bytes = batch.take()
    const written = this.#write(bytes)
    if (written === bytes.length || written < 0) { // all sent, or closed (its close event follows)
      batch.shrink()
      return
    }
    const rest = bytes.subarray(written)
    if (rest.length <= COPY_REST_BYTES) {
      this.#held.push(rest.slice())
      batch.shrink()
    } else {
      batch.release()
      this.#held.push(rest)
    }
    this.#heldBytes += rest.length
    this.#waitingDrain = true
  }
}

/**
 * Frames arriving from one socket, opened first once the connection is encrypted: the sealed
 * pieces are frames of their own, and what they open to is the inner stream of frames.
 */
export class Inbox {
  readonly #inner: FrameReader
  readonly #outer = new FrameReader(SEAL_CHUNK_BYTES + SEAL_OVERHEAD_BYTES)
  #open: ((sealed: Uint8Array) => Uint8Array) | undefined

  constructor(maxFrameBytes = MAX_FRAME_BYTES) {
    this.#inner = new FrameReader(maxFrameBytes)
  }

  /** From now on, every frame is a sealed piece to open with `open` (which throws PROTOCOL). */
  openWith(open: (sealed: Uint8Array) => Uint8Array): void {
    this.#open = open
  }

  /** As FrameReader.pushRanges; throws FRAME_TOO_LARGE or the opener's PROTOCOL. */
  push(chunk: Uint8Array, onFrame: (data: Uint8Array, start: number, end: number) => boolean | void): void {
    const open = this.#open
    if (open === undefined) {
      this.#inner.pushRanges(chunk, onFrame)
      return
    }
    this.#outer.pushRanges(chunk, (data, start, end) => {
      this.#inner.pushRanges(open(data.subarray(start, end)), onFrame)
    })
  }

  /** Bytes received but not yet part of a complete frame. */
  get buffered(): number {
    return this.#inner.buffered + this.#outer.buffered
  }

  /** Bytes of memory held for reassembly. */
  get capacity(): number {
    return this.#inner.capacity + this.#outer.capacity
  }
}
