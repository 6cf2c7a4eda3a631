// The cyberdb command, run as a user runs it: a child process, its stdout, stderr and exit code.

import { afterAll, describe, expect, test } from 'bun:test'
import { connect } from '../../src/index.ts'
import { expectCode, tempDir } from '../contract/helpers.ts'
import { spawnCli } from '../fixtures/spawn.ts'
import { snapshotContent } from '../fixtures/snapshot-content.ts'

const dir = tempDir()
afterAll(() => dir[Symbol.dispose]())

const cyberdb = spawnCli

/** Starts `cyberdb serve` on a free port and returns the port from its start line. */
async function serve(args: string[], env: Record<string, string> = {}) {
  const child = cyberdb(['serve', '--port', '0', ...args], env)
  await child.stdout.until((lines) => lines.some((line) => line.includes(' on 127.0.0.1:')), 'the start line')
  const start = child.stdout.lines().find((line) => line.includes(' on 127.0.0.1:'))!
  const port = Number(/127\.0\.0\.1:(\d+)/.exec(start)![1])
  return { ...child, port, start }
}

describe('cyberdb serve', () => {
  test('serves a data file, logs one line at start and one at shutdown, and saves on SIGTERM', async () => {
    const data = dir.file('serve.cdb')
    const server = await serve(['--data', data, '--password', 'pw'])
    expect(server.start).toMatch(/^cyberdb: serving .*serve\.cdb on 127\.0\.0\.1:\d+: loaded 0 tables, 0 entries in \d+ ms; backup every 300 s$/)
    {
      await using db = await connect(`cyberdb://:pw@127.0.0.1:${server.port}`)
      await db.createDict('centre', { content: 'Hello CyberDB!' })
    }
    server.proc.kill('SIGTERM')
    const { stdout, stderr, exitCode } = await server.finish()
    expect({ exitCode, stderr }).toEqual({ exitCode: 0, stderr: '' })
    expect(stdout).toContain('SIGTERM: saving to')
    expect(stdout).toContain('stopped; saved 1 tables, 1 entries')
    // Started again, it loads what the first run saved.
    const again = await serve(['--data', data, '--password', 'pw'])
    expect(again.start).toContain('loaded 1 tables, 1 entries')
    again.proc.kill('SIGINT')
    expect((await again.finish()).exitCode).toBe(0)
  })

  test('--feed-history bounds the change feed: a since older than it is FEED_COMPACTED', async () => {
    const server = await serve(['--data', dir.file('feed.cdb'), '--password', 'pw', '--feed-history', '3'])
    {
      await using db = await connect(`cyberdb://:pw@127.0.0.1:${server.port}`)
      await db.createDict('d')
      for (let i = 0; i < 5; i++) await db.dict('d').set('k', i)
      const error = await expectCode(db.watch({ since: 0 }).next(), 'FEED_COMPACTED')
      expect(error.oldest).toBe(4)
    }
    server.proc.kill('SIGTERM')
    expect((await server.finish()).exitCode).toBe(0)
  })

  // Moved from the Server's tests (8.16g): saving and exiting on a signal is the command's choice.
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    test(`exits 0 on ${signal} after writing its final snapshot, and says so`, async () => {
      const data = dir.file(`signal-${signal}.cdb`)
      const server = await serve(['--data', data, '--password', 'pw', '--backup', '3600'])
      {
        await using db = await connect(`cyberdb://:pw@127.0.0.1:${server.port}`)
        await db.createDict('written', { before: signal })
        await db.createList('numbers', [1, 2, 3])
      }
      server.proc.kill(signal)
      const { stdout, stderr, exitCode } = await server.finish()
      expect({ exitCode, stderr, last: stdout.split('\n').slice(-3) }).toEqual({
        exitCode: 0,
        stderr: '',
        last: [`cyberdb: ${signal}: saving to ${data} and shutting down`, 'cyberdb: stopped; saved 2 tables, 4 entries', ''],
      })
      expect(await snapshotContent(data)).toEqual({ written: [['before', signal]], numbers: [1, 2, 3] })
    })
  }

  test('without a password it generates one, prints it once, and requires it', async () => {
    const server = await serve(['--data', dir.file('generated.cdb')])
    const line = server.stdout.lines().find((l) => l.includes('generated one'))!
    const password = line.slice(line.lastIndexOf(' ') + 1)
    expect(password.length).toBeGreaterThanOrEqual(20)
    await using db = await connect(`cyberdb://127.0.0.1:${server.port}`, { password })
    expect(await db.tables()).toEqual([])
    server.proc.kill('SIGTERM')
    expect(server.stdout.text.split(password).length - 1).toBe(1)
    expect((await server.finish()).exitCode).toBe(0)
  })

  test('takes the password from CYBERDB_PASSWORD and serves encrypted with --encrypt', async () => {
    const server = await serve(['--data', dir.file('env.cdb'), '--encrypt'], { CYBERDB_PASSWORD: 'from-env' })
    expect(server.start).toContain('(encrypted)')
    await using db = await connect(`cyberdb://:from-env@127.0.0.1:${server.port}?encrypt=true`)
    expect(await db.tables()).toEqual([])
    server.proc.kill('SIGTERM')
    expect((await server.finish()).exitCode).toBe(0)
  })

  test('--log prints one line per connection event', async () => {
    const server = await serve(['--data', dir.file('log.cdb'), '--password', 'pw', '--log'])
    {
      await using db = await connect(`cyberdb://:pw@127.0.0.1:${server.port}?pool=1`)
      await db.tables()
    }
    await server.stdout.until((lines) => lines.some((l) => l.startsWith('cyberdb: closed: 127.0.0.1')), 'the close line')
    expect(server.stdout.lines().some((l) => l.startsWith('cyberdb: open: 127.0.0.1'))).toBe(true)
    server.proc.kill('SIGTERM')
    expect((await server.finish()).exitCode).toBe(0)
  })

  test('--metrics PORT serves /metrics, /health and the dashboard on loopback, and says where', async () => {
    const server = await serve(['--data', dir.file('metrics.cdb'), '--password', 'pw', '--metrics', '0'])
    await server.stdout.until((lines) => lines.some((l) => l.includes('metrics and dashboard on')), 'the metrics line')
    const line = server.stdout.lines().find((l) => l.includes('metrics and dashboard on'))!
    const base = /(http:\/\/127\.0\.0\.1:\d+)\//.exec(line)![1]
    const [health, metrics, page] = await Promise.all(['/health', '/metrics', '/'].map((path) => fetch(base + path)))
    expect([health!.status, (await metrics!.text()).includes('# TYPE cyberdb_operations_total counter'),
      (await page!.text()).includes('<title>CyberDB</title>')]).toEqual([200, true, true])
    server.proc.kill('SIGTERM')
    expect((await server.finish()).exitCode).toBe(0)
  })

  const badArguments: [string, string[], string][] = [
    ['a negative port', ['--port=-1'], '--port takes a whole number of at least 0, not "-1"'],
    ['an unknown option', ['--prot', '9980'], "Unknown option '--prot'"],
    ['a zero backup interval', ['--backup', '0'], '--backup takes a number above 0, not "0"'],
    ['a bad allow-list entry', ['--allow', 'nowhere'], 'is not an IP address or CIDR range'],
    ['a certificate without its key', ['--tls-cert', 'cert.pem'], '--tls-cert and --tls-key go together'],
    ['a zero feed history', ['--feed-history', '0'], '--feed-history takes a whole number of at least 1, not "0"'],
  ]
  for (const [what, args, message] of badArguments) {
    test(`${what} exits 1 with BAD_ARGUMENT on stderr`, async () => {
      const { stderr, exitCode } = await cyberdb(['serve', '--data', dir.file('bad.cdb'), '--password', 'pw', ...args]).finish()
      expect(exitCode).toBe(1)
      expect(stderr).toContain('cyberdb: BAD_ARGUMENT:')
      expect(stderr).toContain(message)
    })
  }

  test('a corrupt data file exits 1 with SNAPSHOT_CORRUPT and is left as it was', async () => {
    const data = dir.file('corrupt.cdb')
    await Bun.write(data, 'not a snapshot at all, but long enough to have a header')
    const { stderr, exitCode } = await cyberdb(['serve', '--port', '0', '--data', data, '--password', 'pw']).finish()
    expect({ exitCode, code: stderr.includes('SNAPSHOT_CORRUPT') }).toEqual({ exitCode: 1, code: true })
    expect(await Bun.file(data).text()).toBe('not a snapshot at all, but long enough to have a header')
  })
})

