// Runs the examples as a user would, each in a child process, and checks stdout, stderr and exit
// code together: an example that stops working fails here rather than in a reader's terminal.

import { afterEach, expect, test } from 'bun:test'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect } from '../../src/index.ts'

const EXAMPLES = join(import.meta.dir, '..', '..', 'examples')
const dirs: string[] = []

afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true })
})

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'cyberdb-examples-'))
  dirs.push(dir)
  return dir
}

async function runExample(file: string, args: string[] = []) {
  const child = Bun.spawn([process.execPath, join(EXAMPLES, file), ...args], {
    cwd: await tempDir(), stdout: 'pipe', stderr: 'pipe',
  })
  const [stdout, stderr, code] = await Promise.all([
    new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited,
  ])
  return { stdout, stderr, code }
}

test('quick-start shows get, set, incr, push and for await on memory:// and exits 0', async () => {
  expect(await runExample('quick-start.ts')).toEqual({
    stdout: [
      'centre.content = Hello CyberDB!',
      'visits after incr = 3',
      'centre = {"content":"Hello CyberDB!","visits":3}',
      'length after push = 5',
      'list1.at(-1) = 5',
      'for await over list1: 1, 2, 3, 4, 5',
      'tables: [{"name":"centre","type":"dict","size":2},{"name":"list1","type":"list","size":5}]',
      '',
    ].join('\n'),
    stderr: '',
    code: 0,
  })
})

test('embedded-cache --demo misses once per input, then hits, and keeps its cache', async () => {
  const { stdout, stderr, code } = await runExample('embedded-cache.ts', ['--demo'])
  expect({ stdout: stdout.replace(/\(\d+(\.\d+)? ms\)/g, '(t ms)'), stderr, code }).toEqual({
    stdout: [
      'GET /fib/90 -> miss (t ms): 2880067194370816120',
      'GET /fib/90 -> hit (t ms): 2880067194370816120',
      'GET /fib/10 -> miss (t ms): 55',
      'GET /fib/90 -> hit (t ms): 2880067194370816120',
      'after restart: 2 cached results in cache.cdb',
      '',
    ].join('\n'),
    stderr: '',
    code: 0,
  })
})

test('embedded-cache serves until SIGINT, then saves its cache file and exits 0', async () => {
  const cwd = await tempDir()
  const child = Bun.spawn([process.execPath, join(EXAMPLES, 'embedded-cache.ts')], {
    cwd, env: { ...process.env, PORT: '0' }, stdout: 'pipe', stderr: 'pipe',
  })
  try {
    // The first line names the URL; read until it is complete (or the child's stdout ends).
    const reader = child.stdout.getReader()
    let first = ''
    while (!first.includes('\n')) {
      const { done, value } = await reader.read()
      if (done) break
      first += new TextDecoder().decode(value)
    }
    reader.releaseLock()
    const url = first.match(/http:\/\/127\.0\.0\.1:\d+\/fib\/90/)?.[0]
    expect(url).toBeDefined()
    const misses = await fetch(url!)
    expect([misses.status, misses.headers.get('x-cache'), await misses.json()])
      .toEqual([200, 'miss', { n: 90, value: '2880067194370816120' }])
    const hits = await fetch(url!)
    expect([hits.headers.get('x-cache'), await hits.json()])
      .toEqual(['hit', { n: 90, value: '2880067194370816120' }])
    const bad = await fetch(url!.replace('/fib/90', '/fib/-1'))
    expect(bad.status).toBe(400)
    await bad.text()
    child.kill('SIGINT')
    expect(await child.exited).toBe(0)
    expect(await new Response(child.stderr).text()).toBe('')
    await using saved = await connect(`file:${join(cwd, 'cache.cdb')}`)
    expect(await saved.dict('fib').entries()).toEqual([[90, '2880067194370816120']])
  } finally {
    child.kill()
  }
})

test('invalidation keeps two workers\' Maps coherent through watch() and exits 0', async () => {
  const lines = (worker: string) => [
    `${worker}: apple = 1 (ready)`,
    `${worker}: apple = 2 after dict.set`,
    `${worker}: pear = 5 after dict.set`,
    `${worker}: apple = undefined after dict.delete`,
  ]
  expect(await runExample('invalidation.ts')).toEqual({
    stdout: [...lines('worker-a'), ...lines('worker-b'), ''].join('\n'),
    stderr: '',
    code: 0,
  })
})
