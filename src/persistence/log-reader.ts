// Reading operation logs back: scanning one file into records, finding a data file's logs, and
// recovery (snapshot, then every log of its generation and later, oldest first). A torn last
// record (a crash mid-write) is dropped with a warning naming its byte offset; a bad record with
// data after it is SNAPSHOT_CORRUPT naming the offset, with nothing in memory or on disk changed.

import { readdirSync, readFileSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { CyberError } from '../errors.ts'
import type { Table } from '../engine/commands.ts'
import { Store } from '../engine/store.ts'
import { createCodec } from '../protocol/codec.ts'
import {
  LOG_HEADER_BYTES, LOG_MAGIC, LOG_VERSION, RECORD_HEADER_BYTES, logPath,
} from './log-format.ts'
import type { OpenLog } from './op-log.ts'
import { readSnapshotFile } from './snapshot.ts'

export interface LogRecord {
  offset: number
  table: string
  name: string
  args: unknown[]
}

/** Where a log stops being whole: the byte offset of the first bad record and why. */
export interface TornTail {
  offset: number
  bytes: number
  why: string
}

export interface LogScan {
  path: string
  /** undefined when the file is too short to hold a header: created, never written (torn). */
  generation: number | undefined
  records: LogRecord[]
  /** Bytes up to the end of the last good record. */
  goodBytes: number
  size: number
  torn: TornTail | undefined
}

/** Parses a log image. Throws SNAPSHOT_CORRUPT for a bad header or a bad record followed by data;
 * `lenient` (repair) reports such a record as where the log stops instead. */
export function scanLog(bytes: Uint8Array, path: string, lenient = false): LogScan {
  const corrupt = (why: string) => new CyberError('SNAPSHOT_CORRUPT', `operation log "${path}" ${why}`)
  const size = bytes.length
  if (size < LOG_HEADER_BYTES) {
    // A file created by a rotation that died before its header was written: it holds nothing.
    const magic = new TextEncoder().encode(LOG_MAGIC)
    for (let i = 0; i < Math.min(size, magic.length); i++) {
      if (bytes[i] !== magic[i]) throw corrupt('is not a CyberDB operation log')
    }
    const torn = { offset: 0, bytes: size, why: 'a header cut short' }
    return { path, generation: undefined, records: [], goodBytes: 0, size, torn }
  }
  if (new TextDecoder().decode(bytes.subarray(0, 6)) !== LOG_MAGIC) throw corrupt('is not a CyberDB operation log')
  if (bytes[6]! > LOG_VERSION) {
    throw corrupt(`has format version ${bytes[6]}, newer than this CyberDB reads (${LOG_VERSION}): upgrade CyberDB`)
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, size)
  const generation = Number(view.getBigUint64(8))
  const codec = createCodec()
  const records: LogRecord[] = []
  let offset = LOG_HEADER_BYTES
  let torn: TornTail | undefined
  while (offset < size) {
    const tornHere = (why: string) => ({ offset, bytes: size - offset, why })
    if (size - offset < RECORD_HEADER_BYTES) {
      torn = tornHere('a record header cut short')
      break
    }
    const length = view.getUint32(offset)
    const end = offset + RECORD_HEADER_BYTES + length
    if (end > size) {
      torn = tornHere(`a record of ${length} bytes cut short`)
      break
    }
    const body = bytes.subarray(offset + RECORD_HEADER_BYTES, end)
    if (Bun.hash.crc32(body) !== view.getUint32(offset + 4)) {
      if (end === size) {
        torn = tornHere('the last record fails its checksum')
        break
      }
      if (lenient) {
        torn = tornHere(`a record that fails its checksum, then ${countRecords(view, end)} whole records`)
        break
      }
      throw corrupt(`has a bad record at byte ${offset} (it fails its checksum) with ${size - end} ` +
        'more bytes after it: run `cyberdb repair` to cut the log there, losing what follows')
    }
    let decoded: unknown
    try {
      decoded = codec.unpack(body)
    } catch (cause) {
      if (lenient) {
        torn = tornHere(`a record that does not decode, then ${countRecords(view, end)} whole records`)
        break
      }
      throw new CyberError('SNAPSHOT_CORRUPT',
        `operation log "${path}" has a record at byte ${offset} that does not decode`, { cause })
    }
    if (!Array.isArray(decoded) || decoded.length !== 3 || typeof decoded[0] !== 'string' ||
      typeof decoded[1] !== 'string' || !Array.isArray(decoded[2])) {
      if (lenient) {
        torn = tornHere(`a malformed record, then ${countRecords(view, end)} whole records`)
        break
      }
      throw corrupt(`has a malformed record at byte ${offset}`)
    }
    records.push({ offset, table: decoded[0], name: decoded[1], args: decoded[2] })
    offset = end
  }
  return { path, generation, records, goodBytes: torn ? torn.offset : size, size, torn }
}

/** How many records with sound lengths and checksums follow `offset` (what a repair drops). */
function countRecords(view: DataView, offset: number): number {
  let count = 0
  const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength)
  while (view.byteLength - offset >= RECORD_HEADER_BYTES) {
    const end = offset + RECORD_HEADER_BYTES + view.getUint32(offset)
    if (end > view.byteLength) break
    if (Bun.hash.crc32(bytes.subarray(offset + RECORD_HEADER_BYTES, end)) !== view.getUint32(offset + 4)) break
    count++
    offset = end
  }
  return count
}

