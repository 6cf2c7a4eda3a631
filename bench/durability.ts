// What the operation log costs, and what a snapshot costs the clients: write throughput and latency
// under each durability policy (sequential, and IN_FLIGHT pipelined on one connection), CyberDB
// server in its own process with its data file in a temp dir, against redis-server with
// `--appendonly yes --appendfsync always|everysec|no` in a temp dir, both on 127.0.0.1 and driven
// from this process by the same loop (Bun's RedisClient for Redis), sides in turn (A B A B),
// medians and ratios. Then the longest wait of a concurrent client's request while the server
// saves a snapshot of STALL_ENTRIES entries. Mode "off" is the baseline: CyberDB without a data
// file, Redis with `--appendonly no`.
//
//   bun bench/durability.ts          ROUNDS=3 SECONDS=2 STALL_ENTRIES=1000000 bun bench/durability.ts

import { RedisClient } from 'bun'
import { join } from 'node:path'
import { connect, type Database } from '../src/index.ts'
import {
  fmt, machine, median, runMain, start, startRedis, stop, stopAll, stopAllOnSignals, table, tempDir,
  verdict,
} from './fixtures/harness.ts'

type Mode = 'always' | 'everysec' | 'no' | 'off'
const POLICIES = (process.env.POLICIES?.split(',') ?? ['always', 'everysec', 'no', 'off']) as Mode[]
const ROUNDS = Math.max(1, Number(process.env.ROUNDS ?? 2))
const SECONDS = Math.max(0.2, Number(process.env.SECONDS ?? 1.5))
const IN_FLIGHT = 16
const STALL_ENTRIES = Number(process.env.STALL_ENTRIES ?? 1_000_000)
const STALL_SAVES = 3
const STALL_TARGET_MS = 100
const KEYS = 10_000
const VALUE = 'v'.repeat(32)

interface Side {
  name: string
  set(key: string, value: string): Promise<unknown>
  close(): Promise<void>
}

interface Figures {
  seqOps: number
  seqP50: number
  seqP99: number
  pipeOps: number
  pipeP50: number
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? NaN
}

/** `workers` loops of awaited sets for `seconds`: 1 is sequential, IN_FLIGHT is pipelined. */
async function drive(side: Side, workers: number, seconds: number): Promise<{ ops: number; p50: number; p99: number }> {
  const latencies: number[] = []
  const end = performance.now() + seconds * 1000
  let next = 0
  const worker = async () => {
    while (performance.now() < end) {
      const key = `key:${next++ % KEYS}`
      const t0 = performance.now()
      await side.set(key, VALUE)
      latencies.push(performance.now() - t0)
    }
  }
  const t0 = performance.now()
  await Promise.all(Array.from({ length: workers }, worker))
  const elapsed = (performance.now() - t0) / 1000
  latencies.sort((a, b) => a - b)
  return { ops: latencies.length / elapsed, p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99) }
}

async function measure(side: Side): Promise<Figures> {
  await drive(side, IN_FLIGHT, 0.2) // warm-up
  const seq = await drive(side, 1, SECONDS)
  const pipe = await drive(side, IN_FLIGHT, SECONDS)
  return { seqOps: seq.ops, seqP50: seq.p50, seqP99: seq.p99, pipeOps: pipe.ops, pipeP50: pipe.p50 }
}

async function startCyber(policy: string): Promise<{ port: number; stop: () => Promise<void> }> {
  const dir = tempDir(`cyberdb-durability-${policy}-`)
  const child = start(`cyberdb ${policy}`, [process.execPath, join(import.meta.dir, 'fixtures', 'durable-server.ts'),
    dir, policy], { stdin: true })
  const [line] = await child.lines.waitFor(/^\{.*"port".*\}$/, 10_000, 'durable-server')
  return { port: JSON.parse(line).port, stop: () => stop(child) }
}

async function cyberSide(port: number): Promise<Side> {
  const db = await connect(`cyberdb://:bench@127.0.0.1:${port}?pool=1`)
  await db.createDict('bench', undefined, { ifNotExists: true })
  const dict = db.dict<string>('bench')
  return { name: 'CyberDB', set: (key, value) => dict.set(key, value), close: () => db.close() }
}

async function redisSide(port: number): Promise<Side> {
  const redis = new RedisClient(`redis://127.0.0.1:${port}`, { autoReconnect: false })
  await redis.connect()
  return { name: 'Redis', set: (key, value) => redis.set(key, value), close: async () => redis.close() }
}

async function policyRun(policy: Mode): Promise<{ cyber: Figures[]; redis: Figures[] }> {
  const cyber = await startCyber(policy)
  const redisDir = tempDir(`redis-durability-${policy}-`)
  const redis = await startRedis(redisDir, policy === 'off' ? [] : ['--appendonly', 'yes', '--appendfsync', policy])
  if (!redis) throw new Error('redis-server is not available')
  const sides = [await cyberSide(cyber.port), await redisSide(redis.port)]
  const results: { cyber: Figures[]; redis: Figures[] } = { cyber: [], redis: [] }
  try {
    for (let round = 0; round < ROUNDS; round++) {
      results.cyber.push(await measure(sides[0]!))
      results.redis.push(await measure(sides[1]!))
    }
    // Checked once: the writes are there.
    const db = await connect(`cyberdb://:bench@127.0.0.1:${cyber.port}`)
    const size = await db.dict('bench').size()
    await db.close()
    if (size !== KEYS) throw new Error(`CyberDB holds ${size} keys, not ${KEYS}`)
  } finally {
    for (const side of sides) await side.close()
    await cyber.stop()
    await stop(redis.child)
  }
  return results
}

