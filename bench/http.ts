// The workers example under HTTP load: examples/workers/app.ts (Bun.serve, reusePort, 1 and 2
// worker processes, each request takes a proxy and reads centre.content from the CyberDB server of
// examples/workers/serve.ts) against the same app reading from Redis (fixtures/app-redis.ts) and
// answering from a variable (fixtures/app-inproc.ts, the ceiling). Load comes from wrk (2 threads,
// 64 connections, keep-alive, --latency); without wrk, from fixtures/load.ts (fetch loops).
//
// The CyberDB app runs three times: connected over TCP, over the server's unix socket
// (cyberdb+unix://; UNIX=0 leaves it out), and with a replica of centre in each worker
// (app.ts --replica, issue 16; REPLICA=0 leaves it out). All the apps run at once on their own ports; each round drives every app once, the sides in an
// order that rotates each round, and the tables quote medians. Ratios are medians of the ratios
// taken within each round. CPU time per request is read from /proc for the app workers and the
// database server, and from wrk's rusage.
//
// A last, untimed pass counts system calls and context switches per request on the main threads
// of the app workers and of the database server, with `perf stat` (ACCOUNT=0 skips it).
//
//   bun bench/http.ts
//   ROUNDS=5 DURATION=4 CONNECTIONS=64 THREADS=2 ACCOUNT=0 bun bench/http.ts
//   LOADER=fetch bun bench/http.ts      (the fetch-loop load generator even when wrk is there)
//   UNIX=0 bun bench/http.ts            (no cyberdb-unix side)
//   REPLICA=0 bun bench/http.ts         (no cyberdb-replica side: app.ts --replica, issue 16)

import { RedisClient } from 'bun'
import { join } from 'node:path'
import {
  HOST,
  SyscallCounter,
  cpuNsOf,
  ensureCommand,
  fmt,
  freePort,
  machine,
  median,
  start,
  startRedis,
  stop,
  stopAll,
  runMain,
  stopAllOnSignals,
  tempDir,
  track,
  table,
  clamp,
  verdict,
  type Child,
} from './fixtures/harness.ts'

const ROUNDS = clamp(Number(process.env.ROUNDS ?? 5), 1, 15)
const DURATION = clamp(Number(process.env.DURATION ?? 4), 1, 60)
const CONNECTIONS = clamp(Number(process.env.CONNECTIONS ?? 64), 1, 1000)
const THREADS = clamp(Number(process.env.THREADS ?? 2), 1, 16)
const ACCOUNT = process.env.ACCOUNT !== '0'
const WITH_UNIX = process.env.UNIX !== '0'
const WITH_REPLICA = process.env.REPLICA !== '0'
const WORKERS = [1, 2] as const
const PASSWORD = 'bench'
const CONTENT = 'Hello CyberDB!'
const ROOT = join(import.meta.dir, '..')
type SideName = 'cyberdb' | 'cyberdb-unix' | 'cyberdb-replica' | 'redis' | 'in-process'

interface App {
  side: SideName
  workers: number
  port: number
  child: Child
  workerPids: number[]
  /** The database server process, when there is one. */
  dbPid: number | undefined
}

interface Load {
  rps: number
  p50us: number
  p99us: number
  requests: number
  errors: number
  loaderNs: number
}

interface Sample extends Load {
  appNs: number
  dbNs: number
}

/** Runs a short bun script to completion, bounded in time. */
async function runScript(args: string[], env: Record<string, string>): Promise<void> {
  const child = start(args.join(' '), [process.execPath, ...args], { env, cwd: ROOT })
  const code = await Promise.race([child.proc.exited, Bun.sleep(30_000).then(() => 'timeout')])
  await stop(child)
  if (code !== 0)
    throw new Error(`${args.join(' ')} failed (${code}):\n${child.lines.all.join('\n')}`)
}

async function startApp(
  side: SideName,
  workers: number,
  script: string,
  extra: string[],
  dbPid: number | undefined,
): Promise<App> {
  const port = freePort()
  const child = start(
    `${side} app`,
    [process.execPath, script, String(workers), String(port), ...extra],
    { env: { CYBERDB_PASSWORD: PASSWORD }, cwd: ROOT },
  )
  const workerPids: number[] = []
  for (let i = 0; i < workers; i++) {
    const match = await child.lines.waitFor(
      new RegExp(`^app: worker ${i} \\(pid (\\d+)\\)`),
      15_000,
      `${side} app`,
    )
    workerPids.push(Number(match[1]))
  }
  child.extraPids = workerPids
  const app: App = { side, workers, port, child, workerPids, dbPid }
  await check(app)
  return app
}

