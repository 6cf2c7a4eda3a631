// One client socket as the server sees it, driven by a raw peer: the proof before anything else,
// connection-level errors (PROTOCOL, FRAME_TOO_LARGE, AUTH_FAILED) that close only that socket,
// request-level errors that keep it, idle timeouts, and backpressure on a client that never reads.

import { describe, expect, test } from 'bun:test'
import { Server, connect, type ListenOptions } from '../../src/index.ts'
import { codec, RawClient } from '../fixtures/wire.ts'
import { expectCode, waitFor } from '../contract/helpers.ts'
import { spawnFixture } from '../fixtures/spawn.ts'
import { manualTimers } from '../fixtures/timers.ts'
import { Host } from '../../src/host/host.ts'

const PASSWORD = 'session-test'

async function listen(server: Server, options: ListenOptions = {}): Promise<number> {
  const { port } = await server.listen({ host: '127.0.0.1', port: 0, password: PASSWORD, ...options })
  return port
}

/** Reads what a closing server says last: one id-0 error frame, then the end of the stream. */
async function expectConnectionError(client: RawClient, code: string): Promise<void> {
  const message = (await client.nextMessage()) as [number, number, [string, string]]
  expect([message[0], message[1], message[2][0]]).toEqual([0, 1, code])
  expect(await client.nextFrame()).toBeUndefined()
  await client.closed
}

/** A well-behaved client still gets served: what a test checks after another socket misbehaved. */
async function expectStillServing(port: number, options = ''): Promise<void> {
  await using db = await connect(`cyberdb://:${PASSWORD}@127.0.0.1:${port}${options}`)
  expect(await db.tables()).toBeArray()
}

describe('authentication', () => {
  test('the correct proof is answered with an ok connection reply', async () => {
    await using server = new Server()
    await using client = await RawClient.connect(await listen(server))
    expect(await client.handshake(PASSWORD)).toEqual([0, 0, null])
    client.sendMessage([1, 'db.tables', '', []])
    expect(await client.nextMessage()).toEqual([1, 0, []])
  })

  test('a wrong password gets AUTH_FAILED and the socket closes', async () => {
    await using server = new Server()
    await using client = await RawClient.connect(await listen(server))
    const reply = (await client.handshake('not the password')) as [number, number, [string, string]]
    expect([reply[0], reply[1], reply[2][0]]).toEqual([0, 1, 'AUTH_FAILED'])
    expect(await client.nextFrame()).toBeUndefined()
    await client.closed
  })

  test('connect() is refused with AUTH_FAILED for a wrong password', async () => {
    await using server = new Server()
    const port = await listen(server)
    await expectCode(connect(`cyberdb://:wrong@127.0.0.1:${port}`), 'AUTH_FAILED')
    await expectStillServing(port)
  })

  const beforeProof: [string, Uint8Array][] = [
    ['a msgpack request', codec.pack([1, 'db.create', 'sneaky', ['dict', { a: 1 }]])],
    ['a 32-byte msgpack request', (() => {
      const body = codec.pack([1, 'db.create', 'sneaky', ['dict']])
      const padded = new Uint8Array(32)
      padded.set(body)
      return padded
    })()],
    ['an empty frame', new Uint8Array(0)],
  ]
  for (const [what, frame] of beforeProof) {
    test(`${what} sent instead of the proof gets AUTH_FAILED and nothing is applied`, async () => {
      const host = new Host()
      await using server = new Server({ host })
      await using client = await RawClient.connect(await listen(server))
      await client.hello()
      client.sendFrame(frame)
      client.sendMessage([2, 'db.create', 'sneaky2', ['list']]) // pipelined after it: dropped too
      await expectConnectionError(client, 'AUTH_FAILED')
      expect([...host.store.tables.keys()]).toEqual([])
    })
  }
})

