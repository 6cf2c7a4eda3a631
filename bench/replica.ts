// Replicas (issue 16): how far behind a replica runs under a steady write load, and how fast its
// synchronous reads are against a raw Map.get.
//
// Lag: a CyberDB server in its own process; a writer connection in this process sets key `t` to
// the wall-clock time (performance.timeOrigin + now, shared by processes on one machine) RATE
// times a second, in 1 ms ticks; a replica client of the table in a second process polls
// db.replica('bench').get('t') on every turn of its event loop and records, for each new value,
// the time it became visible minus the time it was written. The writer's own time to an
// acknowledgement is not in it: this is the server's commit to the replica's read.
// Reads: db.replica(name).get(key) in a loop against map.get(key) on a Map of the same 1024
// entries, the keys read in turn.
//
//   bun bench/replica.ts
//   RATE=10000 SECONDS=5 READS=2000000 bun bench/replica.ts

import { join } from 'node:path'
import { connect } from '../src/index.ts'
import { fmt, machine, runMain, start, stopAll, stopAllOnSignals, table, verdict } from './fixtures/harness.ts'

const RATE = clamp(Number(process.env.RATE ?? 10_000), 100, 200_000)
const SECONDS = clamp(Number(process.env.SECONDS ?? 5), 1, 60)
const READS = clamp(Number(process.env.READS ?? 2_000_000), 10_000, 100_000_000)
const PASSWORD = 'bench'

function clamp(n: number, min: number, max: number): number {
  return Number.isFinite(n) ? Math.max(min, Math.min(max, Math.round(n))) : min
}

const wall = () => performance.timeOrigin + performance.now()

function percentile(sorted: number[], p: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!
}

// The replica side, in a process of its own (REPLICA_URL set): polls, then prints its samples.
async function replicaSide(url: string): Promise<void> {
  const db = await connect(url, { replica: ['bench'] })
  const view = db.replica<number>('bench')
  const lags: number[] = []
  let last = view.get('t')
  console.log('ready')
  const until = wall() + (SECONDS + 2) * 1000
  await new Promise<void>((done) => {
    const poll = () => {
      const value = view.get('t')
      if (value !== last && typeof value === 'number' && value > 0) {
        lags.push(wall() - value)
        last = value
      }
      if (value === -1 || wall() > until) done()
      else setImmediate(poll)
    }
    poll()
  })
  const info = await db.info()
  console.log(JSON.stringify({ lags, info: info.replica }))
  await db.close()
}

async function main(): Promise<void> {
  stopAllOnSignals()
  try {
    console.log(`replica.ts: ${machine()}`)
    const server = start('server', [process.execPath, join(import.meta.dir, 'fixtures', 'server.ts'), PASSWORD], { stdin: true })
    const { port } = JSON.parse((await server.lines.waitFor(/^\{.*\}$/, 10_000, 'the server'))[0]) as { port: number }
    const url = `cyberdb://:${PASSWORD}@127.0.0.1:${port}`
    const writer = await connect(url)
    await writer.createDict('bench', { t: 0, content: 'Hello CyberDB!' })
    const replica = start('replica', [process.execPath, import.meta.path], { env: { REPLICA_URL: url } })
    await replica.lines.waitFor(/^ready$/, 10_000, 'the replica')

    // --- lag under RATE writes/s ---
    const d = writer.dict('bench')
    const perTick = Math.max(1, Math.round(RATE / 1000))
    const started = performance.now()
    let written = 0
    while (performance.now() - started < SECONDS * 1000) {
      const tick = performance.now()
      const due = Math.floor(((tick - started) / 1000) * RATE) - written
      const writes: Promise<void>[] = []
      for (let i = 0; i < Math.min(due, perTick * 4); i++) writes.push(d.set('t', wall()))
      written += writes.length
      await Promise.all(writes)
      const left = 1 - (performance.now() - tick)
      if (left > 0) await Bun.sleep(left)
    }
    const rate = written / ((performance.now() - started) / 1000)
    await d.set('t', -1)
    const line = (await replica.lines.waitFor(/^\{"lags".*\}$/, 30_000, 'the replica\'s samples'))[0]
    const { lags, info } = JSON.parse(line) as { lags: number[]; info: unknown }
    lags.sort((a, b) => a - b)
    console.log(`\nLag, write committed -> visible in another process's replica, at ${fmt(rate, 0)} writes/s ` +
      `for ${SECONDS} s (${lags.length} samples; the replica's info: ${JSON.stringify(info)})\n`)
    console.log(table(['p50 ms', 'p90 ms', 'p99 ms', 'max ms'],
      [[0.5, 0.9, 0.99, 1].map((p) => fmt(percentile(lags, p), 3))]))
    console.log(`  p99 lag at ${fmt(rate, 0)} writes/s: ${verdict(percentile(lags, 0.99), '<=', 5)}`)

    // --- synchronous reads against Map.get ---
    // 1024 keys read in turn on both sides (one constant key would let the JIT hoist Map.get
    // out of the loop and time an empty loop). The Map's keys are strings of their own, as the
    // replica's are (decoded from the wire), not the very strings looked up: a lookup compares
    // contents on both sides, as a server's request handler does with keys it parsed.
    const fresh = (text: string) => [...text].join('')
    const keys = Array.from({ length: 1024 }, (_, i) => `key:${i}`)
    const entries = keys.map((key, i): [string, string] => [fresh(key), `value ${i}`])
    await writer.createDict('reads', entries)
    const reader = await connect(url, { replica: ['reads'] })
    const view = reader.replica<string>('reads')
    const map = new Map<string, unknown>(entries)
    const time = (read: (key: string) => unknown): number => {
      let sink = 0
      const t0 = performance.now()
      for (let i = 0; i < READS; i++) if (read(keys[i & 1023]!) !== undefined) sink++
      const ms = performance.now() - t0
      if (sink !== READS) throw new Error('a read missed')
      return READS / (ms / 1000)
    }
    const rows: string[][] = []
    const ratios: number[] = []
    for (let round = 0; round < 3; round++) {
      const mapRate = time((key) => map.get(key))
      const replicaRate = time((key) => view.get(key))
      ratios.push(replicaRate / mapRate)
      rows.push([String(round + 1), fmt(mapRate / 1e6, 1), fmt(replicaRate / 1e6, 1), fmt(replicaRate / mapRate, 3)])
    }
    console.log(`\nSynchronous reads, ${READS} per side per round\n`)
    console.log(table(['round', 'Map.get M/s', 'replica get M/s', 'ratio'], rows))
    ratios.sort((a, b) => a - b)
    console.log(`  replica get / Map.get (median): ${verdict(ratios[1]!, '>=', 0.5)}`)
    await reader.close()
    await writer.close()
  } finally {
    await stopAll()
  }
}

if (process.env.REPLICA_URL) await replicaSide(process.env.REPLICA_URL)
else await runMain(main)
