// The operation log beside a snapshot (`data.cdb` -> `data.cdb.log`): every operation that
// succeeded and writes is appended as a record, so a crash loses at most what the durability
// policy allows. Records made in one tick share one write (group commit); under `always` the
// writes of one event-loop turn also share one fdatasync, taken before any of their replies leave.
// Format: log-format.ts.
// Files: `PATH.log` is the newest log; a snapshot renames it aside to `PATH.log.<generation>` and
// starts a new `PATH.log` of the next generation at its point-in-time, then deletes the renamed
// ones once the snapshot is durable. Recovery replays every log of the snapshot's generation and
// later, oldest first (log-reader.ts).

import {
  closeSync, constants, fdatasync, fdatasyncSync, fsyncSync, ftruncateSync, openSync, renameSync, unlinkSync,
} from 'node:fs'
import { CyberError, badArgument } from '../errors.ts'
import type { Op } from '../engine/commands.ts'
import { ByteBuffer } from '../protocol/byte-buffer.ts'
import { createCodec } from '../protocol/codec.ts'
import type { CrashHooks } from './crash-points.ts'
import {
  EVERYSEC_MS, FILE_IO, LOG_HEADER_BYTES, RECORD_HEADER_BYTES, encodeEndMarker, encodeLogHeader,
  encodeRecordBody, logPath, rotatedLogPath, syncDir, writeRecord, type Durability, type LogIO,
} from './log-format.ts'


// What a synchronous database's writes may leave pending under everysec and no before one write
// call takes them (its loop may never yield to the tick's write).
const SYNC_FLUSH_BYTES = 1 << 20
export { DEFAULT_DURABILITY, DURABILITIES, type Durability } from './log-format.ts'

// Data files are readable by their owner only: they hold every value of the database. Logs are
// never opened through a symlink planted at their name (it would be truncated or appended to).
export const FILE_MODE = 0o600
const { O_APPEND, O_CREAT, O_EXCL, O_NOFOLLOW, O_TRUNC, O_WRONLY } = constants
const APPEND = O_WRONLY | O_APPEND | O_NOFOLLOW
const CREATE = O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW
const CREATE_NEW = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW
// Lost batches remembered, so that a reply held for one of them is never sent (see commit).
const LOST_KEPT = 64

interface Waiter {
  seq: number
  resolve: () => void
  reject: (error: unknown) => void
}

/** Writes the disk refused: records `from`..`to` were never written, nor kept in memory. */
interface Lost {
  from: number
  to: number
  error: CyberError
}

export interface OpenLog {
  generation: number
  /** Continue PATH.log, cut to this many bytes (its last good record); otherwise a new file. */
  continueAt?: number
  /** Records PATH.log holds up to continueAt (its end marker counts them when it rotates). */
  records?: number
  /** Before a new PATH.log: cut the old one to `cutAt` bytes and rename it to generation `as`
   * (a complete log left under the current name, or one of format version 1). */
  retire?: { cutAt: number; as: number }
}

export interface OpLogOptions {
  /** How bytes reach the file (tests replace it to make the disk refuse a write). */
  io?: LogIO
  /** Called at the log's named steps (the crash tests' fixture passes them). */
  crash?: CrashHooks
}