/** Polls until the app answers 200 (bounded), then checks the body on several connections. */
async function check(app: App): Promise<void> {
  const url = `http://${HOST}:${app.port}/`
  const deadline = performance.now() + 10_000
  for (;;) {
    const ok = await fetch(url).then(
      (r) => r.status === 200,
      () => false,
    )
    if (ok) break
    if (performance.now() > deadline)
      throw new Error(`${app.side} app on ${url} did not answer 200 in 10 s`)
    await Bun.sleep(20)
  }
  for (let i = 0; i < 8; i++) {
    const body = (await fetch(url, { keepalive: false }).then((r) => r.json())) as {
      code: number
      content: string
    }
    if (body.code !== 1 || body.content !== CONTENT) {
      throw new Error(
        `check failed: ${app.side} app answered ${JSON.stringify(body)}, expected content ${CONTENT}`,
      )
    }
  }
}

// --- load ---

/** "612.00us" / "1.23ms" / "2.00s" -> µs */
function parseDuration(text: string): number {
  const match = text.match(/^([\d.]+)(us|ms|s|m)$/)
  if (!match) return NaN
  const scale = { us: 1, ms: 1e3, s: 1e6, m: 60e6 }[match[2] as 'us' | 'ms' | 's' | 'm']
  return Number(match[1]) * scale
}

async function runWrk(wrk: string, port: number, seconds: number): Promise<Load> {
  const cmd = [
    wrk,
    `-t${THREADS}`,
    `-c${CONNECTIONS}`,
    `-d${seconds}s`,
    '--latency',
    `http://${HOST}:${port}/`,
  ]
  const proc = track(Bun.spawn({ cmd, stdout: 'pipe', stderr: 'pipe' }))
  const timer = setTimeout(() => proc.kill('SIGKILL'), (seconds + 15) * 1000)
  const [out, err] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ])
  clearTimeout(timer)
  const usage = proc.resourceUsage()
  const rps = Number(out.match(/Requests\/sec:\s+([\d.]+)/)?.[1])
  if (proc.exitCode !== 0 || !Number.isFinite(rps))
    throw new Error(`wrk failed (${proc.exitCode}):\n${out}\n${err}`)
  const socketErrors = out.match(
    /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/,
  )
  const non2xx = Number(out.match(/Non-2xx or 3xx responses: (\d+)/)?.[1] ?? 0)
  const errors =
    non2xx + (socketErrors ? socketErrors.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0)
  return {
    rps,
    p50us: parseDuration(out.match(/^\s+50%\s+(\S+)/m)?.[1] ?? ''),
    p99us: parseDuration(out.match(/^\s+99%\s+(\S+)/m)?.[1] ?? ''),
    requests: Number(out.match(/(\d+) requests in/)?.[1]),
    errors,
    loaderNs: usage ? Number(usage.cpuTime.user + usage.cpuTime.system) * 1000 : NaN,
  }
}

async function runFallback(port: number, seconds: number): Promise<Load> {
  const child = start('load', [
    process.execPath,
    join(import.meta.dir, 'fixtures', 'load.ts'),
    `http://${HOST}:${port}/`,
    String(CONNECTIONS),
    String(seconds),
  ])
  const line = await child.lines.waitFor(/^\{.*\}$/, (seconds + 15) * 1000, 'load generator')
  const usage = (await child.proc.exited, child.proc.resourceUsage())
  await stop(child)
  const result = JSON.parse(line[0]) as {
    requests: number
    rps: number
    p50us: number
    p99us: number
    errors: number
  }
  return {
    ...result,
    loaderNs: usage ? Number(usage.cpuTime.user + usage.cpuTime.system) * 1000 : NaN,
  }
}

