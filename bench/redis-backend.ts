// The Redis backend (issue 15), two questions:
// 1. What does redis:// cost over the Redis commands it sends? dict.get, dict.set, list.push,
//    list.at through connect('redis://…') against the very EVALSHA calls it makes (raw ioredis,
//    same scripts, same arguments), the plain commands a hand-written client would send (HGET,
//    HSET, RPUSH, LINDEX: no table checks, no expiry, no order), and a CyberDB server in its own
//    process. Sequential (1 in flight) and pipelined (64 in flight); medians of ROUNDS rounds,
//    the sides in a rotating order; the ratio is redis:// over raw EVALSHA, per round (the raw
//    client has redis://'s options: auto-pipelining on).
// 2. Does a Cluster scale? An 8-table workload (dict.set/get, 64 in flight per process) from
//    PROCS client processes on a 3-master Cluster against one redis-server, same machine.
//
//   bun bench/redis-backend.ts
//   ROUNDS=5 OPS=10000 PROCS=4 SECONDS=3 bun bench/redis-backend.ts

import { Redis } from 'ioredis'
import { join } from 'node:path'
import { connect, type Database } from '../src/index.ts'
import { createCodec } from '../src/protocol/codec.ts'
import { encodeKey, keyList, tableKeys } from '../src/redis/keys.ts'
import * as lua from '../src/redis/scripts.ts'
import { FEED_KEYS } from '../src/redis/feed.ts'
import { startRedisCluster, startRedisServer } from '../test/fixtures/redis-servers.ts'
import { fmt, machine, median, runMain, start, stop, stopAllOnSignals, table, verdict } from './fixtures/harness.ts'

const ROUNDS = Math.max(1, Number(process.env.ROUNDS ?? 5))
const OPS = Math.max(500, Number(process.env.OPS ?? 10_000))
const PROCS = Math.max(1, Number(process.env.PROCS ?? 4))
const SECONDS = Math.max(1, Number(process.env.SECONDS ?? 3))
const DEPTHS = [1, 64] as const
const VALUE = 'twenty-byte-value-xx'

type Side = 'redis://' | 'raw EVALSHA' | 'raw command' | 'cyberdb://'
type Run = (i: number) => Promise<unknown>

async function timed(run: Run, depth: number): Promise<number> {
  let next = 0
  const t0 = performance.now()
  await Promise.all(Array.from({ length: depth }, async () => {
    while (next < OPS) await run(next++)
  }))
  return ((performance.now() - t0) * 1e6) / OPS // ns per op
}

async function startCyberdb(): Promise<{ db: Database; close: () => Promise<void> }> {
  const child = start('cyberdb server', ['bun', join(import.meta.dir, 'fixtures', 'server.ts'), 'bench'], { stdin: true })
  const match = await child.lines.waitFor(/^\{.*"port".*\}$/, 10_000, 'cyberdb server')
  const { port } = JSON.parse(match[0]) as { port: number }
  const db = await connect(`cyberdb://:bench@127.0.0.1:${port}`)
  return { db, close: async () => { await db.close(); await stop(child) } }
}

