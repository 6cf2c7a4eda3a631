// dict.get and dict.set over TCP, the CyberDB server in its own process, against the floor (a Bun
// TCP echo server in its own process: one frame of a CyberDB request's size out, the same bytes
// back) and against Redis (redis-server, Bun's RedisClient with its auto-pipelining). String keys,
// 20-byte string values, 10k keys prefilled on each side.
//
// "D in flight" is a sliding window: D async loops, each awaiting its own request before sending
// the next, so exactly D requests are outstanding until the count runs out (D = 1: sequential round
// trips). All clients gather the requests of one tick into one socket write.
//
// "burst of B" is the shape of real code, `await Promise.all(keys.map((k) => users.get(k)))`: B
// requests made in one tick, then awaited together, again and again (Bun's RedisClient
// auto-pipelines these natively). Bursts run get, set and incr against Redis (no echo column).
//
// The machine is shared and noisy (an idle core takes ~45 µs to wake), so every (op, depth) runs
// the sides back to back, in an order that rotates each round, ROUNDS times; the tables quote
// medians per side, and the ratios are medians of the ratios taken within each round. CPU time of
// the client (this process) and of the server process is read from /proc per measurement. A last,
// untimed pass counts system calls and context switches per request with `perf stat`.
//
//   bun bench/remote.ts
//   ROUNDS=7 SEQ_OPS=5000 PIPE_OPS=50000 ACCOUNT=0 bun bench/remote.ts
//   SHAPES=burst ONLY=cyberdb BURSTS=128 bun --cpu-prof-md bench/remote.ts   (profile one shape)
//   (ACCOUNT=0 skips the perf pass; REDIS=0 skips Redis; SERVER_BUN_FLAGS='--cpu-prof
//   --cpu-prof-dir=DIR' profiles the CyberDB server, written when it stops)

import { RedisClient } from 'bun'
import { connect, type Database, type DictHandle } from '../src/index.ts'
import { EchoClient } from './fixtures/echo-client.ts'
import {
  HOST,
  SyscallCounter,
  clamp,
  fmt,
  machine,
  median,
  startRedis,
  stopAll,
  runMain,
  stopAllOnSignals,
  tempDir,
  table,
  verdict,
  type Child,
} from './fixtures/harness.ts'
import {
  KEYS,
  expectEqual,
  keys,
  measureBurst as burstOf,
  measureWindow,
  others,
  requestFrames,
  startFixture,
  values,
  type FramedOp,
  type Sample,
} from './fixtures/round-trips.ts'

const ROUNDS = clamp(Number(process.env.ROUNDS ?? 7), 1, 21)
const SEQ_OPS = clamp(Number(process.env.SEQ_OPS ?? 5000), 100, 200_000)
const PIPE_OPS = clamp(Number(process.env.PIPE_OPS ?? 50_000), 1000, 2_000_000)
// Extra flags for the CyberDB server's bun,
// e.g. SERVER_BUN_FLAGS='--cpu-prof-md --cpu-prof-dir=/tmp/prof'.
const SERVER_BUN_FLAGS = (process.env.SERVER_BUN_FLAGS ?? '')
  .split(' ')
  .filter((flag) => flag !== '')
const ACCOUNT = process.env.ACCOUNT !== '0'
const WITH_REDIS = process.env.REDIS !== '0'
const DEPTHS = (process.env.DEPTHS ?? '1,16,128').split(',').map(Number).filter((d) => d > 0)
const OPS = ['dict.get', 'dict.set'] as const
const BURST_OPS = ['dict.get', 'dict.set', 'dict.incr'] as const
const BURSTS = (process.env.BURSTS ?? '16,128,1024').split(',').map(Number).filter((b) => b > 0)
// Which shapes run: 'window' (sliding windows), 'burst' (Promise.all), or both (default).
const SHAPES = (process.env.SHAPES ?? 'window,burst').split(',')
const WINDOWS = SHAPES.includes('window')
const BURSTING = SHAPES.includes('burst')
// ONLY=cyberdb runs one side alone (for a profile of it).
const ONLY = process.env.ONLY
const PASSWORD = 'bench'
type OpName = (typeof BURST_OPS)[number]
type SideName = 'echo' | 'cyberdb' | 'redis'

