// db.info: what a database is doing, as plain data, built from what the host already keeps (its
// counters, the store's byte counts, the log, the saver's last save) at the moment it is asked.
// Nothing here runs on the request path: every figure is read or summed when info is asked for
// (a scrape, a dashboard poll), so nobody asking costs nothing.

import type { TableType } from '../engine/commands.ts'
import type { Durability } from '../persistence/log-format.ts'
import type { LastSave } from '../persistence/data-file.ts'
import type { Host } from './host.ts'

export interface TableStats {
  name: string
  type: TableType
  /** Entries (a dict) or elements (a list). */
  size: number
  /** Approximate bytes of keys and values (the estimate maxMemory uses). */
  bytes: number
  /** Keys with a deadline (0 for a list). */
  withDeadline: number
}

/** What a server adds: its connections and the connections it turned away. */
export interface ServerStats {
  connections: number
  refused: { notAllowed: number; tooMany: number; throttled: number; authFailed: number; unauthenticated: number }
  /** Output held for clients that have not taken it yet, and the sessions' buffer memory. */
  unsentBytes: number
  bufferBytes: number
}

/** db.info(): the same shape in every mode (`server` is null without one). */
export interface DatabaseInfo {
  /** When this was read (ms since the epoch, the host's clock) and since when the host counts. */
  at: number
  since: number
  tables: TableStats[]
  /** Operations that succeeded, by name (those run at least once). */
  ops: Record<string, number>
  gets: { hits: number; misses: number }
  /** Keys removed after their deadline, and keys evicted past a table's bound. */
  expired: number
  evicted: number
  /** The commit sequence: the last commit's number, and the oldest the change feed still holds
   * (null until it holds any). */
  feed: { seq: number; oldest: number | null }
  persistence: {
    /** The data file, or null (memory://, a server without a backup file). */
    file: string | null
    durability: Durability | null
    /** Bytes in the operation log since the last snapshot. */
    logBytes: number
    lastSave: LastSave | null
  }
  memory: { rss: number; heapUsed: number; heapTotal: number; storeBytes: number; maxMemory: number }
  server: ServerStats | null
}

/** The host's part of db.info (and the server's, when one serves this host). */
export function describeHost(host: Host, since: number): DatabaseInfo {
  const store = host.store
  const tables: TableStats[] = []
  for (const { name, type, size } of store.list()) {
    const table = store.tables.get(name)!
    tables.push({ name, type, size, bytes: table.bytes,
      withDeadline: table.type === 'dict' ? table.deadlineCount : 0 })
  }
  const counters = host.counters
  const ops: Record<string, number> = {}
  for (const [name, n] of counters.ops) ops[name] = n
  const log = host.log
  const saver = host.saver as { path?: string; lastSave?: LastSave }
  const memory = process.memoryUsage()
  // The change feed, once it lands, tells the oldest commit it holds.
  const oldest = (host as { oldestSeq?: number }).oldestSeq
  return {
    at: host.now(),
    since,
    tables,
    ops,
    gets: { hits: counters.hits, misses: counters.misses },
    expired: counters.expired,
    evicted: counters.evicted,
    feed: { seq: host.seq, oldest: typeof oldest === 'number' ? oldest : null },
    persistence: {
      file: saver.path ?? null,
      durability: log?.durability ?? null,
      logBytes: log?.bytes ?? 0,
      lastSave: saver.lastSave === undefined ? null : { ...saver.lastSave },
    },
    memory: { rss: memory.rss, heapUsed: memory.heapUsed, heapTotal: memory.heapTotal,
      storeBytes: store.bytes, maxMemory: store.maxMemory },
    server: host.serverStats?.() ?? null,
  }
}
