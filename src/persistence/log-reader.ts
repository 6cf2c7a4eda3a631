// Reading operation logs back: scanning one file into records, finding a data file's logs, and
// recovery (snapshot, then every log of its generation and later, oldest first). A torn last
// record of the newest log (a crash mid-write) is dropped with a warning naming its byte offset;
// any other damage is SNAPSHOT_CORRUPT naming the offset, with nothing in memory or on disk changed
// (scanLog says exactly what counts as torn).

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { CyberError } from '../errors.ts'
import type { Table } from '../engine/commands.ts'
import { Store } from '../engine/store.ts'
import { createCodec } from '../protocol/codec.ts'
import {
  END_MARKER, LOG_HEADER_BYTES, LOG_VERSION, RECORD_HEADER_BYTES, V1_RECORD_HEADER_BYTES,
  decodeLogHeader, hasLogMagic, logPath,
} from './log-format.ts'
import type { OpenLog } from './op-log.ts'
import { decodeSnapshotFile, type FeedState } from './snapshot.ts'

export interface LogRecord {
  offset: number
  table: string
  name: string
  args: unknown[]
  /** The time the write ran at (records of an older writer have none). */
  now?: number
  /** The commit's seq (issue 12; records of an older writer have none: the one before + 1). */
  seq?: number
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
  /** The file's format version (0 when it has no header). */
  version: number
  records: LogRecord[]
  /** Bytes up to the end of the last good record. */
  goodBytes: number
  size: number
  /** Whether the file ends with its end marker (a complete, rotated log). */
  ended: boolean
  torn: TornTail | undefined
}

/** Whether a log path is the newest log, PATH.log (rotated ones are PATH.log.N). */
export function isCurrentLog(path: string): boolean {
  return !/\.log\.\d+$/.test(path)
}

/**
 * Parses a log image. The one damage taken for a crash is a torn tail: in the newest log (PATH.log)
 * only, its last record cut short, with nothing after it (or the last record whole but failing its
 * checksum, ending the file). Everything else is SNAPSHOT_CORRUPT naming the offset: a record
 * header that fails its own checksum (a damaged length), a bad record with bytes after it, and a
 * rotated log that is cut anywhere or lacks its end marker (it was complete when it was renamed).
 * `lenient` (repair) reports such damage as where the log stops instead.
 */
