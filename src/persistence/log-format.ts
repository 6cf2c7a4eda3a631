// The operation log's file format and the small file helpers its writer and reader share.
// File: a 16-byte header (magic "CDBLOG", version, reserved, the generation it continues as a u64
// BE), then records [u32 BE body length][u32 BE CRC-32 of body][body = msgpack [table, name, args]].

import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs'
import { dirname } from 'node:path'
import type { Packr } from 'msgpackr'
import type { Op } from '../engine/commands.ts'
import { createCodec } from '../protocol/codec.ts'

export const LOG_MAGIC = 'CDBLOG'
export const LOG_VERSION = 1
export const LOG_HEADER_BYTES = 16
export const RECORD_HEADER_BYTES = 8

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

/** One record, as a file holds it (tests, tools). */
export function encodeRecord(op: Op, codec: Packr = createCodec()): Uint8Array {
  const body = codec.pack([op.table, op.name, op.args])
  const record = new Uint8Array(RECORD_HEADER_BYTES + body.length)
  const view = new DataView(record.buffer)
  view.setUint32(0, body.length)
  view.setUint32(4, Bun.hash.crc32(body))
  record.set(body, RECORD_HEADER_BYTES)
  return record
}

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
