// Round trips over a unix socket against TCP (issue 13.4): dict.get and dict.set, the CyberDB
// server in its own process, each transport against its own floor, a raw Bun echo server in its
// own process (bench/fixtures/echo-server.ts, TCP or --unix) answering frames of a CyberDB
// request's size. String keys, 20-byte values, 10k keys prefilled.
//
// "D in flight" is a sliding window, as in bench/remote.ts (D = 1: sequential round trips). The
// four sides run back to back in an order that rotates each round; tables quote medians, ratios
// are medians of the per-round ratios.
//
//   bun bench/unix.ts
//   ROUNDS=7 SEQ_OPS=5000 PIPE_OPS=50000 bun bench/unix.ts

import { join } from 'node:path'
import { connect, type Database, type DictHandle } from '../src/index.ts'
import { EchoClient, type EchoTarget } from './fixtures/echo-client.ts'
import {
  HOST, clamp, fmt, machine, median, runMain, stopAll, stopAllOnSignals, table, tempDir, verdict,
} from './fixtures/harness.ts'
import {
  KEYS, expectEqual, keys, measureWindow, others, requestFrames, startFixture, values, type Sample,
} from './fixtures/round-trips.ts'

const ROUNDS = clamp(Number(process.env.ROUNDS ?? 7), 1, 21)
const SEQ_OPS = clamp(Number(process.env.SEQ_OPS ?? 5000), 100, 200_000)
const PIPE_OPS = clamp(Number(process.env.PIPE_OPS ?? 50_000), 1000, 2_000_000)
const DEPTHS = [1, 16, 128] as const
const OPS = ['dict.get', 'dict.set'] as const
const PASSWORD = 'bench'
type OpName = (typeof OPS)[number]
type Transport = 'tcp' | 'unix'

interface Side {
  name: string
  serverPid: number
  op(name: OpName): (i: number) => Promise<unknown>
  check(): Promise<void>
  close(): Promise<void>
}

async function cyberdbSide(transport: Transport, socket: string): Promise<Side> {
  const env: Record<string, string> = transport === 'unix' ? { UNIX: socket } : {}
  const { port, pid } = await startFixture(`cyberdb server (${transport})`, 'server.ts', {
    args: [PASSWORD],
    env,
  })
  const url = transport === 'unix' ? `cyberdb+unix://${socket}` : `cyberdb://${HOST}:${port}`
  const db: Database = await connect(url, { password: PASSWORD })
  await db.createDict('kv', keys.map((k, i) => [k, values[i]!] as const))
  const kv: DictHandle<string> = db.dict<string>('kv')
  return {
    name: `cyberdb ${transport}`,
    serverPid: pid,
    op: (name) => name === 'dict.get'
      ? (i) => kv.get(keys[i % KEYS]!)
      : (i) => kv.set(keys[i % KEYS]!, others[i % KEYS]!),
    async check() {
      expectEqual(await kv.size(), KEYS, `${transport} size`)
      await kv.set('check:key', 'check-value-12345678')
      expectEqual(await kv.get('check:key'), 'check-value-12345678', `${transport} get after set`)
      expectEqual(await kv.delete('check:key'), true, `${transport} delete`)
    },
    close: () => db.close(),
  }
}

async function echoSide(transport: Transport, socket: string): Promise<Side> {
  const args = transport === 'unix' ? ['--unix', socket] : []
  const { port, pid } = await startFixture(`echo server (${transport})`, 'echo-server.ts', { args })
  const target: EchoTarget = transport === 'unix' ? { unix: socket } : { hostname: HOST, port }
  const echo = await EchoClient.open(target)
  const frames = requestFrames()
  return {
    name: `echo ${transport}`,
    serverPid: pid,
    op: (name) => {
      const frame = frames[name]
      return () => echo.request(frame)
    },
    async check() {
      for (const name of OPS) {
        const back = await echo.roundTrip(frames[name])
        expectEqual(Buffer.compare(back, frames[name]), 0, `${transport} echo of ${name}`)
      }
    },
    async close() {
      echo.close()
    },
  }
}

