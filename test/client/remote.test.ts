// The remote transport: the shared contracts over cyberdb://, then what only the network mode
// promises: authentication and bounded connecting, URL parameters, a pool that replaces dead
// connections, failures of requests in flight, proxies, server-side saves, streaming, pipelining.

import { afterAll, describe, expect, test } from 'bun:test'
import { CyberError, Server, connect, type Clock, type Database, type ErrorCode } from '../../src/index.ts'
import { parseRemoteUrl } from '../../src/connect.ts'
import { Database as RemoteDatabase } from '../../src/client/database.ts'
import { RemoteTransport } from '../../src/client/remote.ts'
import { storeContract } from '../contract/store.contract.ts'
import { takeContract } from '../contract/take.contract.ts'
import { propertyContract, ttlPropertyContract } from '../contract/property.contract.ts'
import { cacheContract } from '../contract/cache.contract.ts'
import { feedContract, type FeedKit, type FeedOptions } from '../contract/feed.contract.ts'
import { expectCode, tempDir, uniqueName, waitFor } from '../contract/helpers.ts'
import { RawClient, codec, fakeServer } from '../fixtures/wire.ts'
import { spawnFixture } from '../fixtures/spawn.ts'
import { manualTimers } from '../fixtures/timers.ts'
import { Host } from '../../src/host/host.ts'

const PASSWORD = 'pw'
const server = new Server()
const { port } = await server.listen({ host: '127.0.0.1', port: 0, password: PASSWORD })
afterAll(() => server.close())

const URL = `cyberdb://:${PASSWORD}@127.0.0.1:${port}`

// The atomic contract's concurrent clients are separate connections (one each: pool=1).
storeContract('remote', () => connect(URL), async (_db, n) => {
  const clients = await Promise.all(Array.from({ length: n }, () => connect(`${URL}?pool=1`)))
  return { clients, close: async () => void await Promise.all(clients.map((client) => client.close())) }
})
/**
 * A database on `own` (listening here) and peers, other clients of it: all closed with the kit,
 * then the server, then `after`.
 */
async function serverKit(own: Server, after: () => void = () => {}) {
  const address = await own.listen({ host: '127.0.0.1', port: 0, password: PASSWORD })
  const url = `cyberdb://:${PASSWORD}@127.0.0.1:${address.port}`
  const peers: Database[] = []
  const db = await connect(url)
  return {
    db,
    peer: async () => {
      const peer = await connect(url)
      peers.push(peer)
      return peer
    },
    async [Symbol.asyncDispose]() {
      for (const peer of [db, ...peers]) await peer.close()
      await own.close()
      after()
    },
  }
}

// Each test gets a server of its own whose timers (the takes' waits) are the test's; peers are
// other clients of it.
takeContract((timers) => serverKit(new Server({ setTimer: timers.setTimer })))
propertyContract('remote', () => connect(URL))

// Cache tables need a server on the test's manual clock: one per database, closed with it (a
// restart is a new server on the same data file).
const cacheDir = tempDir()
afterAll(() => cacheDir[Symbol.dispose]())
async function serveOnClock(clock: Clock, file?: string): Promise<Database> {
  const own = new Server({ clock })
  if (file !== undefined) {
    await own.load(file)
    own.setBackup(file, 3600)
  }
  const { port: ownPort } = await own.listen({ host: '127.0.0.1', port: 0, password: PASSWORD })
  const db = await connect(`cyberdb://:${PASSWORD}@127.0.0.1:${ownPort}`)
  const close = db.close.bind(db)
  db.close = async () => {
    await close()
    await own.close()
  }
  return db
}
cacheContract('remote', {
  open: (clock) => serveOnClock(clock),
  reopen: (name, clock) => serveOnClock(clock, cacheDir.file(`${name}.cdb`)),
})
ttlPropertyContract('remote', (clock) => serveOnClock(clock))

/** A port nothing listens on: bound by us a moment ago, then released. */
function deadPort(): number {
  const listener = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } })
  const dead = listener.port
  listener.stop(true)
  return dead
}

async function elapsed(action: () => Promise<unknown>): Promise<number> {
  const started = performance.now()
  await action()
  return performance.now() - started
}

