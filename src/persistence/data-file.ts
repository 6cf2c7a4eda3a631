// Who writes snapshots of a store: one save at a time (a second caller waits for the running one,
// then takes its own, so what it wrote before calling is in the file when its promise resolves),
// and, for a data file, the lock that keeps other processes out plus the periodic backup timer.
// Used by the embedded file mode and by the Server alike.

import type { Store } from '../engine/store.ts'
import { FileLock } from './lock.ts'
import { readSnapshot, writeSnapshot, type SnapshotStats } from './snapshot.ts'

const MAX_TIMER_MS = 2 ** 31 - 1

export class Snapshotter {
  readonly store: Store
  #saving: Promise<unknown> = Promise.resolve()

  constructor(store: Store) {
    this.store = store
  }

  save(path: string): Promise<SnapshotStats> {
    const next = this.#saving.then(() => writeSnapshot(this.store, path))
    this.#saving = next.catch(() => {})
    return next
  }
}

export class DataFile extends Snapshotter {
  readonly path: string
  #lock: FileLock | undefined
  #timer: Timer | undefined

  private constructor(store: Store, path: string, lock: FileLock) {
    super(store)
    this.path = path
    this.#lock = lock
  }

  /** Takes the file's lock (LOCKED when another process holds it), without reading the file. */
  static lock(store: Store, path: string): DataFile {
    return new DataFile(store, path, FileLock.acquire(path))
  }

  /** Takes the file's lock and replaces the store's tables with the file's (a missing file leaves
   * the store as it is). Throws LOCKED or SNAPSHOT_CORRUPT, holding no lock then. */
  static async open(store: Store, path: string, options: { backup?: number } = {}): Promise<DataFile> {
    const file = DataFile.lock(store, path)
    try {
      const tables = await readSnapshot(path)
      if (tables) store.replaceAll(tables)
    } catch (error) {
      file.#release()
      throw error
    }
    if (options.backup !== undefined) file.setBackup(options.backup)
    return file
  }

  override save(path: string = this.path): Promise<SnapshotStats> {
    return super.save(path)
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

  /** Takes the final snapshot and releases the lock (also when the snapshot fails). */
  async close(): Promise<SnapshotStats> {
    clearInterval(this.#timer)
    try {
      return await this.save()
    } finally {
      this.#release()
    }
  }

  #release(): void {
    this.#lock?.release()
    this.#lock = undefined
  }
}