export class OpLog {
  readonly dataPath: string
  readonly durability: Durability
  generation: number
  /** Bytes in the current log file, written ones only. */
  bytes = 0
  /** Sequence number of the last record appended; records are numbered from 1. */
  appended = 0
  /** Called (once per write) when the file has grown past `compactAt` bytes. */
  onGrow: (() => void) | undefined
  compactAt = Infinity
  /** Called when the disk refused a write, after the file was cut back to its last whole record:
   * the owner brings memory back to what the files hold (the lost writes must not stay visible).
   * Throwing makes the log fail for good. */
  onLost: ((error: CyberError) => void) | undefined
  /** Write and fdatasync calls on the log so far: what group commit saves (tests, benchmarks). */
  readonly counts = { writes: 0, syncs: 0 }
  readonly #io: LogIO
  // How a batch of records reaches the file (the io's own way, if it has one).
  readonly #writeRecords: (fd: number, bytes: Uint8Array) => void
  readonly #crash: CrashHooks | undefined
  #codec = createCodec()
  #fd: number
  readonly #records = new LogRecords(64 * 1024)
  // Records in the current file, for its end marker.
  #fileRecords = 0
  // Sequence numbers: records written to the OS, fsynced, and durable as the policy says.
  #written = 0
  #synced = 0
  #durable = 0
  #writeQueued = false
  #syncQueued = false
  #syncing = false
  #dirDirty = false
  // The promise of the records appended since the last write, shared by all of them.
  #batch: (Waiter & { promise: Promise<void> }) | undefined
  #waiters: Waiter[] = []
  // A failure the log cannot come back from (an fsync failed: what the disk holds is unknown).
  #failure: CyberError | undefined
  // Batches the disk refused (the newest LOST_KEPT), and the newest seq of those forgotten.
  #lost: Lost[] = []
  #forgottenTo = 0
  // The file still ends in bytes of a refused write: nothing may be appended until they are cut.
  #cutPending = false
  #timer: Timer | undefined
  #closed = false

  private constructor(dataPath: string, durability: Durability, generation: number, fd: number,
    options: OpLogOptions) {
    this.dataPath = dataPath
    this.durability = durability
    this.generation = generation
    this.#fd = fd
    const io = options.io ?? FILE_IO
    this.#io = io
    this.#writeRecords = io.writeRecords === undefined ? (fd, bytes) => io.write(fd, bytes)
      : (fd, bytes) => io.writeRecords!(fd, bytes)
    this.#crash = options.crash
    if (durability === 'everysec') {
      this.#timer = setInterval(() => this.#syncInBackground(), EVERYSEC_MS)
      this.#timer.unref()
    }
  }

  /** Opens PATH.log to append: continues it (cut at its last good record) or starts a new one. */
  static open(dataPath: string, durability: Durability, at: OpenLog, options: OpLogOptions = {}): OpLog {
    const path = logPath(dataPath)
    if (at.continueAt !== undefined) {
      cutFile(path, at.continueAt)
      const fd = openSync(path, APPEND, FILE_MODE)
      const log = new OpLog(dataPath, durability, at.generation, fd, options)
      log.bytes = at.continueAt
      log.#fileRecords = at.records ?? 0
      return log
    }
    if (at.retire !== undefined) {
      cutFile(path, at.retire.cutAt)
      renameSync(path, rotatedLogPath(dataPath, at.retire.as))
    }
    const fd = openSync(path, CREATE, FILE_MODE)
    const log = new OpLog(dataPath, durability, at.generation, fd, options)
    log.#io.write(log.#fd, encodeLogHeader(at.generation))
    log.bytes = LOG_HEADER_BYTES
    log.#dirDirty = true
    return log
  }