describe('connecting', () => {
  test('a wrong password fails with AUTH_FAILED at once, not after the connect timeout', async () => {
    const took = await elapsed(() => expectCode(connect(`cyberdb://:wrong@127.0.0.1:${port}?connectTimeout=30`), 'AUTH_FAILED'))
    expect(took).toBeLessThan(2000)
  })

  test('a missing password fails with AUTH_FAILED', async () => {
    await expectCode(connect(`cyberdb://127.0.0.1:${port}`), 'AUTH_FAILED')
  })

  test('a port nobody listens on fails with CONNECTION_CLOSED', async () => {
    await expectCode(connect(`cyberdb://:${PASSWORD}@127.0.0.1:${deadPort()}`), 'CONNECTION_CLOSED')
  })

  test('a server that accepts but never says hello fails with TIMEOUT within connectTimeout', async () => {
    const silent = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } })
    try {
      let message = ''
      const took = await elapsed(async () => {
        message = (await expectCode(connect(`cyberdb://:${PASSWORD}@127.0.0.1:${silent.port}?connectTimeout=0.3`), 'TIMEOUT')).message
      })
      expect(took).toBeGreaterThanOrEqual(250)
      expect(took).toBeLessThan(2000)
      // What a TLS or HTTP port does: it waits for the client. The message says so (8.16e).
      expect(message).toBe(`connecting to 127.0.0.1:${silent.port} took longer than 300 ms: the peer sent nothing, ` +
        'no CyberDB hello (a TLS port needs cyberdbs://; an HTTP or other service waits silently: check the port)')
    } finally {
      silent.stop(true)
    }
  })

  const strangers: [string, Uint8Array, string][] = [
    ['an HTTP server', new TextEncoder().encode('HTTP/1.1 400 Bad Request\r\n\r\n'), 'an HTTP server'],
    ['a TLS alert', new Uint8Array([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28]), 'another service'],
    ['a TLS record', new Uint8Array([0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5]), 'a TLS server'],
    ['an SSH banner', new TextEncoder().encode('SSH-2.0-OpenSSH_9.6\r\n'), 'an SSH server'],
    ['a small length prefix and a body that is no hello', new Uint8Array([0, 0, 1, 0, 0x58]), 'another service'],
    ['a hello-sized frame that does not start with the magic', new Uint8Array([0, 0, 0, 45, 0x43, 0x59, 0x42, 0x58]), 'another service'],
  ]
  for (const [what, bytes, like] of strangers) {
    test(`a peer that sends ${what} fails at once with PROTOCOL saying it sent no CyberDB hello (8.16e)`, async () => {
      const peer = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { open: (socket) => void socket.write(bytes), data() {} } })
      try {
        let message = ''
        const took = await elapsed(async () => {
          message = (await expectCode(connect(`cyberdb://:${PASSWORD}@127.0.0.1:${peer.port}?connectTimeout=30`), 'PROTOCOL')).message
        })
        expect(took).toBeLessThan(2000)
        expect(message).toBe(`the peer sent no CyberDB hello (it looks like ${like}): check the host and port, ` +
          'and connect to a TLS port with cyberdbs://')
      } finally {
        peer.stop(true)
      }
    })
  }

  test('a peer that is not a CyberDB server fails with PROTOCOL', async () => {
    const http = Bun.listen({
      hostname: '127.0.0.1',
      port: 0,
      socket: { open: (socket) => void socket.write('HTTP/1.1 400 Bad Request\r\n\r\n'), data() {} },
    })
    try {
      await expectCode(connect(`cyberdb://:${PASSWORD}@127.0.0.1:${http.port}?connectTimeout=5`), 'PROTOCOL')
    } finally {
      http.stop(true)
    }
  })

  test('a server speaking another protocol version fails with PROTOCOL', async () => {
    const { encodeFrame } = await import('../../src/protocol/frame.ts')
    const { encodeHello } = await import('../../src/protocol/messages.ts')
    const future = Bun.listen({
      hostname: '127.0.0.1',
      port: 0,
      socket: {
        open: (socket) => void socket.write(encodeFrame(encodeHello({
          version: 99, flags: 0, maxFrameBytes: 1024, nonce: new Uint8Array(32),
        }))),
        data() {},
      },
    })
    try {
      await expectCode(connect(`cyberdb://:${PASSWORD}@127.0.0.1:${future.port}?connectTimeout=5`), 'PROTOCOL')
    } finally {
      future.stop(true)
    }
  })

  const passwordForms: [string, () => Promise<Database>][] = [
    ['in the URL userinfo', () => connect(`cyberdb://:${PASSWORD}@127.0.0.1:${port}`)],
    ['as connect(url, { password })', () => connect(`cyberdb://127.0.0.1:${port}`, { password: PASSWORD })],
    ['as ?password=', () => connect(`cyberdb://127.0.0.1:${port}?password=${PASSWORD}`)],
    ['as an option that overrides a wrong one in the URL', () =>
      connect(`cyberdb://:wrong@127.0.0.1:${port}?password=wrong`, { password: PASSWORD })],
  ]
  for (const [form, open] of passwordForms) {
    test(`the password given ${form} authenticates`, async () => {
      await using db = await open()
      expect(await db.tables()).toBeArray()
    })
  }

  test('a password with URL-special characters works percent-encoded in the userinfo and the query', async () => {
    const secret = 'p@ss:w/rd?&=%'
    await using special = new Server()
    const address = await special.listen({ host: '127.0.0.1', port: 0, password: secret })
    const encoded = encodeURIComponent(secret)
    for (const url of [
      `cyberdb://:${encoded}@127.0.0.1:${address.port}`,
      `cyberdb://127.0.0.1:${address.port}?password=${encoded}`,
    ]) {
      await using db = await connect(url)
      expect(await db.tables()).toEqual([])
    }
  })
})