// incr counts on keys of their own, so the string values stay strings.
const counters = keys.map((_, i) => `count:${100000 + i}`)

// --- sides ---

interface Side {
  name: SideName
  /** The process serving it, for its CPU time. */
  serverPid: number
  op(name: OpName): (i: number) => Promise<unknown>
  check(): Promise<void>
  close(): Promise<void>
}

async function cyberdbSide(): Promise<Side & { child: Child }> {
  const { child, port, pid } = await startFixture('cyberdb server', 'server.ts', {
    args: [PASSWORD],
    flags: SERVER_BUN_FLAGS,
  })
  const db: Database = await connect(`cyberdb://127.0.0.1:${port}`, { password: PASSWORD })
  await db.createDict(
    'kv',
    keys.map((k, i) => [k, values[i]!] as const),
  )
  const kv: DictHandle<string> = db.dict<string>('kv')
  await db.createDict('counts')
  const counts: DictHandle<number> = db.dict<number>('counts')
  return {
    name: 'cyberdb',
    child,
    serverPid: pid,
    op: (name) =>
      name === 'dict.get'
        ? (i) => kv.get(keys[i % KEYS]!)
        : name === 'dict.set'
          ? (i) => kv.set(keys[i % KEYS]!, others[i % KEYS]!)
          : (i) => counts.incr(counters[i % KEYS]!),
    async check() {
      expectEqual(await kv.size(), KEYS, 'cyberdb size')
      const sample = (await kv.get(keys[42]!))!
      expectEqual(
        sample === values[42] || sample === others[42],
        true,
        'cyberdb get of a prefilled key',
      )
      await kv.set('check:key', 'check-value-12345678')
      expectEqual(await kv.get('check:key'), 'check-value-12345678', 'cyberdb get after set')
      await kv.set(keys[7]!, others[7]!)
      expectEqual(await kv.get(keys[7]!), others[7], 'cyberdb get of an overwritten key')
      expectEqual(await kv.delete('check:key'), true, 'cyberdb delete')
    },
    async close() {
      await db.close()
    },
  }
}

async function redisSide(dir: string): Promise<(Side & { child: Child }) | string> {
  if (!WITH_REDIS) return 'skipped: REDIS=0'
  const started = await startRedis(dir).catch((error: Error) => error.message)
  if (started === undefined || typeof started === 'string') {
    const why = typeof started === 'string' ? ` (${started})` : ''
    return `skipped: redis-server is not installed and could not be installed${why}`
  }
  const redis = new RedisClient(`redis://${HOST}:${started.port}`, { autoReconnect: false })
  await redis.connect()
  for (let i = 0; i < KEYS; i += 1000) {
    await redis.send(
      'MSET',
      keys.slice(i, i + 1000).flatMap((k, j) => [k, values[i + j]!]),
    )
  }
  return {
    name: 'redis',
    child: started.child,
    serverPid: started.child.proc.pid,
    op: (name) =>
      name === 'dict.get'
        ? (i) => redis.get(keys[i % KEYS]!)
        : name === 'dict.set'
          ? (i) => redis.set(keys[i % KEYS]!, others[i % KEYS]!)
          : (i) => redis.incr(counters[i % KEYS]!),
    async check() {
      // The prefilled keys, and the counters once incr ran.
      const size = Number(await redis.send('DBSIZE', []))
      expectEqual(size === KEYS || size === 2 * KEYS, true, 'redis size')
      const sample = await redis.get(keys[42]!)
      expectEqual(
        sample === values[42] || sample === others[42],
        true,
        'redis get of a prefilled key',
      )
      await redis.set('check:key', 'check-value-12345678')
      expectEqual(await redis.get('check:key'), 'check-value-12345678', 'redis get after set')
      await redis.set(keys[7]!, others[7]!)
      expectEqual(await redis.get(keys[7]!), others[7], 'redis get of an overwritten key')
      expectEqual(await redis.del('check:key'), 1, 'redis del')
    },
    async close() {
      redis.close()
    },
  }
}

