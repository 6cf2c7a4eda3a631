// The operation log's file format and the small file helpers its writer and reader share.
// File: a 16-byte header (magic "CDBLOG", version, reserved, the generation it continues as a u64
// BE), then records. Version 2 record: [u32 BE body length][u32 BE CRC-32 of body][u32 BE CRC-32 of
// the 8 bytes before it][body = msgpack [table, name, args], [table, name, args, now] or [table,
// name, args, now, seq]]: `seq` is the commit's feed number (issue 12); `now` is
// the time (ms) the write ran at, or null when it had none (a write no deadline could affect), so
// that replay evaluates expiry as the original run did (no time: the replay's latest time). The header's own checksum is what
// tells a damaged length from a cut file: without it a flipped length bit points past the end and
// looks exactly like a record torn by a crash. A rotated log ends with an end marker (a record
// header whose length is 0xFFFFFFFF and whose body checksum is the file's record count), so a
// rotated log cut exactly at a record boundary is told from a complete one.
// Version 1 (read, never written): [u32 length][u32 CRC-32 of body][body], no end marker.

import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs'
import { dirname } from 'node:path'
import type { Packr } from 'msgpackr'
import type { Op } from '../engine/commands.ts'
import { createCodec, packInPlace } from '../protocol/codec.ts'

export const LOG_MAGIC = 'CDBLOG'
export const LOG_VERSION = 2
export const LOG_HEADER_BYTES = 16
export const RECORD_HEADER_BYTES = 12
export const V1_RECORD_HEADER_BYTES = 8
/** The length field of an end marker: no record body is this long (frames stop at 4 GiB - 1). */
export const END_MARKER = 0xffffffff

/** How log bytes reach the file: the one seam a test replaces to make the disk refuse a write,
 * or (the crash tests) to tear a batch of records. */
export interface LogIO {
  write(fd: number, bytes: Uint8Array): void
  /** How a batch of records is written, when not as any other write (headers, end markers). */
  writeRecords?(fd: number, bytes: Uint8Array): void
}

/** When a write is on disk: `always` before its reply (one fdatasync per batch), `everysec` in
 * the OS before its reply and on disk within about a second, `no` in the OS before its reply. */
export type Durability = 'always' | 'everysec' | 'no'
export const DURABILITIES: readonly Durability[] = ['always', 'everysec', 'no']
export const DEFAULT_DURABILITY: Durability = 'everysec'
export const EVERYSEC_MS = 1000

export function logPath(dataPath: string): string {
  return `${dataPath}.log`
}

export function rotatedLogPath(dataPath: string, generation: number): string {
  return `${dataPath}.log.${generation}`
}

//  0  6  magic "CDBLOG"   6  1  version   7  1  reserved (0)   8  8  generation (u64 BE)
export function encodeLogHeader(generation: number): Uint8Array {
  const header = new Uint8Array(LOG_HEADER_BYTES)
  header.set(new TextEncoder().encode(LOG_MAGIC), 0)
  header[6] = LOG_VERSION
  new DataView(header.buffer).setBigUint64(8, BigInt(generation))
  return header
}

export interface LogHeader {
  version: number
  generation: number
}

/** A log file's header from its first bytes; undefined when they hold no whole header or do not
 * start with the magic. The version is as found: the reader decides what it can read. */
export function decodeLogHeader(bytes: Uint8Array): LogHeader | undefined {
  if (bytes.length < LOG_HEADER_BYTES || !hasLogMagic(bytes)) return undefined
  const view = new DataView(bytes.buffer, bytes.byteOffset, LOG_HEADER_BYTES)
  return { version: bytes[6]!, generation: Number(view.getBigUint64(8)) }
}

/** Whether the bytes so far agree with the log magic (fewer bytes than the magic agree as far as
 * they go: a file cut inside its header). */
export function hasLogMagic(bytes: Uint8Array): boolean {
  for (let i = 0; i < Math.min(bytes.length, LOG_MAGIC.length); i++) {
    if (bytes[i] !== LOG_MAGIC.charCodeAt(i)) return false
  }
  return true
}

/** Writes a record header at `at` of `bytes`: [length][crc of body][crc of those 8 bytes].
 * `view` is a DataView over the whole of `bytes` (a writer that keeps one passes it). */
export function writeRecordHeader(bytes: Uint8Array, at: number, length: number, bodyCrc: number,
  view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)): void {
  view.setUint32(at, length)
  view.setUint32(at + 4, bodyCrc)
  view.setUint32(at + 8, Bun.hash.crc32(bytes.subarray(at, at + 8)))
}

/** The one record encoder: writes the record of `body` (header, then body) at `at` of `bytes`,
 * which has room for RECORD_HEADER_BYTES + body.length there. The log writes every record so. */
export function writeRecord(bytes: Uint8Array, at: number, body: Uint8Array,
  view?: DataView): void {
  writeRecordHeader(bytes, at, body.length, Bun.hash.crc32(body), view)
  bytes.set(body, at + RECORD_HEADER_BYTES)
}

/** A record's body: msgpack [table, name, args], packed in place in the codec's buffer (valid
 * until the codec packs again). May throw what the codec throws on a value it refuses. */
export function encodeRecordBody(codec: Packr, op: Op, now?: number, seq?: number): Uint8Array {
  // A write with no time (an untimed store's) still carries its seq: its time is null then.
  const packed = packInPlace(codec, seq !== undefined ? [op.table, op.name, op.args, now ?? null, seq]
    : now === undefined ? [op.table, op.name, op.args] : [op.table, op.name, op.args, now])
  return packed.subarray(packed.start, packed.end)
}

/** One record, as a file holds it (tests, tools): the log's own body and record encoders. */
export function encodeRecord(op: Op, codec: Packr = createCodec(), now?: number): Uint8Array {
  const body = encodeRecordBody(codec, op, now)
  const record = new Uint8Array(RECORD_HEADER_BYTES + body.length)
  writeRecord(record, 0, body)
  return record
}

/** The end marker of a rotated log that holds `records` records. */
export function encodeEndMarker(records: number): Uint8Array {
  const marker = new Uint8Array(RECORD_HEADER_BYTES)
  writeRecordHeader(marker, 0, END_MARKER, records)
  return marker
}

export const FILE_IO: LogIO = { write: writeAll }

/** writeSync may take part of a buffer: loop until it took all (bounded: each pass takes some). */
export function writeAll(fd: number, bytes: Uint8Array): void {
  for (let at = 0; at < bytes.length;) {
    const n = writeSync(fd, bytes, at, bytes.length - at)
    if (n <= 0) throw new Error(`write returned ${n}`)
    at += n
  }
}

export function syncDir(dataPath: string): void {
  const fd = openSync(dirname(dataPath), 'r')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}
