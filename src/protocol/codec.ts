// The one msgpack configuration of CyberDB, shared by the wire and the snapshot file, so that a
// value that survives one survives the other. Records mode keeps plain objects and Maps apart;
// moreTypes carries Set, Date, typed arrays; bigints of up to ~1000 bits use msgpackr's extension
// and decode as bigints (a number never turns into a bigint, nor a bigint into a number).

import { Packr, RESET_BUFFER_MODE, REUSE_BUFFER_MODE, type Options } from 'msgpackr'
import { badArgument } from '../errors.ts'

export const CODEC_OPTIONS: Options = {
  moreTypes: true,
  useBigIntExtension: true,
  int64AsType: 'bigint',
  // Decoded bytes own their memory. Without this a bin decodes as a view of the buffer it was read
  // from (a socket chunk, the frame reader's reused reassembly buffer, a file), and a stored view
  // changes under later traffic.
  copyBuffers: true,
  // No shared-reference graphs from the wire or a file: the id/pointer extensions (0x69/0x70) let
  // 500 bytes name a DAG with 2^40 paths, which every walk after decoding (checks, the log, the
  // reply encoder) would follow. The decoder refuses them before anything walks them.
  structuredClone: false,
  // A function silently becoming undefined would lose data without a word: refuse it, as the
  // embedded copier does.
  writeFunction: () => {
    throw badArgument('a function cannot be stored: values are data (no code ever crosses)')
  },
}

// msgpackr copies a bin with the source's own slice(), so a Buffer source (Bun's socket chunks,
// file reads) would give Buffers: decoding from a plain Uint8Array view of the same memory makes
// every decoded bin a Uint8Array, as embedded values are, in every mode. (unpackMultiple goes
// through unpack.)
// A server decodes every frame of a socket chunk from that one chunk: the view is made once per
// chunk, not once per frame (a fresh view also costs msgpackr a fresh DataView). Only small
// sources are remembered, so a codec never keeps a large frame's buffer alive.
const REMEMBER_VIEW_BYTES = 256 * 1024

class Codec extends Packr {
  #source: Uint8Array | undefined
  #view: Uint8Array | undefined

  override unpack(source: Buffer | Uint8Array, options?: unknown): unknown {
    return super.unpack(this.#plainView(source), options as never)
  }

  #plainView(source: Uint8Array): Uint8Array {
    if (!(source instanceof Uint8Array) || source.constructor === Uint8Array) return source
    if (source === this.#source) return this.#view!
    const view = new Uint8Array(source.buffer, source.byteOffset, source.byteLength)
    if (source.byteLength <= REMEMBER_VIEW_BYTES) {
      this.#source = source
      this.#view = view
    }
    return view
  }
}

/** A fresh encoder/decoder: each connection or snapshot writer keeps its own (scratch buffers). */
export function createCodec(): Packr {
  return new Codec(CODEC_OPTIONS)
}

/** The encoder's own buffer, the packed value at [start, end): valid until its next call. */
export type Packed = Buffer & { start: number; end: number }

// REUSE: return the encoder's buffer with start/end instead of a fresh view per value.
// RESET: the next value is written over the same bytes, so the buffer does not creep forward.
const IN_PLACE = REUSE_BUFFER_MODE | RESET_BUFFER_MODE

/** Packs a value without allocating a view; copy the range out before packing again. */
export function packInPlace(codec: Packr, value: unknown): Packed {
  return codec.pack(value, IN_PLACE) as Packed
}
