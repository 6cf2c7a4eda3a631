// How soon a queued value reaches a take waiting on another connection (issue 11.6): a push on
// one connection to a take already waiting on another, through a CyberDB server in its own
// process, against Redis RPUSH -> BLPOP through Bun's RedisClient, and against a sequential
// dict.get round trip (the target: the hand-off within 2x a get).
//
// Each sample: the consumer's take (BLPOP) is made to wait first, outside the timed window
// (CyberDB: a round trip on the consumer's own connection, which the server answers after the
// take took its place; Redis: polling INFO until the client is blocked); then the timer runs from
// the producer's push to the consumer's value. The sides run in turn, sample by sample, in an order
// that rotates (A B A B), ROUNDS times; the tables quote medians of the per-round medians, and the
// ratios are medians of the ratios taken within each round.
//
//   bun bench/queue.bench.ts
//   ROUNDS=7 SAMPLES=400 REDIS=0 bun bench/queue.bench.ts   (REDIS=0 skips Redis)

import { RedisClient } from 'bun'
import { join } from 'node:path'
import { connect, type Database } from '../src/index.ts'
import {
  HOST, clamp, fmt, machine, median, runMain, start, startRedis, stop, stopAll, stopAllOnSignals, table,
  tempDir, verdict, type Child,
} from './fixtures/harness.ts'

const ROUNDS = clamp(Number(process.env.ROUNDS ?? 7), 1, 21)
const SAMPLES = clamp(Number(process.env.SAMPLES ?? 400), 20, 20_000)
const WITH_REDIS = process.env.REDIS !== '0'
const PASSWORD = 'bench'
const WAIT_MS = 10_000

function check(actual: unknown, expected: unknown, what: string): void {
  if (!Bun.deepEquals(actual, expected)) {
    throw new Error(`check failed: ${what}: got ${JSON.stringify(actual)}, expected ${JSON.stringify(expected)}`)
  }
}

/** One measured thing: `sample(i)` returns the microseconds of its timed part. */
interface Side {
  name: string
  sample(i: number): Promise<number>
}

// --- CyberDB: a server in its own process, a producer and a consumer connection ---

async function cyberdb(): Promise<{ sides: Side[]; close(): Promise<void>; child: Child }> {
  const child = start('cyberdb server', [process.execPath, join(import.meta.dir, 'fixtures', 'server.ts'), PASSWORD],
    { stdin: true })
  const { port } = JSON.parse((await child.lines.waitFor(/^\{.*"port".*\}$/, 10_000, 'cyberdb server'))[0]) as { port: number }
  const url = `cyberdb://127.0.0.1:${port}?pool=1`
  const producer: Database = await connect(url, { password: PASSWORD })
  const consumer: Database = await connect(url, { password: PASSWORD })
  await producer.createList('jobs')
  await producer.createDict('kv', { k: 'value-000042-xxxxxxx' })
  const jobs = producer.list<number>('jobs')
  const waiting = consumer.list<number>('jobs')
  const kv = producer.dict<string>('kv')

  // Checked once: a take gets exactly the value pushed, and the list is empty after.
  const taken = waiting.take({ wait: WAIT_MS })
  await consumer.tables()
  await jobs.push(-1)
  check([await taken, await jobs.length(), await kv.get('k')], [-1, 0, 'value-000042-xxxxxxx'], 'cyberdb take')

  const take: Side = {
    name: 'cyberdb push -> waiting take',
    async sample(i) {
      const got = waiting.take({ wait: WAIT_MS })
      await consumer.tables() // the take is in line: the server runs a connection's requests in order
      const t0 = performance.now()
      void jobs.push(i)
      const value = await got
      const us = (performance.now() - t0) * 1000
      if (value !== i) throw new Error(`cyberdb take got ${value}, expected ${i}`)
      return us
    },
  }
  const get: Side = {
    name: 'cyberdb sequential get',
    async sample() {
      const t0 = performance.now()
      await kv.get('k')
      return (performance.now() - t0) * 1000
    },
  }
  return {
    sides: [take, get],
    child,
    async close() {
      await consumer.close()
      await producer.close()
    },
  }
}

// --- Redis: redis-server on a free port, Bun's RedisClient ---