async function echoSide(): Promise<Side & { child: Child; frames: Record<FramedOp, Uint8Array> }> {
  const { child, port, pid } = await startFixture('echo server', 'echo-server.ts')
  const echo = await EchoClient.open({ hostname: HOST, port })
  const frames = requestFrames()
  return {
    name: 'echo',
    child,
    frames,
    serverPid: pid,
    op: (name) => {
      const frame = frames[name === 'dict.incr' ? 'dict.get' : name]
      return () => echo.request(frame)
    },
    async check() {
      for (const name of OPS) {
        const back = await echo.roundTrip(frames[name])
        expectEqual(Buffer.compare(back, frames[name]), 0, `echo of a ${name}-sized frame`)
      }
    },
    async close() {
      echo.close()
    },
  }
}

// --- measuring ---

function measure(side: Side, name: OpName, depth: number, count: number): Promise<Sample> {
  return measureWindow(side.op(name), side.serverPid, depth, count)
}

/** `count` requests in bursts of `size`: each burst made in one tick, then awaited together. */
function measureBurst(side: Side, name: OpName, size: number, count: number): Promise<Sample> {
  return burstOf(side.op(name), side.serverPid, size, count)
}

const countFor = (depth: number) => (depth === 1 ? SEQ_OPS : PIPE_OPS)
// A whole number of bursts, about PIPE_OPS requests.
const burstCount = (size: number) => Math.max(size, Math.round(PIPE_OPS / size) * size)

