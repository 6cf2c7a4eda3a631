// Who writes snapshots of a store: one save at a time (a second caller waits for the running one,
// then takes its own, so what it wrote before calling is in the file when its promise resolves),
// and, for a data file, the lock that keeps other processes out, the operation log, the periodic
// backup timer and automatic compaction. Used by the embedded file mode and by the Server alike.

import { closeSync, existsSync, openSync, readSync, renameSync, unlinkSync } from 'node:fs'
import type { Store } from '../engine/store.ts'
import type { Host } from '../host/host.ts'
import type { CrashHooks } from './crash-points.ts'
import { checkDataPath } from './data-path.ts'
import { HEADER_BYTES, decodeHeader } from './format.ts'
import { FileLock } from './lock.ts'
import {
  DEFAULT_DURABILITY, LOG_HEADER_BYTES, decodeLogHeader, logPath, rotatedLogPath, type Durability,
  type LogIO,
} from './log-format.ts'
import { listLogFiles, recoverSync, type Recovered } from './log-reader.ts'
import { OpLog, type OpenLog } from './op-log.ts'
import { takeView, writeSnapshot, writeView, type FeedState, type SnapshotStats } from './snapshot.ts'

const MAX_TIMER_MS = 2 ** 31 - 1
// The log is compacted (a snapshot rewrites it) once it passes max(this, 2 x the last snapshot):
// a log as big as the data it describes costs as much to replay as a snapshot does to load.
export const COMPACT_BYTES = 64 * 1024 * 1024

export interface DataFileOptions {
  /** Seconds between automatic snapshots; none when absent. */
  backup?: number
  /** When an acknowledged write is on disk; default everysec. */
  durability?: Durability
  /** The log size past which a snapshot compacts it: max(this, 2 x the last snapshot).
   * Default 64 MiB. */
  compactBytes?: number
  /** How log bytes reach the file; tests replace it to make the disk refuse a write. */
  io?: LogIO
  /** Called at the named steps of a save, a rotation and a log write (the crash tests). */
  crash?: CrashHooks
}

/** How the last save went (db.info): when it ended (ms since the epoch), how long it took, and
 * the snapshot's size or the error's message. */
export interface LastSave {
  at: number
  ms: number
  ok: boolean
  bytes: number
  error: string | null
}

export class Snapshotter {
  readonly store: Store
  /** The change feed at this moment, which a snapshot holds (none: an empty feed). */
  readonly feed: (() => FeedState) | undefined
  #saving: Promise<unknown> = Promise.resolve()
  #last: LastSave | undefined

  /** The last save that finished (periodic, compaction, asked for, final), if any. */
  get lastSave(): LastSave | undefined {
    return this.#last
  }

  constructor(store: Store, feed?: () => FeedState) {
    this.store = store
    this.feed = feed
  }

  /** The operation log, when this writes a data file with one. */
  get log(): OpLog | undefined {
    return undefined
  }

  save(path: string): Promise<SnapshotStats> {
    // The feed's state now, with the view: the snapshot holds the tables as of this seq.
    return this.serialize(() => writeSnapshot(this.store, path, this.feed?.()))
  }

  /** Runs `task` after every save already asked for. */
  protected serialize<T>(task: () => Promise<T>): Promise<T> {
    const next = this.#saving.then(() => this.#timed(task))
    this.#saving = next.catch(() => {})
    return next
  }

  // Wall time, not the host's clock: a save takes real milliseconds even under a manual clock.
  async #timed<T>(task: () => Promise<T>): Promise<T> {
    const started = performance.now()
    const record = (ok: boolean, bytes: number, error: string | null): void => {
      this.#last = { at: Date.now(), ms: performance.now() - started, ok, bytes, error }
    }
    try {
      const result = await task()
      record(true, (result as { bytes?: number } | undefined)?.bytes ?? 0, null)
      return result
    } catch (error) {
      record(false, 0, error instanceof Error ? error.message : String(error))
      throw error
    }
  }
}

export class DataFile extends Snapshotter {
  readonly path: string
  readonly #host: Host
  #lock: FileLock | undefined
  #timer: Timer | undefined
  #log: OpLog | undefined
  #compactBytes = COMPACT_BYTES
  #crash: CrashHooks | undefined
  #compacting = false
  // Whether the files hold this store (snapshot and logs): false from a fresh start until its
  // first snapshot, when the files still hold another store's data.
  #holdsStore = true