async function main(): Promise<void> {
  stopAllOnSignals()
  const dir = tempDir('cyberdb-http-bench-')
  let redis: RedisClient | undefined
  try {
    console.log(`http.ts: ${machine()}`)
    const wrk = process.env.LOADER === 'fetch' ? undefined : await ensureCommand('wrk', 'wrk')
    const loader = wrk
      ? `wrk -t${THREADS} -c${CONNECTIONS} -d${DURATION}s --latency`
      : `bench/fixtures/load.ts with ${CONNECTIONS} concurrent fetch loops for ${DURATION} s`
    if (!wrk && process.env.LOADER !== 'fetch') {
      console.log(
        'NOTE: wrk is not installed and could not be installed: falling back to bench/fixtures/load.ts',
      )
    }
    console.log(`ROUNDS=${ROUNDS}; load: ${loader}\n`)
    const load = (port: number, seconds: number) =>
      wrk ? runWrk(wrk, port, seconds) : runFallback(port, seconds)

    // The CyberDB server of the example: init.ts writes the data file, serve.ts serves it.
    const data = join(dir, 'data.cdb')
    await runScript(['examples/workers/init.ts', data], {})
    const socket = join(dir, 'cyberdb.sock')
    const serve = start('serve.ts', [process.execPath, 'examples/workers/serve.ts', data, '0'], {
      env: { CYBERDB_PASSWORD: PASSWORD, ...(WITH_UNIX ? { CYBERDB_UNIX: socket } : {}) },
      cwd: ROOT,
    })
    const dbPort = Number(
      (await serve.lines.waitFor(/^serve: listening on .*:(\d+)$/, 10_000, 'serve.ts'))[1],
    )
    if (WITH_UNIX) await serve.lines.waitFor(/^serve: listening on \/.*\.sock$/, 10_000, 'serve.ts socket')

    const redisServer = await startRedis(dir).catch((error: Error) => {
      console.log(`NOTE: no Redis column: ${error.message}`)
      return undefined
    })
    if (redisServer) {
      redis = new RedisClient(`redis://${HOST}:${redisServer.port}`, { autoReconnect: false })
      await redis.connect()
      await redis.set('centre:content', CONTENT)
    } else {
      console.log('NOTE: no Redis column: redis-server is not installed and could not be installed')
    }

    const apps: App[] = []
    for (const workers of WORKERS) {
      apps.push(
        await startApp(
          'cyberdb',
          workers,
          'examples/workers/app.ts',
          [String(dbPort)],
          serve.proc.pid,
        ),
      )
      if (WITH_REPLICA) {
        apps.push(
          await startApp('cyberdb-replica', workers, 'examples/workers/app.ts',
            [String(dbPort), '--replica'], serve.proc.pid),
        )
      }
      if (WITH_UNIX) {
        apps.push(
          await startApp('cyberdb-unix', workers, 'examples/workers/app.ts', [socket], serve.proc.pid),
        )
      }
      if (redisServer) {
        apps.push(
          await startApp(
            'redis',
            workers,
            'bench/fixtures/app-redis.ts',
            [String(redisServer.port)],
            redisServer.child.proc.pid,
          ),
        )
      }
      apps.push(
        await startApp('in-process', workers, 'bench/fixtures/app-inproc.ts', [], undefined),
      )
    }
    console.log(
      `checked: ${apps.map((a) => `${a.side}×${a.workers}`).join(', ')} answer ${JSON.stringify(CONTENT)}`,
    )

    for (const app of apps) await load(app.port, 1) // warm-up, untimed

    const samples = new Map<string, Sample[]>()
    const started = performance.now()
    for (let round = 0; round < ROUNDS; round++) {
      for (const workers of WORKERS) {
        const group = apps.filter((a) => a.workers === workers)
        const order = group.map((_, i) => group[(i + round) % group.length]!)
        for (const app of order) {
          const pids = app.dbPid === undefined ? [] : [app.dbPid]
          const app0 = cpuNsOf(app.workerPids)
          const db0 = cpuNsOf(pids)
          const result = await load(app.port, DURATION)
          const sample: Sample = {
            ...result,
            appNs: cpuNsOf(app.workerPids) - app0,
            dbNs: cpuNsOf(pids) - db0,
          }
          if (result.errors > 0)
            console.log(
              `  warning: ${app.side}×${workers}: ${result.errors} errors or non-2xx answers`,
            )
          const key = `${app.side}|${workers}`
          samples.set(key, [...(samples.get(key) ?? []), sample])
        }
      }
      console.log(
        `round ${round + 1}/${ROUNDS} done (${((performance.now() - started) / 1000).toFixed(0)} s)`,
      )
    }
    for (const app of apps) await check(app) // still answering right after the load

    // --- report ---
    const sides = [...new Set(apps.map((a) => a.side))]
    const of = (side: string, workers: number) => samples.get(`${side}|${workers}`) ?? []
    const ratio = (a: string, b: string, workers: number) =>
      median(of(a, workers).map((s, r) => s.rps / of(b, workers)[r]!.rps))
    const rows: string[][] = []
    for (const workers of WORKERS) {
      for (const side of sides) {
        const list = of(side, workers)
        const perReq = (f: (s: Sample) => number) =>
          fmt(median(list.map((s) => f(s) / s.requests / 1000)), 1)
        rows.push([
          `${side}`,
          String(workers),
          fmt(median(list.map((s) => s.rps)), 0),
          fmt(median(list.map((s) => s.p50us)) / 1000, 2),
          fmt(median(list.map((s) => s.p99us)) / 1000, 2),
          perReq((s) => s.appNs),
          side === 'in-process' ? '-' : perReq((s) => s.dbNs),
          perReq((s) => s.loaderNs),
          String(list.reduce((sum, s) => sum + s.errors, 0)),
        ])
      }
    }
    console.log(
      `\nMedians of ${ROUNDS} rounds; load: ${loader}; GET / -> {"code":1,"content":"${CONTENT}"}\n`,
    )
    console.log(
      table(
        [
          'app reads from',
          'workers',
          'requests/s',
          'p50 ms',
          'p99 ms',
          'app CPU µs/req',
          'db CPU µs/req',
          'load CPU µs/req',
          'errors',
        ],
        rows,
      ),
    )

    // Issue 13's targets: ≥ 1.2× the Redis variant, ≥ 0.7× the in-process ceiling.
    console.log('\nRatios of requests/s (median of per-round ratios)')
    for (const workers of WORKERS) {
      for (const side of ['cyberdb', 'cyberdb-unix'].filter((s) => sides.includes(s as SideName))) {
        const label = (peer: string) => `${workers} worker(s), ${side}/${peer}:`.padEnd(38)
        if (sides.includes('redis'))
          console.log(`  ${label('redis')}${verdict(ratio(side, 'redis', workers), '>=', 1.2)}`)
        console.log(`  ${label('in-process')}${verdict(ratio(side, 'in-process', workers), '>=', 0.7)}`)
      }
    }

    // Issue 16's targets: the replica ≥ 0.9× the in-process ceiling and ≥ 1.5× Redis.
    if (sides.includes('cyberdb-replica')) {
      for (const workers of WORKERS) {
        const label = (peer: string) => `${workers} worker(s), cyberdb-replica/${peer}:`.padEnd(44)
        console.log(`  ${label('in-process')}${verdict(ratio('cyberdb-replica', 'in-process', workers), '>=', 0.9)}`)
        if (sides.includes('redis'))
          console.log(`  ${label('redis')}${verdict(ratio('cyberdb-replica', 'redis', workers), '>=', 1.5)}`)
      }
    }

    if (ACCOUNT) await account(apps, load, dir)
  } finally {
    redis?.close()
    await stopAll()
  }
}

