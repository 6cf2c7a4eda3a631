// Embedded dict.get/set/incr and list.push/at through connect('memory://') against three peers: an
// awaited Map/Array (the floor for any async API), the raw Map/Array, and bun:sqlite :memory: with
// prepared statements. The machine may be shared and noisy, so the whole comparison runs ROUNDS
// times, the sides in alternating order, and the ratio table quotes medians of per-op times.
//
//   bun bench/engine.bench.ts            ROUNDS=5 bun bench/engine.bench.ts

import { Database as Sqlite } from 'bun:sqlite'
import { bench, do_not_optimize, group, summary } from 'mitata'
import { connect, type Database } from '../src/index.ts'
import { median } from './fixtures/harness.ts'
import { fmtNs, recordRound, spread } from './fixtures/mitata-rounds.ts'

const SIZES = [10_000, 100_000]
const ROUNDS = Math.max(1, Math.min(20, Number(process.env.ROUNDS ?? 3)))
// list.push runs last in a round: it grows the lists, and reset() shrinks them before the next.
const OPS = ['dict.get', 'dict.set', 'dict.incr', 'list.at', 'list.push'] as const
const SIDES = ['cyberdb', 'awaited Map', 'sync Map', 'bun:sqlite'] as const
type OpName = (typeof OPS)[number]
type Side = (typeof SIDES)[number]

// --- fixtures: one per key-set size, filled before anything is timed ---

interface Fixture {
  n: number
  label: string
  keys: string[]
  values: string[]
  others: string[]
  db: Database
  map: Map<string, string>
  counters: Map<string, number>
  array: string[]
  sql: Sqlite
  reset(): Promise<void>
  bench(op: OpName, side: Side): () => unknown
}

async function makeFixture(n: number): Promise<Fixture> {
  const keys = Array.from({ length: n }, (_, i) => `user:${100000 + i}`)
  const values = Array.from({ length: n }, (_, i) => `value of user ${i}`)
  const others = Array.from({ length: n }, (_, i) => `other value ${i}`)
  const db = await connect('memory://')
  await db.createDict('kv', keys.map((k, i) => [k, values[i]!] as const))
  await db.createDict('counters', keys.map((k) => [k, 0] as const))
  const map = new Map(keys.map((k, i) => [k, values[i]!]))
  const counters = new Map(keys.map((k) => [k, 0]))
  const array = values.slice()
  await db.createList('list', values)

  const sql = new Sqlite(':memory:')
  sql.run('CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT NOT NULL) WITHOUT ROWID')
  sql.run('CREATE TABLE counters (k TEXT PRIMARY KEY, v INTEGER NOT NULL) WITHOUT ROWID')
  sql.run('CREATE TABLE list (id INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT NOT NULL)')
  sql.transaction(() => {
    const kv = sql.prepare('INSERT INTO kv (k, v) VALUES (?, ?)')
    const counter = sql.prepare('INSERT INTO counters (k, v) VALUES (?, 0)')
    const item = sql.prepare('INSERT INTO list (v) VALUES (?)')
    for (let i = 0; i < n; i++) {
      kv.run(keys[i]!, values[i]!)
      counter.run(keys[i]!)
      item.run(values[i]!)
    }
  })()
  const sqlGet = sql.prepare<{ v: string }, [string]>('SELECT v FROM kv WHERE k = ?')
  const sqlSet = sql.prepare(
    'INSERT INTO kv (k, v) VALUES (?1, ?2) ON CONFLICT (k) DO UPDATE SET v = ?2')
  const sqlIncr = sql.prepare<{ v: number }, [string]>(
    'UPDATE counters SET v = v + 1 WHERE k = ? RETURNING v')
  const sqlPush = sql.prepare('INSERT INTO list (v) VALUES (?)')
  const sqlAt = sql.prepare<{ v: string }, [number]>('SELECT v FROM list WHERE id = ?')

  const kv = db.dict<string>('kv')
  const dictCounters = db.dict<number>('counters')
  const list = db.list<string>('list')
  const awaitedGet = async (k: string) => map.get(k)
  const awaitedSet = async (k: string, v: string) => void map.set(k, v)
  const awaitedIncr = async (k: string) => {
    const next = counters.get(k)! + 1
    counters.set(k, next)
    return next
  }
  const awaitedPush = async (v: string) => array.push(v)
  const awaitedAt = async (i: number) => array.at(i)

  // Keys are cycled through the prepared arrays; every side pays the same cursor arithmetic.
  const each = (run: (i: number) => unknown) => () => {
    let i = 0
    return () => run(i = i + 1 === n ? 0 : i + 1)
  }
  const benches: Record<OpName, Record<Side, () => () => unknown>> = {
    'dict.get': {
      'cyberdb': each((i) => kv.get(keys[i]!)),
      'awaited Map': each((i) => awaitedGet(keys[i]!)),
      'sync Map': each((i) => do_not_optimize(map.get(keys[i]!))),
      'bun:sqlite': each((i) => sqlGet.get(keys[i]!)),
    },
    'dict.set': {
      'cyberdb': each((i) => kv.set(keys[i]!, others[i]!)),
      'awaited Map': each((i) => awaitedSet(keys[i]!, others[i]!)),
      'sync Map': each((i) => map.set(keys[i]!, others[i]!)),
      'bun:sqlite': each((i) => sqlSet.run(keys[i]!, others[i]!)),
    },
    'dict.incr': {
      'cyberdb': each((i) => dictCounters.incr(keys[i]!)),
      'awaited Map': each((i) => awaitedIncr(keys[i]!)),
      'sync Map': each((i) => {
        const next = counters.get(keys[i]!)! + 1
        counters.set(keys[i]!, next)
        do_not_optimize(next)
      }),
      'bun:sqlite': each((i) => sqlIncr.get(keys[i]!)),
    },
    'list.at': {
      'cyberdb': each((i) => list.at(i)),
      'awaited Map': each((i) => awaitedAt(i)),
      'sync Map': each((i) => do_not_optimize(array.at(i))),
      'bun:sqlite': each((i) => sqlAt.get(i + 1)),
    },
    'list.push': {
      'cyberdb': each((i) => list.push(values[i]!)),
      'awaited Map': each((i) => awaitedPush(values[i]!)),
      'sync Map': each((i) => array.push(values[i]!)),
      'bun:sqlite': each((i) => sqlPush.run(values[i]!)),
    },
  }

  // Pushes grow the lists; each round starts again from n items on every side.
  const reset = async () => {
    await db.dropTable('list')
    await db.createList('list', values)
    array.length = n
    sql.run('DELETE FROM list WHERE id > ?', [n])
  }

  // --- checked once: a broken fast path fails here instead of looking fast ---
  const i = n - 7
  const check = (what: string, got: unknown, want: unknown) => {
    if (Bun.deepEquals(got, want)) return
    throw new Error(`${what}: got ${Bun.inspect(got)}, want ${Bun.inspect(want)}`)
  }
  check('cyberdb dict.get', await kv.get(keys[i]!), values[i])
  check('awaited Map get', await awaitedGet(keys[i]!), values[i])
  check('bun:sqlite get', sqlGet.get(keys[i]!), { v: values[i] })
  await kv.set(keys[i]!, others[i]!)
  check('cyberdb dict.set', await kv.get(keys[i]!), others[i])
  sqlSet.run(keys[i]!, others[i]!)
  check('bun:sqlite set', sqlGet.get(keys[i]!), { v: others[i] })
  check('cyberdb dict.incr', await dictCounters.incr(keys[i]!), 1)
  check('bun:sqlite incr', sqlIncr.get(keys[i]!), { v: 1 })
  check('cyberdb list.at', await list.at(i), values[i])
  check('bun:sqlite at', sqlAt.get(i + 1), { v: values[i] })
  check('cyberdb list.push', await list.push('x'), n + 1)
  check('cyberdb list.at(-1)', await list.at(-1), 'x')
  check('cyberdb size', await db.tables(), [
    { name: 'kv', type: 'dict', size: n },
    { name: 'counters', type: 'dict', size: n },
    { name: 'list', type: 'list', size: n + 1 },
  ])
  await reset()
  check('cyberdb list after reset', await list.length(), n)

  return {
    n, label: `${n / 1000}k`, keys, values, others, db, map, counters, array, sql, reset,
    bench: (op, side) => benches[op][side](),
  }
}