export function scanLog(bytes: Uint8Array, path: string, lenient = false): LogScan {
  const corrupt = (why: string) => new CyberError('SNAPSHOT_CORRUPT', `operation log "${path}" ${why}`)
  const current = isCurrentLog(path)
  const size = bytes.length
  const header = decodeLogHeader(bytes)
  if (header === undefined) {
    if (!hasLogMagic(bytes)) throw corrupt('is not a CyberDB operation log')
    // A file created by a rotation that died before its header was written: it holds nothing.
    if (!current && !lenient) throw corrupt(`is cut short inside its header (${size} bytes)`)
    const torn = { offset: 0, bytes: size, why: 'a header cut short' }
    return { path, generation: undefined, version: 0, records: [], goodBytes: 0, size, ended: false, torn }
  }
  const { version, generation } = header
  if (version > LOG_VERSION) {
    throw corrupt(`has format version ${version}, newer than this CyberDB reads (${LOG_VERSION}): upgrade CyberDB`)
  }
  if (version < 1) throw corrupt(`has format version ${version}, which no CyberDB wrote`)
  const view = new DataView(bytes.buffer, bytes.byteOffset, size)
  const headerBytes = version === 1 ? V1_RECORD_HEADER_BYTES : RECORD_HEADER_BYTES
  const codec = createCodec()
  const records: LogRecord[] = []
  let offset = LOG_HEADER_BYTES
  let torn: TornTail | undefined
  let ended = false
  // Damage: what repair cuts at, and what opening refuses.
  const damaged = (why: string, counted: boolean): TornTail => {
    if (!lenient) {
      throw corrupt(`has a bad record at byte ${offset} (${why}): nothing was changed; run \`cyberdb repair\` ` +
        'to cut the log there, losing what follows')
    }
    const after = counted ? countRecords(bytes, offset, headerBytes) : 0
    return { offset, bytes: size - offset, why: after > 0 ? `${why}, then ${after} whole records` : why }
  }
  const tornHere = (why: string): TornTail => current
    ? { offset, bytes: size - offset, why }
    : damaged(`${why}, in a rotated log (complete when it was renamed, so it was cut)`, false)
  while (offset < size) {
    if (size - offset < headerBytes) {
      torn = tornHere('a record header cut short')
      break
    }
    const length = view.getUint32(offset)
    if (version >= 2 && Bun.hash.crc32(bytes.subarray(offset, offset + 8)) !== view.getUint32(offset + 8)) {
      torn = damaged('its header fails its checksum: a damaged length, not a cut', true)
      break
    }
    if (version >= 2 && length === END_MARKER) {
      const count = view.getUint32(offset + 4)
      if (count !== records.length || offset + headerBytes !== size) {
        torn = damaged(offset + headerBytes !== size ? 'bytes after the end marker'
          : `an end marker counting ${count} records, after ${records.length}`, false)
        break
      }
      ended = true
      offset += headerBytes
      break
    }
    const end = offset + headerBytes + length
    if (end > size) {
      torn = tornHere(`a record of ${length} bytes cut short`)
      break
    }
    const body = bytes.subarray(offset + headerBytes, end)
    if (Bun.hash.crc32(body) !== view.getUint32(offset + 4)) {
      if (end === size && current) {
        torn = tornHere('the last record fails its checksum')
        break
      }
      torn = damaged(lenient ? 'a record that fails its checksum'
        : `it fails its checksum, with ${size - end} more bytes after it`, true)
      break
    }
    let decoded: unknown
    try {
      decoded = codec.unpack(body)
    } catch (cause) {
      if (!lenient) {
        throw new CyberError('SNAPSHOT_CORRUPT',
          `operation log "${path}" has a record at byte ${offset} that does not decode`, { cause })
      }
      torn = damaged('a record that does not decode', true)
      break
    }
    if (!Array.isArray(decoded) || decoded.length < 3 || decoded.length > 5 ||
      typeof decoded[0] !== 'string' || typeof decoded[1] !== 'string' || !Array.isArray(decoded[2]) ||
      (decoded.length >= 4 && typeof decoded[3] !== 'number' && decoded[3] !== null) ||
      (decoded.length === 5 && !Number.isSafeInteger(decoded[4]))) {
      if (!lenient) throw corrupt(`has a malformed record at byte ${offset}`)
      torn = damaged('a malformed record', true)
      break
    }
    const record: LogRecord = { offset, table: decoded[0], name: decoded[1], args: decoded[2] }
    if (decoded.length >= 4 && decoded[3] !== null) record.now = decoded[3] as number
    if (decoded.length === 5) record.seq = decoded[4]
    records.push(record)
    offset = end
  }
  // Version 1 wrote no end marker: its rotated logs cannot be told from cut ones.
  if (torn === undefined && !ended && !current && version >= 2) {
    torn = damaged('the end: a rotated log ends with an end marker, this one was cut at a record boundary', false)
  }
  return { path, generation, version, records, goodBytes: torn ? torn.offset : size, size, ended, torn }
}

/** How many records with sound headers and checksums follow `offset` (what a repair drops). */
function countRecords(bytes: Uint8Array, offset: number, headerBytes: number): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  // The damaged record's own length is not to be trusted: skip to the next one only if it is.
  let count = -1
  while (bytes.length - offset >= headerBytes) {
    const length = view.getUint32(offset)
    if (headerBytes === RECORD_HEADER_BYTES &&
      Bun.hash.crc32(bytes.subarray(offset, offset + 8)) !== view.getUint32(offset + 8)) break
    if (headerBytes === RECORD_HEADER_BYTES && length === END_MARKER) break
    const end = offset + headerBytes + length
    if (end > bytes.length) break
    if (count >= 0 && Bun.hash.crc32(bytes.subarray(offset + headerBytes, end)) !== view.getUint32(offset + 4)) break
    count++
    offset = end
  }
  return Math.max(count, 0)
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
  /** The change feed as the files left it: the last seq and the commits after the snapshot's
   * history (the snapshot's, then each record's, oldest first). */
  feed: FeedState
  /** Whether PATH.log held records: the process stopped without its final snapshot. */
  unclean: boolean
}

