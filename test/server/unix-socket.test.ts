// The socket file of a unix listener: owner-only from the start, removed on close, a crashed
// server's replaced on restart, a live server's never; and both listeners of one server at once.

import { describe, expect, test } from 'bun:test'
import { existsSync, lstatSync, writeFileSync } from 'node:fs'
import { Server, connect } from '../../src/index.ts'
import { expectCode, tempDir } from '../contract/helpers.ts'
import { spawnFixture } from '../fixtures/spawn.ts'

describe('the socket file', () => {
  test('is a socket only its owner may use (0600), and close removes it', async () => {
    using dir = tempDir()
    const path = dir.file('db.sock')
    const server = new Server()
    expect(await server.listen({ unix: path })).toEqual({ host: '', port: 0, unix: path })
    const stats = lstatSync(path)
    expect([stats.isSocket(), (stats.mode & 0o777).toString(8)]).toEqual([true, '600'])
    await server.close()
    expect(existsSync(path)).toBe(false)
  })

  test('the umask of the process is left as it was', async () => {
    using dir = tempDir()
    const before = process.umask()
    const server = new Server()
    await server.listen({ unix: dir.file('db.sock') })
    await server.close()
    expect(process.umask()).toBe(before)
  })

  test('a stale file from a crashed server (nobody listening) is replaced', async () => {
    using dir = tempDir()
    const path = dir.file('db.sock')
    const child = spawnFixture('unix-listen-fixture.ts', [path])
    await child.stdout.until((lines) => lines.includes('listening'), 'the fixture to listen')
    child.proc.kill('SIGKILL')
    expect((await child.finish()).signal).toBe('SIGKILL')
    expect(lstatSync(path).isSocket()).toBe(true) // what the crash left

    await using server = new Server()
    await server.listen({ unix: path })
    await using db = await connect(`cyberdb+unix://${path}`)
    await db.createDict('t', { k: 1 })
    expect(await db.dict('t').get('k')).toBe(1)
  })

  test('a live server\'s socket is refused, and keeps serving', async () => {
    using dir = tempDir()
    const path = dir.file('db.sock')
    await using first = new Server()
    await first.listen({ unix: path })
    const second = new Server()
    const error = await expectCode(second.listen({ unix: path }), 'BAD_ARGUMENT')
    expect(error.message).toBe(`another server is listening on ${path}`)
    expect(second.address).toBeUndefined()
    await using db = await connect(`cyberdb+unix://${path}`)
    expect(await db.tables()).toEqual([])
  })

  test('a file that is not a socket is refused and left alone', async () => {
    using dir = tempDir()
    const path = dir.file('data.txt')
    writeFileSync(path, 'keep me')
    const error = await expectCode(new Server().listen({ unix: path }), 'BAD_ARGUMENT')
    expect(error.message).toBe(`cannot listen on ${path}: it exists and is not a socket`)
    expect(await Bun.file(path).text()).toBe('keep me')
  })

  test('a directory that does not exist, an empty or too long path: BAD_ARGUMENT', async () => {
    using dir = tempDir()
    const missing = dir.file('no/such/dir/db.sock')
    expect((await expectCode(new Server().listen({ unix: missing }), 'BAD_ARGUMENT')).message)
      .toStartWith(`cannot listen on ${missing}: `)
    expect((await expectCode(new Server().listen({ unix: '' }), 'BAD_ARGUMENT')).message)
      .toBe('unix is a socket file path, not ""')
    const long = dir.file('x'.repeat(120))
    expect((await expectCode(new Server().listen({ unix: long }), 'BAD_ARGUMENT')).message)
      .toBe(`the unix socket path ${long} is longer than 107 bytes (the system's limit)`)
  })
})

describe('TCP and a unix socket', () => {
  test('port and unix: both listen, on one store; close stops both', async () => {
    using dir = tempDir()
    const path = dir.file('db.sock')
    const server = new Server()
    const address = await server.listen({ host: '127.0.0.1', port: 0, unix: path, password: 'pw' })
    expect(address).toEqual({ host: '127.0.0.1', port: address.port, unix: path })
    expect(address.port).toBeGreaterThan(0)
    const tcp = await connect(`cyberdb://:pw@127.0.0.1:${address.port}`)
    const unix = await connect(`cyberdb+unix:///${path.slice(1)}?password=pw`)
    await tcp.createDict('shared', { via: 'tcp' })
    expect(await unix.dict('shared').get('via')).toBe('tcp')
    await Promise.all([tcp.close(), unix.close()])
    await server.close()
    expect(existsSync(path)).toBe(false)
    await expectCode(connect(`cyberdb://:pw@127.0.0.1:${address.port}`), 'CONNECTION_CLOSED')
  })

  test('a unix socket alone needs no password, as loopback TCP does not', async () => {
    using dir = tempDir()
    await using server = new Server()
    await server.listen({ unix: dir.file('db.sock') })
    await using db = await connect(`cyberdb+unix://${dir.file('db.sock')}`)
    expect(await db.tables()).toEqual([])
  })

  test('the unix socket failing to bind leaves no TCP listener behind', async () => {
    using dir = tempDir()
    const server = new Server()
    await expectCode(server.listen({ host: '127.0.0.1', port: 0, unix: dir.file('none/db.sock') }), 'BAD_ARGUMENT')
    expect(server.address).toBeUndefined()
    // and it can listen again, now with a path that works
    const address = await server.listen({ host: '127.0.0.1', port: 0, unix: dir.file('db.sock') })
    expect(address.unix).toBe(dir.file('db.sock'))
    await server.close()
  })
})