describe('connection-level errors', () => {
  const garbage: [string, Uint8Array][] = [
    ['a byte msgpack never uses', new Uint8Array([0xc1])],
    ['a truncated array', new Uint8Array([0x94, 0x01, 0xa3, 0x61])],
    ['a string header longer than the frame', new Uint8Array([0xdb, 0xff, 0xff, 0xff, 0xff, 0x61])],
  ]
  for (const [what, frame] of garbage) {
    test(`${what} after auth gets PROTOCOL, the socket closes, and others are still served`, async () => {
      await using server = new Server()
      const port = await listen(server)
      await using client = await RawClient.connect(port)
      await client.handshake(PASSWORD)
      client.sendFrame(frame)
      await expectConnectionError(client, 'PROTOCOL')
      await expectStillServing(port)
    })
  }

  const wrongShapes: [string, unknown][] = [
    ['a map', { id: 1, name: 'db.tables' }],
    ['a string', 'db.tables'],
    ['null', null],
    ['a request with id 0', [0, 'db.tables', '', []]],
    ['a request with a negative id', [-3, 'db.tables', '', []]],
  ]
  for (const [what, message] of wrongShapes) {
    test(`${what} after auth gets PROTOCOL and the socket closes`, async () => {
      await using server = new Server()
      const port = await listen(server)
      await using client = await RawClient.connect(port)
      await client.handshake(PASSWORD)
      client.sendMessage(message)
      await expectConnectionError(client, 'PROTOCOL')
      await expectStillServing(port)
    })
  }

  // Once the id is readable the request fails alone (issue 8.15): these used to close the socket.
  const illShaped: [string, unknown[], string][] = [
    ['a request whose args are not an array', [1, 'db.tables', '', 'none'], 'the arguments of db.tables must be an array, not a string'],
    ['a request with a numeric name', [1, 7, '', []], 'an operation name must be a string, not a number'],
    ['a request with a numeric table', [1, 'dict.get', 42, ['x']], 'a table name must be a string, not a number'],
    ['a request with three elements', [1, 'db.tables', ''], 'a request is [id, name, table, args], not 3 items'],
  ]
  for (const [what, message, error] of illShaped) {
    test(`${what} after auth gets BAD_ARGUMENT on its id and the connection stays usable`, async () => {
      const host = new Host()
      await using server = new Server({ host })
      await using client = await RawClient.connect(await listen(server))
      await client.handshake(PASSWORD)
      client.sendMessage(message)
      client.sendMessage([2, 'db.create', 'after', ['list']])
      expect([await client.nextMessage(), await client.nextMessage()])
        .toEqual([[1, 1, ['BAD_ARGUMENT', error]], [2, 0, true]])
      expect(host.store.tables.has('after')).toBe(true)
    })
  }

  test('ill-shaped requests with a readable id, sent to a server in its own process, each get an error reply; the connection goes on', async () => {
    const child = spawnFixture('serve-fixture.ts', [PASSWORD])
    try {
      await child.stdout.until((lines) => lines.some((l) => l.startsWith('listening ')), 'the server to listen')
      const port = Number(child.stdout.lines().find((l) => l.startsWith('listening '))!.split(' ')[1])
      await using client = await RawClient.connect(port)
      await client.handshake(PASSWORD)
      const requests: unknown[][] = [
        [1, 'db.create', 42, ['dict']],
        [2, 'dict.get', { name: 'd' }, ['x']],
        [3, 'db.tables', '', 'not an array'],
        [4, 'db.save', '', null],
        [5, ['dict.get'], 'd', ['x']],
        [6, 'dict.get', 'd', ['x'], 'extra'],
        [7, 'db.create', 'd', ['dict']],
      ]
      for (const request of requests) client.sendMessage(request)
      const replies = []
      for (let i = 0; i < requests.length; i++) replies.push(await client.nextMessage())
      expect(replies).toEqual([
        [1, 1, ['BAD_ARGUMENT', 'a table name must be a string, not a number']],
        [2, 1, ['BAD_ARGUMENT', 'a table name must be a string, not an object']],
        [3, 1, ['BAD_ARGUMENT', 'the arguments of db.tables must be an array, not a string']],
        [4, 1, ['BAD_ARGUMENT', 'the arguments of db.save must be an array, not null']],
        [5, 1, ['BAD_ARGUMENT', 'an operation name must be a string, not an array']],
        [6, 1, ['BAD_ARGUMENT', 'a request is [id, name, table, args], not 5 items']],
        [7, 0, true],
      ])
      client.sendMessage([8, 'db.tables', '', []])
      expect(await client.nextMessage()).toEqual([8, 0, [{ name: 'd', type: 'dict', size: 0 }]])
    } finally {
      child.proc.kill()
      await child.finish()
    }
  })

  test('a request after a bad frame in the same write is not applied', async () => {
    const host = new Host()
    await using server = new Server({ host })
    await using client = await RawClient.connect(await listen(server))
    await client.handshake(PASSWORD)
    client.sendFrame(new Uint8Array([0xc1]))
    client.sendMessage([1, 'db.create', 'after', ['list']])
    await expectConnectionError(client, 'PROTOCOL')
    expect(host.store.tables.has('after')).toBe(false)
  })

  for (const when of ['before', 'after'] as const) {
    test(`a length prefix over the limit ${when} auth gets FRAME_TOO_LARGE at once, then close`, async () => {
      await using server = new Server()
      const port = await listen(server, { maxFrameBytes: 1024 })
      await using client = await RawClient.connect(port)
      if (when === 'after') await client.handshake(PASSWORD)
      else await client.hello()
      // Only the prefix of a 1 MB frame: the server must not wait for the body to refuse it.
      const prefix = new Uint8Array(4)
      new DataView(prefix.buffer).setUint32(0, 1024 * 1024)
      client.send(prefix)
      await expectConnectionError(client, 'FRAME_TOO_LARGE')
      await expectStillServing(port)
    })
  }

  test('a frame exactly at the limit is read', async () => {
    await using server = new Server()
    const port = await listen(server, { maxFrameBytes: 1024 })
    await using client = await RawClient.connect(port)
    await client.handshake(PASSWORD)
    const request = (fill: string) => codec.pack([1, 'db.create', 'exact', ['list', [fill]]])
    // An empty string's header is one byte; a long one's is three (str 16).
    const body = request('x'.repeat(1024 - request('').length - 2))
    expect(body.length).toBe(1024)
    client.sendFrame(body)
    expect(await client.nextMessage()).toEqual([1, 0, true])
  })
})

