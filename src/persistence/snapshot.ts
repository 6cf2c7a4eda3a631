// Snapshot save and load. A save takes a point-in-time view of the store synchronously (shallow
// copies of each table's keys, values or items: no engine operation mutates a stored value in
// place, it only replaces it, so the copies are a consistent image), then encodes it in slices
// between event-loop turns, so that a large snapshot never stalls the clients for long.
// Body (format version 3): a msgpack sequence. First [[name, type, size, options, deadlines,
// now], ...], then each table's entries in chunks, in table order: a dict's chunk alternates keys
// and values (msgpackr decodes a flat array several times faster than a map), a list's chunk is
// items; after a dict's entries, its `deadlines` [key, deadline] pairs in flat chunks. `options`
// are the table's cache options (null: none), deadlines absolute ms, `now` the latest time the
// table had seen (so a clock set back after a restart revives no expired key; -1: none). Expired
// keys not yet swept are saved as they are: the log after the snapshot continues from exactly
// this state. Version 2 is the same without the last three fields and deadline chunks; version 1
// bodies are one msgpack value, [[name, type, flat], ...]. Both are still read.
// Version 4 (issue 12) ends the body with the change feed, one value: [seq, [[seq, table, name,
// args], ...]]: the last commit's seq at the snapshot's moment and the history a watcher may still
// resume from (commits in their logged form, oldest first).
// Save writes PATH.tmp, fsyncs it, renames it over PATH (atomic within one folder) and fsyncs the
// folder: after a crash at any moment there is the old snapshot or the new one, never a torn one.

import { constants } from 'node:fs'
import { open, rename, unlink } from 'node:fs/promises'
import { dirname } from 'node:path'
import { CyberError } from '../errors.ts'
import { checkDictOptions, checkListOptions } from '../engine/cache-options.ts'
import type { Table } from '../engine/commands.ts'
import { DictTable } from '../engine/dict-table.ts'
import { ListTable } from '../engine/list-table.ts'
import type { Store } from '../engine/store.ts'
import { createCodec } from '../protocol/codec.ts'
import type { CrashHooks } from './crash-points.ts'
import { encodeHeaderFor, verifySnapshot } from './format.ts'

/** A commit as the feed's history holds it: [seq, table, name, args] (the logged op). */
export type SavedCommit = [number, string, string, unknown[]]

/** The change feed at a snapshot's moment: the last seq and the history after it. */
export interface FeedState {
  seq: number
  history: SavedCommit[]
}

const NO_FEED: FeedState = { seq: 0, history: [] }

export interface SnapshotStats {
  tables: number
  entries: number
  bytes: number
}

/** A table as it was at the snapshot point: a dict's keys and values, or a list's items. */
interface TableView {
  name: string
  type: 'dict' | 'list'
  keys: unknown[]
  values: unknown[]
  options: object | null
  /** A dict's deadlines, flat [key, deadline, ...]. */
  deadlines: unknown[]
  now: number
}

/** The whole store at one moment; encoding it later sees no write made after this. */
export type StoreView = TableView[]

// Entries per chunk: small enough that one chunk packs in well under a millisecond or two of
// small values, large enough that the per-chunk record headers cost nothing in size.
const CHUNK_ENTRIES = 8192
// How long one slice of encoding may hold the event loop before letting clients in.
const SLICE_MS = 8
const WRITEV_PARTS = 512

/** Copies what a snapshot needs, synchronously: ~15 ms per million dict entries. */
export function takeView(store: Store): StoreView {
  const view: StoreView = []
  for (const [name, table] of store.tables) {
    if (table instanceof DictTable) {
      const keys = Array.from(table.storedKeys())
      const deadlines = table.deadlineEntries().flat()
      const now = Number.isFinite(table.now) ? table.now : -1
      view.push({ name, type: 'dict', keys, values: Array.from(table.storedValues()),
        options: table.options ?? null, deadlines, now })
    } else {
      view.push({ name, type: 'list', keys: table.slice(), values: [], options: table.options ?? null,
        deadlines: [], now: -1 })
    }
  }
  return view
}

/** The body's values in order: the table list, then each table's chunks. */
function* bodyValues(view: StoreView, feed: FeedState): Generator<unknown> {
  yield view.map((t) => [t.name, t.type, t.keys.length, t.options, t.deadlines.length / 2, t.now])
  for (const { type, keys, values, deadlines } of view) {
    for (let at = 0; at < keys.length; at += CHUNK_ENTRIES) {
      const end = Math.min(at + CHUNK_ENTRIES, keys.length)
      if (type === 'list') {
        yield keys.slice(at, end)
        continue
      }
      const flat = new Array((end - at) * 2)
      for (let i = at, j = 0; i < end; i++) {
        flat[j++] = keys[i]
        flat[j++] = values[i]
      }
      yield flat
    }
    for (let at = 0; at < deadlines.length; at += 2 * CHUNK_ENTRIES) {
      yield deadlines.slice(at, at + 2 * CHUNK_ENTRIES)
    }
  }
  yield [feed.seq, feed.history]
}

