// The snapshot file's header: magic, format version, counts, body length, a CRC-32 of the body and
// (from version 2) the operation-log generation the snapshot continues. The header is checked in
// full before the body is decoded, and the body before memory is touched.

import { CyberError } from '../errors.ts'

export const MAGIC = 'CYBERDB'
// Version 2 adds the log generation and makes the body a msgpack sequence written in slices;
// version 1 files (one msgpack value, no generation) are still read, as generation 0.
// Version 3 adds cache tables: each table's options, a dict's deadlines and the time it had seen
// (snapshot.ts); the header is version 2's.
// Version 4 ends the body with the change feed's seq and history (issue 12, snapshot.ts); the
// header is version 2's (the seq lives in the checked body, so old headers' tools keep working).
export const FORMAT_VERSION = 4
export const HEADER_BYTES = 40
export const V1_HEADER_BYTES = 32

export interface Header {
  version: number
  tables: number
  entries: number
  bodyBytes: number
  checksum: number
  /** Logs of this generation and later hold what the snapshot does not (0 for version 1). */
  generation: number
}

//  0  7  magic "CYBERDB"      7  1  format version    8  4  table count (u32 BE)
// 12  8  entry count (u64)   20  8  body length (u64)  28  4  CRC-32 of the body (u32 BE)
// 32  8  log generation (u64, version 2 only)
/** A header for a body of `bodyBytes` whose CRC-32 is `checksum`. Version 1 is for tests and tools
 * that must produce old files; it has no generation. */
export function encodeHeaderFor(tables: number, entries: number, bodyBytes: number, checksum: number,
  generation = 0, version = FORMAT_VERSION): Uint8Array {
  const header = new Uint8Array(version === 1 ? V1_HEADER_BYTES : HEADER_BYTES)
  const view = new DataView(header.buffer)
  header.set(new TextEncoder().encode(MAGIC), 0)
  view.setUint8(7, version)
  view.setUint32(8, tables)
  view.setBigUint64(12, BigInt(entries))
  view.setBigUint64(20, BigInt(bodyBytes))
  view.setUint32(28, checksum)
  if (version !== 1) view.setBigUint64(32, BigInt(generation))
  return header
}

export function encodeHeader(tables: number, entries: number, body: Uint8Array, generation = 0,
  version = FORMAT_VERSION): Uint8Array {
  return encodeHeaderFor(tables, entries, body.length, Bun.hash.crc32(body), generation, version)
}

/** The header at the start of `file` (a whole file, or its first HEADER_BYTES or more), checked
 * as far as a header alone can be: SNAPSHOT_CORRUPT when it is cut short, has no magic, or is of
 * a version newer than this reads. */
export function decodeHeader(file: Uint8Array, path: string): Header {
  const truncated = () => corrupt(path, `is truncated (${file.length} bytes, no full header)`)
  if (file.length < V1_HEADER_BYTES) throw truncated()
  if (new TextDecoder().decode(file.subarray(0, 7)) !== MAGIC) {
    throw corrupt(path, 'is not a CyberDB snapshot')
  }
  const view = new DataView(file.buffer, file.byteOffset, Math.min(file.length, HEADER_BYTES))
  const version = view.getUint8(7)
  if (version > FORMAT_VERSION) {
    throw corrupt(path, `has format version ${version}, newer than this CyberDB reads ` +
      `(${FORMAT_VERSION}): upgrade CyberDB to load it`)
  }
  if (file.length < headerBytes(version)) throw truncated()
  return {
    version,
    tables: view.getUint32(8),
    entries: Number(view.getBigUint64(12)),
    bodyBytes: Number(view.getBigUint64(20)),
    checksum: view.getUint32(28),
    generation: version === 1 ? 0 : Number(view.getBigUint64(32)),
  }
}

/** Checks the header and the body's length and checksum; returns the verified body. */
export function verifySnapshot(file: Uint8Array, path: string):
  { header: Header; body: Uint8Array } {
  const header = decodeHeader(file, path)
  const body = file.subarray(headerBytes(header.version))
  if (body.length !== header.bodyBytes) {
    throw corrupt(path,
      `is truncated or padded (body ${body.length} bytes, header says ${header.bodyBytes})`)
  }
  if (Bun.hash.crc32(body) !== header.checksum) throw corrupt(path, 'fails its checksum')
  return { header, body }
}

function headerBytes(version: number): number {
  return version === 1 ? V1_HEADER_BYTES : HEADER_BYTES
}

function corrupt(path: string, why: string): CyberError {
  return new CyberError('SNAPSHOT_CORRUPT', `snapshot "${path}" ${why}`)
}