  /** Throws when the log cannot take a write now: the caller must not apply one then. */
  check(): void {
    if (this.#failure !== undefined) throw this.#failure
    if (this.#cutPending) this.#cutTail()
  }

  /** A write's record body, encoded before the write is applied: a value the encoder refuses is
   * refused here, before it touches the store. The bytes are valid until the next encode. */
  encode(op: Op, now?: number, seq?: number): Uint8Array {
    try {
      return encodeRecordBody(this.#codec, op, now, seq)
    } catch (error) {
      // A pack that threw may have left the encoder's scratch state half-written.
      this.#codec = createCodec()
      if (error instanceof CyberError) throw error
      const why = error instanceof RangeError ? 'it nests too deep (or refers to itself)' : (error as Error)?.message
      throw badArgument(`a value cannot be stored: ${why}`)
    }
  }

  /** Appends one operation that succeeded, as encode() returned it. */
  appendEncoded(body: Uint8Array): void {
    this.#records.write(body)
    this.appended++
    if (!this.#writeQueued) {
      this.#writeQueued = true
      queueMicrotask(this.#writeTask)
    }
  }

  /** Encodes and appends one operation (tests, tools). */
  append(op: Op): void {
    this.appendEncoded(this.encode(op))
  }

  /**
   * The one durability wait: undefined when records `from`..`to` are durable as the policy says
   * (always so once written under everysec and no), else a promise for it, rejected when the disk
   * refused any of them (their replies must never leave). Records not yet written wait for the
   * write queued for them, and the waits of one tick share that write's promise; flush() makes
   * them leave now instead.
   */
  durable(from: number, to: number = from): Promise<void> | undefined {
    if (this.#failure !== undefined) return Promise.reject(this.#failure)
    const lost = this.#lostIn(from, to)
    if (lost !== undefined) return Promise.reject(lost)
    if (to <= this.#durable) return undefined
    if (to <= this.#written) {
      const { promise, resolve, reject } = Promise.withResolvers<void>()
      this.#waiters.push({ seq: to, resolve, reject })
      return promise
    }
    if (this.#batch === undefined) {
      const { promise, resolve, reject } = Promise.withResolvers<void>()
      this.#batch = { seq: 0, resolve, reject, promise }
    }
    return this.#batch.promise
  }

  /** Writes what is pending now, if record `to` is among it, rather than at the end of the tick:
   * the server, once per data event, before it asks whether its replies may leave. */
  flush(to: number): void {
    if (to > this.#written && this.#failure === undefined) this.#write()
  }

  /** Writes what is pending and, under `always`, fdatasyncs it before returning: the synchronous
   * database's writes are durable when its call returns. Under everysec and no, the write waits
   * for the end of the tick, as appendEncoded queues it, unless SYNC_FLUSH_BYTES are pending (a
   * synchronous loop of writes never yields to that tick). Throws what the disk refused (those
   * writes were undone). */
  flushNow(): void {
    if (this.durability !== 'always' && this.#records.length < SYNC_FLUSH_BYTES) return
    if (this.#failure !== undefined) throw this.#failure
    const lost = this.#write()
    if (this.durability !== 'always') {
      if (lost !== undefined) throw lost
      return
    }
    if (lost !== undefined) throw lost
    if (this.#synced >= this.#written && !this.#dirDirty) return
    try {
      this.#syncNow()
    } catch (error) {
      this.#fail(error)
      throw this.#failure ?? error
    }
  }

  /**
   * Starts the next generation at the caller's point-in-time: writes and syncs what is pending to
   * the current file, ends it with its end marker, renames it aside, and (unless `next` is false:
   * closing) opens a new PATH.log. Returns the new generation, which the snapshot taken at this
   * moment records. A disk that refuses the pending records or the new file leaves the log as it
   * was (the error is thrown, writes go on); a failed fsync or rename fails the log for good.
   */
  rotate(next = true): number {
    this.check()
    const lost = this.#write()
    if (lost !== undefined) throw lost
    const before = this.bytes
    try {
      this.#io.write(this.#fd, encodeEndMarker(this.#fileRecords))
    } catch (cause) {
      this.bytes = before
      this.#cutTail()
      throw this.#refused(cause, 'the end of the log')
    }
    this.bytes += RECORD_HEADER_BYTES
    try {
      if (this.durability !== 'no') {
        fdatasyncSync(this.#fd)
        this.#synced = this.#written
        this.#settle(this.#written)
      }
      this.check()
      this.#crash?.reached('rotate:old-synced')
      closeSync(this.#fd)
      this.#fd = -1
      renameSync(logPath(this.dataPath), rotatedLogPath(this.dataPath, this.generation))
      this.#crash?.reached('rotate:renamed')
    } catch (error) {
      this.#fail(error)
      throw this.#failure
    }
    this.generation++
    if (next) {
      try {
        this.#fd = openSync(logPath(this.dataPath), CREATE_NEW, FILE_MODE)
        this.#crash?.reached('rotate:created')
        this.#io.write(this.#fd, encodeLogHeader(this.generation))
        this.#crash?.reached('rotate:header-written')
      } catch (cause) {
        this.#unrotate(before)
        throw this.#refused(cause, 'a new log')
      }
    }
    this.bytes = LOG_HEADER_BYTES
    this.#fileRecords = 0
    // The rename and the new file are only durable once the folder is fsynced: before the first
    // write of the new generation is acknowledged under `always`, or with the next everysec sync.
    this.#dirDirty = true
    return this.generation
  }

  // The disk refused the new log: put the old one back under its name, without its end marker, so
  // that writes go on into it as if the rotation had not been tried.
  #unrotate(bytes: number): void {
    try {
      if (this.#fd >= 0) closeSync(this.#fd)
      this.#fd = -1
      try {
        unlinkSync(logPath(this.dataPath))
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
      }
      this.generation--
      renameSync(rotatedLogPath(this.dataPath, this.generation), logPath(this.dataPath))
      this.#fd = openSync(logPath(this.dataPath), APPEND, FILE_MODE)
      this.bytes = bytes
      this.#dirDirty = true
      this.#cutTail()
    } catch (error) {
      this.#fail(error)
      throw this.#failure
    }
  }

  /** Writes and syncs what is pending (unless `no`), then closes the file. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    clearInterval(this.#timer)
    if (this.#fd < 0) return
    try {
      this.#write()
      if (this.durability !== 'no' && this.#failure === undefined) this.#syncNow()
    } finally {
      closeSync(this.#fd)
      this.#fd = -1
    }
  }

  // --- writing ---

  readonly #writeTask = (): void => {
    this.#writeQueued = false
    this.#write()
  }

  /** Writes what is pending; returns the error when the disk refused it (see #lose). */
  #write(): CyberError | undefined {
    if (this.#records.length === 0 || this.#failure !== undefined) return undefined
    const count = this.#records.count
    const bytes = this.#records.take()
    try {
      this.#writeRecords(this.#fd, bytes)
    } catch (error) {
      return this.#lose(error)
    }
    this.counts.writes++
    this.bytes += bytes.length
    this.#fileRecords += count
    this.#written = this.appended
    const batch = this.#batch
    if (batch !== undefined) {
      this.#batch = undefined
      batch.seq = this.#written
      this.#waiters.push(batch)
    }
    if (this.durability === 'always') {
      if (!this.#syncQueued) {
        // One fdatasync per event-loop turn, after every socket of the turn had its say: the
        // writes of all of them share it, as Redis shares one fsync per loop in beforeSleep.
        this.#syncQueued = true
        setImmediate(this.#syncTask)
      }
    } else {
      this.#settle(this.#written)
    }
    if (this.bytes > this.compactAt) this.onGrow?.()
    return undefined
  }

  /**
   * The disk refused a batch (ENOSPC, EDQUOT, EIO on write): its records are dropped, the bytes of
   * it that did reach the file are cut off, its writers are told, and the owner brings memory back
   * to what the files hold (onLost). The log stays usable: the next write tries the disk again, so
   * once there is room again everything works without a restart.
   */
  #lose(cause: unknown): CyberError {
    const from = this.#written + 1
    const to = this.appended
    const error = this.#refused(cause, `${to - from + 1} write${to === from ? '' : 's'}, which were not applied`)
    this.#lost.push({ from, to, error })
    if (this.#lost.length > LOST_KEPT) this.#forgottenTo = this.#lost.shift()!.to
    // The lost numbers are never written; later records are numbered after them.
    this.#written = to
    this.#batch?.reject(error)
    this.#batch = undefined
    const keep = this.#waiters.filter((waiter) => waiter.seq < from)
    for (const waiter of this.#waiters) if (waiter.seq >= from) waiter.reject(error)
    this.#waiters = keep
    console.error(`cyberdb: ${error.message}`)
    try {
      this.#cutTail()
    } catch {
      // retried by check() before the next write is applied
    }
    try {
      this.onLost?.(error)
    } catch (rollback) {
      this.#fail(rollback)
    }
    return error
  }

  /** The error of a refused write to the log, naming the disk's reason. */
  #refused(cause: unknown, what: string): CyberError {
    const code = (cause as NodeJS.ErrnoException)?.code
    const reason = code === 'ENOSPC' ? 'the disk is full' : code === 'EDQUOT' ? 'the disk quota is used up'
      : `the disk refused it: ${(cause as Error)?.message ?? cause}`
    return new CyberError('INTERNAL', `the operation log ${logPath(this.dataPath)} could not take ${what} ` +
      `(${reason}): writes work again once the disk has room`, { cause })
  }

  /** A lost batch that records `from`..`to` overlap, if any. */
  #lostIn(from: number, to: number): CyberError | undefined {
    for (const lost of this.#lost) if (lost.from <= to && from <= lost.to) return lost.error
    // Older than what is remembered: cannot tell, so the held replies are not sent.
    if (from <= this.#forgottenTo) return this.#lost[0]!.error
    return undefined
  }

  /** Cuts the file back to its last whole record (what a refused write left after it). */
  #cutTail(): void {
    try {
      ftruncateSync(this.#fd, this.bytes)
      this.#cutPending = false
    } catch (cause) {
      this.#cutPending = true
      throw this.#refused(cause, 'a cut back to its last whole record')
    }
  }

  readonly #syncTask = (): void => {
    this.#syncQueued = false
    if (this.#fd < 0 || this.#failure !== undefined) return
    this.#write()
    // A synchronous write's flushNow() may have synced everything already.
    if (this.#synced >= this.#written && !this.#dirDirty) return
    try {
      this.#syncNow()
    } catch (error) {
      this.#fail(error)
    }
  }

  #syncNow(): void {
    const upTo = this.#written
    if (this.#dirDirty) {
      syncDir(this.dataPath)
      this.#dirDirty = false
    }
    fdatasyncSync(this.#fd)
    this.counts.syncs++
    this.#synced = upTo
    this.#settle(upTo)
  }

  // everysec: off the event loop, so a slow disk never holds the clients up.
  #syncInBackground(): void {
    if (this.#syncing || this.#fd < 0 || this.#written === this.#synced) return
    const upTo = this.#written
    const fd = this.#fd
    this.#syncing = true
    if (this.#dirDirty) {
      this.#dirDirty = false
      try {
        syncDir(this.dataPath)
      } catch (error) {
        console.error(`cyberdb: fsync of the folder of ${this.dataPath} failed:`, error)
      }
    }
    fdatasync(fd, (error) => {
      this.#syncing = false
      // A rotation may have closed this file meanwhile (and synced it itself).
      if (fd !== this.#fd) return
      if (error) console.error(`cyberdb: fsync of ${logPath(this.dataPath)} failed:`, error)
      else if (upTo > this.#synced) this.#synced = upTo
    })
  }

  #settle(upTo: number): void {
    if (upTo > this.#durable) this.#durable = upTo
    if (this.#waiters.length === 0) return
    const waiters = this.#waiters
    let done = 0
    while (done < waiters.length && waiters[done]!.seq <= upTo) waiters[done++]!.resolve()
    this.#waiters = done === waiters.length ? [] : waiters.slice(done)
  }

  // An fsync failed, or a rename: what the disk holds is unknown, so no write is taken again
  // until the database is reopened (and recovery reads what the disk really has).
  #fail(cause: unknown): void {
    if (this.#failure !== undefined) return
    this.#failure = new CyberError('INTERNAL', `the operation log ${logPath(this.dataPath)} could not be ` +
      `written (${(cause as Error)?.message ?? cause}): writes are refused until the database is reopened`,
    { cause })
    const waiters = this.#waiters
    this.#waiters = []
    for (const waiter of waiters) waiter.reject(this.#failure)
    this.#batch?.reject(this.#failure)
    this.#batch = undefined
    console.error(`cyberdb: ${this.#failure.message}`)
  }
}

/** Cuts a log file to `size` bytes (a torn tail), durably, before anything is appended after it:
 * the torn bytes must never come back in front of acknowledged records. */
function cutFile(path: string, size: number): void {
  const fd = openSync(path, 'r+')
  try {
    if (Bun.file(path).size > size) {
      ftruncateSync(fd, size)
      fsyncSync(fd)
    }
  } finally {
    closeSync(fd)
  }
}

/** Records as the log holds them (log-format.ts), and how many since the last take. */
class LogRecords extends ByteBuffer {
  count = 0

  write(body: Uint8Array): void {
    const at = this.reserve(RECORD_HEADER_BYTES + body.length)
    writeRecord(this.bytes, at, body, this.view) // on the buffer's own view: no DataView per record
    this.count++
  }

  override take(): Uint8Array {
    this.count = 0
    return super.take()
  }
}