interface Image {
  header: Uint8Array
  chunks: Uint8Array[]
  stats: SnapshotStats
}

/** Packs a view one body value at a time: `step()` packs the next value and returns false once
 * none is left; `finish()` makes the header. Sync and async savers drive it their own way. */
function encoder(view: StoreView, generation: number, feed: FeedState) {
  const codec = createCodec()
  const values = bodyValues(view, feed)
  const chunks: Uint8Array[] = []
  let bodyBytes = 0
  let checksum = 0
  return {
    step(): boolean {
      const next = values.next()
      if (next.done) return false
      const packed = codec.pack(next.value)
      chunks.push(packed)
      bodyBytes += packed.length
      checksum = Bun.hash.crc32(packed, checksum)
      return true
    },
    finish(): Image {
      let entries = 0
      for (const table of view) entries += table.keys.length
      const header = encodeHeaderFor(view.length, entries, bodyBytes, checksum, generation)
      return { header, chunks, stats: { tables: view.length, entries, bytes: header.length + bodyBytes } }
    },
  }
}

/** Packs a view, letting the event loop run between slices of at most ~SLICE_MS. */
async function encodeView(view: StoreView, generation: number, feed: FeedState): Promise<Image> {
  const packing = encoder(view, generation, feed)
  for (;;) {
    const sliceEnd = performance.now() + SLICE_MS
    let more = true
    while (more && performance.now() < sliceEnd) more = packing.step()
    if (!more) return packing.finish()
    await new Promise<void>((resolve) => setImmediate(resolve))
  }
}

/** Encodes the whole store as one snapshot file image, synchronously (tests, benchmarks). */
export function encodeSnapshot(store: Store, generation = 0, feed = NO_FEED,
): { header: Uint8Array; body: Uint8Array; stats: SnapshotStats } {
  const packing = encoder(takeView(store), generation, feed)
  while (packing.step());
  const { header, chunks, stats } = packing.finish()
  return { header, body: Buffer.concat(chunks), stats }
}

// --- loading ---

/** A verified snapshot decoded into tables, without touching any store. */
export interface DecodedSnapshot {
  tables: Map<string, Table>
  generation: number
  /** The feed's seq and history (0 and none before version 4). */
  seq: number
  history: SavedCommit[]
}

/** Decodes a verified snapshot image into tables, without touching any store. */
export function decodeSnapshot(file: Uint8Array, path: string): Map<string, Table> {
  return decodeSnapshotFile(file, path).tables
}

export function decodeSnapshotFile(file: Uint8Array, path: string): DecodedSnapshot {
  const { header, body } = verifySnapshot(file, path)
  const corrupt = (why: string) => new CyberError('SNAPSHOT_CORRUPT', `snapshot "${path}" ${why}`)
  let values: unknown[]
  try {
    const codec = createCodec()
    values = header.version === 1 ? [codec.unpack(body)] : codec.unpackMultiple(body) as unknown[]
  } catch (cause) {
    throw new CyberError('SNAPSHOT_CORRUPT', `snapshot "${path}" does not decode`, { cause })
  }
  const list = values[0]
  if (!Array.isArray(list) || list.length !== header.tables) throw corrupt('has a malformed body')
  const tables = new Map<string, Table>()
  let next = 1 // version 2: the next chunk in the sequence
  for (const entry of list) {
    if (!Array.isArray(entry) || typeof entry[0] !== 'string') throw corrupt('has a malformed table entry')
    const [name, type] = entry as [string, unknown]
    const width = type === 'dict' ? 2 : type === 'list' ? 1 : 0
    if (width === 0) throw corrupt(`has a malformed table "${name}"`)
    let chunks: unknown[]
    let deadlineChunks: unknown[][] = []
    let options: unknown
    let now = -Infinity
    if (header.version === 1) {
      if (!Array.isArray(entry[2])) throw corrupt('has a malformed table entry')
      chunks = [entry[2]]
    } else {
      const size = entry[2]
      if (!Number.isSafeInteger(size) || (size as number) < 0) throw corrupt('has a malformed table entry')
      chunks = []
      let have = 0
      while (have < (size as number) * width) {
        const chunk = values[next++]
        if (!Array.isArray(chunk) || chunk.length === 0) throw corrupt(`has a malformed table "${name}"`)
        chunks.push(chunk)
        have += chunk.length
      }
      if (have !== (size as number) * width) throw corrupt(`has a malformed table "${name}"`)
      if (header.version >= 3) {
        const [, , , saved, deadlines, seen] = entry as unknown[]
        if (entry.length !== 6 || !Number.isSafeInteger(deadlines) || (deadlines as number) < 0 ||
          typeof seen !== 'number') throw corrupt('has a malformed table entry')
        options = saved
        if (seen !== -1) now = seen
        let pairs = 0
        while (pairs < (deadlines as number) * 2) {
          const chunk = values[next++]
          if (!Array.isArray(chunk) || chunk.length === 0) throw corrupt(`has malformed deadlines in table "${name}"`)
          deadlineChunks.push(chunk)
          pairs += chunk.length
        }
        if (pairs !== (deadlines as number) * 2) throw corrupt(`has malformed deadlines in table "${name}"`)
      }
    }
    tables.set(name, buildTable(name, type, chunks as unknown[][], corrupt, options, deadlineChunks, now))
  }
  let seq = 0
  let history: SavedCommit[] = []
  if (header.version >= 4) {
    const feed = values[next++]
    if (!Array.isArray(feed) || feed.length !== 2 || !Number.isSafeInteger(feed[0]) ||
      !Array.isArray(feed[1]) || !(feed[1] as unknown[]).every(isSavedCommit)) {
      throw corrupt('has a malformed change feed')
    }
    seq = feed[0]
    history = feed[1]
  }
  if (header.version !== 1 && next !== values.length) throw corrupt('has a malformed body')
  return { tables, generation: header.generation, seq, history }
}

