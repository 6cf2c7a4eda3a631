// db.info() on Redis: the same shape as every mode's (src/host/info.ts), from what Redis holds
// (each table's size, bytes, deadlines, expiry and eviction counts, one INFO script per table)
// and what this client counted (its ops and get hits). There is no database-wide commit counter
// on Redis (a Cluster has no one place for it): feed.seq is the sum of the tables' versions,
// which every write moves by one. No file, no log, no server: those are Redis's own.

import type { DatabaseInfo, TableStats } from '../host/info.ts'

export interface TableReply {
  name: string
  reply: [Buffer, number, number, number, number, number, number]
}

export interface ClientCounts {
  since: number
  ops: Map<string, number>
  hits: number
  misses: number
}

export function describeRedis(now: number, tables: TableReply[], counts: ClientCounts): DatabaseInfo {
  const stats: TableStats[] = []
  let seq = 0
  let expired = 0
  let evicted = 0
  let storeBytes = 0
  for (const { name, reply } of tables) {
    const [type, size, bytes, withDeadline, version, gone, pushedOut] = reply
    if (type.length === 0) continue
    stats.push({ name, type: type.toString() as TableStats['type'], size, bytes, withDeadline })
    seq += version
    expired += gone
    evicted += pushedOut
    storeBytes += bytes
  }
  const memory = process.memoryUsage()
  return {
    at: now,
    since: counts.since,
    tables: stats,
    ops: Object.fromEntries(counts.ops),
    gets: { hits: counts.hits, misses: counts.misses },
    expired,
    evicted,
    feed: { seq, oldest: null },
    persistence: { file: null, durability: null, logBytes: 0, lastSave: null },
    memory: { rss: memory.rss, heapUsed: memory.heapUsed, heapTotal: memory.heapTotal, storeBytes, maxMemory: 0 },
    server: null,
  }
}
