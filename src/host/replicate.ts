// db.replicate [tables] (issue 16): the named tables as they are at one commit, with that commit's
// seq, in one synchronous read of the host, so a replica loads a consistent copy and then watches
// the feed from exactly there (no gap, no change applied twice). A dict comes with its cache
// options and its absolute deadlines (expired keys included, as a snapshot holds them: the
// replica hides them by its own clock); a table that does not exist is [name, null].

import { badArgument } from '../errors.ts'
import { DictTable } from '../engine/dict-table.ts'
import { copyStored } from '../engine/value-model.ts'
import { describe } from '../engine/values.ts'
import type { Host } from './host.ts'

/** One table of an image: [name, type, options, content (a dict's flat key, value pairs; a list's
 * items), a dict's flat key, deadline pairs, the time the table had seen (-1: none)]. */
export type ReplicaTable =
  | [name: string, type: 'dict' | 'list', options: object | null, content: unknown[],
    deadlines: unknown[], now: number]
  | [name: string, type: null]

export interface ReplicaImage {
  /** Every commit up to this one is in the image, none after it. */
  seq: number
  tables: ReplicaTable[]
}

/** The image of `args[0]` (table names); `copy`: the caller shares the process (no wire copies). */
export function replicaImage(host: Host, args: unknown[], copy: boolean): ReplicaImage {
  const names = args[0]
  if (!Array.isArray(names) || names.length === 0 || !names.every((n) => typeof n === 'string' && n !== '')) {
    throw badArgument(`db.replicate takes a non-empty array of table names, not ${describe(names)}`)
  }
  const tables: ReplicaTable[] = []
  for (const name of new Set(names as string[])) {
    const table = host.store.tables.get(name)
    if (table === undefined) {
      tables.push([name, null])
    } else if (table instanceof DictTable) {
      const content: unknown[] = []
      const values = table.storedValues()
      for (const key of table.storedKeys()) content.push(key, values.next().value)
      tables.push([name, 'dict', table.options ?? null, copy ? copyStored(content) : content,
        table.deadlineEntries().flat(), Number.isFinite(table.now) ? table.now : -1])
    } else {
      const items = table.slice()
      tables.push([name, 'list', table.options ?? null, copy ? copyStored(items) : items, [], -1])
    }
  }
  return { seq: host.seq, tables }
}