describe('URL parameters', () => {
  const good: [string, Record<string, unknown>][] = [
    ['', { pool: 4, idleTimeout: 300, connectTimeoutMs: 10_000, port: 9980 }],
    [':1234?pool=2', { pool: 2, port: 1234 }],
    ['?pool=16&timeout=30', { pool: 16, idleTimeout: 30 }],
    ['?timeout=0.5', { idleTimeout: 0.5 }],
    ['?connectTimeout=0.25', { connectTimeoutMs: 250 }],
    ['?encrypt=true', { encrypt: true }],
    ['?encrypt=false', { encrypt: false }],
  ]
  for (const [suffix, expected] of good) {
    test(`cyberdb://h${suffix} parses to ${JSON.stringify(expected)}`, async () => {
      const options = await parseRemoteUrl(`cyberdb://h${suffix}`)
      expect({ ...options, host: 'h' }).toMatchObject({ ...expected, host: 'h' })
    })
  }

  const bad: [string, string][] = [
    ['pool=0', 'pool must be a positive number'],
    ['pool=-2', 'pool must be a positive number'],
    ['pool=1.5', 'pool must be a whole number'],
    ['pool=many', 'pool must be a positive number'],
    ['pool=', 'pool must be a positive number'],
    ['timeout=0', 'timeout must be a positive number'],
    ['timeout=soon', 'timeout must be a positive number'],
    ['timeout=Infinity', 'timeout must be a positive number'],
    ['connectTimeout=-1', 'connectTimeout must be a positive number'],
    ['connectTimeout=', 'connectTimeout must be a positive number'],
    ['poll=4', 'unknown parameter "poll"'],
    ['encrypt=yes', 'encrypt must be true or false'],
    ['ca=/tmp/ca.pem', 'unknown parameter "ca"'],
  ]
  for (const [query, why] of bad) {
    test(`?${query} fails with BAD_ARGUMENT before connecting`, async () => {
      // A dead port: a parse error must come first, not a connection error.
      const error = await expectCode(connect(`cyberdb://:x@127.0.0.1:${deadPort()}?${query}`), 'BAD_ARGUMENT')
      expect(error.message).toContain(why)
    })
  }

  test('a cyberdb URL without a host fails with BAD_ARGUMENT', async () => {
    await expectCode(connect('cyberdb://:pw@:9980'), 'BAD_ARGUMENT')
  })
})

