// openSync() handles against a raw Map and lru-cache: get and set of string values on 10k and 100k
// keys, and on a cache table (default ttl + maxEntries) against lru-cache with ttl and max. Every
// side works through the same keys in the same order (one step per call, wrapping around).
// The machine is shared and noisy: the comparison runs ROUNDS times, the sides in alternating
// order, and the table quotes medians of mitata's per-op p50 and of the per-round ratios.
//
//   bun bench/sync.bench.ts            ROUNDS=5 bun bench/sync.bench.ts

import { LRUCache } from 'lru-cache'
import { bench, do_not_optimize, group, summary } from 'mitata'
import { openSync, type SyncDatabase, type SyncDictHandle } from '../src/index.ts'
import { median } from './fixtures/harness.ts'
import { fmtNs, recordRound, spread } from './fixtures/mitata-rounds.ts'

const SIZES = [10_000, 100_000]
const ROUNDS = Math.max(1, Math.min(21, Number(process.env.ROUNDS ?? 5)))
const TTL_MS = 3_600_000
const OPS = ['get', 'set'] as const
const SIDES = ['openSync', 'Map', 'lru-cache', 'openSync ttl+max', 'lru-cache ttl+max',
  'openSync ttl+max, coarse clock'] as const
type Op = (typeof OPS)[number]
type Side = (typeof SIDES)[number]
// [side, peer, target]: side ops/s / peer ops/s must reach target.
const TARGETS: [Side, Side, number][] = [
  ['openSync', 'Map', 0.5], ['openSync', 'lru-cache', 1.0], ['openSync ttl+max', 'lru-cache ttl+max', 1.0],
]
// Not a target, for the why: lru-cache with a ttl reads the clock at most once per ttlResolution
// (1 ms: a cached performance.now() that an unref'd timer clears); the host reads its clock on
// every op of a table with deadlines (about 30 ns here). This side gives the host such a clock.
const INFO: [Side, Side][] = [['openSync ttl+max, coarse clock', 'lru-cache ttl+max']]
let cachedNow: number | undefined
const coarseClock = {
  now(): number {
    if (cachedNow === undefined) {
      cachedNow = Date.now()
      setTimeout(() => (cachedNow = undefined), 1).unref()
    }
    return cachedNow
  },
}

interface Fixture {
  label: string
  dbs: SyncDatabase[]
  bench(op: Op, side: Side): () => void
}

function check(what: string, actual: unknown, expected: unknown): void {
  if (!Bun.deepEquals(actual, expected)) throw new Error(`sync bench check failed: ${what}: ${actual} !== ${expected}`)
}

