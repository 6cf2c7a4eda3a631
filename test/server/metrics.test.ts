// /metrics in the Prometheus text format (every line parsed), bounded label cardinality, /health,
// the JSON the dashboard polls, loopback and the allow-list, and listen() failing whole.

import { afterAll, describe, expect, test } from 'bun:test'
import { Server, connect } from '../../src/index.ts'
import { Host } from '../../src/host/host.ts'
import { MAX_LABEL_VALUES, formatMetrics } from '../../src/server/metrics.ts'
import { tempDir } from '../contract/helpers.ts'
import { listenMetrics } from '../../src/server/metrics-http.ts'

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const LABEL = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\\\|\\"|\\n)*)"$/
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (-?[0-9.e+-]+|NaN|[+-]Inf)$/
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped'])

interface Family { type: string; help: string; samples: { labels: Record<string, string>; value: number }[] }

/** Parses exposition text, throwing on any line that is not valid: HELP and TYPE before a
 * family's samples, each family once, names and label syntax as the format says. */
function parseExposition(text: string): Map<string, Family> {
  const families = new Map<string, Family>()
  expect(text.endsWith('\n')).toBe(true)
  for (const line of text.slice(0, -1).split('\n')) {
    const help = /^# HELP (\S+) (.+)$/.exec(line)
    const type = /^# TYPE (\S+) (\S+)$/.exec(line)
    if (help) {
      if (!METRIC_NAME.test(help[1]!) || families.has(help[1]!)) throw new Error(`bad HELP: ${line}`)
      families.set(help[1]!, { type: '', help: help[2]!, samples: [] })
    } else if (type) {
      const family = families.get(type[1]!)
      if (!family || family.type !== '' || !TYPES.has(type[2]!)) throw new Error(`bad TYPE: ${line}`)
      family.type = type[2]!
    } else {
      const sample = SAMPLE.exec(line)
      const family = sample && families.get(sample[1]!)
      if (!sample || !family || family.type === '') throw new Error(`bad sample: ${JSON.stringify(line)}`)
      const labels: Record<string, string> = {}
      for (const pair of sample[2] ? splitLabels(sample[2]) : []) {
        const m = LABEL.exec(pair)
        if (!m) throw new Error(`bad label ${pair} in ${line}`)
        labels[m[1]!] = m[2]!.replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c))
      }
      family.samples.push({ labels, value: Number(sample[3]) })
    }
  }
  return families
}

// Label pairs split at commas outside quotes.
function splitLabels(text: string): string[] {
  const out: string[] = []
  let start = 0
  let quoted = false
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '\\') i++
    else if (text[i] === '"') quoted = !quoted
    else if (text[i] === ',' && !quoted) {
      out.push(text.slice(start, i))
      start = i + 1
    }
  }
  out.push(text.slice(start))
  return out
}

const host = new Host()
const server = new Server({ host })
const address = await server.listen({ host: '127.0.0.1', port: 0, password: 'pw', metrics: { port: 0 } })
afterAll(() => server.close())
const base = `http://127.0.0.1:${address.metrics!.port}`
const db = await connect(`cyberdb://:pw@127.0.0.1:${address.port}?pool=1`)
afterAll(() => db.close())