async function main(): Promise<void> {
  stopAllOnSignals()
  const dir = tempDir('cyberdb-remote-bench-')
  const sides: Side[] = []
  try {
    console.log(`remote.ts: ${machine()}`)
    console.log(
      `ROUNDS=${ROUNDS} SEQ_OPS=${SEQ_OPS} PIPE_OPS=${PIPE_OPS}; ${KEYS} keys, 20-byte values\n`,
    )
    const wanted = (name: SideName) => ONLY === undefined || ONLY === name
    const echo = wanted('echo') ? await echoSide() : undefined
    if (echo) sides.push(echo)
    if (wanted('cyberdb')) sides.push(await cyberdbSide())
    const redis = wanted('redis') ? await redisSide(dir) : 'skipped: ONLY'
    if (typeof redis === 'string') console.log(`NOTE: Redis column ${redis}\n`)
    else sides.push(redis)
    if (echo) {
      console.log(
        `echo frames: dict.get ${echo.frames['dict.get'].length} bytes, dict.set ${echo.frames['dict.set'].length} bytes`,
      )
    }
    const burstSides = sides.filter((side) => side.name !== 'echo')

    for (const side of sides) await side.check()
    console.log(`checked: ${sides.map((s) => s.name).join(', ')} return what was set\n`)

    // Warm-up: JIT both ends of every path before anything counts.
    for (const side of sides) {
      if (WINDOWS)
        for (const name of OPS)
          for (const depth of DEPTHS) await measure(side, name, depth, countFor(depth) / 4)
      if (BURSTING && side.name !== 'echo')
        for (const name of BURST_OPS)
          for (const size of BURSTS) await measureBurst(side, name, size, burstCount(size) / 4)
    }

    const samples = new Map<string, Sample[]>() // `${op}|${depth}|${side}` -> one per round
    const key = (name: OpName, depth: number, side: string) => `${name}|${depth}|${side}`
    const started = performance.now()
    for (let round = 0; round < ROUNDS; round++) {
      const order = sides.map((_, i) => sides[(i + round) % sides.length]!)
      for (const name of WINDOWS ? OPS : []) {
        for (const depth of DEPTHS) {
          for (const side of order) {
            const sample = await measure(side, name, depth, countFor(depth))
            const list = samples.get(key(name, depth, side.name)) ?? []
            list.push(sample)
            samples.set(key(name, depth, side.name), list)
          }
        }
      }
      const burstOrder = burstSides.map((_, i) => burstSides[(i + round) % burstSides.length]!)
      for (const name of BURSTING ? BURST_OPS : []) {
        for (const size of BURSTS) {
          for (const side of burstOrder) {
            const sample = await measureBurst(side, name, size, burstCount(size))
            const list = samples.get(key(name, -size, side.name)) ?? []
            list.push(sample)
            samples.set(key(name, -size, side.name), list)
          }
        }
      }
      process.stdout.write(
        `round ${round + 1}/${ROUNDS} done (${((performance.now() - started) / 1000).toFixed(1)} s)\n`,
      )
    }
    for (const side of sides) await side.check() // still right after the timed writes

    // --- report ---
    const has = (name: SideName) => sides.some((s) => s.name === name)
    const perOpUs = (s: Sample, count: number) => (s.ms * 1000) / count
    const opsPerSec = (s: Sample, count: number) => count / (s.ms / 1000)
    const names = sides.map((s) => s.name)
    const ratios = new Map<string, number>()
    if (WINDOWS) reportWindows()
    if (BURSTING) reportBursts()
    console.log('\nTargets (issue 13)')
    if (WINDOWS && has('echo') && has('cyberdb')) {
      console.log(
        `  sequential dict.get round trip, cyberdb/echo:  ${verdict(ratios.get('dict.get|1|echo')!, '<=', 1.2)}`,
      )
    }
    if (has('redis') && has('cyberdb')) {
      for (const name of WINDOWS ? OPS : []) {
        for (const depth of [16, 128]) {
          const result = verdict(ratios.get(`${name}|${depth}|redis`)!, '>=', 1.4)
          console.log(
            `  ${name} at ${String(depth).padStart(4)} in flight, cyberdb/redis ops/s: ${result}`,
          )
        }
      }
      for (const name of BURSTING ? OPS : []) {
        for (const size of BURSTS.filter((b) => b >= 128)) {
          const result = verdict(ratios.get(`${name}|${-size}|redis`)!, '>=', 1.0)
          console.log(`  ${name} bursts of ${String(size).padStart(4)}, cyberdb/redis ops/s: ${result}`)
        }
      }
    }

    if (ACCOUNT && WINDOWS) await account(sides, dir)

    function reportBursts(): void {
      const bnames = burstSides.map((s) => s.name)
      const rows: string[][] = []
      const cpu: string[][] = []
      for (const name of BURST_OPS) {
        for (const size of BURSTS) {
          const count = burstCount(size)
          const of = (side: string) => samples.get(key(name, -size, side)) ?? []
          const redisRatio = has('redis') && has('cyberdb')
            ? median(of('cyberdb').map((s, r) => opsPerSec(s, count) / opsPerSec(of('redis')[r]!, count)))
            : NaN
          ratios.set(`${name}|${-size}|redis`, redisRatio)
          const spread = (n: string) => {
            const rates = of(n).map((s) => opsPerSec(s, count))
            return `${fmt(Math.min(...rates), 0)}–${fmt(Math.max(...rates), 0)}`
          }
          rows.push([
            name,
            String(size),
            ...bnames.map((n) => fmt(median(of(n).map((s) => opsPerSec(s, count))), 0)),
            ...bnames.map(spread),
            ...(has('redis') && has('cyberdb') ? [`${fmt(redisRatio, 2)}×`] : []),
          ])
          cpu.push([
            name,
            String(size),
            ...bnames.flatMap((n) => [
              fmt(median(of(n).map((s) => s.clientNs / count / 1000)), 2),
              fmt(median(of(n).map((s) => s.serverNs / count / 1000)), 2),
            ]),
          ])
        }
      }
      console.log(
        `\nPromise.all bursts: medians of ${ROUNDS} rounds (about ${PIPE_OPS} ops per measurement; ` +
          'ratio: median of the per-round ratios; range: slowest–fastest round)\n',
      )
      console.log(
        table(
          [
            'op',
            'burst',
            ...bnames.map((n) => `${n} ops/s`),
            ...bnames.map((n) => `${n} range`),
            ...(has('redis') && has('cyberdb') ? ['cyberdb/redis ops/s'] : []),
          ],
          rows,
        ),
      )
      console.log('\nCPU time per request in bursts, µs (client = this process, server = its process)\n')
      console.log(
        table(['op', 'burst', ...bnames.flatMap((n) => [`${n} client`, `${n} server`])], cpu),
      )
    }

    function reportWindows(): void {
      const header = [
        'op',
        'in flight',
        ...names.map((n) => `${n} µs/op`),
        ...names.map((n) => `${n} ops/s`),
        'cyberdb/echo time',
        ...(has('redis') ? ['cyberdb/redis ops/s'] : []),
      ]
      const rows: string[][] = []
      for (const name of OPS) {
        for (const depth of DEPTHS) {
          const count = countFor(depth)
          const of = (side: string) => samples.get(key(name, depth, side)) ?? []
          const withinRound = (a: string, b: string, f: (s: Sample) => number) =>
            median(of(a).map((s, r) => f(s) / f(of(b)[r]!)))
          const echoRatio = has('echo') && has('cyberdb')
            ? withinRound('cyberdb', 'echo', (s) => perOpUs(s, count))
            : NaN
          const redisRatio = has('redis') && has('cyberdb')
            ? withinRound('cyberdb', 'redis', (s) => opsPerSec(s, count))
            : NaN
          ratios.set(`${name}|${depth}|echo`, echoRatio)
          ratios.set(`${name}|${depth}|redis`, redisRatio)
          rows.push([
            name,
            String(depth),
            ...names.map((n) => fmt(median(of(n).map((s) => perOpUs(s, count))), 2)),
            ...names.map((n) => fmt(median(of(n).map((s) => opsPerSec(s, count))), 0)),
            `${fmt(echoRatio, 2)}×`,
            ...(has('redis') ? [`${fmt(redisRatio, 2)}×`] : []),
          ])
        }
      }
      console.log(
        `\nMedians of ${ROUNDS} rounds (${SEQ_OPS} ops at 1 in flight, ${PIPE_OPS} at 16 and 128; ` +
          'ratios: median of the per-round ratios)\n',
      )
      console.log(table(header, rows))

      const cpuRows: string[][] = []
      for (const name of OPS) {
        for (const depth of DEPTHS) {
          const count = countFor(depth)
          const of = (side: string) => samples.get(key(name, depth, side)) ?? []
          const kernel = (list: Sample[], which: 'clientTicks' | 'serverTicks') => {
            const system = list.reduce((sum, s) => sum + s[which].system, 0)
            const total = list.reduce((sum, s) => sum + s[which].user + s[which].system, 0)
            return total > 0 ? `${fmt((100 * system) / total, 0)}%` : 'n/a'
          }
          cpuRows.push([
            name,
            String(depth),
            ...names.flatMap((n) => [
              `${fmt(median(of(n).map((s) => s.clientNs / count / 1000)), 2)} (${kernel(of(n), 'clientTicks')})`,
              `${fmt(median(of(n).map((s) => s.serverNs / count / 1000)), 2)} (${kernel(of(n), 'serverTicks')})`,
            ]),
          ])
        }
      }
      console.log(
        '\nCPU time per request, µs (client = this process, server = the server process; all threads),\n' +
          'with the share of it spent in the kernel (all rounds)\n',
      )
      console.log(
        table(['op', 'in flight', ...names.flatMap((n) => [`${n} client`, `${n} server`])], cpuRows),
      )
    }
  } finally {
    for (const side of sides) await side.close().catch(() => {})
    await stopAll()
  }
}

