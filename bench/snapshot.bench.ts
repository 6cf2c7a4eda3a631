// Snapshot save and load of 100k and 1M small entries (`user:123456` -> { id, name, score }): time,
// MB/s and file size, against plain msgpack of the same entries, plus where the time goes
// (encode, checksum, write, fsync, decode, Map building), and the 1M load against its floor (the
// same Map built from decoded pairs, issue 13.5). These are one-shot I/O operations of a
// tenth of a second, so each run times every operation once, in turn, and the table quotes the
// median of RUNS runs (mitata's per-iteration sampling is for nanosecond calls).
//
//   bun bench/snapshot.bench.ts          RUNS=9 SNAPSHOT_DIR=/some/disk bun bench/snapshot.bench.ts

import { mkdtemp, open, rename, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Packr } from 'msgpackr'
import { connect } from '../src/index.ts'
import { Store } from '../src/engine/store.ts'
import { DictTable } from '../src/engine/dict-table.ts'
import { createCodec } from '../src/protocol/codec.ts'
import {
  decodeSnapshot, encodeSnapshot, readSnapshot, writeSnapshot,
} from '../src/persistence/snapshot.ts'
import { HEADER_BYTES } from '../src/persistence/format.ts'
import { median } from './fixtures/harness.ts'

const SIZES = [100_000, 1_000_000]
const RUNS = Math.max(1, Math.min(25, Number(process.env.RUNS ?? 7)))
const LOAD_TARGET_MS = 500 // save and load of 1M entries, each
const SIZE_TARGET = 1.2 // snapshot bytes / plain msgpack bytes
const FLOOR = 'floor: Map from decoded [key, value] pairs'
const FLOOR_TARGET = 1.25 // 1M load / the floor (issue 13.5)
// Plain msgpack: maps for objects (no records); variableMapSize lets an object of 1M keys through.
const plain = new Packr({ useRecords: false, variableMapSize: true })

interface User { id: number; name: string; score: number }

const dir = await mkdtemp(join(process.env.SNAPSHOT_DIR ?? tmpdir(), 'cyberdb-bench-'))
const ms = (t: number) => (t < 10 ? t.toFixed(2) : t.toFixed(1))
const mb = (bytes: number) => (bytes / 1e6).toFixed(2)
function fail(why: string): never {
  throw new Error(`snapshot bench check failed: ${why}`)
}

