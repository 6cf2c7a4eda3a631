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
  // A function silently becoming undefined would lose data without a word: refuse it, as the
  // embedded copier does.
  writeFunction: () => {
    throw badArgument('a function cannot be stored: values are data (no code ever crosses)')
  },
}

/** A fresh encoder/decoder: each connection or snapshot writer keeps its own (scratch buffers). */
export function createCodec(): Packr {
  return new Packr(CODEC_OPTIONS)
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