/** The log files of a data file that exist now: PATH.log and any rotated PATH.log.N. */
export function listLogFiles(dataPath: string): string[] {
  const dir = dirname(dataPath)
  const prefix = `${basename(dataPath)}.log`
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch {
    return []
  }
  const isLog = (name: string) =>
    name === prefix || (name.startsWith(`${prefix}.`) && /^\d+$/.test(name.slice(prefix.length + 1)))
  return names.filter(isLog).map((name) => join(dir, name))
}

export interface Recovered {
  /** The tables after replay; undefined when there is neither a snapshot nor a log. */
  tables: Map<string, Table> | undefined
  /** Where the operation log goes on: PATH.log continued, or a new one of this generation. */
  log: OpenLog
  /** Records replayed, over all logs. */
  replayed: number
  /** Bytes of the snapshot file (0 when missing). */
  snapshotBytes: number
}

/**
 * Loads a data file as a crash left it: the snapshot (generation g), then every log of generation
 * g and later in order, which must run g, g+1, ... with none missing. Logs older than g are
 * already in the snapshot and are ignored (the next snapshot deletes them).
 */
export async function recover(dataPath: string, warn: (message: string) => void = console.warn,
): Promise<Recovered> {
  const snapshot = await readSnapshotFile(dataPath)
  const base = snapshot?.generation ?? 0
  const scans = listLogFiles(dataPath).map((path) => scanLog(readFileSync(path), path))
  const current = logPath(dataPath)
  const live: LogScan[] = []
  for (const scan of scans) {
    if (scan.generation === undefined) {
      warn(`cyberdb: ${scan.path}: ignoring a log with no complete header (${scan.size} bytes): ` +
        'the process stopped while creating it')
    } else if (scan.generation >= base) {
      live.push(scan)
    }
  }
  live.sort((a, b) => a.generation! - b.generation!)
  const corrupt = (why: string) => new CyberError('SNAPSHOT_CORRUPT', `data file "${dataPath}" ${why}`)
  for (const [i, scan] of live.entries()) {
    if (scan.generation !== base + i) {
      throw corrupt(`has operation log ${scan.path} of generation ${scan.generation}, but no log of ` +
        `generation ${base + i} (the snapshot continues generation ${base}): a log is missing, or the ` +
        'snapshot is older than its logs')
    }
  }
  const newest = live.at(-1)
  const currentScan = scans.find((scan) => scan.path === current && scan.generation !== undefined)
  if (currentScan !== undefined && currentScan !== newest) {
    throw corrupt(`has ${current} (generation ${currentScan.generation}) older than ${newest?.path ?? 'its snapshot'}`)
  }

  const store = new Store()
  if (snapshot) store.replaceAll(snapshot.tables)
  let replayed = 0
  for (const scan of live) {
    for (const record of scan.records) {
      try {
        store.apply({ table: record.table, name: record.name, args: record.args })
      } catch (cause) {
        throw new CyberError('SNAPSHOT_CORRUPT', `operation log "${scan.path}" has a record at byte ` +
          `${record.offset} (${record.name} on "${record.table}") that does not apply: ` +
          `${(cause as Error).message}`, { cause })
      }
      replayed++
    }
    if (scan.torn) {
      warn(`cyberdb: ${scan.path}: dropping a torn last record at byte ${scan.torn.offset} ` +
        `(${scan.torn.why}, ${scan.torn.bytes} bytes): the process stopped while writing it`)
    }
  }
  const log: OpenLog = newest?.path === current
    ? { generation: newest.generation!, continueAt: newest.goodBytes }
    : { generation: newest === undefined ? base : newest.generation! + 1 }
  const hasData = snapshot !== undefined || live.length > 0
  return {
    tables: hasData ? new Map(store.tables) : undefined,
    log,
    replayed,
    snapshotBytes: snapshot ? Bun.file(dataPath).size : 0,
  }
}
