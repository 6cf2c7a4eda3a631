// A Bun.serve app that caches a slow computation in a dict table of an embedded file: database.
// The cache outlives restarts: the file is loaded on start, snapshotted every 60 s (?backup=60)
// and on close. No second process, no network hop: cache reads are in-process calls.
//
//   bun examples/embedded-cache.ts          serves http://127.0.0.1:3000/fib/90 (PORT=...)
//   bun examples/embedded-cache.ts --demo   free port, temp dir: fetches itself, prints, exits

import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect } from '../src/index.ts'

const demo = process.argv.includes('--demo')
const dir = demo ? await mkdtemp(join(tmpdir(), 'cyberdb-cache-')) : '.'
const file = `file:${join(dir, 'cache.cdb')}?backup=60`
const db = await connect(file)
await db.createDict('fib', undefined, { ifNotExists: true })
const cache = db.dict<string>('fib')

// Stands in for real work (a query, an API call, a render): slow, and the same for the same input.
async function compute(n: number): Promise<string> {
  await Bun.sleep(100)
  let [a, b] = [0n, 1n]
  for (let i = 0; i < n; i++) [a, b] = [b, a + b]
  return a.toString()
}

const server = Bun.serve({
  hostname: '127.0.0.1',
  port: demo ? 0 : Number(process.env.PORT ?? 3000),
  routes: {
    '/fib/:n': async (request) => {
      const n = Number(request.params.n)
      if (!Number.isSafeInteger(n) || n < 0 || n > 10_000) {
        return new Response('n is 0..10000\n', { status: 400 })
      }
      let value = await cache.get(n)
      const hit = value !== undefined
      if (value === undefined) await cache.set(n, (value = await compute(n)))
      return Response.json({ n, value }, { headers: { 'x-cache': hit ? 'hit' : 'miss' } })
    },
  },
  fetch: () => new Response('try /fib/90\n', { status: 404 }),
})

async function shutdown(): Promise<void> {
  await server.stop()
  await db.close() // final snapshot
}

if (demo) {
  for (const n of [90, 90, 10, 90]) {
    const started = performance.now()
    const response = await fetch(new URL(`/fib/${n}`, server.url))
    const { value } = (await response.json()) as { value: string }
    const ms = (performance.now() - started).toFixed(1)
    console.log(`GET /fib/${n} -> ${response.headers.get('x-cache')} (${ms} ms): ${value}`)
  }
  await shutdown()
  const reopened = await connect(file)
  console.log(`after restart: ${await reopened.dict('fib').size()} cached results in cache.cdb`)
  await reopened.close()
  await rm(dir, { recursive: true, force: true })
} else {
  console.log(`serving ${server.url}fib/90, cache in ${join(dir, 'cache.cdb')}; Ctrl-C to stop`)
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void shutdown())
}