describe('the connection pool', () => {
  test('a connection the server closed for idleness is replaced transparently on next use', async () => {
    const timers = manualTimers()
    await using idle = new Server({ setTimer: timers.setTimer })
    const address = await idle.listen({ host: '127.0.0.1', port: 0, password: PASSWORD, idleTimeout: 1 })
    await using db = await connect(`cyberdb://:${PASSWORD}@127.0.0.1:${address.port}?pool=1`)
    await db.createDict('kept', { a: 1 })
    expect(idle.connections).toBe(1)
    timers.advance(2000) // the idle sweep: a whole idleTimeout of silence since its last request
    await waitFor(() => idle.connections === 0, 'the server to close the idle connection')
    expect(await db.dict('kept').get('a')).toBe(1)
    expect(idle.connections).toBe(1)
  })

  test('connections idle past ?timeout= are dropped by the client and reopened on next use', async () => {
    await using counted = new Server()
    const address = await counted.listen({ host: '127.0.0.1', port: 0, password: PASSWORD })
    await using db = await connect(`cyberdb://:${PASSWORD}@127.0.0.1:${address.port}?timeout=0.1&pool=1`)
    await db.createList('reaped', [1])
    expect(counted.connections).toBe(1)
    await waitFor(() => counted.connections === 0, 'the client to drop its idle connection')
    expect(await db.list('reaped').length()).toBe(1)
    expect(counted.connections).toBe(1)
  })

  test('requests in flight when their connection dies fail with CONNECTION_CLOSED; the next call reconnects', async () => {
    let doomed: unknown
    await using fake = fakeServer(PASSWORD, (socket, request) => {
      const [id] = request as [number]
      // The first connection dies on its first request; later ones answer.
      doomed ??= socket
      if (socket === doomed) {
        socket.terminate()
        return
      }
      socket.write(frame(codec.pack([id, 0, ['answered']])))
    })
    await using db = await connect(`cyberdb://:${PASSWORD}@127.0.0.1:${fake.port}?pool=1`)
    const inFlight = [db.tables(), db.tables(), db.tables()]
    for (const request of inFlight) await expectCode(request, 'CONNECTION_CLOSED')
    expect(await db.tables()).toEqual(['answered'] as never)
  })

  test('requests a server retired unread (its goodbye) go again on a new connection; the caller notices nothing', async () => {
    let retired: unknown
    const seen: number[] = []
    await using fake = fakeServer(PASSWORD, (socket, request) => {
      const [id] = request as [number]
      seen.push(id)
      retired ??= socket
      if (socket === retired) {
        // As an idle or closing server does: a goodbye instead of replies, then the end.
        socket.end(frame(codec.pack([0, 1, ['CONNECTION_CLOSED', 'idle for 1 s']])))
        return
      }
      socket.write(frame(codec.pack([id, 0, [`answer ${id}`]])))
    })
    await using db = await connect(`cyberdb://:${PASSWORD}@127.0.0.1:${fake.port}?pool=1`)
    const results = await Promise.all([db.tables(), db.tables(), db.tables()])
    expect(results).toEqual([['answer 1'], ['answer 2'], ['answer 3']] as never)
    // The retiring connection got all three (ids are per connection) and answered none; the
    // next connection got them again and answered each once.
    expect(seen).toEqual([1, 2, 3, 1, 2, 3])
  })

  test('close() waits a bounded time for a server that never answers, then fails what is in flight', async () => {
    await using fake = fakeServer(PASSWORD, () => {}) // reads requests, answers none
    // A short wait (the default is 2 s): what is asserted is that close() does not hang.
    const options = await parseRemoteUrl(`cyberdb://:${PASSWORD}@127.0.0.1:${fake.port}`)
    const db = new RemoteDatabase(await RemoteTransport.open({ ...options, closeWaitMs: 50 }))
    const hanging = db.tables()
    await Promise.resolve() // let the request leave
    const started = performance.now()
    await db.close()
    expect(performance.now() - started).toBeLessThan(5000)
    await expectCode(hanging, 'CONNECTION_CLOSED')
  })

  test('a server that closes before answering fails the request with CONNECTION_CLOSED', async () => {
    await using fake = fakeServer(PASSWORD, (socket) => socket.end())
    await using db = await connect(`cyberdb://:${PASSWORD}@127.0.0.1:${fake.port}`)
    await expectCode(db.dict('d').get('k'), 'CONNECTION_CLOSED')
  })

  test('a server that stopped fails the next call with CONNECTION_CLOSED', async () => {
    const stopping = new Server()
    const address = await stopping.listen({ host: '127.0.0.1', port: 0, password: PASSWORD })
    await using db = await connect(`cyberdb://:${PASSWORD}@127.0.0.1:${address.port}?connectTimeout=2`)
    await db.tables()
    await stopping.close()
    await expectCode(db.tables(), 'CONNECTION_CLOSED')
  })

  test('a closed database fails its calls with CONNECTION_CLOSED', async () => {
    const db = await connect(URL)
    await db.close()
    expect(db.isClosed).toBe(true)
    await expectCode(db.tables(), 'CONNECTION_CLOSED')
    await expectCode(db.proxy(), 'CONNECTION_CLOSED')
  })

  test('close waits for the replies in flight', async () => {
    const name = uniqueName('closing')
    const db = await connect(URL)
    const created = db.createList(name, [1, 2, 3])
    const length = db.list(name).length()
    await db.close()
    expect([await created, await length]).toEqual([true, 3])
  })
})