  private constructor(host: Host, path: string, lock: FileLock) {
    super(host.store, () => host.feedState())
    this.#host = host
    this.path = path
    this.#lock = lock
  }

  /** Takes the file's lock (LOCKED when another process holds it), without reading the file. */
  static lock(host: Host, path: string): DataFile {
    checkDataPath(path) // before the lock file exists
    return new DataFile(host, path, FileLock.acquire(path))
  }

  /** Takes the file's lock, recovers it (snapshot, then its logs) into the host's store (a missing
   * file leaves the store as it is) and goes on logging through the host. Throws LOCKED or
   * SNAPSHOT_CORRUPT, holding no lock and changing nothing then. */
  static async open(host: Host, path: string, options: DataFileOptions = {}): Promise<DataFile> {
    return DataFile.openSync(host, path, options)
  }

  /** open(), synchronously (the loading is: Bun's sync file reads): what openSync() uses. */
  static openSync(host: Host, path: string, options: DataFileOptions = {}): DataFile {
    const file = DataFile.lock(host, path)
    try {
      const recovered = recoverSync(path)
      if (recovered.tables) host.store.replaceAll(recovered.tables)
      host.restoreFeed(recovered.feed, crashSkip(recovered))
      host.tablesReplaced() // deadlines loaded: the sweep's timer
      file.startLog(recovered.log, recovered.snapshotBytes, options)
    } catch (error) {
      file.#release()
      throw error
    }
    if (options.backup !== undefined) file.setBackup(options.backup)
    return file
  }

  override get log(): OpLog | undefined {
    return this.#log
  }