describe('cyberdb inspect', () => {
  const data = dir.file('inspect.cdb')

  test('shows tables, types, sizes and first entries as a table', async () => {
    {
      await using db = await connect(`file:${data}`)
      await db.createDict('centre', { content: 'Hello CyberDB!', n: 1n })
      await db.createList('jobs', [{ id: 1 }, 'two', 3, 4])
    }
    const { stdout, stderr, exitCode } = await cyberdb(['inspect', data]).finish()
    expect({ exitCode, stderr }).toEqual({ exitCode: 0, stderr: '' })
    const lines = stdout.trimEnd().split('\n')
    expect(lines[0]).toMatch(/^TABLE\s+TYPE\s+SIZE\s+FIRST ENTRIES$/)
    expect(lines[1]).toMatch(/^centre\s+dict\s+2\s+\[ "content", "Hello CyberDB!" \], \[ "n", 1n \]$/)
    expect(lines[2]).toMatch(/^jobs\s+list\s+4\s+\{ id: 1 \}, "two", 3, …$/)
  })

  test('--json prints the same as JSON, bigints as strings, --first limiting the entries', async () => {
    const { stdout, exitCode } = await cyberdb(['inspect', data, '--json', '--first', '1']).finish()
    expect(exitCode).toBe(0)
    expect(JSON.parse(stdout)).toEqual([
      { name: 'centre', type: 'dict', size: 2, first: [['content', 'Hello CyberDB!']] },
      { name: 'jobs', type: 'list', size: 4, first: [{ id: 1 }] },
    ])
  })

  test('a missing file exits 1 naming it', async () => {
    const { stderr, exitCode } = await cyberdb(['inspect', dir.file('nope.cdb')]).finish()
    expect(exitCode).toBe(1)
    expect(stderr).toContain('no such file')
  })
})

describe('help', () => {
  const cases: [string[], string, number][] = [
    [['--help'], 'cyberdb serve [options]', 0],
    [[], 'cyberdb serve [options]', 1],
    [['serve', '--help'], '--idle-timeout SECONDS', 0],
    [['inspect', '--help'], '--first N', 0],
  ]
  for (const [args, shows, code] of cases) {
    test(`cyberdb ${args.join(' ') || '(no arguments)'} prints usage and exits ${code}`, async () => {
      const { stdout, exitCode } = await cyberdb(args).finish()
      expect({ exitCode, shows: stdout.includes(shows) }).toEqual({ exitCode: code, shows: true })
    })
  }

  test('an unknown command exits 1 and says so', async () => {
    const { stderr, exitCode } = await cyberdb(['serv']).finish()
    expect(exitCode).toBe(1)
    expect(stderr).toContain('unknown command "serv"')
  })
})
