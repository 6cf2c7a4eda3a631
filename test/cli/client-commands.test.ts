// cyberdb ping / tables / info / get / set against a running server, as a user types them.

import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { connect, Server } from '../../src/index.ts'
import { tempDir } from '../contract/helpers.ts'
import { spawnCli } from '../fixtures/spawn.ts'

const dir = tempDir()
const server = new Server()
let url = ''

beforeAll(async () => {
  const { port } = await server.listen({ host: '127.0.0.1', port: 0, password: 'pw' })
  url = `cyberdb://127.0.0.1:${port}`
  await using db = await connect(url, { password: 'pw' })
  await db.createDict('centre', { content: 'Hello CyberDB!', n: 1n })
  await db.createList('jobs', [1, 2, 3])
})
afterAll(async () => {
  await server.close()
  dir[Symbol.dispose]()
})

function cyberdb(args: string[], env: Record<string, string> = {}) {
  return spawnCli(args, { CYBERDB_URL: '', CYBERDB_PASSWORD: 'pw', ...env }).finish()
}

describe('reading', () => {
  test('ping answers PONG with the times, the password masked', async () => {
    const { stdout, stderr, exitCode } = await cyberdb(['ping', url.replace('//', '//:pw@')], { CYBERDB_PASSWORD: '' })
    expect({ exitCode, stderr }).toEqual({ exitCode: 0, stderr: '' })
    expect(stdout).toMatch(/^PONG from cyberdb:\/\/\*\*\*@127\.0\.0\.1:\d+: connected in [\d.]+ ms, a round trip in [\d.]+ ms\n$/)
  })

  test('ping --wait answers as soon as the server does', async () => {
    const { stdout, exitCode } = await cyberdb(['ping', url, '--wait', '30'])
    expect({ exitCode, pong: stdout.startsWith(`PONG from ${url}`) }).toEqual({ exitCode: 0, pong: true })
  })

  test('without a URL the commands use CYBERDB_URL', async () => {
    const { stdout, exitCode } = await cyberdb(['ping'], { CYBERDB_URL: url })
    expect({ exitCode, pong: stdout.startsWith(`PONG from ${url}`) }).toEqual({ exitCode: 0, pong: true })
  })

  test('tables lists names, types and sizes; --json as data', async () => {
    const text = await cyberdb(['tables', url])
    expect(text.stdout.trimEnd().split('\n').map((line) => line.split(/\s+/))).toEqual([
      ['TABLE', 'TYPE', 'SIZE'], ['centre', 'dict', '2'], ['jobs', 'list', '3'],
    ])
    const json = await cyberdb(['tables', url, '--json'])
    expect(JSON.parse(json.stdout)).toEqual([{ name: 'centre', type: 'dict', size: 2 }, { name: 'jobs', type: 'list', size: 3 }])
  })

  test('info prints the tables with sizes readably, and --json', async () => {
    const { stdout, exitCode } = await cyberdb(['info', url])
    expect(exitCode).toBe(0)
    expect(stdout).toContain(`url: ${url}\n`)
    expect(stdout).toMatch(/tables:\n\s+NAME\s+TYPE\s+SIZE\s.*\n\s+centre\s+dict\s+2\s.*\n\s+jobs\s+list\s+3\s.*\n/)
    expect(stdout).toMatch(/\nat: \d{4}-\d\d-\d\dT[\d:.]+Z\n/) // times as dates, not ms
    const json = JSON.parse((await cyberdb(['info', url, '--json'])).stdout)
    expect(json.tables.map(({ name, type, size }: { name: string; type: string; size: number }) => ({ name, type, size })))
      .toEqual([{ name: 'centre', type: 'dict', size: 2 }, { name: 'jobs', type: 'list', size: 3 }])
    expect(json.server.connections).toBeGreaterThan(0)
  })

  test('get prints a dict value or a list item (negative indexes too) as JSON', async () => {
    expect((await cyberdb(['get', url, 'centre', 'content'])).stdout).toBe('"Hello CyberDB!"\n')
    expect((await cyberdb(['get', url, 'centre', 'n'])).stdout).toBe('"1"\n')
    expect((await cyberdb(['get', url, 'jobs', '-1'])).stdout).toBe('3\n')
  })
})

describe('writing', () => {
  test('set stores JSON when it parses, else the text; --string keeps text', async () => {
    for (const [text, flags] of [['{"a":[1,2]}', []], ['hello world', []], ['42', ['--string']], ['42', []]] as const) {
      const { stdout, exitCode } = await cyberdb(['set', url, 'centre', `k-${flags.length}-${text}`, text, ...flags])
      expect({ stdout, exitCode }).toEqual({ stdout: 'OK\n', exitCode: 0 })
    }
    await using db = await connect(url, { password: 'pw' })
    const dict = db.dict('centre')
    expect(await dict.get('k-0-{"a":[1,2]}')).toEqual({ a: [1, 2] })
    expect(await dict.get('k-0-hello world')).toBe('hello world')
    expect(await dict.get('k-1-42')).toBe('42')
    expect(await dict.get('k-0-42')).toBe(42)
    expect((await cyberdb(['set', url, 'jobs', '0', '"first"'])).exitCode).toBe(0)
    expect(await db.list('jobs').at(0)).toBe('first')
  })

  test('set and get work on an embedded file: URL too', async () => {
    const file = `file:${dir.file('cli.cdb')}`
    { await using db = await connect(file); await db.createDict('t') }
    expect((await cyberdb(['set', file, 't', 'k', '[1]'])).exitCode).toBe(0)
    expect((await cyberdb(['get', file, 't', 'k'])).stdout).toBe('[1]\n')
  })
})

describe('errors say what to do', () => {
  const cases: [string, string[], Record<string, string>, string][] = [
    ['nothing listening', ['ping', 'cyberdb://127.0.0.1:1'], {}, 'is cyberdb serve running there?'],
    ['a wrong password', ['ping', ''], { CYBERDB_PASSWORD: 'wrong' }, 'AUTH_FAILED'],
    ['a missing table', ['get', '', 'nope', 'k'], {}, 'TABLE_NOT_FOUND: no table "nope" (cyberdb tables URL lists them)'],
    ['a missing key', ['get', '', 'centre', 'nope'], {}, 'KEY_NOT_FOUND: no key "nope" in dict "centre"'],
    ['a bad index', ['get', '', 'jobs', 'x'], {}, 'BAD_ARGUMENT: a list takes a whole-number index'],
    ['missing arguments', ['get', ''], {}, 'BAD_ARGUMENT: cyberdb get takes URL TABLE KEY'],
    ['an unknown option', ['tables', '', '--jsn'], {}, 'BAD_ARGUMENT: cyberdb tables has no option --jsn'],
    ['nothing listening within --wait', ['ping', 'cyberdb://127.0.0.1:1', '--wait', '0.3'], {}, 'is cyberdb serve running there?'],
    ['--wait not a number', ['ping', '', '--wait', 'soon'], {}, '--wait goes with ping and takes a number of seconds above 0, not "soon"'],
    ['--wait on another command', ['tables', '', '--wait', '1'], {}, '--wait goes with ping'],
  ]
  for (const [what, args, env, message] of cases) {
    test(`${what}: exit 1 and a message`, async () => {
      const { stdout, stderr, exitCode } = await cyberdb(args.map((arg) => arg || url), env)
      expect({ exitCode, stdout }).toEqual({ exitCode: 1, stdout: '' })
      expect(stderr).toContain(message)
    })
  }
})
