// The workers tutorial as a user runs it: init the data file, serve it, start the app as two
// processes sharing one port, and ask it over HTTP.

import { afterAll, expect, test } from 'bun:test'
import { join } from 'node:path'
import { tempDir } from '../contract/helpers.ts'
import { Output } from '../fixtures/spawn.ts'

const WORKERS = join(import.meta.dir, '..', '..', 'examples', 'workers')
const dir = tempDir()
afterAll(() => dir[Symbol.dispose]())

function run(script: string, args: string[], env: Record<string, string> = {}) {
  const proc = Bun.spawn([process.execPath, join(WORKERS, script), ...args], {
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
    env: { ...process.env, CYBERDB_PASSWORD: 'tutorial', NO_COLOR: '1', ...env },
  })
  return { proc, stdout: new Output(proc.stdout), stderr: new Output(proc.stderr) }
}

/** A port that was free a moment ago: the app's workers share one fixed port (reusePort). */
function freePort(): number {
  const listener = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } })
  const port = listener.port
  listener.stop(true)
  return port
}

test('two app workers answer {"code":1,"content":"Hello CyberDB!"} from one shared server', async () => {
  const data = dir.file('tutorial.cdb')
  const init = run('init.ts', [data])
  expect(await init.proc.exited).toBe(0)
  expect(init.stdout.text).toContain('"centre"')

  const serve = run('serve.ts', [data, '0'])
  const app = { current: undefined as ReturnType<typeof run> | undefined }
  try {
    await serve.stdout.until((lines) => lines.some((l) => l.startsWith('serve: listening on')), 'the server')
    const dbPort = /:(\d+)$/.exec(serve.stdout.lines().find((l) => l.startsWith('serve: listening on'))!)![1]!
    const httpPort = String(freePort())
    app.current = run('app.ts', ['2', httpPort, dbPort])
    await app.current.stdout.until((lines) => lines.filter((l) => l.startsWith('app: worker')).length === 2, 'two workers')
    const answers = await Promise.all(Array.from({ length: 20 }, async () => {
      const response = await fetch(`http://127.0.0.1:${httpPort}/`)
      return response.json()
    }))
    for (const answer of answers) expect(answer).toEqual({ code: 1, content: 'Hello CyberDB!' })
  } finally {
    app.current?.proc.kill('SIGTERM')
    await app.current?.proc.exited
    serve.proc.kill('SIGTERM')
  }
  // The server saves on SIGTERM and exits 0.
  expect(await serve.proc.exited).toBe(0)
  await serve.stdout.done
  expect(serve.stdout.text).toContain('stopped; saved 1 tables, 1 entries')
})

test('the same over a unix socket: CYBERDB_UNIX for serve.ts, the socket path for app.ts', async () => {
  const data = dir.file('unix.cdb')
  expect(await run('init.ts', [data]).proc.exited).toBe(0)
  const socket = dir.file('workers.sock')
  const serve = run('serve.ts', [data, '0'], { CYBERDB_UNIX: socket })
  let app: ReturnType<typeof run> | undefined
  try {
    await serve.stdout.until((lines) => lines.includes(`serve: listening on ${socket}`), 'the socket')
    const httpPort = String(freePort())
    app = run('app.ts', ['2', httpPort, socket])
    await app.stdout.until((lines) => lines.filter((l) => l.startsWith('app: worker')).length === 2, 'two workers')
    const answers = await Promise.all(Array.from({ length: 10 }, async () => (await fetch(`http://127.0.0.1:${httpPort}/`)).json()))
    for (const answer of answers) expect(answer).toEqual({ code: 1, content: 'Hello CyberDB!' })
  } finally {
    app?.proc.kill('SIGTERM')
    await app?.proc.exited
    serve.proc.kill('SIGTERM')
  }
  expect(await serve.proc.exited).toBe(0)
  expect(await Bun.file(socket).exists()).toBe(false)
})

for (const script of ['serve.ts', 'app.ts']) {
  for (const [how, password] of [['unset', undefined], ['empty', '']] as const) {
    test(`${script} refuses to start with CYBERDB_PASSWORD ${how}, and says what to set`, async () => {
      const env: Record<string, string | undefined> = { ...process.env, NO_COLOR: '1', CYBERDB_PASSWORD: password }
      if (password === undefined) delete env.CYBERDB_PASSWORD
      const proc = Bun.spawn([process.execPath, join(WORKERS, script), dir.file('never.cdb'), '0'], {
        stdin: 'ignore', stdout: 'pipe', stderr: 'pipe', env,
      })
      const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(),
        new Response(proc.stderr).text(), proc.exited])
      expect({ code, stdout }).toEqual({ code: 1, stdout: '' })
      expect(stderr).toContain(`CYBERDB_PASSWORD is not set`)
      expect(stderr).toContain(`CYBERDB_PASSWORD=secret npx bun examples/workers/${script}`)
      expect(await Bun.file(dir.file('never.cdb')).exists()).toBe(false)
    })
  }
}