/** Untimed: system calls and context switches per request on the main threads, from perf stat. */
async function account(
  apps: App[],
  load: (port: number, seconds: number) => Promise<Load>,
  dir: string,
): Promise<void> {
  const rows: string[][] = []
  for (const app of apps) {
    const label = `${app.side}-${app.workers}`
    const appCounter = await SyscallCounter.open(app.workerPids, dir, `${label}-app`)
    const dbCounter =
      app.dbPid === undefined
        ? undefined
        : await SyscallCounter.open([app.dbPid], dir, `${label}-db`)
    if (!appCounter || (app.dbPid !== undefined && !dbCounter)) {
      console.log('\n(perf stat with raw_syscalls is not available: no system call counts)')
      return
    }
    await appCounter.begin()
    await dbCounter?.begin()
    const { requests } = await load(app.port, 2)
    await dbCounter?.end()
    await appCounter.end()
    const a = await appCounter.close(dir, `${label}-app`)
    const d = await dbCounter?.close(dir, `${label}-db`)
    rows.push([
      app.side,
      String(app.workers),
      fmt(a.syscalls / requests, 2),
      fmt(a.switches / requests, 2),
      d ? fmt(d.syscalls / requests, 2) : '-',
      d ? fmt(d.switches / requests, 2) : '-',
    ])
  }
  console.log(
    '\nPer request, main (event-loop) threads, untimed 2 s pass under perf stat ' +
      '(raw_syscalls:sys_enter, context-switches)\n',
  )
  console.log(
    table(
      ['app reads from', 'workers', 'app syscalls', 'app switches', 'db syscalls', 'db switches'],
      rows,
    ),
  )
}

await runMain(main)
