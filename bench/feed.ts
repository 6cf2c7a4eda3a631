// The change feed (issue 12): how soon a write on one connection reaches a watcher on another
// (p50/p99), through a CyberDB server in its own process, against Redis keyspace notifications
// (notify-keyspace-events KEA) through Bun's RedisClient subscriber, in the same run; and the
// writers' pipelined throughput with 0, 1 and 16 watchers (in a process of their own). Every change
// is checked against the write it stands for: lost and duplicated changes are counted and printed.
//
// Latency samples are sequential: the timer runs from the write to its change at the watcher; the
// sides alternate sample by sample (ROUNDS rounds of SAMPLES samples each, the order rotating). A
// get round trip on each side is measured alongside, for reference.
//
//   bun bench/feed.ts
//   ROUNDS=5 SAMPLES=1000 WRITES=100000 REDIS=0 bun bench/feed.ts   (REDIS=0 skips Redis)

import { RedisClient } from 'bun'
import { join } from 'node:path'
import { connect, type Change, type Database } from '../src/index.ts'
import {
  HOST, clamp, cpuNs, fmt, machine, median, runMain, start, startRedis, stop, stopAll, stopAllOnSignals, table,
  tempDir, verdict, type Child,
} from './fixtures/harness.ts'

const ROUNDS = clamp(Number(process.env.ROUNDS ?? 5), 1, 21)
const SAMPLES = clamp(Number(process.env.SAMPLES ?? 1000), 50, 100_000)
const WRITES = clamp(Number(process.env.WRITES ?? 100_000), 1000, 10_000_000)
const WITH_REDIS = process.env.REDIS !== '0'
const PASSWORD = 'bench'
const PIPELINE = 256
const WAIT_MS = 10_000

