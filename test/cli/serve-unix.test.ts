// `cyberdb serve --unix PATH`, run as a user runs it: on the socket alone, or beside TCP; the
// socket file is gone once the server stopped.

import { afterAll, describe, expect, test } from 'bun:test'
import { existsSync, lstatSync } from 'node:fs'
import { connect } from '../../src/index.ts'
import { expectCode, tempDir } from '../contract/helpers.ts'
import { spawnCli } from '../fixtures/spawn.ts'

const dir = tempDir()
afterAll(() => dir[Symbol.dispose]())

async function serve(args: string[]) {
  const { proc, stdout, finish } = spawnCli(['serve', '--password', 'pw', ...args])
  await stdout.until((lines) => lines.some((line) => line.startsWith('cyberdb: serving ')), 'the start line')
  const start = stdout.lines().find((line) => line.startsWith('cyberdb: serving '))!
  const stop = async () => {
    proc.kill('SIGTERM')
    const { exitCode, stderr } = await finish()
    return { exitCode, stderr }
  }
  return { start, stop }
}

describe('cyberdb serve --unix', () => {
  test('alone: serves on the socket only (0600), and removes it on SIGTERM', async () => {
    const socket = dir.file('alone.sock')
    const server = await serve(['--data', dir.file('alone.cdb'), '--unix', socket])
    expect(server.start).toStartWith(`cyberdb: serving ${dir.file('alone.cdb')} on ${socket}: loaded 0 tables`)
    expect((lstatSync(socket).mode & 0o777).toString(8)).toBe('600')
    {
      await using db = await connect(`cyberdb+unix://:pw@localhost${socket}`)
      await db.createDict('d', { k: 1 })
      expect(await db.dict('d').get('k')).toBe(1)
    }
    expect(await server.stop()).toEqual({ exitCode: 0, stderr: '' })
    expect(existsSync(socket)).toBe(false)
  })

  test('with --port: both listeners, one database', async () => {
    const socket = dir.file('both.sock')
    const server = await serve(['--data', dir.file('both.cdb'), '--unix', socket, '--port', '0'])
    const match = /^cyberdb: serving \S+ on 127\.0\.0\.1:(\d+) and (\S+): /.exec(server.start)
    expect(match?.[2]).toBe(socket)
    {
      await using tcp = await connect(`cyberdb://:pw@127.0.0.1:${match![1]}`)
      await using unix = await connect(`cyberdb+unix://${socket}?password=pw`)
      await tcp.createDict('d', { via: 'tcp' })
      expect(await unix.dict('d').get('via')).toBe('tcp')
    }
    expect(await server.stop()).toEqual({ exitCode: 0, stderr: '' })
    expect(existsSync(socket)).toBe(false)
    await expectCode(connect(`cyberdb://:pw@127.0.0.1:${match![1]}`), 'CONNECTION_CLOSED')
  })
})