describe('proxies', () => {
  test('a proxy has the table methods and sees what the database wrote', async () => {
    await using db = await connect(URL)
    const name = uniqueName('proxied')
    await db.createDict(name, { from: 'db' })
    await using proxy = await db.proxy()
    expect(await proxy.dict(name).get('from')).toBe('db')
    const list = uniqueName('proxy-list')
    expect(await proxy.createList(list, [1])).toBe(true)
    expect(await proxy.list(list).push(2)).toBe(2)
    expect((await proxy.tables()).map((t) => t.name)).toContain(list)
    expect(await proxy.dropTable(list)).toBe(true)
    expect(await db.dict(name).size()).toBe(1)
  })

  test('await using closes a proxy, and its handles then fail with CONNECTION_CLOSED', async () => {
    await using db = await connect(URL)
    const name = uniqueName('scoped')
    await db.createDict(name, { k: 1 })
    let handle
    {
      await using proxy = await db.proxy()
      handle = proxy.dict(name)
      expect(await handle.get('k')).toBe(1)
    }
    await expectCode(handle.get('k'), 'CONNECTION_CLOSED')
    // The database and its other proxies are unaffected.
    expect(await db.dict(name).get('k')).toBe(1)
  })

  test('an explicitly closed proxy fails its table methods with CONNECTION_CLOSED', async () => {
    await using db = await connect(URL)
    const proxy = await db.proxy()
    await proxy.close()
    await expectCode(proxy.tables(), 'CONNECTION_CLOSED')
    await expectCode(proxy.createDict(uniqueName('never')), 'CONNECTION_CLOSED')
  })

  test('more proxies than pool connections all work at once, sharing the pool', async () => {
    await using counted = new Server()
    const address = await counted.listen({ host: '127.0.0.1', port: 0, password: PASSWORD })
    await using db = await connect(`cyberdb://:${PASSWORD}@127.0.0.1:${address.port}?pool=3`)
    const name = 'shared-counter'
    await db.createDict(name)
    const PROXIES = 20
    const proxies = await Promise.all(Array.from({ length: PROXIES }, () => db.proxy()))
    const results = await Promise.all(proxies.map(async (proxy, i) => {
      await proxy.dict(name).set(`p${i}`, i)
      const total = await proxy.dict(name).incr('total')
      await proxy.close()
      return total
    }))
    expect(results.toSorted((a, b) => a - b)).toEqual(Array.from({ length: PROXIES }, (_, i) => i + 1))
    expect(await db.dict(name).size()).toBe(PROXIES + 1)
    expect(counted.connections).toBeLessThanOrEqual(3) // never more than the pool
  })
})