function isSavedCommit(value: unknown): value is SavedCommit {
  return Array.isArray(value) && value.length === 4 && Number.isSafeInteger(value[0]) &&
    typeof value[1] === 'string' && typeof value[2] === 'string' && Array.isArray(value[3])
}

function buildTable(name: string, type: unknown, chunks: unknown[][],
  corrupt: (why: string) => CyberError, saved: unknown, deadlines: unknown[][], now: number): Table {
  const options = <T>(check: (value: unknown) => T): T => {
    try {
      return check(saved)
    } catch (cause) {
      throw new CyberError('SNAPSHOT_CORRUPT', corrupt(`has bad options in table "${name}"`).message, { cause })
    }
  }
  if (type === 'list') return ListTable.restore(chunks, options(checkListOptions))
  return DictTable.restore(chunks, (why) => corrupt(why === 'bad key'
    ? `has a bad key in table "${name}"` : `has a malformed table "${name}"`), options(checkDictOptions),
  deadlines, now)
}

/** Reads a snapshot file. A missing file is `undefined` (an empty database); a bad one throws
 * SNAPSHOT_CORRUPT and is left exactly as it is. */
export async function readSnapshot(path: string): Promise<Map<string, Table> | undefined> {
  return (await readSnapshotFile(path))?.tables
}

export async function readSnapshotFile(path: string): Promise<DecodedSnapshot | undefined> {
  const file = Bun.file(path)
  if (!(await file.exists())) return undefined
  return decodeSnapshotFile(await file.bytes(), path)
}

// --- saving ---

/** Writes a snapshot of the store to `path` atomically and durably. */
export function writeSnapshot(store: Store, path: string, feed = NO_FEED): Promise<SnapshotStats> {
  return writeView(takeView(store), path, 0, undefined, feed)
}

/** Encodes a view in slices and writes it to `path` atomically and durably. `crash` hears each
 * named step (the crash tests, crash-points.ts). */
export async function writeView(view: StoreView, path: string, generation: number,
  crash?: CrashHooks, feed = NO_FEED): Promise<SnapshotStats> {
  const { header, chunks, stats } = await encodeView(view, generation, feed)
  const tmp = `${path}.tmp`
  // A leftover PATH.tmp (a crash, or a symlink someone planted there) is removed by unlink, which
  // never follows a link; the new one is created exclusively and not through a link, so a save
  // never writes into another file. Owner-only: a snapshot holds every value of the database.
  await unlink(tmp).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error
  })
  try {
    // One gathered write of the chunks as they are (no 30 MB concatenation on the event loop).
    const handle = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600)
    try {
      const parts = [header, ...chunks]
      let position = 0
      // Groups of WRITEV_PARTS: a system call takes at most IOV_MAX (1024) buffers.
      for (let at = 0; at < parts.length; at += WRITEV_PARTS) {
        const group = parts.slice(at, at + WRITEV_PARTS)
        const want = group.reduce((sum, part) => sum + part.length, 0)
        const { bytesWritten } = await handle.writev(group, position)
        if (bytesWritten !== want) throw new Error(`short write to ${tmp}: ${bytesWritten} of ${want} bytes`)
        position += want
      }
      crash?.reached('snapshot:tmp-written')
      await handle.sync()
    } finally {
      await handle.close()
    }
    crash?.reached('snapshot:tmp-synced')
    await rename(tmp, path)
  } catch (cause) {
    await unlink(tmp).catch(() => {})
    throw cause
  }
  crash?.reached('snapshot:renamed')
  // The rename is only durable once the folder's entry is on disk.
  await fsync(dirname(path), 'r')
  crash?.reached('snapshot:dir-synced')
  return stats
}

export async function fsync(path: string, flags: string): Promise<void> {
  const handle = await open(path, flags)
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}