async function overhead(): Promise<string> {
  await using redis = await startRedisServer()
  const db = await connect(redis.url)
  const server = await startCyberdb()
  // The same client options as redis:// (its requests of one tick share a socket write).
  const raw = new Redis(redis.url, { enableAutoPipelining: true })
  for (const [name, source] of Object.entries({ get: lua.DICT_GET, set: lua.DICT_SET, push: lua.LIST_PUSH, at: lua.LIST_AT })) {
    raw.defineCommand(`b${name}`, { lua: source })
  }
  const r = raw as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>
  const codec = createCodec()
  for (const side of [db, server.db]) {
    await side.createDict('d')
    await side.createList('l', [VALUE])
    await side.dict('d').setMany(Array.from({ length: 1000 }, (_, i) => [`k${i}`, VALUE] as [string, string]))
  }
  // The keys redis:// sends: the table's and (one node) the change feed's.
  const dk = [...keyList(tableKeys('d')), ...FEED_KEYS]
  const lk = [...keyList(tableKeys('l')), ...FEED_KEYS]
  const packed = codec.pack(VALUE)
  await raw.hset('plain', Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`k${i}`, packed])))
  const now = () => String(Date.now())
  const sides: Record<string, Record<Side, Run>> = {
    'dict.get': {
      'redis://': (i) => db.dict('d').get(`k${i % 1000}`),
      'raw EVALSHA': (i) => r.bgetBuffer!(dk.length, ...dk, now(), encodeKey(`k${i % 1000}`)).then((b) => codec.unpack(b as Buffer)),
      'raw command': (i) => raw.hgetBuffer('plain', `k${i % 1000}`).then((b) => codec.unpack(b!)),
      'cyberdb://': (i) => server.db.dict('d').get(`k${i % 1000}`),
    },
    'dict.set': {
      'redis://': (i) => db.dict('d').set(`k${i % 1000}`, VALUE),
      'raw EVALSHA': (i) => r.bset!(dk.length, ...dk, now(), encodeKey(`k${i % 1000}`), codec.pack(VALUE)),
      'raw command': (i) => raw.hset('plain', `k${i % 1000}`, codec.pack(VALUE)),
      'cyberdb://': (i) => server.db.dict('d').set(`k${i % 1000}`, VALUE),
    },
    'list.push': {
      'redis://': () => db.list('l').push(VALUE),
      'raw EVALSHA': () => r.bpush!(lk.length, ...lk, now(), '', codec.pack(VALUE)),
      'raw command': () => raw.rpush('plainlist', codec.pack(VALUE)),
      'cyberdb://': () => server.db.list('l').push(VALUE),
    },
    'list.at': {
      'redis://': () => db.list('l').at(0),
      'raw EVALSHA': () => r.batBuffer!(lk.length, ...lk, now(), '0').then((b) => codec.unpack(b as Buffer)),
      'raw command': () => raw.lindexBuffer('plainlist', 0).then((b) => codec.unpack(b!)),
      'cyberdb://': () => server.db.list('l').at(0),
    },
  }
  const rows: string[][] = []
  const verdicts: string[] = []
  const order: Side[] = ['redis://', 'raw EVALSHA', 'raw command', 'cyberdb://']
  // Untimed first: the JIT and the scripts' first EVAL (each side loads its SHA once).
  for (const runs of Object.values(sides)) for (const side of order) await timed(runs[side], 64)
  for (const [op, runs] of Object.entries(sides)) {
    for (const depth of DEPTHS) {
      const ns: Record<Side, number[]> = { 'redis://': [], 'raw EVALSHA': [], 'raw command': [], 'cyberdb://': [] }
      const ratios: number[] = []
      for (let round = 0; round < ROUNDS; round++) {
        const rotated = order.map((_, k) => order[(k + round) % order.length]!)
        const got = {} as Record<Side, number>
        for (const side of rotated) got[side] = await timed(runs[side], depth)
        for (const side of order) ns[side].push(got[side])
        ratios.push(got['redis://'] / got['raw EVALSHA'])
      }
      const ratio = median(ratios)
      rows.push([`${op}, ${depth} in flight`, ...order.map((side) => fmt(median(ns[side]) / 1000, 1)), fmt(ratio, 2)])
      verdicts.push(`${op} (${depth} in flight): ${verdict(ratio, '<=', 1.3)}`)
    }
  }
  raw.disconnect()
  await db.close()
  await server.close()
  return [
    `µs per op (median of ${ROUNDS} rounds, ${OPS} ops each); ratio = redis:// / raw EVALSHA:`, '',
    table(['op', ...order, 'ratio'], rows), '', ...verdicts.map((v) => `- ${v}`),
  ].join('\n')
}

async function load(url: string): Promise<number> {
  const children = Array.from({ length: PROCS }, (_, i) =>
    start(`load ${i}`, ['bun', join(import.meta.dir, 'fixtures', 'redis-load.ts'), url, String(SECONDS), '64']))
  let ops = 0
  for (const child of children) {
    const match = await child.lines.waitFor(/^\{.*"ops".*\}$/, (SECONDS + 30) * 1000, child.name)
    const result = JSON.parse(match[0]) as { ops: number; seconds: number }
    ops += result.ops / result.seconds
    await stop(child)
  }
  return ops
}

async function scaling(): Promise<string> {
  const prepare = async (url: string) => {
    await using db = await connect(url)
    for (let i = 0; i < 8; i++) await db.createDict(`load${i}`, undefined, { ifNotExists: true })
  }
  let one: number, three: number
  {
    await using redis = await startRedisServer()
    await prepare(redis.url)
    one = await load(redis.url)
  }
  {
    await using cluster = await startRedisCluster(3)
    await prepare(cluster.url)
    three = await load(cluster.url)
  }
  return [
    `8 tables, ${PROCS} client processes x 64 in flight, ${SECONDS} s, dict.set/get half each:`, '',
    table(['target', 'ops/s'], [['one redis-server', fmt(one, 0)], ['3-master Cluster', fmt(three, 0)]]), '',
    `- Cluster / one node: ${verdict(three / one, '>=', 2)}`,
  ].join('\n')
}

await runMain(async () => {
  stopAllOnSignals()
  console.log(`## Issue 15: the Redis backend (bench/redis-backend.ts)\n\n${machine()}\n`)
  console.log(await overhead())
  console.log()
  console.log(await scaling())
})