describe('saving', () => {
  test('db.save() makes the server write its backup file', async () => {
    using dir = tempDir()
    const path = dir.file('remote-save.cdb')
    await using backed = new Server()
    backed.setBackup(path, 3600)
    const address = await backed.listen({ host: '127.0.0.1', port: 0, password: PASSWORD })
    await using db = await connect(`cyberdb://:${PASSWORD}@127.0.0.1:${address.port}`)
    await db.createDict('saved', { a: 1, b: 2 })
    const stats = await db.save()
    expect({ tables: stats.tables, entries: stats.entries }).toEqual({ tables: 1, entries: 2 })
    expect(stats.bytes).toBe(Bun.file(path).size)
    const readerHost = new Host()
    await using reader = new Server({ host: readerHost })
    await reader.load(path)
    expect(readerHost.store.apply({ table: 'saved', name: 'dict.entries', args: [] })).toEqual([['a', 1], ['b', 2]])
  })

  test('db.save() on a server without a backup file fails with BAD_ARGUMENT', async () => {
    await using db = await connect(URL)
    await expectCode(db.save(), 'BAD_ARGUMENT')
    expect(await db.tables()).toBeArray() // the connection is still usable
  })

  test('db.save(path) fails with BAD_ARGUMENT: a remote database saves where the server says', async () => {
    await using db = await connect(URL)
    await expectCode(db.save('/tmp/elsewhere.cdb'), 'BAD_ARGUMENT')
  })

  test('a remote database cannot serve(): BAD_ARGUMENT', async () => {
    await using db = await connect(URL)
    await expectCode(db.serve({ host: '127.0.0.1', port: 0 }), 'BAD_ARGUMENT')
  })
})

describe('streaming and pipelining', () => {
  test('for await over a remote list of 2000 items yields them all in order', async () => {
    await using db = await connect(URL)
    const name = uniqueName('stream-list')
    const items = Array.from({ length: 2000 }, (_, i) => ({ i }))
    await db.createList(name, items)
    const seen = []
    for await (const item of db.list(name)) seen.push(item)
    expect(seen).toEqual(items)
  })

  test('for await over a remote dict of 2000 entries yields them all in insertion order', async () => {
    await using db = await connect(URL)
    const name = uniqueName('stream-dict')
    const entries = Array.from({ length: 2000 }, (_, i): [string, number] => [`k${1999 - i}`, i])
    await db.createDict(name, new Map(entries))
    const seen = []
    for await (const entry of db.dict(name)) seen.push(entry)
    expect(seen).toEqual(entries)
  })

  test('1000 requests issued without awaiting resolve with the right values, in order', async () => {
    await using db = await connect(URL)
    const name = uniqueName('pipelined')
    await db.createDict(name)
    const counter = db.dict<number>(name)
    const settled: number[] = []
    const increments = Array.from({ length: 1000 }, () => counter.incr('n').then((n) => {
      settled.push(n)
      return n
    }))
    const expected = Array.from({ length: 1000 }, (_, i) => i + 1)
    expect(await Promise.all(increments)).toEqual(expected)
    expect(settled).toEqual(expected) // resolved in the order they were issued
  })

  test('pipelined writes and reads of different kinds interleave correctly', async () => {
    await using db = await connect(URL)
    const name = uniqueName('interleaved')
    await db.createList(name)
    const list = db.list<number>(name)
    const calls: Promise<unknown>[] = []
    for (let i = 0; i < 300; i++) {
      calls.push(list.push(i), list.at(-1), list.length())
    }
    const results = await Promise.all(calls)
    for (let i = 0; i < 300; i++) {
      expect(results.slice(3 * i, 3 * i + 3)).toEqual([i + 1, i, i + 1])
    }
  })
})

