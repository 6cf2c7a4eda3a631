// Bulk ops and atomic batches over TCP, the CyberDB server in its own process, against Redis
// (redis-server, Bun's RedisClient): getMany/setMany of 100 keys vs 100 single calls pipelined
// (one Promise.all) vs MGET/MSET of 100, in keys/s, one batch in flight; and atomic() of 4 ops
// (set, incr, set, push) vs MULTI/EXEC of the same 4 commands, in commits/s, sequential and 16 in
// flight. 10k string keys with 20-byte values, prefilled on each side.
//
// The machine is shared and noisy: each round runs every side of a question in turn (A B A B ...,
// the order rotating per round), ROUNDS times; tables quote the median per side and the median
// of the ratios taken within each round. Each side's answers are checked once before timing.
//
//   bun bench/bulk.bench.ts
//   ROUNDS=7 BATCHES=2000 COMMITS=5000 bun bench/bulk.bench.ts   (REDIS=0 skips Redis)

import { RedisClient } from 'bun'
import { join } from 'node:path'
import { connect, type Database } from '../src/index.ts'
import {
  HOST, clamp, fmt, machine, median, runMain, start, startRedis, stopAll, stopAllOnSignals, table,
  tempDir, verdict,
} from './fixtures/harness.ts'

const ROUNDS = clamp(Number(process.env.ROUNDS ?? 5), 1, 21)
const BATCHES = clamp(Number(process.env.BATCHES ?? 1000), 50, 100_000)
const COMMITS = clamp(Number(process.env.COMMITS ?? 4000), 100, 1_000_000)
const WITH_REDIS = process.env.REDIS !== '0'
const KEYS = 10_000
const BATCH = 100
const PASSWORD = 'bench'

const keys = Array.from({ length: KEYS }, (_, i) => `user:${100000 + i}`)
const values = keys.map((_, i) => `value-${String(i).padStart(6, '0')}-xxxxxxx`)
// Batch b reads or writes keys b*100 .. b*100+99 (mod KEYS): the same keys on every side.
const batches = Array.from({ length: KEYS / BATCH }, (_, b) => keys.slice(b * BATCH, b * BATCH + BATCH))
const pairs = batches.map((batch) => batch.map((key, i) => [key, values[(i * 7) % KEYS]!] as [string, string]))

