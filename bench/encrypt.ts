// What encrypt=true costs: pipelined dict.get/dict.set throughput (16 and 128 requests in flight,
// a sliding window) against a plain server and an encrypted one, each in its own process. The
// sides run in turn (A B A B, alternating which goes first) and the verdict quotes the median of
// the per-round cost ratios, plain ops/s over encrypted ops/s (target: at most 1.5x).
//
//   bun bench/encrypt.ts            ROUNDS=7 OPS=50000 bun bench/encrypt.ts

import { join } from 'node:path'
import { connect, type Database } from '../src/index.ts'
import { fmt, machine, median, runMain, start, stop, stopAllOnSignals, table, verdict } from './fixtures/harness.ts'

const ROUNDS = Math.max(1, Math.min(15, Number(process.env.ROUNDS ?? 5)))
const OPS = Math.max(1000, Math.min(500_000, Number(process.env.OPS ?? 50_000)))
const DEPTHS = [16, 128]
const KEYS = Array.from({ length: 10_000 }, (_, i) => `key:${i}`)
const VALUE = 'value-of-twenty-char'
const PASSWORD = 'bench'
const FIXTURE = join(import.meta.dir, 'fixtures', 'server.ts')

type Side = 'plain' | 'encrypted'
type Op = 'get' | 'set'

/** Keeps `depth` requests in flight until `ops` have completed; returns ops per second. */
async function slidingWindow(db: Database, op: Op, depth: number, ops: number): Promise<number> {
  const dict = db.dict<string>('bench')
  let issued = 0
  const worker = async () => {
    while (issued < ops) {
      const key = KEYS[issued++ % KEYS.length]!
      if (op === 'get') await dict.get(key)
      else await dict.set(key, VALUE)
    }
  }
  const started = performance.now()
  await Promise.all(Array.from({ length: depth }, worker))
  return ops / ((performance.now() - started) / 1000)
}

async function main(): Promise<void> {
  stopAllOnSignals()
  console.log(`encrypt.ts: ${machine()}`)
  console.log(`ROUNDS=${ROUNDS} OPS=${OPS}; servers in their own processes; sliding windows of ${DEPTHS.join(' and ')}\n`)
  const servers = {
    plain: start('plain server', [process.execPath, FIXTURE, PASSWORD], { stdin: true }),
    encrypted: start('encrypted server', [process.execPath, FIXTURE, PASSWORD], { stdin: true, env: { ENCRYPT: '1' } }),
  }
  try {
    const dbs = {} as Record<Side, Database>
    for (const side of ['plain', 'encrypted'] as Side[]) {
      const ready = await servers[side].lines.waitFor(/^\{.*"port".*\}$/, 10_000, `${side} server`)
      const { port } = JSON.parse(ready[0]) as { port: number }
      dbs[side] = await connect(`cyberdb://:${PASSWORD}@127.0.0.1:${port}${side === 'encrypted' ? '?encrypt=true' : ''}`)
      await dbs[side].createDict('bench', KEYS.map((k) => [k, VALUE] as const))
      // Checked once: a broken path fails here instead of looking fast.
      if ((await dbs[side].dict('bench').get('key:42')) !== VALUE) throw new Error(`${side}: wrong value`)
    }
    const results = new Map<string, { plain: number[]; encrypted: number[]; ratio: number[] }>()
    for (let round = 0; round < ROUNDS; round++) {
      const order: Side[] = round % 2 === 0 ? ['plain', 'encrypted'] : ['encrypted', 'plain']
      for (const op of ['get', 'set'] as Op[]) {
        for (const depth of DEPTHS) {
          const key = `${op} ${depth}`
          const row = results.get(key) ?? { plain: [], encrypted: [], ratio: [] }
          const got = {} as Record<Side, number>
          for (const side of order) got[side] = await slidingWindow(dbs[side], op, depth, OPS)
          row.plain.push(got.plain)
          row.encrypted.push(got.encrypted)
          row.ratio.push(got.plain / got.encrypted)
          results.set(key, row)
        }
      }
      console.log(`round ${round + 1}/${ROUNDS} done`)
    }
    const rows = [...results].map(([key, row]) => [
      `dict.${key.split(' ')[0]}`, key.split(' ')[1]!, fmt(median(row.plain), 0), fmt(median(row.encrypted), 0),
      `${fmt(median(row.ratio), 2)}×`,
    ])
    console.log(`\nMedians of ${ROUNDS} rounds\n`)
    console.log(table(['op', 'in flight', 'plain ops/s', 'encrypted ops/s', 'cost (plain/encrypted)'], rows))
    console.log('')
    for (const [key, row] of results) {
      console.log(`  dict.${key.replace(' ', ' at ')} in flight, encrypted cost: ${verdict(median(row.ratio), '<=', 1.5)}`)
    }
    for (const db of Object.values(dbs)) await db.close()
  } finally {
    await stop(servers.plain)
    await stop(servers.encrypted)
  }
}

await runMain(main)