describe('errors over the wire', () => {
  const engineErrors: [ErrorCode, (db: Database, name: string) => Promise<unknown>][] = [
    ['TABLE_NOT_FOUND', (db, name) => db.dict(`${name}-missing`).get('k')],
    ['TABLE_EXISTS', (db, name) => db.createDict(name)],
    ['WRONG_TABLE_TYPE', (db, name) => db.list(name).length()],
    ['KEY_NOT_FOUND', (db, name) => db.dict(name).pop('absent')],
    ['INDEX_OUT_OF_RANGE', async (db, name) => {
      await db.createList(`${name}-list`, [], { ifNotExists: true })
      return db.list(`${name}-list`).pop()
    }],
    ['VALUE_NOT_FOUND', async (db, name) => {
      await db.createList(`${name}-list2`, [1], { ifNotExists: true })
      return db.list(`${name}-list2`).remove(2)
    }],
    ['BAD_ARGUMENT', async (db, name) => {
      await db.createList(`${name}-mixed`, [1, 'a'], { ifNotExists: true })
      return db.list(`${name}-mixed`).sort()
    }],
  ]
  for (const [code, action] of engineErrors) {
    test(`${code} from the engine reaches a remote caller as the same CyberError class and code as embedded`, async () => {
      const results: unknown[] = []
      for (const open of [() => connect('memory://'), () => connect(URL)]) {
        await using db = await open()
        const name = uniqueName('errors')
        await db.createDict(name)
        const error = await expectCode(action(db, name), code)
        results.push({ isCyberError: error instanceof CyberError, name: error.name, code: error.code })
      }
      expect(results[1]).toEqual(results[0])
    })
  }

  test('a function value is refused with BAD_ARGUMENT before it is sent, as embedded does', async () => {
    await using db = await connect(URL)
    const name = uniqueName('fn')
    await db.createDict(name)
    await expectCode(db.dict(name).set('f', () => 1), 'BAD_ARGUMENT')
    expect(await db.dict(name).size()).toBe(0)
  })

  test('a request over the server frame limit fails with FRAME_TOO_LARGE and the connection stays usable', async () => {
    await using small = new Server()
    const address = await small.listen({ host: '127.0.0.1', port: 0, password: PASSWORD, maxFrameBytes: 1024 })
    await using db = await connect(`cyberdb://:${PASSWORD}@127.0.0.1:${address.port}`)
    await db.createList('l')
    await expectCode(db.list('l').push('x'.repeat(2000)), 'FRAME_TOO_LARGE')
    expect(await db.list('l').length()).toBe(0)
  })

  test('a reply over the server frame limit fails with FRAME_TOO_LARGE and the connection stays usable', async () => {
    await using small = new Server()
    const address = await small.listen({ host: '127.0.0.1', port: 0, password: PASSWORD, maxFrameBytes: 1024 })
    await using db = await connect(`cyberdb://:${PASSWORD}@127.0.0.1:${address.port}`)
    await db.createList('l')
    for (let i = 0; i < 4; i++) await db.list('l').push('y'.repeat(400))
    await expectCode(db.list('l').toArray(), 'FRAME_TOO_LARGE')
    expect(await db.list('l').length()).toBe(4)
  })

  test('a database past the server connection limit fails to connect with NOT_ALLOWED', async () => {
    await using limited = new Server()
    const address = await limited.listen({ host: '127.0.0.1', port: 0, password: PASSWORD, maxConnections: 1 })
    await using first = await connect(`cyberdb://:${PASSWORD}@127.0.0.1:${address.port}`)
    await expectCode(connect(`cyberdb://:${PASSWORD}@127.0.0.1:${address.port}`), 'NOT_ALLOWED')
    expect(await first.tables()).toEqual([])
  })
})

function frame(body: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + body.length)
  new DataView(out.buffer).setUint32(0, body.length)
  out.set(body, 4)
  return out
}

describe('ill-shaped requests (8.15)', () => {
  test('a non-string table name among 20 concurrent calls fails alone with BAD_ARGUMENT; the other 19 succeed', async () => {
    const child = spawnFixture('serve-fixture.ts', [PASSWORD])
    try {
      await child.stdout.until((lines) => lines.some((l) => l.startsWith('listening ')), 'the server to listen')
      const childPort = child.stdout.lines().find((l) => l.startsWith('listening '))!.split(' ')[1]
      await using db = await connect(`cyberdb://:${PASSWORD}@127.0.0.1:${childPort}?pool=1`)
      await using mem = await connect('memory://')
      for (const each of [db, mem]) await each.createDict('d', { x: 1 })
      const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) =>
        i === 9 ? db.dict(42 as never).get('x') : db.dict('d').get('x')))
      const bad = results[9] as PromiseRejectedResult
      expect(results.filter((r) => r.status === 'fulfilled' && r.value === 1).length).toBe(19)
      const embedded = await expectCode(mem.dict(42 as never).get('x'), 'BAD_ARGUMENT')
      expect([bad.reason instanceof CyberError && bad.reason.code, bad.reason.message])
        .toEqual(['BAD_ARGUMENT', embedded.message])
      expect(embedded.message).toBe('a table name must be a string, not a number')
      expect(await db.dict('d').get('x')).toBe(1) // the same connection goes on
    } finally {
      child.proc.kill()
      await child.finish()
    }
  })
})