function makeFixture(n: number): Fixture {
  const keys = Array.from({ length: n }, (_, i) => `user:${100000 + i}`)
  const values = Array.from({ length: n }, (_, i) => `value of user ${i}`)
  const others = Array.from({ length: n }, (_, i) => `other value ${i}`)
  const db = openSync('memory://')
  db.createDict('kv', keys.map((k, i) => [k, values[i]!] as const))
  db.createDict('cache', undefined, { ttl: TTL_MS, maxEntries: n })
  const kv: SyncDictHandle<string> = db.dict('kv')
  const cache: SyncDictHandle<string> = db.dict('cache')
  const coarseDb = openSync('memory://', { clock: coarseClock })
  coarseDb.createDict('cache', undefined, { ttl: TTL_MS, maxEntries: n })
  const coarse: SyncDictHandle<string> = coarseDb.dict('cache')
  for (let i = 0; i < n; i++) {
    cache.set(keys[i]!, values[i]!)
    coarse.set(keys[i]!, values[i]!)
  }
  const map = new Map(keys.map((k, i) => [k, values[i]!]))
  const lru = new LRUCache<string, string>({ max: n })
  const lruTtl = new LRUCache<string, string>({ max: n, ttl: TTL_MS })
  for (let i = 0; i < n; i++) {
    lru.set(keys[i]!, values[i]!)
    lruTtl.set(keys[i]!, values[i]!)
  }
  // Each side answers the same as a Map, once, before anything is timed.
  for (const i of [0, n >> 1, n - 1]) {
    const want = values[i]
    check('openSync get', kv.get(keys[i]!), want)
    check('openSync ttl get', cache.get(keys[i]!), want)
    check('openSync coarse get', coarse.get(keys[i]!), want)
    check('lru get', lru.get(keys[i]!), want)
    check('lru ttl get', lruTtl.get(keys[i]!), want)
  }
  check('cache size', [cache.size(), cache.ttl(keys[0]!)! > TTL_MS - 60_000], [n, true])

  const stores = {
    openSync: { get: (k: string) => kv.get(k), set: (k: string, v: string) => kv.set(k, v) },
    Map: { get: (k: string) => map.get(k), set: (k: string, v: string) => void map.set(k, v) },
    'lru-cache': { get: (k: string) => lru.get(k), set: (k: string, v: string) => void lru.set(k, v) },
    'openSync ttl+max': { get: (k: string) => cache.get(k), set: (k: string, v: string) => cache.set(k, v) },
    'lru-cache ttl+max': { get: (k: string) => lruTtl.get(k), set: (k: string, v: string) => void lruTtl.set(k, v) },
    'openSync ttl+max, coarse clock': { get: (k: string) => coarse.get(k), set: (k: string, v: string) => coarse.set(k, v) },
  }
  return {
    label: `${n / 1000}k`,
    dbs: [db, coarseDb],
    bench(op, side) {
      let i = 0
      const store = stores[side]
      if (op === 'get') {
        const get = store.get
        return () => {
          do_not_optimize(get(keys[i]!))
          if (++i === n) i = 0
        }
      }
      const set = store.set
      return () => {
        set(keys[i]!, others[i]!)
        if (++i === n) i = 0
      }
    },
  }
}

const fixtures = SIZES.map(makeFixture)
const times = new Map<string, number[]>()
const id = (op: Op, label: string, side: Side) => `${op} ${label} · ${side}`

for (let round = 0; round < ROUNDS; round++) {
  const sides = round % 2 === 0 ? SIDES : [...SIDES].reverse()
  if (round > 0) console.log(`round ${round + 1} of ${ROUNDS}...`)
  for (const fixture of round % 2 === 0 ? fixtures : [...fixtures].reverse()) {
    for (const op of OPS) {
      summary(() => group(`${op}, ${fixture.label} keys`, () => {
        for (const side of sides) bench(id(op, fixture.label, side), fixture.bench(op, side))
      }))
    }
  }
  await recordRound(times, round)
}

let missed = 0
console.log(`\nmedian of ${ROUNDS} rounds: per-op time (ns, mitata p50), and ratio = side ops/s / peer ` +
  'ops/s (median of the per-round ratios, min–max)')
console.log(`| op | keys | ${SIDES.join(' | ')} | ${TARGETS.map(([s, p, t]) => `${s} vs ${p} (≥ ${t}×)`).join(' | ')} ` +
  `| ${INFO.map(([s, p]) => `${s} vs ${p}`).join(' | ')} |`)
console.log(`|---|---|${SIDES.map(() => '---:').join('|')}|${[...TARGETS, ...INFO].map(() => '---').join('|')}|`)
for (const op of OPS) {
  for (const { label } of fixtures) {
    const per = (side: Side) => times.get(id(op, label, side))!
    const cells = SIDES.map((side) => fmtNs(median(per(side))))
    const ratios = TARGETS.map(([side, peer, target]) => {
      const rounds = per(peer).map((t, r) => t / per(side)[r]!)
      const r = median(rounds)
      if (r < target) missed++
      return `${r.toFixed(2)}× (${spread(rounds)}) ` +
        (r >= target ? 'MET' : 'MISSED')
    })
    const info = INFO.map(([side, peer]) => `${median(per(peer).map((t, r) => t / per(side)[r]!)).toFixed(2)}×`)
    console.log(`| ${op} | ${label} | ${cells.join(' | ')} | ${ratios.join(' | ')} | ${info.join(' | ')} |`)
  }
}
console.log(missed === 0 ? '\nall targets MET' : `\n${missed} target(s) MISSED`)
for (const fixture of fixtures) for (const db of fixture.dbs) await db.close()