function measure(side: Side, name: OpName, depth: number, count: number): Promise<Sample> {
  return measureWindow(side.op(name), side.serverPid, depth, count)
}

const countFor = (depth: number) => (depth === 1 ? SEQ_OPS : PIPE_OPS)

async function main(): Promise<void> {
  stopAllOnSignals()
  const dir = tempDir('cyberdb-unix-bench-')
  const sides: Side[] = []
  try {
    console.log(`unix.ts: ${machine()}`)
    console.log(`ROUNDS=${ROUNDS} SEQ_OPS=${SEQ_OPS} PIPE_OPS=${PIPE_OPS}; ${KEYS} keys, 20-byte values\n`)
    sides.push(await echoSide('tcp', ''))
    sides.push(await cyberdbSide('tcp', ''))
    sides.push(await echoSide('unix', join(dir, 'echo.sock')))
    sides.push(await cyberdbSide('unix', join(dir, 'cyberdb.sock')))
    for (const side of sides) await side.check()
    console.log(`checked: ${sides.map((s) => s.name).join(', ')}\n`)

    for (const side of sides) {
      for (const name of OPS) for (const depth of DEPTHS) await measure(side, name, depth, countFor(depth) / 4)
    }
    const samples = new Map<string, Sample[]>()
    const key = (name: OpName, depth: number, side: string) => `${name}|${depth}|${side}`
    const started = performance.now()
    for (let round = 0; round < ROUNDS; round++) {
      const order = sides.map((_, i) => sides[(i + round) % sides.length]!)
      for (const name of OPS) {
        for (const depth of DEPTHS) {
          for (const side of order) {
            const list = samples.get(key(name, depth, side.name)) ?? []
            list.push(await measure(side, name, depth, countFor(depth)))
            samples.set(key(name, depth, side.name), list)
          }
        }
      }
      console.log(`round ${round + 1}/${ROUNDS} done (${((performance.now() - started) / 1000).toFixed(1)} s)`)
    }
    for (const side of sides) await side.check()

    const names = sides.map((s) => s.name)
    const rows: string[][] = []
    const ratios = new Map<string, number>()
    for (const name of OPS) {
      for (const depth of DEPTHS) {
        const count = countFor(depth)
        const of = (side: string) => samples.get(key(name, depth, side)) ?? []
        const us = (s: Sample) => (s.ms * 1000) / count
        const within = (a: string, b: string) => median(of(a).map((s, r) => us(s) / us(of(b)[r]!)))
        const tcp = within('cyberdb tcp', 'echo tcp')
        const unix = within('cyberdb unix', 'echo unix')
        const unixOverTcp = within('cyberdb unix', 'cyberdb tcp')
        ratios.set(`${name}|${depth}|tcp`, tcp)
        ratios.set(`${name}|${depth}|unix`, unix)
        rows.push([
          name, String(depth),
          ...names.map((n) => fmt(median(of(n).map(us)), 2)),
          `${fmt(tcp, 2)}×`, `${fmt(unix, 2)}×`, `${fmt(unixOverTcp, 2)}×`,
          fmt(median(of('cyberdb unix').map((s) => s.clientNs / count / 1000)), 2),
          fmt(median(of('cyberdb unix').map((s) => s.serverNs / count / 1000)), 2),
        ])
      }
    }
    console.log(`\nMedians of ${ROUNDS} rounds, µs per request (wall time / requests)\n`)
    console.log(table([
      'op', 'in flight', ...names.map((n) => `${n} µs`),
      'cyberdb/echo tcp', 'cyberdb/echo unix', 'cyberdb unix/tcp', 'unix client CPU µs', 'unix server CPU µs',
    ], rows))
    console.log('\nTargets')
    const target = (transport: Transport) => verdict(ratios.get(`dict.get|1|${transport}`)!, '<=', 1.2)
    console.log(`  sequential dict.get, cyberdb/echo over a unix socket: ${target('unix')}`)
    console.log(`  sequential dict.get, cyberdb/echo over TCP:           ${target('tcp')}`)
  } finally {
    for (const side of sides) await side.close().catch(() => {})
    await stopAll()
  }
}

await runMain(main)
