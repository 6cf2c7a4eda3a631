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
  closeSync, fdatasync, fdatasyncSync, fsyncSync, ftruncateSync, openSync, renameSync,
} from 'node:fs'
import { CyberError } from '../errors.ts'
import type { Op } from '../engine/commands.ts'
import { ByteBuffer } from '../protocol/byte-buffer.ts'
import { createCodec, packInPlace } from '../protocol/codec.ts'
import { crashPoint, isArmed } from './crash-points.ts'
import {
  EVERYSEC_MS, LOG_HEADER_BYTES, RECORD_HEADER_BYTES, encodeLogHeader, logPath, rotatedLogPath, syncDir,
  writeAll, type Durability,
} from './log-format.ts'

export { DEFAULT_DURABILITY, DURABILITIES, type Durability } from './log-format.ts'

interface Waiter {
  seq: number
  resolve: () => void
  reject: (error: unknown) => void
}

export interface OpenLog {
  generation: number
  /** Continue PATH.log, cut to this many bytes (its last good record); otherwise a new file. */
  continueAt?: number
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
  /** Write and fdatasync calls on the log so far: what group commit saves (tests, benchmarks). */
  readonly counts = { writes: 0, syncs: 0 }
  readonly #codec = createCodec()
  #fd: number
  readonly #records = new LogRecords(64 * 1024)
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
  #failure: CyberError | undefined
  #timer: Timer | undefined
  #closed = false

  private constructor(dataPath: string, durability: Durability, generation: number, fd: number) {
    this.dataPath = dataPath
    this.durability = durability
    this.generation = generation
    this.#fd = fd
    if (durability === 'everysec') {
      this.#timer = setInterval(() => this.#syncInBackground(), EVERYSEC_MS)
      this.#timer.unref()
    }
  }

  /** Opens PATH.log to append: continues it (cut at its last good record) or starts a new one. */
  static open(dataPath: string, durability: Durability, at: OpenLog): OpLog {
    const path = logPath(dataPath)
    if (at.continueAt !== undefined) {
      const fd = openSync(path, 'r+')
      try {
        // A torn tail is cut, and the cut made durable, before anything is appended after it: the
        // torn bytes must never come back in front of acknowledged records.
        const { size } = Bun.file(path)
        if (size > at.continueAt) {
          ftruncateSync(fd, at.continueAt)
          fsyncSync(fd)
        }
      } finally {
        closeSync(fd)
      }
      const log = new OpLog(dataPath, durability, at.generation, openSync(path, 'a'))
      log.bytes = at.continueAt
      return log
    }
    const log = new OpLog(dataPath, durability, at.generation, openSync(path, 'w'))
    writeAll(log.#fd, encodeLogHeader(at.generation))
    log.bytes = LOG_HEADER_BYTES
    log.#dirDirty = true
    return log
  }

  /** Throws when the log can no longer be written: the caller must not apply a write then. */
  check(): void {
    if (this.#failure !== undefined) throw this.#failure
  }

  /** Appends one operation that succeeded. Encoded now: a stored container may change later. */
  append(op: Op): void {
    const packed = packInPlace(this.#codec, [op.table, op.name, op.args])
    this.#records.write(packed.subarray(packed.start, packed.end))
    this.appended++
    if (!this.#writeQueued) {
      this.#writeQueued = true
      queueMicrotask(this.#writeTask)
    }
  }

  /** Resolves when every record appended so far is durable as the policy says. One promise per
   * batch: the embedded transport's calls of one tick share it. */
  whenDurable(): Promise<void> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure)
    if (this.appended <= this.#durable) return Promise.resolve()
    if (this.appended === this.#written) {
      const seq = this.appended
      return new Promise<void>((resolve, reject) => this.#waiters.push({ seq, resolve, reject }))
    }
    if (this.#batch === undefined) {
      let resolve!: () => void, reject!: (error: unknown) => void
      const promise = new Promise<void>((yes, no) => ((resolve = yes), (reject = no)))
      this.#batch = { seq: 0, resolve, reject, promise }
    }
    return this.#batch.promise
  }

  /**
   * Makes record `seq` durable as the policy says, writing what is pending now. Returns
   * undefined when it already is (always so under everysec and no), else a promise for the fsync
   * that covers it. The server calls this once per data event before sending its replies.
   */
  commit(seq: number): Promise<void> | undefined {
    if (seq <= this.#durable) return undefined
    if (seq > this.#written) this.#write()
    if (this.#failure !== undefined) return Promise.reject(this.#failure)
    if (seq <= this.#durable) return undefined
    return new Promise<void>((resolve, reject) => this.#waiters.push({ seq, resolve, reject }))
  }

  /**
   * Starts the next generation at the caller's point-in-time: writes and syncs what is pending to
   * the current file, renames it aside, and (unless `next` is false: closing) opens a new PATH.log.
   * Returns the new generation, which the snapshot taken at this moment records.
   */
  rotate(next = true): number {
    this.check()
    try {
      this.#write()
      if (this.durability !== 'no' && this.#written > this.#synced) {
        fdatasyncSync(this.#fd)
        this.#synced = this.#written
        this.#settle(this.#written)
      }
      this.check()
      crashPoint('rotate:old-synced')
      closeSync(this.#fd)
      this.#fd = -1
      renameSync(logPath(this.dataPath), rotatedLogPath(this.dataPath, this.generation))
      crashPoint('rotate:renamed')
      this.generation++
      if (next) {
        this.#fd = openSync(logPath(this.dataPath), 'wx')
        crashPoint('rotate:created')
        writeAll(this.#fd, encodeLogHeader(this.generation))
        crashPoint('rotate:header-written')
      }
      this.bytes = LOG_HEADER_BYTES
      // The rename and the new file are only durable once the folder is fsynced: before the first
      // write of the new generation is acknowledged under `always`, or with the next everysec sync.
      this.#dirDirty = true
    } catch (error) {
      this.#fail(error)
      throw this.#failure
    }
    return this.generation
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

  #write(): void {
    if (this.#records.length === 0 || this.#failure !== undefined) return
    // A failed write fails the log for good, so the records taken here are never needed again.
    const bytes = this.#records.take()
    try {
      if (isArmed('log:torn-write')) {
        // A batch cut inside its last record (every record is longer than 3 bytes).
        writeAll(this.#fd, bytes.subarray(0, bytes.length - 3))
        crashPoint('log:torn-write')
        writeAll(this.#fd, bytes.subarray(bytes.length - 3))
      } else {
        writeAll(this.#fd, bytes)
      }
    } catch (error) {
      this.#fail(error)
      return
    }
    this.counts.writes++
    this.bytes += bytes.length
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
  }

  readonly #syncTask = (): void => {
    this.#syncQueued = false
    if (this.#fd < 0 || this.#failure !== undefined) return
    this.#write()
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

/** Records as the log holds them: [u32 body length][u32 CRC-32 of the body][body]. */
class LogRecords extends ByteBuffer {
  write(body: Uint8Array): void {
    const at = this.reserve(RECORD_HEADER_BYTES + body.length)
    this.view.setUint32(at, body.length)
    this.view.setUint32(at + 4, Bun.hash.crc32(body))
    this.bytes.set(body, at + RECORD_HEADER_BYTES)
  }
}