function percentile(values: number[], p: number): number {
  const sorted = values.toSorted((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!
}

/** Lost and duplicated changes, over every check of the run. */
const tally = { lost: 0, duplicated: 0, checked: 0 }

interface Side {
  name: string
  /** Microseconds from a write (of the next number) to its change at the watcher. */
  sample(): Promise<number>
}

function within<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: Timer | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${WAIT_MS} ms: ${what}`)), WAIT_MS)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

async function startServer(): Promise<{ child: Child; port: number }> {
  // History enough for a whole run: 16 watchers in one process read slower than the writer writes
  // (16 decodes per write), and must be caught up afterwards rather than ended (FEED_COMPACTED).
  const child = start('cyberdb server', [process.execPath, join(import.meta.dir, 'fixtures', 'server.ts'), PASSWORD],
    { stdin: true, env: { FEED_HISTORY: String(WRITES + 1000) } })
  const { port } = JSON.parse((await child.lines.waitFor(/^\{.*"port".*\}$/, 10_000, 'cyberdb server'))[0]) as { port: number }
  return { child, port }
}

// --- latency: CyberDB ---

async function cyberdbLatency(port: number): Promise<{ side: Side; get: Side; close(): Promise<void> }> {
  const url = `cyberdb://127.0.0.1:${port}?pool=1`
  const writer: Database = await connect(url, { password: PASSWORD })
  const watcher: Database = await connect(url, { password: PASSWORD })
  await writer.createDict('lat')
  const stream = watcher.watch({ tables: ['lat'] })
  await watcher.tables() // the watch is in place
  const kv = writer.dict<number>('lat')
  // Every sample writes the next number: the watcher must see exactly 0, 1, 2, ...
  let expected = 0
  const side: Side = {
    name: 'cyberdb write -> watcher',
    async sample() {
      const t0 = performance.now()
      void kv.set('k', expected)
      const change = (await within(stream.next(), 'a cyberdb change')).value as Change
      const us = (performance.now() - t0) * 1000
      countChange(change.args[1] as number, expected)
      expected = (change.args[1] as number) + 1
      return us
    },
  }
  const get: Side = {
    name: 'cyberdb get round trip (reference)',
    async sample() {
      const t0 = performance.now()
      await kv.get('k')
      return (performance.now() - t0) * 1000
    },
  }
  return {
    side,
    get,
    async close() {
      await stream.return!()
      await watcher.close()
      await writer.close()
    },
  }
}

function countChange(got: number, expected: number): void {
  tally.checked++
  if (got > expected) tally.lost += got - expected
  else if (got < expected) tally.duplicated++
}

// --- latency: Redis keyspace notifications ---

async function redisLatency(dir: string): Promise<{ side: Side; get: Side; close(): void; child: Child } | string> {
  if (!WITH_REDIS) return 'skipped: REDIS=0'
  const started = await startRedis(dir)
  if (started === undefined) return 'skipped: redis-server is not installed and could not be'
  const url = `redis://${HOST}:${started.port}`
  const writer = new RedisClient(url, { autoReconnect: false })
  const subscriber = new RedisClient(url, { autoReconnect: false })
  await Promise.all([writer.connect(), subscriber.connect()])
  await writer.send('CONFIG', ['SET', 'notify-keyspace-events', 'KEA'])
  // A notification names the key and the event, not the value: each sample writes a key of its
  // own (k:i), so a lost or repeated event is told by the key it names.
  let waiting: ((key: string) => void) | undefined
  await subscriber.subscribe('__keyevent@0__:set', (key: string) => waiting?.(key))
  let expected = 0
  const side: Side = {
    name: 'redis SET -> keyspace notification',
    async sample() {
      const i = expected
      const got = new Promise<string>((resolve) => (waiting = resolve))
      const t0 = performance.now()
      void writer.set(`k:${i}`, String(i))
      const key = await within(got, 'a redis notification')
      const us = (performance.now() - t0) * 1000
      const n = Number(key.slice(2))
      countChange(n, expected)
      expected = n + 1
      return us
    },
  }
  const get: Side = {
    name: 'redis GET round trip (reference)',
    async sample() {
      const t0 = performance.now()
      await writer.get('k:0')
      return (performance.now() - t0) * 1000
    },
  }
  return {
    side,
    get,
    child: started.child,
    close() {
      writer.close()
      subscriber.close()
    },
  }
}

async function latency(port: number, dir: string): Promise<string[]> {
  const db = await cyberdbLatency(port)
  const r = await redisLatency(dir)
  const sides = [db.side, ...(typeof r === 'string' ? [] : [r.side]), db.get, ...(typeof r === 'string' ? [] : [r.get])]
  const us = sides.map(() => [] as number[])
  for (let round = 0; round < ROUNDS; round++) {
    for (let i = 0; i < 50; i++) for (const side of sides) await side.sample() // warm-up
    for (let i = 0; i < SAMPLES; i++) {
      for (let k = 0; k < sides.length; k++) {
        const at = (round + i + k) % sides.length
        us[at]!.push(await sides[at]!.sample())
      }
    }
  }
  const lines = [table(['side', 'p50 µs', 'p99 µs', 'samples'], sides.map((side, k) =>
    [side.name, fmt(percentile(us[k]!, 0.5)), fmt(percentile(us[k]!, 0.99)), String(us[k]!.length)]))]
  if (typeof r === 'string') {
    lines.push(`Redis: ${r}`)
  } else {
    const ratio = percentile(us[0]!, 0.5) / percentile(us[1]!, 0.5)
    lines.push(`cyberdb p50 / redis p50: ${fmt(ratio, 2)}x  ${verdict(ratio, '<=', 1)}`)
    r.close()
    await stop(r.child)
  }
  await db.close()
  return lines
}

// --- throughput with 0, 1 and 16 watchers ---

interface Run {
  perSecond: number
  catchUpMs: number
  /** The server's CPU per write, writer's run and watchers' catch-up together (µs). */
  serverUs: number
}

async function throughput(port: number, serverPid: number, watchers: number, run: number): Promise<Run> {
  const writer = await connect(`cyberdb://127.0.0.1:${port}?pool=1`, { password: PASSWORD })
  const table = 'kv'
  await writer.dropTable(table)
  await writer.createDict(table)
  const tx = writer.atomic()
  tx.dict(table).set('start', run)
  const { seq: since } = await tx.commit() as { seq: number }
  let child: Child | undefined
  let results: Promise<string[]> | undefined
  if (watchers > 0) {
    child = start('watchers', [process.execPath, join(import.meta.dir, 'fixtures', 'feed-watchers.ts'),
      String(port), PASSWORD, String(watchers), String(since), String(WRITES - 1)], { stdin: true })
    await child.lines.waitFor(/^\{"ready"/, 10_000, 'the watchers')
    results = resultLines(child, watchers)
  }
  const kv = writer.dict<number>(table)
  const cpu0 = cpuNs(serverPid)
  const t0 = performance.now()
  for (let at = 0; at < WRITES; at += PIPELINE) {
    const batch: Promise<unknown>[] = []
    for (let i = at; i < Math.min(WRITES, at + PIPELINE); i++) batch.push(kv.set('k', i))
    await Promise.all(batch)
  }
  const writeMs = performance.now() - t0
  let catchUpMs = 0
  if (results !== undefined) {
    for (const line of await results) {
      const { received, lost, duplicated } = JSON.parse(line) as { received: number; lost: number; duplicated: number }
      tally.checked += received
      tally.lost += lost + Math.max(0, WRITES - received - duplicated - lost)
      tally.duplicated += duplicated
    }
    catchUpMs = performance.now() - t0 - writeMs
    await stop(child!)
  }
  const serverUs = (cpuNs(serverPid) - cpu0) / 1000 / WRITES
  await writer.close()
  return { perSecond: WRITES / (writeMs / 1000), catchUpMs, serverUs }
}

// The watchers' N result lines (bounded polling: a benchmark, not a test).
async function resultLines(child: Child, n: number): Promise<string[]> {
  const deadline = performance.now() + 120_000
  for (;;) {
    const lines = child.lines.all.filter((line) => line.startsWith('{"received"'))
    if (lines.length >= n) return lines
    if (performance.now() > deadline) throw new Error(`the watchers sent ${lines.length} of ${n} results`)
    await Bun.sleep(2)
  }
}

async function main(): Promise<void> {
  stopAllOnSignals()
  console.log(`feed.ts: ${machine()}`)
  const dir = tempDir('cyberdb-feed-bench-')
  const server = await startServer()
  console.log(`\nWrite -> watcher latency, ${ROUNDS} rounds x ${SAMPLES} sequential samples per side:\n`)
  for (const line of await latency(server.port, dir)) console.log(line)

  console.log(`\nWriter throughput: ${WRITES} dict.set, ${PIPELINE} in flight, one connection; watchers of the ` +
    'same table in another process (median of 3 runs each, in turn):\n')
  const counts = [0, 1, 16]
  const runs = new Map<number, Run[]>(counts.map((n) => [n, []]))
  for (let run = 0; run < 3; run++) {
    for (const n of counts) runs.get(n)!.push(await throughput(server.port, server.child.proc.pid, n, run))
  }
  const med = (n: number, pick: (r: Run) => number) => median(runs.get(n)!.map(pick))
  const base = med(0, (r) => r.perSecond)
  console.log(table(['watchers', 'writes/s', 'vs 0 watchers', 'server CPU µs/write', 'watchers done after writer (ms)'],
    counts.map((n) => [String(n), fmt(med(n, (r) => r.perSecond), 0), `${fmt((med(n, (r) => r.perSecond) / base) * 100, 1)}%`,
      fmt(med(n, (r) => r.serverUs), 2), n === 0 ? '-' : fmt(med(n, (r) => r.catchUpMs), 0)])))
  const rates = new Map(counts.map((n) => [n, runs.get(n)!.map((r) => r.perSecond)]))
  const cost = 1 - median(rates.get(16)!) / base
  console.log(`\n16 watchers cost the writer ${fmt(cost * 100, 1)}% of its throughput  ${verdict(cost * 100, '<=', 20)}`)
  console.log(`\nchanges checked: ${tally.checked}; lost: ${tally.lost}; duplicated: ${tally.duplicated}  ` +
    `${tally.lost === 0 && tally.duplicated === 0 ? 'OK' : 'FAIL'}`)
  await stop(server.child)
  await stopAll()
}

await runMain(main)
