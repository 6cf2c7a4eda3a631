// db.replicate [tables, content?] (issue 16): the named tables as they are at one commit, with
// that commit's seq, in one synchronous read of the host, so a replica loads a consistent copy and
// then watches the feed from exactly there (no gap, no change applied twice). With content false,
// only the seqs: the host's, and the newest commit the feed holds that changed those tables (how
// a replica tells being current from being behind, for its info()). A dict comes with its cache
// options and its absolute deadlines (expired keys included, as a snapshot holds them: the
// replica hides them by its own clock); a table that does not exist is [name, null].

import { CyberError, badArgument } from '../errors.ts'
import { checkDictOptions, checkListOptions } from '../engine/cache-options.ts'
import type { Table } from '../engine/commands.ts'
import { ListTable } from '../engine/list-table.ts'
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
  /** The newest commit the feed holds that changed one of the tables (0: none held). */
  last: number
  tables: ReplicaTable[]
}

/** The image of `args[0]` (table names); `copy`: the caller shares the process (no wire copies). */
export function replicaImage(host: Host, args: unknown[], copy: boolean): ReplicaImage {
  const names = args[0]
  if (!Array.isArray(names) || names.length === 0 || !names.every((n) => typeof n === 'string' && n !== '')) {
    throw badArgument(`db.replicate takes a non-empty array of table names, not ${describe(names)}`)
  }
  const content = args[1]
  if (content !== undefined && typeof content !== 'boolean') {
    throw badArgument(`db.replicate's second argument says whether to send the content (a boolean), not ${describe(content)}`)
  }
  const tables: ReplicaTable[] = []
  const last = host.lastChangeOf(new Set(names as string[]))
  if (content === false) return { seq: host.seq, last, tables }
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
  return { seq: host.seq, last, tables }
}

/** A table of an image as the replica holds it (undefined: the table does not exist). */
export function restoreTable(saved: ReplicaTable): Table | undefined {
  if (saved[1] === null) return undefined
  const [name, type, options, content, deadlines, now] = saved
  const refuse = () => new CyberError('PROTOCOL', `the server sent a malformed replica of "${name}"`)
  if (type === 'list') return ListTable.restore([content], checkListOptions(options ?? undefined))
  return DictTable.restore([content], refuse, checkDictOptions(options ?? undefined), [deadlines],
    now < 0 ? -Infinity : now)
}
