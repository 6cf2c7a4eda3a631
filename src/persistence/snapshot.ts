// Snapshot save and load. The body lists each table as [name, type, flat], where a dict's flat
// array alternates keys and values: msgpackr decodes one flat array several times faster than a
// map of the same entries, and the load time of a large snapshot is that decode.
// Save writes PATH.tmp, fsyncs it, renames it over PATH (atomic within one folder) and fsyncs the
// folder: after a crash at any moment there is the old snapshot or the new one, never a torn one.

import { open, rename, unlink } from 'node:fs/promises'
import { dirname } from 'node:path'
import { CyberError } from '../errors.ts'
import type { Table } from '../engine/commands.ts'
import { DictTable } from '../engine/dict-table.ts'
import { ListTable } from '../engine/list-table.ts'
import type { Store } from '../engine/store.ts'
import { isKey } from '../engine/values.ts'
import { createCodec } from '../protocol/codec.ts'
import { HEADER_BYTES, encodeHeader, verifySnapshot } from './format.ts'

export interface SnapshotStats {
  tables: number
  entries: number
  bytes: number
}

/** Encodes the whole store as one snapshot file image: header, then body. Synchronous, so the
 * image is a consistent point-in-time view of the store. */
export function encodeSnapshot(store: Store): { header: Uint8Array; body: Uint8Array; stats: SnapshotStats } {
  const tables: [string, string, unknown[]][] = []
  let entries = 0
  for (const [name, table] of store.tables) {
    entries += table.size
    if (table instanceof DictTable) {
      const flat = new Array(table.map.size * 2)
      let i = 0
      for (const [key, value] of table.map) {
        flat[i++] = key
        flat[i++] = value
      }
      tables.push([name, 'dict', flat])
    } else {
      tables.push([name, 'list', table.items])
    }
  }
  const body = createCodec().pack(tables)
  const header = encodeHeader(tables.length, entries, body)
  return { header, body, stats: { tables: tables.length, entries, bytes: HEADER_BYTES + body.length } }
}

/** Decodes a verified snapshot image into tables, without touching any store. */
export function decodeSnapshot(file: Uint8Array, path: string): Map<string, Table> {
  const { header, body } = verifySnapshot(file, path)
  const corrupt = (why: string) => new CyberError('SNAPSHOT_CORRUPT', `snapshot "${path}" ${why}`)
  let decoded: unknown
  try {
    decoded = createCodec().unpack(body)
  } catch (cause) {
    throw new CyberError('SNAPSHOT_CORRUPT', `snapshot "${path}" does not decode`, { cause })
  }
  if (!Array.isArray(decoded) || decoded.length !== header.tables) throw corrupt('has a malformed body')
  const tables = new Map<string, Table>()
  for (const entry of decoded) {
    if (!Array.isArray(entry) || typeof entry[0] !== 'string' || !Array.isArray(entry[2])) {
      throw corrupt('has a malformed table entry')
    }
    const [name, type, flat] = entry as [string, unknown, unknown[]]
    if (type === 'list') {
      const list = new ListTable()
      list.items = flat
      tables.set(name, list)
    } else if (type === 'dict' && flat.length % 2 === 0) {
      const dict = new DictTable()
      const map = dict.map
      for (let i = 0; i < flat.length; i += 2) {
        const key = flat[i]
        if (!isKey(key)) throw corrupt(`has a bad key in table "${name}"`)
        map.set(key, flat[i + 1])
      }
      tables.set(name, dict)
    } else {
      throw corrupt(`has a malformed table "${name}"`)
    }
  }
  return tables
}

/** Reads a snapshot file. A missing file is `undefined` (an empty database); a bad one throws
 * SNAPSHOT_CORRUPT and is left exactly as it is. */
export async function readSnapshot(path: string): Promise<Map<string, Table> | undefined> {
  const file = Bun.file(path)
  if (!(await file.exists())) return undefined
  return decodeSnapshot(await file.bytes(), path)
}

/** Writes a snapshot of the store to `path` atomically and durably. */
export async function writeSnapshot(store: Store, path: string): Promise<SnapshotStats> {
  const { header, body, stats } = encodeSnapshot(store)
  const tmp = `${path}.tmp`
  try {
    await Bun.write(tmp, new Blob([header, body]))
    await fsync(tmp, 'r+')
    await rename(tmp, path)
  } catch (cause) {
    await unlink(tmp).catch(() => {})
    throw cause
  }
  // The rename is only durable once the folder's entry is on disk.
  await fsync(dirname(path), 'r')
  return stats
}

async function fsync(path: string, flags: string): Promise<void> {
  const handle = await open(path, flags)
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}