/** The longest wait of a client's requests while the server saves STALL_ENTRIES entries. */
async function stallRun(): Promise<{ stalls: number[]; saves: number[]; idle: number }> {
  const server = await startCyber('everysec')
  const db = await connect(`cyberdb://:bench@127.0.0.1:${server.port}?pool=1`)
  const probe = await connect(`cyberdb://:bench@127.0.0.1:${server.port}?pool=1`)
  try {
    await db.createDict('big')
    for (let at = 0; at < STALL_ENTRIES; at += 50_000) {
      const batch: [string, unknown][] = []
      for (let i = at; i < Math.min(at + 50_000, STALL_ENTRIES); i++) {
        batch.push([`user:${100000 + i}`, { id: i, name: 'user' + i, score: i % 100 }])
      }
      await db.dict('big').update(batch)
    }
    if ((await db.dict('big').size()) !== STALL_ENTRIES) throw new Error('the stall table was not filled')
    await db.save() // the fill's log goes into a first snapshot, untimed
    const longestWait = async (during: () => Promise<unknown>) => {
      let done = false
      let longest = 0
      const probing = (async () => {
        while (!done) {
          const t0 = performance.now()
          await probe.dict('big').get('user:100042')
          longest = Math.max(longest, performance.now() - t0)
        }
      })()
      const t0 = performance.now()
      await during()
      const took = performance.now() - t0
      done = true
      await probing
      return { longest, took }
    }
    const idle = (await longestWait(() => Bun.sleep(300))).longest
    const stalls: number[] = []
    const saves: number[] = []
    for (let i = 0; i < STALL_SAVES; i++) {
      const { longest, took } = await longestWait(() => db.save())
      stalls.push(longest)
      saves.push(took)
    }
    return { stalls, saves, idle }
  } finally {
    await probe.close()
    await db.close()
    await server.stop()
  }
}

async function main(): Promise<void> {
  stopAllOnSignals()
  console.log(`durability bench: ${machine()}`)
  console.log(`${ROUNDS} rounds of ${SECONDS} s per side and mode (A B A B), medians; sets of 32-byte ` +
    `strings over ${KEYS} keys; pipelined = ${IN_FLIGHT} in flight on one connection\n`)
  const rows: string[][] = []
  const verdicts: string[] = []
  try {
    for (const policy of POLICIES) {
      const { cyber, redis } = await policyRun(policy)
      const m = (figures: Figures[], key: keyof Figures) => median(figures.map((f) => f[key]))
      for (const [name, figures] of [['CyberDB', cyber], ['Redis', redis]] as const) {
        rows.push([`${policy}: ${name}`, fmt(m(figures, 'seqOps'), 0), fmt(m(figures, 'seqP50') * 1000, 0),
          fmt(m(figures, 'seqP99') * 1000, 0), fmt(m(figures, 'pipeOps'), 0), fmt(m(figures, 'pipeP50') * 1000, 0)])
      }
      const seqRatio = m(cyber, 'seqOps') / m(redis, 'seqOps')
      const pipeRatio = m(cyber, 'pipeOps') / m(redis, 'pipeOps')
      rows.push([`${policy}: CyberDB / Redis`, `${fmt(seqRatio, 2)}×`, '', '', `${fmt(pipeRatio, 2)}×`, ''])
      if (policy === 'always' || policy === 'everysec') {
        verdicts.push(`${policy}, sequential: ${verdict(seqRatio, '>=', 1)}`)
        verdicts.push(`${policy}, pipelined: ${verdict(pipeRatio, '>=', 1)}`)
      }
    }
    console.log(table(['mode: side', 'seq ops/s', 'seq p50 µs', 'seq p99 µs', `×${IN_FLIGHT} ops/s`, `×${IN_FLIGHT} p50 µs`], rows))
    console.log(`\ntargets (throughput ≥ Redis under the same appendfsync):\n${verdicts.join('\n')}`)

    const { stalls, saves, idle } = await stallRun()
    const worst = Math.max(...stalls)
    console.log(`\n${STALL_ENTRIES} entries: ${STALL_SAVES} saves of ${saves.map((t) => fmt(t, 0)).join(', ')} ms; ` +
      `longest wait of a concurrent get during each: ${stalls.map((t) => fmt(t, 1)).join(', ')} ms ` +
      `(without a save: ${fmt(idle, 1)} ms); worst ${fmt(worst, 1)} ms, target ≤ ${STALL_TARGET_MS} ms: ` +
      `${worst <= STALL_TARGET_MS ? 'MET' : 'MISSED'}`)
  } finally {
    await stopAll()
  }
}

await runMain(main)