describe('/metrics', () => {
  test('every line is valid exposition format, counters end in _total and units are named', async () => {
    await db.createDict('users', { 'a"b\\c\nd': 1 })
    await db.createDict('odd "name"\\\n')
    await db.dict('users').get('a"b\\c\nd')
    await db.dict('users').get('nobody')
    const response = await fetch(`${base}/metrics`)
    expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8')
    const families = parseExposition(await response.text())
    for (const [name, family] of families) {
      expect([name, name.startsWith('cyberdb_'), family.help.length > 0]).toEqual([name, true, true])
      expect([name, family.type === 'counter']).toEqual([name, name.endsWith('_total')])
    }
    const value = (name: string, labels: Record<string, string> = {}) => families.get(name)?.samples
      .find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value
    expect([value('cyberdb_get_hits_total'), value('cyberdb_get_misses_total'), value('cyberdb_connections')])
      .toEqual([1, 1, 1])
    expect(value('cyberdb_operations_total', { op: 'dict.get' })).toBe(2)
    expect(value('cyberdb_table_entries', { table: 'users', type: 'dict' })).toBe(1)
    expect(value('cyberdb_table_entries', { table: 'odd "name"\\\n' })).toBe(0)
    expect(value('cyberdb_process_resident_memory_bytes')! > 0).toBe(true)
    expect(value('cyberdb_refused_connections_total', { reason: 'authFailed' })).toBe(0)
  })

  test(`more than ${MAX_LABEL_VALUES} tables fold into "other": bounded series, totals kept`, () => {
    const info = host.info()
    const tables = Array.from({ length: 500 }, (_, i) => ({ name: `t${i}`, type: 'dict' as const, size: 2,
      bytes: i, withDeadline: 1 }))
    const families = parseExposition(formatMetrics({ ...info, tables }))
    const entries = families.get('cyberdb_table_entries')!.samples
    expect(entries.length).toBeLessThanOrEqual(MAX_LABEL_VALUES)
    expect(entries.reduce((sum, s) => sum + s.value, 0)).toBe(1000)
    expect(entries.find((s) => s.labels.table === 'other')?.value).toBe(2 * (500 - MAX_LABEL_VALUES + 2))
    expect(entries[0]?.labels.table).toBe('t499') // the largest keep their names
    const ops = Object.fromEntries(Array.from({ length: 80 }, (_, i) => [`op${i}`, 1]))
    const opSamples = parseExposition(formatMetrics({ ...info, ops })).get('cyberdb_operations_total')!.samples
    expect([opSamples.length, opSamples.reduce((sum, s) => sum + s.value, 0)]).toEqual([MAX_LABEL_VALUES, 80])
  })

  test('scraping runs no database operation: op counts stay as they were', async () => {
    await fetch(`${base}/metrics`)
    const before = host.counters.ops
    await fetch(`${base}/metrics`)
    await fetch(`${base}/info.json`)
    expect(host.counters.ops).toEqual(before)
  })
})

describe('the metrics listener', () => {
  test('/health is 200 while serving, /info.json is db.info, unknown paths 404, writes 405', async () => {
    const health = await fetch(`${base}/health`)
    expect([health.status, await health.text()]).toEqual([200, 'serving\n'])
    const info = await (await fetch(`${base}/info.json`)).json() as { server: { connections: number }; tables: unknown }
    expect([info.server.connections, Array.isArray(info.tables)]).toEqual([1, true])
    expect((await fetch(`${base}/nope`)).status).toBe(404)
    expect((await fetch(`${base}/metrics`, { method: 'POST' })).status).toBe(405)
    expect(address.metrics!.host).toBe('127.0.0.1')
  })

  test('health is loading during load(), closing once close() is called; /health answers 503 then', async () => {
    using dir = tempDir()
    const own = new Server()
    const states = [own.health]
    const loading = own.load(dir.file('none.cdb'))
    states.push(own.health)
    await loading
    states.push(own.health)
    const closing = own.close()
    states.push(own.health)
    await closing
    expect(states).toEqual(['serving', 'loading', 'serving', 'closing'])
    for (const health of ['loading', 'closing', 'serving'] as const) {
      const listener = listenMetrics({ info: () => host.info(), health: () => health }, '127.0.0.1', 0, undefined)
      try {
        const response = await fetch(`http://127.0.0.1:${listener.address.port}/health`)
        expect([health, response.status, await response.text()]).toEqual([health, health === 'serving' ? 200 : 503,
          `${health}\n`])
      } finally {
        listener.stop()
      }
    }
  })

  test('the allow-list applies: an address not on it gets 403', async () => {
    const own = new Server()
    const at = await own.listen({ host: '127.0.0.1', port: 0, allow: ['10.0.0.0/8'], metrics: { port: 0 } })
    try {
      expect((await fetch(`http://127.0.0.1:${at.metrics!.port}/metrics`)).status).toBe(403)
    } finally {
      await own.close()
    }
  })

  test('a metrics port in use fails listen() with BAD_ARGUMENT and leaves the database port free', async () => {
    const own = new Server()
    const error = await own.listen({ host: '127.0.0.1', port: 0, metrics: { port: address.metrics!.port } })
      .catch((e) => e)
    expect([error.code, own.address]).toEqual(['BAD_ARGUMENT', undefined])
    const bad = await own.listen({ host: '127.0.0.1', port: 0, metrics: { port: 70_000 } }).catch((e) => e)
    expect([bad.code, own.address]).toEqual(['BAD_ARGUMENT', undefined])
    await own.close()
  })
})
