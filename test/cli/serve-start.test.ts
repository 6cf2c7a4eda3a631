// How `cyberdb serve` starts and fails to: errors that say what to do, nothing left behind by a
// start that failed, the password and a ready-to-paste URL printed once it serves, stamped logs.

import { afterAll, describe, expect, test } from 'bun:test'
import { readdirSync } from 'node:fs'
import { connect } from '../../src/index.ts'
import { tempDir } from '../contract/helpers.ts'
import { spawnCli } from '../fixtures/spawn.ts'

const dir = tempDir()
afterAll(() => dir[Symbol.dispose]())

const cyberdb = spawnCli

async function serve(args: string[], env: Record<string, string> = {}) {
  const child = cyberdb(['serve', '--port', '0', ...args], env)
  await child.stdout.until((lines) => lines.some((line) => line.startsWith('cyberdb: serving ')), 'the start line')
  return child
}

describe('a serve that cannot start', () => {
  test('a port in use says so and what to do, and leaves no data, log or lock file', async () => {
    const taken = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } })
    try {
      using here = tempDir()
      const { stdout, stderr, exitCode } = await cyberdb(['serve', '--port', String(taken.port),
        '--data', here.file('data.cdb')]).finish()
      expect(exitCode).toBe(1)
      expect(stderr).toContain(`cyberdb: BAD_ARGUMENT: port ${taken.port} is in use on 127.0.0.1`)
      expect(stderr).toContain('--port 0 takes any free one')
      expect(stdout).toBe('') // no generated password for a server that never served
      expect(readdirSync(here.path)).toEqual([])
    } finally {
      taken.stop(true)
    }
  })

  test('a port in use leaves an existing data file with its data, and no lock or extra log', async () => {
    using here = tempDir()
    const data = here.file('kept.cdb')
    {
      await using db = await connect(`file:${data}`)
      await db.createDict('kept', { a: 1 })
    }
    const before = readdirSync(here.path).sort()
    const taken = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } })
    try {
      const { exitCode } = await cyberdb(['serve', '--port', String(taken.port), '--data', data]).finish()
      expect(exitCode).toBe(1)
    } finally {
      taken.stop(true)
    }
    expect(readdirSync(here.path).sort()).toEqual(before)
    await using db = await connect(`file:${data}`)
    expect(await db.dict('kept').get('a')).toBe(1)
  })

  const bad: [string, string, string][] = [
    ['a port out of range', '70000', '--port takes a whole number of at most 65535, not "70000"'],
    ['a port that is not a number', 'abc', '--port takes a whole number of at least 0, not "abc"'],
  ]
  for (const [what, port, message] of bad) {
    test(`${what} is BAD_ARGUMENT before any file is touched`, async () => {
      using here = tempDir()
      const { stdout, stderr, exitCode } = await cyberdb(['serve', '--port', port, '--data', here.file('d.cdb')]).finish()
      expect({ exitCode, stdout }).toEqual({ exitCode: 1, stdout: '' })
      expect(stderr).toContain(`cyberdb: BAD_ARGUMENT: ${message}`)
      expect(readdirSync(here.path)).toEqual([])
    })
  }
})

describe('a serve that starts', () => {
  test('a generated password is printed once it serves, before the start line, with the URL to connect to', async () => {
    const server = await serve(['--data', dir.file('generated.cdb')])
    const lines = server.stdout.lines()
    const start = lines.findIndex((line) => line.startsWith('cyberdb: serving '))
    const urlLine = lines.findIndex((line) => line.startsWith('cyberdb: connect with '))
    expect(start).toBeGreaterThan(0)
    expect(urlLine).toBe(start - 1)
    const match = /^cyberdb: connect with (cyberdb:\/\/127\.0\.0\.1:\d+); no password given, so generated one for this run: (\S{20,})$/
      .exec(lines[urlLine]!)
    expect(match).not.toBeNull()
    const [, url, password] = match!
    // Pasted as printed, with the password where connect() looks for it.
    const saved = process.env.CYBERDB_PASSWORD
    process.env.CYBERDB_PASSWORD = password
    try {
      await using db = await connect(url!)
      expect(await db.tables()).toEqual([])
    } finally {
      if (saved === undefined) delete process.env.CYBERDB_PASSWORD
      else process.env.CYBERDB_PASSWORD = saved
    }
    server.proc.kill('SIGTERM')
    const { stdout, exitCode } = await server.finish()
    expect(exitCode).toBe(0)
    expect(stdout.split(password!).length - 1).toBe(1)
  })

  for (const [how, args, env, said] of [
    ['--password', ['--password', 'given-pw'], {}, 'given with --password'],
    ['CYBERDB_PASSWORD', [], { CYBERDB_PASSWORD: 'given-pw' }, 'from CYBERDB_PASSWORD'],
  ] as const) {
    test(`a password from ${how} is never printed; the URL takes it from CYBERDB_PASSWORD`, async () => {
      const server = await serve(['--data', dir.file(`given-${how}.cdb`), ...args], env)
      const line = server.stdout.lines().find((l) => l.startsWith('cyberdb: connect with '))!
      expect(line).toMatch(new RegExp(`^cyberdb: connect with cyberdb://127\\.0\\.0\\.1:\\d+ \\(password ${said}\\)$`))
      const url = line.split(' ')[3]!
      await using db = await connect(url, { password: 'given-pw' })
      expect(await db.tables()).toEqual([])
      server.proc.kill('SIGTERM')
      const { stdout, exitCode } = await server.finish()
      expect({ exitCode, printed: stdout.includes('given-pw') }).toEqual({ exitCode: 0, printed: false })
    })
  }

  test('--log lines carry an ISO timestamp', async () => {
    const server = await serve(['--data', dir.file('stamped.cdb'), '--password', 'pw', '--log'])
    const port = /:(\d+)$/.exec(server.stdout.lines().find((l) => l.startsWith('cyberdb: connect with '))!.split(' ')[3]!)![1]
    {
      await using db = await connect(`cyberdb://:pw@127.0.0.1:${port}?pool=1`)
      await db.tables()
    }
    await server.stdout.until((lines) => lines.some((l) => l.startsWith('cyberdb: closed: ')), 'the close line')
    const logged = server.stdout.lines().filter((l) => /^cyberdb: (open|closed): /.test(l))
    expect(logged.length).toBe(2)
    for (const line of logged) expect(line).toMatch(/ at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
    server.proc.kill('SIGTERM')
    expect((await server.finish()).exitCode).toBe(0)
  })
})