// --- rounds ---

const fixtures: Fixture[] = []
for (const n of SIZES) fixtures.push(await makeFixture(n))

// per-op median time (ns) of each bench, one entry per round
const times = new Map<string, number[]>()
const id = (op: OpName, label: string, side: Side) => `${op} ${label} · ${side}`

for (let round = 0; round < ROUNDS; round++) {
  // A B A B: even rounds run cyberdb first and the small key set first, odd rounds both last.
  const sides = round % 2 === 0 ? SIDES : [...SIDES].reverse()
  const sizes = round % 2 === 0 ? fixtures : [...fixtures].reverse()
  if (round > 0) console.log(`round ${round + 1} of ${ROUNDS}...`)
  // One mitata run per key-set size, so the lists grown by one size's list.push are shrunk back
  // before the next size is measured.
  for (const fixture of sizes) {
    await fixture.reset()
    for (const op of OPS) {
      summary(() => group(`${op}, ${fixture.label} keys`, () => {
        for (const side of sides) bench(id(op, fixture.label, side), fixture.bench(op, side))
      }))
    }
    await recordRound(times, round)
  }
}

// --- ratio table ---

let missed = 0

console.log(`\nmedian of ${ROUNDS} rounds: per-op time (ns, mitata p50 of each round), ` +
  'cyberdb ops/s, and ratio = cyberdb ops/s / peer ops/s (min–max of the per-round ratios)')
console.log('| op | keys | cyberdb | awaited Map | sync Map | bun:sqlite | cyberdb ops/s ' +
  '| vs awaited Map (≥ 0.33×) | vs bun:sqlite (≥ 5×) |')
console.log('|---|---|---:|---:|---:|---:|---:|---|---|')
for (const op of OPS) {
  for (const { label } of fixtures) {
    const per = (side: Side) => times.get(id(op, label, side))!
    const ns = (side: Side) => median(per(side))
    const ratio = (peer: Side, target: number) => {
      const rounds = per(peer).map((t, r) => t / per('cyberdb')[r]!)
      const r = ns(peer) / ns('cyberdb')
      if (r < target) missed++
      return `${r.toFixed(2)}× (${spread(rounds)}) ${r >= target ? 'met' : 'MISSED'}`
    }
    const cells = SIDES.map((side) => fmtNs(ns(side)))
    const ops = `${(1e9 / ns('cyberdb') / 1e6).toFixed(2)}M`
    console.log(`| ${op} | ${label} | ${cells.join(' | ')} | ${ops} ` +
      `| ${ratio('awaited Map', 0.33)} | ${ratio('bun:sqlite', 5)} |`)
  }
}
console.log(missed === 0 ? '\nall targets met' : `\n${missed} target(s) missed`)

for (const fixture of fixtures) {
  await fixture.db.close()
  fixture.sql.close()
}