  /**
   * Starts the operation log where recovery left it (`at`), or, given no `at` (the store was not
   * loaded from this file, as Server.setBackup without load), sets the file's old logs aside and
   * snapshots the store at once: from then on the file holds this store.
   */
  startLog(at: OpenLog | undefined, snapshotBytes: number, options: DataFileOptions = {}): void {
    if (this.#log) return
    const durability = options.durability ?? DEFAULT_DURABILITY
    this.#compactBytes = options.compactBytes ?? COMPACT_BYTES
    this.#crash = options.crash
    // Nothing on disk yet: a new file needs no first snapshot.
    const fresh = at === undefined && (existsSync(this.path) || listLogFiles(this.path).length > 0)
    const generation = fresh ? setAsideLogs(this.path) : 0
    const log = OpLog.open(this.path, durability, at ?? { generation },
      { io: options.io, crash: options.crash })
    this.#log = log
    log.onGrow = () => this.#compact()
    log.onLost = () => this.#rollback()
    this.#host.attach(log)
    this.#setCompactAt(snapshotBytes)
    if (fresh) {
      this.#holdsStore = false
      this.save().then(() => (this.#holdsStore = true),
        (error) => console.error(`cyberdb: first snapshot of ${this.path} failed:`, error))
    }
  }

  /**
   * The disk refused a log write: the writes it held were applied to memory but are in no file,
   * so they must not stay visible. Memory is rebuilt from the files (snapshot and logs, as a
   * restart would), not undone op by op: an undo record per write would cost every write, this
   * costs one reload when the disk fails, and what it yields is by construction what the files
   * hold, so memory, disk and the next restart agree. Throwing fails the log for good.
   */
  #rollback(): void {
    if (!this.#holdsStore) throw new Error('the files do not hold this store yet (its first snapshot is not written)')
    const recovered = recoverSync(this.path, () => {})
    this.store.replaceAll(recovered.tables ?? new Map())
  }

  /** Snapshots to `path`. To the data file itself, the log rotates at the snapshot's moment. */
  override save(path: string = this.path): Promise<SnapshotStats> {
    if (path !== this.path || this.#log === undefined) return super.save(path)
    return this.serialize(() => this.#saveRotating(true))
  }

  async #saveRotating(next: boolean): Promise<SnapshotStats> {
    const log = this.#log!
    log.compactAt = Infinity // this is the compaction: the rotation's write must not ask for another
    let snapshotBytes = 0
    try {
      // One synchronous moment: the view the snapshot will hold, and the first record it will not.
      const view = takeView(this.store)
      const feed = this.#host.feedState()
      const generation = log.rotate(next)
      const stats = await writeView(view, this.path, generation, this.#crash, feed)
      // The snapshot is durable: the logs it contains can go.
      for (const file of listLogFiles(this.path)) {
        if (file !== logPath(this.path)) unlinkSync(file)
      }
      this.#crash?.reached('snapshot:logs-deleted')
      snapshotBytes = stats.bytes
      return stats
    } finally {
      this.#setCompactAt(snapshotBytes)
    }
  }

  #setCompactAt(snapshotBytes: number): void {
    if (this.#log) this.#log.compactAt = Math.max(this.#compactBytes, 2 * snapshotBytes)
  }

  #compact(): void {
    if (this.#compacting) return
    this.#compacting = true
    this.save().catch((error) => console.error(`cyberdb: compaction of ${this.path} failed:`, error))
      .finally(() => (this.#compacting = false))
  }

  /** Snapshots every `seconds` from now on. The timer does not keep the process alive. */
  setBackup(seconds: number): void {
    clearInterval(this.#timer)
    // setInterval turns a delay past 2^31-1 ms (~24.8 days) into 1 ms: clamp instead.
    const intervalMs = Math.min(seconds * 1000, MAX_TIMER_MS)
    this.#timer = setInterval(() => {
      this.save().catch((error) => console.error(`cyberdb: backup of ${this.path} failed:`, error))
    }, intervalMs)
    this.#timer.unref()
  }

  /** Takes the final snapshot (the log goes with it), closes the log and releases the lock (also
   * when the snapshot fails: the log then keeps every write). */
  async close(): Promise<SnapshotStats> {
    clearInterval(this.#timer)
    try {
      if (this.#log === undefined) return await super.save(this.path)
      return await this.serialize(() => this.#saveRotating(false))
    } finally {
      this.#log?.close()
      this.#release()
    }
  }

  /** Releases the lock without a snapshot (a file that was never written). */
  release(): void {
    this.#log?.close()
    this.#release()
  }

  #release(): void {
    if (this.#log !== undefined && this.#host.log === this.#log) this.#host.attach(undefined)
    this.#lock?.release()
    this.#lock = undefined
  }
}

/** Seqs left out after a crash (see crashSkip). */
export const CRASH_SEQ_SKIP = 1_000_000

/**
 * The seqs to leave out after recovering `recovered`. A watcher may have seen a commit that is in
 * no file: under everysec or no, what the OS held but had not written when the machine stopped (a
 * kill -9 loses nothing the OS has, and watchers hear of a commit only after its record's write).
 * Skipping CRASH_SEQ_SKIP seqs after a stop without a final snapshot keeps such a seq from naming
 * another change, as long as fewer commits than that were lost (about a second of writes). Under
 * `always` too: a watcher hears of a commit after its write, before its fdatasync.
 */
export function crashSkip(recovered: Recovered): number {
  return recovered.unclean ? CRASH_SEQ_SKIP : 0
}

/**
 * Before a store that was not loaded from this data file starts logging to it: renames PATH.log
 * aside (so it is not truncated before the first snapshot of the new store is durable) and returns
 * the generation the new log takes, one past every generation on disk.
 */
function setAsideLogs(dataPath: string): number {
  let newest = snapshotGeneration(dataPath)
  for (const file of listLogFiles(dataPath)) {
    const generation = logGeneration(file)
    if (generation === undefined) {
      if (file === logPath(dataPath)) unlinkSync(file) // no header: it holds nothing
      continue
    }
    newest = Math.max(newest, generation)
    if (file === logPath(dataPath)) renameSync(file, rotatedLogPath(dataPath, generation))
  }
  return newest + 1
}

function readHead(path: string, bytes: number): Uint8Array {
  const head = new Uint8Array(bytes)
  const fd = openSync(path, 'r')
  try {
    return head.subarray(0, readSync(fd, head, 0, bytes, 0))
  } finally {
    closeSync(fd)
  }
}

function logGeneration(path: string): number | undefined {
  return decodeLogHeader(readHead(path, LOG_HEADER_BYTES))?.generation
}

// A snapshot whose header does not decode continues no generation: this store replaces it.
function snapshotGeneration(path: string): number {
  if (!existsSync(path)) return 0
  try {
    return decodeHeader(readHead(path, HEADER_BYTES), path).generation
  } catch {
    return 0
  }
}