async function redis(dir: string): Promise<{ sides: Side[]; close(): void; child: Child } | string> {
  if (!WITH_REDIS) return 'skipped: REDIS=0'
  if (!Bun.which('redis-server')) return 'skipped: redis-server is not installed'
  const started = await startRedis(dir)
  if (started === undefined) return 'skipped: redis-server could not be started'
  const url = `redis://${HOST}:${started.port}`
  const producer = new RedisClient(url, { autoReconnect: false })
  const consumer = new RedisClient(url, { autoReconnect: false })
  const watcher = new RedisClient(url, { autoReconnect: false })
  await Promise.all([producer.connect(), consumer.connect(), watcher.connect()])
  await producer.set('k', 'value-000042-xxxxxxx')

  // The consumer's BLPOP holds its connection: whether it is blocked yet is asked on another.
  const blocked = async (): Promise<void> => {
    for (let i = 0; i < 10_000; i++) {
      const info = String(await watcher.send('INFO', ['clients']))
      if (/blocked_clients:1\b/.test(info)) return
    }
    throw new Error('redis: the BLPOP never blocked')
  }
  const popped = consumer.send('BLPOP', ['jobs', String(WAIT_MS / 1000)])
  await blocked()
  await producer.send('RPUSH', ['jobs', '-1'])
  check([await popped, await producer.send('LLEN', ['jobs']), await producer.get('k')],
    [['jobs', '-1'], 0, 'value-000042-xxxxxxx'], 'redis blpop')

  const blpop: Side = {
    name: 'redis RPUSH -> waiting BLPOP',
    async sample(i) {
      const got = consumer.send('BLPOP', ['jobs', String(WAIT_MS / 1000)])
      await blocked()
      const t0 = performance.now()
      void producer.send('RPUSH', ['jobs', String(i)])
      const value = await got as [string, string]
      const us = (performance.now() - t0) * 1000
      if (value?.[1] !== String(i)) throw new Error(`redis BLPOP got ${value}, expected ${i}`)
      return us
    },
  }
  const get: Side = {
    name: 'redis sequential GET',
    async sample() {
      const t0 = performance.now()
      await producer.get('k')
      return (performance.now() - t0) * 1000
    },
  }
  return {
    sides: [blpop, get],
    child: started.child,
    close() {
      producer.close()
      consumer.close()
      watcher.close()
    },
  }
}

// One round: every side's samples interleaved (A B C D, then B C D A, ...), so that a noisy
// neighbour on the shared machine weighs on every side of the round alike; a median per side.
async function round(sides: Side[], first: number): Promise<Map<string, number>> {
  for (let i = 0; i < 20; i++) for (const side of sides) await side.sample(i) // warm-up
  const us = sides.map(() => [] as number[])
  for (let i = 0; i < SAMPLES; i++) {
    for (let k = 0; k < sides.length; k++) {
      const at = (first + i + k) % sides.length
      us[at]!.push(await sides[at]!.sample(i))
    }
  }
  return new Map(sides.map((side, k) => [side.name, median(us[k]!)]))
}

async function main(): Promise<void> {
  stopAllOnSignals()
  console.log(`queue.bench.ts: ${machine()}`)
  console.log(`${ROUNDS} rounds x ${SAMPLES} samples per side; medians (µs)\n`)
  const dir = tempDir('cyberdb-queue-bench-')
  const db = await cyberdb()
  const r = await redis(dir)
  const sides = [...db.sides, ...(typeof r === 'string' ? [] : r.sides)]
  if (typeof r === 'string') console.log(`Redis: ${r}\n`)
  const results = new Map<string, number[]>(sides.map((s) => [s.name, []]))
  const takeOverGet: number[] = []
  const takeOverRedis: number[] = []
  for (let r0 = 0; r0 < ROUNDS; r0++) {
    const got = await round(sides, r0)
    for (const [name, us] of got) results.get(name)!.push(us)
    takeOverGet.push(got.get(db.sides[0]!.name)! / got.get(db.sides[1]!.name)!)
    if (typeof r !== 'string') takeOverRedis.push(got.get(db.sides[0]!.name)! / got.get(r.sides[0]!.name)!)
  }
  console.log(table(['side', 'median µs', 'rounds (µs)'],
    sides.map((s) => [s.name, fmt(median(results.get(s.name)!)), results.get(s.name)!.map((v) => fmt(v)).join(' ')])))
  const ratio = median(takeOverGet)
  console.log(`\ncyberdb take hand-off / cyberdb sequential get: ${fmt(ratio, 2)}x  ${verdict(ratio, '<=', 2)}`)
  if (takeOverRedis.length > 0) {
    console.log(`cyberdb take hand-off / redis BLPOP hand-off: ${fmt(median(takeOverRedis), 2)}x`)
  }
  await db.close()
  await stop(db.child)
  if (typeof r !== 'string') {
    r.close()
    await stop(r.child)
  }
  await stopAll()
}

await runMain(main)