function expectEqual(actual: unknown, expected: unknown, what: string): void {
  if (!Bun.deepEquals(actual, expected)) {
    throw new Error(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`)
  }
}

/** One way of answering a question: `run(i)` is its i-th unit of work (a batch, a commit). */
interface Way {
  side: string
  run: (i: number) => Promise<unknown>
  check: () => Promise<void>
}

interface Question {
  name: string
  unit: 'keys/s' | 'commits/s'
  perCall: number // units per call of run()
  calls: number
  inFlight: number
  ways: Way[]
}

/** Calls per second, `inFlight` loops each awaiting its own call, `calls` in all. */
async function measure(way: Way, calls: number, inFlight: number): Promise<number> {
  let next = 0
  const begin = performance.now()
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (next < calls) await way.run(next++)
  }))
  return calls / ((performance.now() - begin) / 1000)
}

async function cyberdb(): Promise<{ db: Database; ways: Record<string, Way> }> {
  const child = start('cyberdb server', [process.execPath, join(import.meta.dir, 'fixtures', 'server.ts'), PASSWORD],
    { stdin: true })
  const match = await child.lines.waitFor(/^\{.*"port".*\}$/, 10_000, 'cyberdb server')
  const { port } = JSON.parse(match[0]) as { port: number }
  const db = await connect(`cyberdb://${HOST}:${port}`, { password: PASSWORD })
  await db.createDict('kv', keys.map((k, i) => [k, values[i]!] as const))
  await db.createList('log')
  const kv = db.dict<string>('kv')
  const batch = (i: number) => batches[i % batches.length]!
  const commit = (i: number) => {
    const tx = db.atomic()
    tx.dict('kv').set('a', values[i % KEYS]!)
    tx.dict('kv').incr('counter')
    tx.dict('kv').set('b', values[(i + 1) % KEYS]!)
    tx.list('log').push(i)
    return tx.commit()
  }
  return {
    db,
    ways: {
      getMany: { side: 'cyberdb getMany(100)', run: (i) => kv.getMany(batch(i)),
        check: async () => expectEqual(await kv.getMany(batch(3)), values.slice(300, 400), 'getMany') },
      gets: { side: 'cyberdb 100 × get, pipelined', run: (i) => Promise.all(batch(i).map((key) => kv.get(key))),
        check: async () => expectEqual(await Promise.all(batch(3).map((key) => kv.get(key))), values.slice(300, 400), 'gets') },
      setMany: { side: 'cyberdb setMany(100)', run: (i) => kv.setMany(pairs[i % pairs.length]!),
        check: async () => {
          await kv.setMany(pairs[5]!)
          expectEqual(await kv.getMany(batch(5)), pairs[5]!.map(([, v]) => v), 'setMany')
        } },
      sets: { side: 'cyberdb 100 × set, pipelined',
        run: (i) => Promise.all(pairs[i % pairs.length]!.map(([key, value]) => kv.set(key, value))),
        check: async () => expectEqual(await kv.size(), KEYS + 0, 'size after sets') },
      atomic: { side: 'cyberdb atomic() of 4 ops', run: commit,
        check: async () => {
          const before = (await kv.get('counter', 0 as never)) as unknown as number
          const r = await commit(7)
          expectEqual([r.ok, r.ok && r.results.length, await kv.get('counter')], [true, 4, before + 1], 'atomic')
        } },
    },
  }
}

async function redis(dir: string): Promise<{ client: RedisClient; ways: Record<string, Way> } | string> {
  if (!WITH_REDIS) return 'skipped: REDIS=0'
  const started = await startRedis(dir).catch((error: Error) => error.message)
  if (started === undefined || typeof started === 'string') {
    return `skipped: redis-server is not installed and could not be installed${started ? ` (${started})` : ''}`
  }
  const client = new RedisClient(`redis://${HOST}:${started.port}`, { autoReconnect: false })
  await client.connect()
  for (let i = 0; i < KEYS; i += 1000) {
    await client.send('MSET', keys.slice(i, i + 1000).flatMap((k, j) => [k, values[i + j]!]))
  }
  const batch = (i: number) => batches[i % batches.length]!
  // The 4 commands of a commit leave in one synchronous run, so concurrent transactions on the
  // shared (auto-pipelined) connection never interleave between MULTI and EXEC.
  const commit = (i: number) => {
    void client.send('MULTI', [])
    void client.send('SET', ['a', values[i % KEYS]!])
    void client.send('INCR', ['counter'])
    void client.send('SET', ['b', values[(i + 1) % KEYS]!])
    void client.send('RPUSH', ['log', String(i)])
    return client.send('EXEC', [])
  }
  return {
    client,
    ways: {
      getMany: { side: 'redis MGET 100', run: (i) => client.send('MGET', batch(i)),
        check: async () => expectEqual(await client.send('MGET', batch(3)), values.slice(300, 400), 'MGET') },
      setMany: { side: 'redis MSET 100', run: (i) => client.send('MSET', pairs[i % pairs.length]!.flat()),
        check: async () => {
          await client.send('MSET', pairs[5]!.flat())
          expectEqual(await client.send('MGET', batch(5)), pairs[5]!.map(([, v]) => v), 'MSET')
        } },
      atomic: { side: 'redis MULTI/EXEC of 4', run: commit,
        check: async () => expectEqual(((await commit(7)) as unknown[]).length, 4, 'EXEC') },
    },
  }
}

async function main(): Promise<void> {
  stopAllOnSignals()
  const dir = tempDir('cyberdb-bulk-bench-')
  try {
    const ours = await cyberdb()
    const theirs = await redis(dir)
    const r = typeof theirs === 'string' ? undefined : theirs.ways
    if (typeof theirs === 'string') console.log(`Redis ${theirs}`)
    const pick = (...ways: (Way | undefined)[]) => ways.filter((way): way is Way => way !== undefined)
    const questions: Question[] = [
      { name: 'read 100 keys', unit: 'keys/s', perCall: BATCH, calls: BATCHES, inFlight: 1,
        ways: pick(ours.ways.getMany, ours.ways.gets, r?.getMany) },
      { name: 'write 100 keys', unit: 'keys/s', perCall: BATCH, calls: BATCHES, inFlight: 1,
        ways: pick(ours.ways.setMany, ours.ways.sets, r?.setMany) },
      { name: 'commit 4 ops, sequential', unit: 'commits/s', perCall: 1, calls: COMMITS, inFlight: 1,
        ways: pick(ours.ways.atomic, r?.atomic) },
      { name: 'commit 4 ops, 16 in flight', unit: 'commits/s', perCall: 1, calls: COMMITS * 4, inFlight: 16,
        ways: pick(ours.ways.atomic, r?.atomic) },
    ]
    for (const question of questions) for (const way of question.ways) await way.check()
    console.log(`${machine()}\n${ROUNDS} rounds; ${BATCHES} batches of ${BATCH} keys, ${COMMITS} commits ` +
      '(×4 at 16 in flight) per side per round\n')
    const rows: string[][] = []
    const ratios = new Map<string, number>()
    for (const question of questions) {
      const rates = question.ways.map(() => [] as number[])
      const vsFirst = question.ways.map(() => [] as number[])
      for (let round = 0; round < ROUNDS; round++) {
        const order = question.ways.map((_, i) => (i + round) % question.ways.length)
        const got: number[] = []
        for (const i of order) {
          got[i] = (await measure(question.ways[i]!, question.calls, question.inFlight)) * question.perCall
        }
        got.forEach((rate, i) => {
          rates[i]!.push(rate)
          vsFirst[i]!.push(got[0]! / rate)
        })
      }
      question.ways.forEach((way, i) => {
        const ratio = median(vsFirst[i]!)
        ratios.set(`${question.name}|${way.side}`, ratio)
        rows.push([question.name, way.side, `${fmt(median(rates[i]!), 0)} ${question.unit}`,
          i === 0 ? '' : `${fmt(ratio, 2)}×`])
      })
    }
    console.log(table(['question', 'side', 'median', 'cyberdb (first row) / this'], rows))
    if (r !== undefined) {
      console.log('\nTargets')
      const mget = ratios.get('read 100 keys|redis MGET 100')!
      console.log(`  getMany(100) keys/s vs MGET(100):        ${verdict(mget, '>=', 1)}`)
      for (const q of ['commit 4 ops, sequential', 'commit 4 ops, 16 in flight']) {
        const multi = ratios.get(`${q}|redis MULTI/EXEC of 4`)!
        console.log(`  atomic(4) vs MULTI/EXEC(4), ${q.slice(14).padEnd(12)} ${verdict(multi, '>=', 1)}`)
      }
    }
    await ours.db.close()
    if (typeof theirs !== 'string') theirs.client.close()
  } finally {
    await stopAll()
  }
}

await runMain(main)