/** Untimed: system calls and context switches per request, client and server, from perf stat. */
async function account(sides: Side[], dir: string): Promise<void> {
  const rows: string[][] = []
  for (const name of OPS) {
    for (const depth of [1, 128]) {
      const count = depth === 1 ? 2000 : 20_000
      for (const side of sides) {
        const label = `${side.name}-${name}-${depth}`
        const client = await SyscallCounter.open([process.pid], dir, `${label}-client`)
        const server = await SyscallCounter.open([side.serverPid], dir, `${label}-server`)
        if (!client || !server) {
          console.log('\n(perf stat with raw_syscalls is not available: no system call counts)')
          return
        }
        await client.begin()
        await server.begin()
        await measure(side, name, depth, count)
        await server.end()
        await client.end()
        const c = await client.close(dir, `${label}-client`)
        const s = await server.close(dir, `${label}-server`)
        rows.push([
          name,
          String(depth),
          side.name,
          fmt(c.syscalls / count, 2),
          fmt(s.syscalls / count, 2),
          fmt(c.switches / count, 2),
          fmt(s.switches / count, 2),
        ])
      }
    }
  }
  console.log(
    '\nPer request, main (event-loop) threads, untimed pass under perf stat ' +
      '(raw_syscalls:sys_enter, context-switches)\n',
  )
  console.log(
    table(
      [
        'op',
        'in flight',
        'side',
        'client syscalls',
        'server syscalls',
        'client switches',
        'server switches',
      ],
      rows,
    ),
  )
}

await runMain(main)