describe('request-level errors keep the connection', () => {
  test('an unknown operation gets a BAD_ARGUMENT reply and the connection stays open', async () => {
    await using server = new Server()
    await using client = await RawClient.connect(await listen(server))
    await client.handshake(PASSWORD)
    client.sendMessage([1, 'dict.frobnicate', 't', []])
    client.sendMessage([2, 'db.tables', '', []])
    const [id, status, [code]] = (await client.nextMessage()) as [number, number, [string]]
    expect([id, status, code]).toEqual([1, 1, 'BAD_ARGUMENT'])
    expect(await client.nextMessage()).toEqual([2, 0, []])
    expect(client.isClosed).toBe(false)
  })

  test('an engine error is an error reply with its code and the connection stays open', async () => {
    await using server = new Server()
    await using client = await RawClient.connect(await listen(server))
    await client.handshake(PASSWORD)
    client.sendMessage([1, 'dict.get', 'missing', ['k']])
    client.sendMessage([2, 'db.create', 'present', ['dict']])
    const [id, status, [code]] = (await client.nextMessage()) as [number, number, [string]]
    expect([id, status, code]).toEqual([1, 1, 'TABLE_NOT_FOUND'])
    expect(await client.nextMessage()).toEqual([2, 0, true])
  })

  test('a reply over the frame limit is a FRAME_TOO_LARGE reply and the connection stays usable', async () => {
    const host = new Host()
    await using server = new Server({ host })
    await using client = await RawClient.connect(await listen(server, { maxFrameBytes: 1024 }))
    await client.handshake(PASSWORD)
    for (let i = 1; i <= 4; i++) client.sendMessage([i, 'list.push', 'big', ['y'.repeat(400)]])
    host.store.apply({ table: 'big', name: 'db.create', args: ['list'] })
    for (let i = 1; i <= 4; i++) expect(await client.nextMessage()).toEqual([i, 0, i])
    client.sendMessage([5, 'list.slice', 'big', []])
    client.sendMessage([6, 'list.length', 'big', []])
    const [id, status, [code]] = (await client.nextMessage()) as [number, number, [string]]
    expect([id, status, code]).toEqual([5, 1, 'FRAME_TOO_LARGE'])
    expect(await client.nextMessage()).toEqual([6, 0, 4])
  })
})

