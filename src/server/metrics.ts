// db.info as the Prometheus text exposition format (version 0.0.4), written by hand: a few dozen
// lines do not need a client library. Every figure comes from one DatabaseInfo read at scrape
// time, so serving /metrics costs the request path nothing. Label values are bounded: at most
// MAX_LABEL_VALUES tables (the largest) and ops each get their own series, the rest are summed
// under "other", so a database with a million tables cannot make a million series.

import type { DatabaseInfo, TableStats } from '../host/info.ts'

/** Label values per label (tables, ops) before the rest fold into "other". */
export const MAX_LABEL_VALUES = 50
export const OTHER_LABEL = 'other'

type Labels = Record<string, string>
type Sample = [labels: Labels, value: number]

class Exposition {
  readonly #lines: string[] = []

  add(name: string, type: 'counter' | 'gauge', help: string, samples: Sample[] | number): void {
    this.#lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`)
    const list: Sample[] = typeof samples === 'number' ? [[{}, samples]] : samples
    for (const [labels, value] of list) this.#lines.push(`${name}${formatLabels(labels)} ${formatValue(value)}`)
  }

  toString(): string {
    return this.#lines.join('\n') + '\n'
  }
}

/** The content type a Prometheus scraper expects for this format. */
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'

/** Every metric of one info, as exposition text. */
export function formatMetrics(info: DatabaseInfo): string {
  const out = new Exposition()
  const ops = foldOps(info.ops)
  out.add('cyberdb_operations_total', 'counter', 'Operations that succeeded, by name.',
    ops.map(([op, n]) => [{ op }, n]))
  out.add('cyberdb_get_hits_total', 'counter', 'dict.get calls that found their key.', info.gets.hits)
  out.add('cyberdb_get_misses_total', 'counter', 'dict.get calls that did not.', info.gets.misses)
  out.add('cyberdb_expired_keys_total', 'counter', 'Keys removed after their deadline.', info.expired)
  out.add('cyberdb_evicted_keys_total', 'counter', 'Keys evicted past a table bound.', info.evicted)
  out.add('cyberdb_commits_total', 'counter', 'Writes committed (the change feed sequence).', info.feed.seq)
  out.add('cyberdb_uptime_seconds', 'gauge', 'Seconds since the database started counting.',
    Math.max(0, (info.at - info.since) / 1000))

  const tables = foldTables(info.tables)
  out.add('cyberdb_tables', 'gauge', 'Tables in the database.', info.tables.length)
  out.add('cyberdb_table_entries', 'gauge', 'Entries of a dict or elements of a list.',
    tables.map((t) => [{ table: t.name, type: t.type }, t.size]))
  out.add('cyberdb_table_bytes', 'gauge', 'Approximate bytes of a table\'s keys and values.',
    tables.map((t) => [{ table: t.name, type: t.type }, t.bytes]))
  out.add('cyberdb_table_keys_with_deadline', 'gauge', 'Keys of a dict that have a deadline.',
    tables.map((t) => [{ table: t.name, type: t.type }, t.withDeadline]))

  const { memory, persistence } = info
  out.add('cyberdb_store_bytes', 'gauge', 'Approximate bytes of every key and value.', memory.storeBytes)
  out.add('cyberdb_max_memory_bytes', 'gauge', 'The store limit in bytes (0: none).', memory.maxMemory)
  out.add('cyberdb_process_resident_memory_bytes', 'gauge', 'Resident set size of the process.', memory.rss)
  out.add('cyberdb_heap_used_bytes', 'gauge', 'JavaScript heap in use.', memory.heapUsed)
  out.add('cyberdb_heap_total_bytes', 'gauge', 'JavaScript heap reserved.', memory.heapTotal)
  out.add('cyberdb_log_bytes', 'gauge', 'Bytes in the operation log since the last snapshot.', persistence.logBytes)
  const save = persistence.lastSave
  if (save !== null) {
    out.add('cyberdb_last_save_timestamp_seconds', 'gauge', 'When the last save ended.', save.at / 1000)
    out.add('cyberdb_last_save_duration_seconds', 'gauge', 'How long the last save took.', save.ms / 1000)
    out.add('cyberdb_last_save_success', 'gauge', '1 when the last save succeeded, else 0.', save.ok ? 1 : 0)
    out.add('cyberdb_last_save_bytes', 'gauge', 'Size of the last snapshot written.', save.bytes)
  }
  if (info.server !== null) {
    const { server } = info
    out.add('cyberdb_connections', 'gauge', 'Open client connections.', server.connections)
    out.add('cyberdb_refused_connections_total', 'counter', 'Connections turned away, by reason.',
      Object.entries(server.refused).map(([reason, n]) => [{ reason }, n]))
    out.add('cyberdb_unsent_bytes', 'gauge', 'Output held for clients that have not taken it.', server.unsentBytes)
    out.add('cyberdb_session_buffer_bytes', 'gauge', 'Memory of the sessions\' buffers.', server.bufferBytes)
  }
  return out.toString()
}

/** The ops by count, the first MAX_LABEL_VALUES - 1 by name and the rest summed as "other". */
function foldOps(ops: Record<string, number>): [string, number][] {
  const sorted = Object.entries(ops).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
  if (sorted.length <= MAX_LABEL_VALUES) return sorted
  const kept = sorted.slice(0, MAX_LABEL_VALUES - 1)
  const rest = sorted.slice(MAX_LABEL_VALUES - 1).reduce((sum, [, n]) => sum + n, 0)
  return [...kept, [OTHER_LABEL, rest]]
}

/** The largest tables by bytes keep their names; the rest are summed into one per type. */
function foldTables(tables: TableStats[]): TableStats[] {
  if (tables.length <= MAX_LABEL_VALUES) return tables
  const sorted = [...tables].sort((a, b) => b.bytes - a.bytes || (a.name < b.name ? -1 : 1))
  const kept = sorted.slice(0, MAX_LABEL_VALUES - 2) // room for "other" of each type
  const other = new Map<string, TableStats>()
  for (const t of sorted.slice(MAX_LABEL_VALUES - 2)) {
    const sum = other.get(t.type) ?? { name: OTHER_LABEL, type: t.type, size: 0, bytes: 0, withDeadline: 0 }
    sum.size += t.size
    sum.bytes += t.bytes
    sum.withDeadline += t.withDeadline
    other.set(t.type, sum)
  }
  return [...kept, ...other.values()]
}

function formatLabels(labels: Labels): string {
  const pairs = Object.entries(labels)
  if (pairs.length === 0) return ''
  return `{${pairs.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}`
}

// The format's escapes in a label value: backslash, double quote and line feed.
function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN'
  if (value === Infinity) return '+Inf'
  if (value === -Infinity) return '-Inf'
  return String(value)
}