/**
 * Loads a data file as a crash left it: the snapshot (generation g), then every log of generation
 * g and later in order, which must run g, g+1, ... with none missing. Logs older than g are
 * already in the snapshot and are ignored (the next snapshot deletes them).
 */
/** How far a recovery got: entries of the snapshot plus log records replayed, and bytes of the
 * snapshot and logs read of their total. Reported after the snapshot and every few thousand
 * records (not inside the snapshot's one decode); the callee decides how often to show it. */
export interface LoadProgress {
  entries: number
  bytes: number
  totalBytes: number
}

const PROGRESS_EVERY_RECORDS = 4096

export async function recover(dataPath: string, warn: (message: string) => void = console.warn,
  progress?: (loaded: LoadProgress) => void,
): Promise<Recovered> {
  return recoverSync(dataPath, warn, progress)
}

/** recover(), synchronously: also what brings memory back to the files after the disk refused a
 * write (op-log.ts), when nothing may run in between. */
export function recoverSync(dataPath: string, warn: (message: string) => void = console.warn,
  progress?: (loaded: LoadProgress) => void,
): Recovered {
  const snapshotBytes = progress && existsSync(dataPath) ? statSync(dataPath).size : 0
  const logBytes = progress ? listLogFiles(dataPath).reduce((sum, path) => sum + statSync(path).size, 0) : 0
  const snapshot = existsSync(dataPath) ? decodeSnapshotFile(readFileSync(dataPath), dataPath) : undefined
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
  let entries = 0
  for (const table of store.tables.values()) entries += progress ? table.size : 0
  let logsBefore = 0 // bytes of the logs replayed before this one
  const report = (bytes: number) =>
    progress?.({ entries: entries + replayed, bytes: snapshotBytes + bytes, totalBytes: snapshotBytes + logBytes })
  report(0)
  let seq = snapshot?.seq ?? 0
  const history = snapshot?.history ?? []
  for (const scan of live) {
    for (const record of scan.records) {
      seq = record.seq ?? seq + 1
      history.push([seq, record.table, record.name, record.args])
      if (progress && replayed % PROGRESS_EVERY_RECORDS === 0) report(logsBefore + record.offset)
      try {
        // At the record's own time: expiry decides as it did when the write ran.
        store.apply({ table: record.table, name: record.name, args: record.args }, undefined, record.now)
      } catch (cause) {
        throw new CyberError('SNAPSHOT_CORRUPT', `operation log "${scan.path}" has a record at byte ` +
          `${record.offset} (${record.name} on "${record.table}") that does not apply: ` +
          `${(cause as Error).message}`, { cause })
      }
      replayed++
    }
    logsBefore += scan.size
    if (scan.torn) {
      warn(`cyberdb: ${scan.path}: dropping a torn last record at byte ${scan.torn.offset} ` +
        `(${scan.torn.why}, ${scan.torn.bytes} bytes): the process stopped while writing it`)
    }
  }
  report(logBytes)
  let log: OpenLog
  if (newest?.path !== current) {
    log = { generation: newest === undefined ? base : newest.generation! + 1 }
  } else if (newest.version < LOG_VERSION) {
    // Of the old format: set it aside whole (as a rotation would) and go on in a new file of the
    // current format, rather than mixing two formats in one file.
    log = { generation: newest.generation! + 1, retire: { cutAt: newest.goodBytes, as: newest.generation! } }
  } else {
    // Ended: a rotation stopped before its rename. Cutting the end marker off is the state before
    // that rotation began (no snapshot was taken of it), so the log goes on as it was.
    const continueAt = newest.ended ? newest.goodBytes - RECORD_HEADER_BYTES : newest.goodBytes
    log = { generation: newest.generation!, continueAt, records: newest.records.length }
  }
  const hasData = snapshot !== undefined || live.length > 0
  return {
    tables: hasData ? new Map(store.tables) : undefined,
    log,
    replayed,
    snapshotBytes: snapshot ? statSync(dataPath).size : 0,
    feed: { seq, history },
    unclean: currentScan !== undefined && (currentScan.records.length > 0 || currentScan.torn !== undefined),
  }
}