async function fsyncPath(path: string, flags: string): Promise<void> {
  const handle = await open(path, flags)
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

async function timed<T>(fn: () => T | Promise<T>): Promise<[number, T]> {
  const t0 = performance.now()
  const result = await fn()
  return [performance.now() - t0, result]
}

interface Row {
  n: number
  steps: Map<string, number[]>
  bytes: number
  plainObject: number
  plainMap: number
}

async function measure(n: number): Promise<Row> {
  const path = join(dir, `users-${n}.cdb`)
  const dbPath = join(dir, `db-${n}.cdb`)
  const steps = new Map<string, number[]>()
  const record = (name: string, t: number) => steps.set(name, [...(steps.get(name) ?? []), t])
  const user = (i: number): [string, User] =>
    [`user:${100000 + i}`, { id: i, name: 'user' + i, score: i % 100 }]
  let bytes = 0
  let plainObject = 0
  let plainMap = 0

  // --- saves, with the source entries in memory ---
  {
    const entries = Array.from({ length: n }, (_, i) => user(i))
    const store = new Store()
    store.create('users', 'dict', new Map(entries), undefined)
    plainObject = plain.pack(Object.fromEntries(entries)).length
    plainMap = plain.pack(new Map(entries)).length

    // Checked once: the file loads back to the same entries.
    const written = await writeSnapshot(store, path)
    bytes = written.bytes
    if (written.entries !== n || bytes !== (await stat(path)).size) fail('stats of writeSnapshot')
    const loaded = (await readSnapshot(path))?.get('users')
    if (!(loaded instanceof DictTable) || loaded.size !== n) fail(`reload of ${n} entries`)
    for (const i of [0, n >> 1, n - 1]) {
      if (!Bun.deepEquals(loaded.get(user(i)[0]), user(i)[1])) fail(`entry ${i} after reload`)
    }

    const db = await connect(`file:${dbPath}`)
    // In slices: one request may carry at most 32 MiB of values (the value model's limit).
    await db.createDict('users')
    for (let i = 0; i < n; i += 100_000) await db.dict('users').setMany(entries.slice(i, i + 100_000))
    for (let run = 0; run < RUNS; run++) {
      Bun.gc(true)
      record('writeSnapshot (save)', (await timed(() => writeSnapshot(store, path)))[0])
      Bun.gc(true)
      record('connect(file:) + db.save()', (await timed(() => db.save()))[0])
      Bun.gc(true)
      // Where the time goes: the steps of writeSnapshot one by one.
      const [encode, image] = await timed(() => encodeSnapshot(store))
      record('  encodeSnapshot (copy + pack in chunks + header)', encode)
      record('    crc32 of body', (await timed(() => Bun.hash.crc32(image.body)))[0])
      const tmp = join(dir, 'probe.tmp')
      const blob = new Blob([image.header, image.body])
      record('    Bun.write tmp', (await timed(() => Bun.write(tmp, blob)))[0])
      record('    fsync tmp', (await timed(() => fsyncPath(tmp, 'r+')))[0])
      record('    rename + fsync dir', (await timed(async () => {
        await rename(tmp, join(dir, 'probe.cdb'))
        await fsyncPath(dir, 'r')
      }))[0])
    }
    await db.close()
  }

  // --- loads, with only the file in memory, as at a start-up ---
  for (let run = 0; run < RUNS; run++) {
    // The floor (issue 13.5): the same Map built from [key, value] pairs already decoded (fresh
    // strings and objects, made untimed just before): what any load must at least do.
    {
      let pairs: [string, User][] | undefined = Array.from({ length: n }, (_, i) => user(i))
      Bun.gc(true)
      const [floor, map] = await timed(() => {
        const map = new Map<string, User>()
        for (let i = 0; i < pairs!.length; i++) map.set(pairs![i]![0], pairs![i]![1])
        return map
      })
      if (map.size !== n) fail('the floor map')
      record(FLOOR, floor)
      pairs = undefined
    }
    Bun.gc(true)
    record('readSnapshot (load)', (await timed(() => readSnapshot(path)))[0])
    Bun.gc(true)
    const [reopen, db] = await timed(() => connect(`file:${dbPath}`))
    record('connect(file:) reopen (load)', reopen)
    const [key, value] = user(7)
    if (run === 0 && !Bun.deepEquals(await db.dict('users').get(key), value)) fail('reopen')
    await db.close() // takes a final snapshot: untimed
    Bun.gc(true)
    // Where the time goes: the steps of readSnapshot one by one.
    const [read, file] = await timed(() => Bun.file(path).bytes())
    record('  read file', read)
    const [decode] = await timed(() => decodeSnapshot(file, path))
    record('  decodeSnapshot (verify + unpack + Map)', decode)
    Bun.gc(true)
    const body = file.subarray(HEADER_BYTES)
    record('    crc32 of body ', (await timed(() => Bun.hash.crc32(body)))[0])
    // Format 2: a msgpack sequence, the table list then the chunks of alternating keys and values.
    const [unpack, decoded] = await timed(() => createCodec().unpackMultiple(body) as unknown[][])
    record('    msgpack unpack (sequence)', unpack)
    record('    Map building (map.set per entry)', (await timed(() => {
      const map = new Map()
      for (let c = 1; c < decoded.length; c++) {
        const flat = decoded[c]!
        for (let i = 0; i < flat.length; i += 2) map.set(flat[i], flat[i + 1])
      }
      return map
    }))[0])
  }
  return { n, steps, bytes, plainObject, plainMap }
}

const rows: Row[] = []
try {
  for (const n of SIZES) rows.push(await measure(n))
} finally {
  await rm(dir, { recursive: true, force: true })
}

// --- report ---

console.log(`snapshot bench: ${RUNS} runs each, median ms; files in ` +
  `${process.env.SNAPSHOT_DIR ?? tmpdir()}`)
let missed = 0
for (const { n, steps, bytes, plainObject, plainMap } of rows) {
  const label = n >= 1e6 ? `${n / 1e6}M` : `${n / 1e3}k`
  console.log(`\n${label} entries: snapshot ${mb(bytes)} MB; plain msgpack ` +
    `${mb(plainObject)} MB (object), ${mb(plainMap)} MB (Map); ` +
    `ratio ${(bytes / plainObject).toFixed(3)}× / ${(bytes / plainMap).toFixed(3)}× ` +
    `(target ≤ ${SIZE_TARGET}×)`)
  if (bytes / Math.min(plainObject, plainMap) > SIZE_TARGET) missed++
  console.log('| step | median ms | min–max ms | MB/s |')
  console.log('|---|---:|---:|---:|')
  for (const [name, times] of steps) {
    const t = median(times)
    console.log(`| ${name.replace(/^ +/, (s) => '· '.repeat(s.length / 2))} | ${ms(t)} | ` +
      `${ms(Math.min(...times))}–${ms(Math.max(...times))} | ` +
      `${(bytes / 1e6 / (t / 1e3)).toFixed(0)} |`)
  }
  if (n === 1_000_000) {
    // Each run times the floor just before the loads: the ratio is taken within a run, and the
    // median of those quoted (the machine is shared: whole runs drift together).
    const floors = steps.get(FLOOR)!
    for (const name of ['readSnapshot (load)', 'connect(file:) reopen (load)']) {
      const ratios = steps.get(name)!.map((t, run) => t / floors[run]!)
      const ratio = median(ratios)
      const ok = ratio <= FLOOR_TARGET
      if (!ok) missed++
      console.log(`1M ${name} / floor: ${ratio.toFixed(2)}× (runs ${Math.min(...ratios).toFixed(2)}–` +
        `${Math.max(...ratios).toFixed(2)}), target ≤ ${FLOOR_TARGET}×: ${ok ? 'MET' : 'MISSED'}`)
    }
    const targets = ['writeSnapshot (save)', 'readSnapshot (load)', 'connect(file:) reopen (load)']
    for (const name of targets) {
      const t = median(steps.get(name)!)
      const ok = t < LOAD_TARGET_MS
      if (!ok) missed++
      console.log(`1M ${name}: ${ms(t)} ms, target < ${LOAD_TARGET_MS} ms: ` +
        `${ok ? 'met' : 'MISSED'}`)
    }
  }
}
console.log(missed === 0 ? '\nall targets met' : `\n${missed} target(s) missed`)