describe('process lifetime (8.16f)', () => {
  test('a remote database that is never closed does not keep its process alive once idle', async () => {
    await using db = await connect(URL)
    await db.createDict('kept', { x: 42 }, { ifNotExists: true })
    const child = spawnFixture('never-close-fixture.ts', [URL])
    // Bounded: a child kept alive by an idle socket is killed, and the test says why.
    const kill = setTimeout(() => child.proc.kill(), 4_000)
    const result = await child.finish()
    clearTimeout(kill)
    expect(result).toEqual({ stdout: '42\n', stderr: '', exitCode: 0, signal: null })
  })
})

describe('waiting takes over the network (issue 11.3)', () => {
  async function served(timers = manualTimers(), idleTimeout?: number) {
    const host = new Host({ setTimer: timers.setTimer })
    const own = new Server({ host })
    const address = await own.listen({ host: '127.0.0.1', port: 0, password: PASSWORD, idleTimeout })
    return { own, host, timers, url: `cyberdb://:${PASSWORD}@127.0.0.1:${address.port}`, port: address.port }
  }

  test('closing the server ends waiting takes with CONNECTION_CLOSED, and the close does not wait for them', async () => {
    const { own, url } = await served()
    await using db = await connect(url)
    await db.createList('jobs')
    const taken = db.list('jobs').take({ wait: 3_600_000 })
    await db.tables()
    await own.close()
    const error = await expectCode(taken, 'CONNECTION_CLOSED')
    expect(error.message).toContain('shutting down')
  })

  test('a client closing with a take waiting asks the server to end it first', async () => {
    const { own, url } = await served()
    await using _ = own
    const db = await connect(url)
    await db.createList('jobs')
    const taken = db.list('jobs').take({ wait: 3_600_000 })
    await db.tables()
    await db.close()
    expect((await expectCode(taken, 'CONNECTION_CLOSED')).message).toContain('the take was cancelled')
    await using other = await connect(url)
    await other.list('jobs').push('kept')
    expect(await other.list('jobs').toArray()).toEqual(['kept'])
  })

  test('a connection waiting on a take is not idle: the idle sweep leaves it open', async () => {
    const { own, url, timers } = await served(manualTimers(), 1)
    await using _ = own
    await using db = await connect(`${url}?pool=1`)
    await db.createList('jobs')
    const taken = db.list('jobs').take({ wait: 60_000 })
    await db.tables()
    timers.advance(5000)
    await using other = await connect(url)
    await other.list('jobs').push('job')
    expect([await taken, own.connections]).toEqual(['job', 2])
  })

  test('a client whose socket dies while its take waits loses nothing: the next take gets the value', async () => {
    const { own, host, url, port } = await served()
    await using _ = own
    await using db = await connect(url)
    await db.createList('jobs')
    const raw = await RawClient.connect(port)
    await raw.handshake(PASSWORD)
    raw.sendMessage([7, 'list.take', 'jobs', [{ wait: 60_000 }]])
    await waitFor(() => host.waitingTakes === 1, 'the raw take to wait')
    await raw[Symbol.asyncDispose]()
    await waitFor(() => own.connections === 1, 'the server to see the socket gone')
    expect(host.waitingTakes).toBe(0)
    const taken = db.list('jobs').take({ wait: 60_000 })
    await db.list('jobs').push('job')
    expect([await taken, await db.list('jobs').length()]).toEqual(['job', 0])
  })
})

// The change feed: a server (its own host, to count its watchers) per kit; peers are other clients.
async function feedServer(options: FeedOptions = {}, file?: string): Promise<FeedKit> {
  const host = new Host({ clock: options.clock, feedHistory: options.feedHistory })
  const own = new Server({ host })
  if (file !== undefined) {
    await own.load(file)
    own.setBackup(file, 3600)
  }
  return { ...await serverKit(own, () => host.close()), watchers: () => host.watchers }
}
const feedDir = tempDir()
afterAll(() => feedDir[Symbol.dispose]())
feedContract('remote', {
  open: (options) => feedServer(options),
  reopen: (name, options) => feedServer(options, feedDir.file(`${name}.cdb`)),
})