describe('timeouts and backpressure', () => {
  test('a connection silent for idleTimeout seconds is closed', async () => {
    const timers = manualTimers()
    await using server = new Server({ setTimer: timers.setTimer })
    const port = await listen(server, { idleTimeout: 1 })
    await using client = await RawClient.connect(port)
    await client.handshake(PASSWORD)
    expect(server.connections).toBe(1)
    // The first sweep sees its handshake; the next one a whole idleTimeout of silence since.
    timers.advance(2000)
    await waitFor(() => client.isClosed, 'the idle connection to close')
    await waitFor(() => server.connections === 0, 'the server to drop the session')
    // The goodbye says why, and that nothing sent after the replies before it was read.
    expect(await client.nextMessage()).toEqual([0, 1, ['CONNECTION_CLOSED', 'idle for 1 s']])
    expect(await client.nextFrame()).toBeUndefined()
    await expectStillServing(port)
  })

  test('a client that pipelines large reads and never reads replies is paused, not buffered', async () => {
    const host = new Host()
    await using server = new Server({ host })
    const port = await listen(server)
    const ITEMS = 1000
    const item = (i: number) => `${i}:${'x'.repeat(1000)}`
    host.store.apply({ table: 'big', name: 'db.create', args: ['list', Array.from({ length: ITEMS }, (_, i) => item(i))] })
    const REQUESTS = 150 // each reply is ~1 MB: 150 MB if the server buffered them all
    await using flooder = await RawClient.connect(port)
    await flooder.handshake(PASSWORD)
    flooder.pause()
    Bun.gc(true)
    const before = process.memoryUsage().arrayBuffers
    // One write: every request arrives in the same chunk, which is the hard case.
    const requests = Array.from({ length: REQUESTS }, (_, i) => {
      const body = codec.pack([i + 1, 'list.slice', 'big', []])
      const frame = new Uint8Array(4 + body.length)
      new DataView(frame.buffer).setUint32(0, body.length)
      frame.set(body, 4)
      return frame
    })
    flooder.send(Buffer.concat(requests))

    // Another client is served meanwhile...
    {
      await using db = await connect(`cyberdb://:${PASSWORD}@127.0.0.1:${port}`)
      expect(await db.list('big').length()).toBe(ITEMS)
      expect(await db.list('big').at(-1)).toBe(item(ITEMS - 1))
    }
    // ...and the server holds a bounded amount of output for the flooder (8 MiB by design, plus
    // the kernel's socket buffers), not the 150 MB it asked for.
    const held = process.memoryUsage().arrayBuffers - before
    expect(held).toBeLessThan(64 * 1024 * 1024)

    // Once it reads, the flooder gets every reply, complete and in order.
    flooder.resume()
    for (let id = 1; id <= REQUESTS; id++) {
      const [replyId, status, items] = (await flooder.nextMessage()) as [number, number, string[]]
      expect({ replyId, status, length: items.length, last: items[ITEMS - 1] })
        .toEqual({ replyId: id, status: 0, length: ITEMS, last: item(ITEMS - 1) })
    }
    // And it is read from again once drained.
    flooder.sendMessage([REQUESTS + 1, 'list.length', 'big', []])
    expect(await flooder.nextMessage()).toEqual([REQUESTS + 1, 0, ITEMS])
  })

  test('clients that ask for a large value and never read hold, together, no more than the server-wide bound plus one reply', async () => {
    const host = new Host()
    await using server = new Server({ host })
    const PER_SESSION = 1024 * 1024
    const TOTAL = 8 * 1024 * 1024
    const port = await listen(server, { maxUnsentBytes: PER_SESSION, maxUnsentTotalBytes: TOTAL })
    const VALUE = 16 * 1024 * 1024 // more than the kernel's socket buffers take for a client that does not read
    host.store.apply({ table: 'big', name: 'db.create', args: ['dict'] })
    host.store.apply({ table: 'big', name: 'dict.set', args: ['v', new Uint8Array(VALUE).fill(9)] })
    const CLIENTS = 10 // 160 MiB of replies if every one were held
    const clients = await Promise.all(Array.from({ length: CLIENTS }, async () => {
      const client = await RawClient.connect(port)
      await client.handshake(PASSWORD)
      client.pause()
      client.sendMessage([1, 'dict.get', 'big', ['v']])
      return client
    }))
    try {
      // Every session is paused: by its own unsent reply, or before it ran, by the server's bound.
      await waitFor(() => server.output.pausedSessions === CLIENTS, 'every session to pause')
      const reply = VALUE + 64
      expect(server.output.peakUnsentBytes).toBeLessThanOrEqual(TOTAL + reply)
      expect(server.output.unsentBytes).toBeLessThanOrEqual(TOTAL + reply)
      // Once they read, each gets its whole reply, and the sessions that waited run theirs.
      for (const client of clients) client.resume()
      const replies = await Promise.all(clients.map(async (client) => {
        const [id, status, value] = (await client.nextMessage()) as [number, number, Uint8Array]
        return { id, status, length: value.length, last: value[VALUE - 1] }
      }))
      expect(replies).toEqual(clients.map(() => ({ id: 1, status: 0, length: VALUE, last: 9 })))
      expect(server.output.peakUnsentBytes).toBeLessThanOrEqual(TOTAL + reply)
      await waitFor(() => server.output.unsentBytes === 0, 'every reply to be taken')
    } finally {
      await Promise.all(clients.map((client) => client[Symbol.asyncDispose]()))
    }
  })

  const ways: [string, string][] = [['plain', ''], ['encrypted', '?encrypt=true']]
  for (const [what, params] of ways) {
    test(`a session's buffers shrink back after a large request and a large reply (${what})`, async () => {
      await using server = new Server()
      const port = await listen(server, { encrypt: params !== '' })
      await using db = await connect(`cyberdb://:${PASSWORD}@127.0.0.1:${port}${params}${params ? '&' : '?'}pool=1`)
      const VALUE = 16 * 1024 * 1024
      await db.createDict('big')
      await db.dict('big').set('v', new Uint8Array(VALUE).fill(4)) // a large request frame
      const value = (await db.dict('big').get('v')) as Uint8Array // a large reply
      expect([value.length, value[VALUE - 1]]).toEqual([VALUE, 4])
      await waitFor(() => server.output.unsentBytes === 0, 'the reply to be taken')
      expect(server.connections).toBe(1)
      expect(server.output.bufferBytes).toBeLessThan(1024 * 1024)
    })
  }
})
