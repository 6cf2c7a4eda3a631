// The snapshot file's header: magic, format version, counts, body length and a CRC-32 of the body.
// The header is checked in full before the body is decoded, and the body before memory is touched.

import { CyberError } from '../errors.ts'

export const MAGIC = 'CYBERDB'
export const FORMAT_VERSION = 1
export const HEADER_BYTES = 32

export interface Header {
  version: number
  tables: number
  entries: number
  bodyBytes: number
  checksum: number
}

//  0  7  magic "CYBERDB"      7  1  format version    8  4  table count (u32 BE)
// 12  8  entry count (u64)   20  8  body length (u64)  28  4  CRC-32 of the body (u32 BE)
export function encodeHeader(tables: number, entries: number, body: Uint8Array): Uint8Array {
  const header = new Uint8Array(HEADER_BYTES)
  const view = new DataView(header.buffer)
  header.set(new TextEncoder().encode(MAGIC), 0)
  view.setUint8(7, FORMAT_VERSION)
  view.setUint32(8, tables)
  view.setBigUint64(12, BigInt(entries))
  view.setBigUint64(20, BigInt(body.length))
  view.setUint32(28, Bun.hash.crc32(body))
  return header
}

/** Checks the header and the body's length and checksum; returns the verified body. */
export function verifySnapshot(file: Uint8Array, path: string): { header: Header; body: Uint8Array } {
  const corrupt = (why: string) => new CyberError('SNAPSHOT_CORRUPT', `snapshot "${path}" ${why}`)
  if (file.length < HEADER_BYTES) throw corrupt(`is truncated (${file.length} bytes, no full header)`)
  if (new TextDecoder().decode(file.subarray(0, 7)) !== MAGIC) throw corrupt('is not a CyberDB snapshot')
  const view = new DataView(file.buffer, file.byteOffset, HEADER_BYTES)
  const header: Header = {
    version: view.getUint8(7),
    tables: view.getUint32(8),
    entries: Number(view.getBigUint64(12)),
    bodyBytes: Number(view.getBigUint64(20)),
    checksum: view.getUint32(28),
  }
  if (header.version > FORMAT_VERSION) {
    throw corrupt(`has format version ${header.version}, newer than this CyberDB reads ` +
      `(${FORMAT_VERSION}): upgrade CyberDB to load it`)
  }
  const body = file.subarray(HEADER_BYTES)
  if (body.length !== header.bodyBytes) {
    throw corrupt(`is truncated or padded (body ${body.length} bytes, header says ${header.bodyBytes})`)
  }
  if (Bun.hash.crc32(body) !== header.checksum) throw corrupt('fails its checksum')
  return { header, body }
}
