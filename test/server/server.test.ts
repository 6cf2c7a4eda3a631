// The Server as a whole: listening, the connection limit, closing (in-flight replies, the final
// snapshot, a bounded wait), loading and saving snapshots, periodic backups, and signals.

import { describe, expect, test } from 'bun:test'
import { readFileSync, writeFileSync } from 'node:fs'
import { Server, connect, type ListenOptions } from '../../src/index.ts'
import { RawClient } from '../fixtures/wire.ts'
import { spawnFixture } from '../fixtures/spawn.ts'
import { expectCode, tempDir, waitFor } from '../contract/helpers.ts'
import { snapshotContent } from '../fixtures/snapshot-content.ts'
import { AuthThrottle } from '../../src/security/throttle.ts'
import { Host } from '../../src/host/host.ts'

const PASSWORD = 'server-test'

async function listen(server: Server, options: ListenOptions = {}): Promise<number> {
  const { port } = await server.listen({ host: '127.0.0.1', port: 0, password: PASSWORD, ...options })
  return port
}

const url = (port: number, params = '') => `cyberdb://:${PASSWORD}@127.0.0.1:${port}${params}`

describe('listen', () => {
  test('listen with port 0 resolves the bound port, and clients reach the server there', async () => {
    const serverHost = new Host()
    await using server = new Server({ host: serverHost })
    const address = await server.listen({ host: '127.0.0.1', port: 0, password: PASSWORD })
    expect(address.host).toBe('127.0.0.1')
    expect(address.port).toBeGreaterThan(0)
    expect(server.address).toEqual(address)
    await using db = await connect(url(address.port))
    await db.createDict('here', { a: 1 })
    expect(serverHost.store.tables.has('here')).toBe(true)
    expect(server.connections).toBe(1)
  })

  test('listening twice fails with BAD_ARGUMENT', async () => {
    await using server = new Server()
    await listen(server)
    await expectCode(listen(server), 'BAD_ARGUMENT')
  })

  for (const host of ['::1', '[::1]']) {
    test(`listen on the IPv6 loopback as ${host} works, without a password too, and clients reach it (8.16d)`, async () => {
      await using server = new Server()
      const address = await server.listen({ host, port: 0 })
      expect(address.host).toBe('::1')
      await using db = await connect(`cyberdb://[::1]:${address.port}`)
      await db.createDict('v6', { a: 1 })
      expect(await db.dict('v6').get('a')).toBe(1)
    })
  }

  test('a host or port that cannot be bound is BAD_ARGUMENT naming the address, not a raw system error (8.16d)', async () => {
    await using taken = new Server()
    const port = await listen(taken)
    const messages = []
    // An address of no interface here (TEST-NET-1: no name lookup, nothing leaves the machine).
    for (const options of [{ host: '192.0.2.1' }, { host: '127.0.0.1', port }]) {
      await using server = new Server()
      messages.push((await expectCode(listen(server, options), 'BAD_ARGUMENT')).message)
      expect(server.address).toBeUndefined()
    }
    expect(messages.map((m) => m.slice(0, m.indexOf(': ')))).toEqual([
      'cannot listen on 192.0.2.1:0', `cannot listen on 127.0.0.1:${port}`,
    ])
  })
})

describe('maxConnections', () => {
  test('the connection past the limit gets a NOT_ALLOWED error frame instead of a hello, then closes', async () => {
    await using server = new Server()
    const port = await listen(server, { maxConnections: 1 })
    await using first = await RawClient.connect(port)
    expect(await first.handshake(PASSWORD)).toEqual([0, 0, null])
    await using second = await RawClient.connect(port)
    const refusal = (await second.nextMessage()) as [number, number, [string, string]]
    expect([refusal[0], refusal[1], refusal[2][0]]).toEqual([0, 1, 'NOT_ALLOWED'])
    await second.closed
    expect(server.connections).toBe(1)
  })

  test('connect() past the limit rejects with NOT_ALLOWED, and succeeds once a connection is gone', async () => {
    await using server = new Server()
    const port = await listen(server, { maxConnections: 2 })
    const first = await connect(url(port, '?pool=1'))
    await using second = await connect(url(port, '?pool=1'))
    await expectCode(connect(url(port)), 'NOT_ALLOWED')
    await first.close()
    await waitFor(() => server.connections === 1, 'the server to see the first client leave')
    await using third = await connect(url(port))
    expect(await third.tables()).toEqual([])
    expect(await second.tables()).toEqual([])
  })
})

describe('unauthenticated connections', () => {
  /** Opens `count` sockets that read the hello and then say nothing, as a stranger holding slots. */
  async function silent(port: number, count: number): Promise<RawClient[]> {
    const clients = await Promise.all(Array.from({ length: count }, () => RawClient.connect(port)))
    await Promise.all(clients.map((client) => client.hello()))
    return clients
  }

  async function closeAll(clients: RawClient[]): Promise<void> {
    await Promise.all(clients.map((client) => client[Symbol.asyncDispose]()))
  }

  test('silent sockets holding every slot do not keep out a client that knows the password, round after round', async () => {
    await using server = new Server()
    const port = await listen(server, { maxConnections: 10 })
    const held = await silent(port, 10)
    try {
      for (let round = 0; round < 5; round++) {
        // The stranger reopens a socket for each one the server closed, so all 10 slots are held.
        const lost = held.filter((client) => client.isClosed).length
        held.push(...await silent(port, lost))
        await waitFor(() => server.connections === 10, 'every slot to be held')
        await using db = await connect(url(port, '?pool=1'))
        await db.createDict(`round${round}`, { round })
        expect(await db.dict(`round${round}`).get('round')).toBe(round)
      }
    } finally {
      await closeAll(held)
    }
    expect(server.refused.tooMany).toBe(0)
    expect(server.refused.unauthenticated).toBeGreaterThanOrEqual(5)
  })

  test('silent sockets filling the per-address and total caps do not keep a real client out', async () => {
    for (const [what, options] of [
      ['per address', { maxUnauthenticatedPerAddress: 8 }],
      ['in all', { maxUnauthenticated: 8 }],
    ] as const) {
      await using server = new Server()
      const port = await listen(server, options)
      const held = await silent(port, 8)
      try {
        await using db = await connect(url(port, '?pool=1'))
        expect([what, await db.tables()]).toEqual([what, []])
        // The oldest silent socket made room, and was told why.
        const refusal = (await held[0]!.nextMessage()) as [number, number, [string, string]]
        expect([what, refusal[0], refusal[1], refusal[2][0]]).toEqual([what, 0, 1, 'CONNECTION_CLOSED'])
      } finally {
        await closeAll(held)
      }
    }
  })

  test('authenticated sessions do not count against the unauthenticated caps', async () => {
    await using server = new Server()
    const port = await listen(server, { maxUnauthenticated: 4, maxUnauthenticatedPerAddress: 4 })
    const authed: RawClient[] = []
    const held: RawClient[] = []
    try {
      for (let i = 0; i < 10; i++) {
        authed.push(await RawClient.connect(port))
        expect(await authed[i]!.handshake(PASSWORD)).toEqual([0, 0, null])
      }
      held.push(...await silent(port, 4))
      expect(server.connections).toBe(14)
      expect(server.refused.unauthenticated).toBe(0)
    } finally {
      await closeAll([...authed, ...held])
    }
  })

  test('a socket whose proof waits for the guess throttle keeps its slot; the new one is refused instead', async () => {
    const throttle = new AuthThrottle()
    await using server = new Server({ authThrottle: throttle })
    const port = await listen(server, { maxUnauthenticatedPerAddress: 2 })
    // Spend the address's burst so that the next proofs wait.
    for (let i = 0; i < 10; i++) {
      await using guess = await RawClient.connect(port)
      await guess.hello()
      guess.sendFrame(new Uint8Array(32).fill(1))
      await guess.closed
    }
    const guessers = await silent(port, 2)
    try {
      for (const client of guessers) client.sendFrame(new Uint8Array(32).fill(1))
      await waitFor(() => throttle.waiting === 2, 'both proofs to wait')
      await using late = await RawClient.connect(port)
      const refusal = (await late.nextMessage()) as [number, number, [string, string]]
      expect([refusal[0], refusal[1], refusal[2][0]]).toEqual([0, 1, 'NOT_ALLOWED'])
      expect(refusal[2][1]).toContain('waiting to authenticate')
    } finally {
      await closeAll(guessers)
    }
  })
})

describe('close', () => {
  test('close stops accepting: existing clients are closed and new connects fail with CONNECTION_CLOSED', async () => {
    const server = new Server()
    const port = await listen(server)
    await using db = await connect(url(port, '?connectTimeout=2'))
    await db.createList('l', [1])
    await server.close()
    expect(server.connections).toBe(0)
    expect(server.address).toBeUndefined()
    await expectCode(db.list('l').length(), 'CONNECTION_CLOSED')
    await expectCode(connect(url(port)), 'CONNECTION_CLOSED')
  })

  test('close twice resolves both times', async () => {
    const server = new Server()
    await listen(server)
    await Promise.all([server.close(), server.close()])
    await server.close()
    expect(server.connections).toBe(0)
  })

  test('close sends the replies a slow reader has not taken yet before ending its socket', async () => {
    const serverHost = new Host()
    const server = new Server({ host: serverHost })
    const port = await listen(server)
    const items = Array.from({ length: 1000 }, (_, i) => `${i}:${'z'.repeat(1000)}`)
    serverHost.store.apply({ table: 'big', name: 'db.create', args: ['list', items] })
    await using client = await RawClient.connect(port)
    await client.handshake(PASSWORD)
    client.pause()
    const REQUESTS = 30 // ~30 MB of replies: far more than the socket buffers hold
    for (let id = 1; id <= REQUESTS; id++) client.sendMessage([id, 'list.slice', 'big', []])
    // A request on another connection is answered after the flood has been read.
    {
      await using db = await connect(url(port))
      await db.tables()
    }
    const closing = server.close()
    client.resume()
    for (let id = 1; id <= REQUESTS; id++) {
      const [replyId, status, list] = (await client.nextMessage()) as [number, number, string[]]
      expect({ replyId, status, last: list.at(-1) }).toEqual({ replyId: id, status: 0, last: items.at(-1) })
    }
    expect(await client.nextMessage()).toEqual([0, 1, ['CONNECTION_CLOSED', 'the server is shutting down']])
    expect(await client.nextFrame()).toBeUndefined()
    await closing
  })

  test('close answers a db.save that is still running when it is called', async () => {
    using dir = tempDir()
    const serverHost = new Host()
    const server = new Server({ host: serverHost })
    server.setBackup(dir.file('inflight.cdb'), 3600)
    const port = await listen(server)
    serverHost.store.apply({ table: 'd', name: 'db.create', args: ['dict', { k: 'v' }] })
    // Close as soon as the save has started, so its reply is still being computed.
    const applyLater = serverHost.applyLater.bind(serverHost)
    let closing: Promise<unknown> | undefined
    serverHost.applyLater = (op, origin) => {
      if (op.name === 'db.save') queueMicrotask(() => (closing = server.close()))
      return applyLater(op, origin)
    }
    await using client = await RawClient.connect(port)
    await client.handshake(PASSWORD)
    client.sendMessage([1, 'db.save', '', []])
    const [id, status, stats] = (await client.nextMessage()) as [number, number, { tables: number }]
    expect({ id, status, tables: stats.tables }).toEqual({ id: 1, status: 0, tables: 1 })
    expect(await client.nextMessage()).toEqual([0, 1, ['CONNECTION_CLOSED', 'the server is shutting down']])
    expect(await client.nextFrame()).toBeUndefined()
    await closing
  })

  test('close cuts a client that never takes its replies, after a bounded wait', async () => {
    const serverHost = new Host()
    const server = new Server({ host: serverHost, closeGraceMs: 50 })
    const port = await listen(server)
    serverHost.store.apply({ table: 'big', name: 'db.create', args: ['list', Array.from({ length: 1000 }, () => 'q'.repeat(1000))] })
    await using client = await RawClient.connect(port)
    await client.handshake(PASSWORD)
    client.pause()
    for (let id = 1; id <= 30; id++) client.sendMessage([id, 'list.slice', 'big', []])
    {
      await using db = await connect(url(port))
      await db.tables()
    }
    const started = performance.now()
    await server.close()
    expect(performance.now() - started).toBeLessThan(10_000)
    expect(server.connections).toBe(0)
  })

  test('close takes a final snapshot when a backup file is set', async () => {
    using dir = tempDir()
    const path = dir.file('final.cdb')
    const server = new Server()
    server.setBackup(path, 3600)
    const port = await listen(server)
    {
      await using db = await connect(url(port))
      await db.createDict('users', { ada: 1 })
      await db.createList('jobs', ['a', 'b'])
    }
    await server.close()
    expect(await snapshotContent(path)).toEqual({ users: [['ada', 1]], jobs: ['a', 'b'] })
  })
})

describe('load and save', () => {
  test('load of a missing file leaves an empty database', async () => {
    using dir = tempDir()
    const serverHost = new Host()
    await using server = new Server({ host: serverHost })
    expect(await server.load(dir.file('missing.cdb'))).toEqual({ tables: 0, entries: 0, bytes: 0 })
    expect(serverHost.store.list()).toEqual([])
  })

  test('save(path) writes a snapshot that load() reads back', async () => {
    using dir = tempDir()
    const path = dir.file('saved.cdb')
    const serverHost = new Host()
    await using server = new Server({ host: serverHost })
    serverHost.store.apply({ table: 'd', name: 'db.create', args: ['dict', { a: 1, b: [2n, new Date(3)] }] })
    const stats = await server.save(path)
    expect({ tables: stats.tables, entries: stats.entries }).toEqual({ tables: 1, entries: 2 })
    const readerHost = new Host()
    await using reader = new Server({ host: readerHost })
    expect((await reader.load(path)).entries).toBe(2)
    expect(readerHost.store.apply({ table: 'd', name: 'dict.entries', args: [] })).toEqual([['a', 1], ['b', [2n, new Date(3)]]])
  })

  test('save() without a backup file fails with BAD_ARGUMENT', async () => {
    await using server = new Server()
    await expectCode(server.save(), 'BAD_ARGUMENT')
  })

  const corruptions: [string, (good: Uint8Array) => Uint8Array][] = [
    ['bytes that are not a snapshot', () => new TextEncoder().encode('definitely not a snapshot file')],
    ['a truncated snapshot', (good) => good.subarray(0, good.length - 3)],
    ['a snapshot with one body byte flipped', (good) => {
      const bad = good.slice()
      bad[bad.length - 2] = bad[bad.length - 2]! ^ 0xff
      return bad
    }],
    ['an empty file', () => new Uint8Array(0)],
  ]
  for (const [what, corrupt] of corruptions) {
    test(`load of ${what} fails with SNAPSHOT_CORRUPT and changes neither memory nor the file`, async () => {
      using dir = tempDir()
      const path = dir.file('corrupt.cdb')
      {
        const writerHost = new Host()
        await using writer = new Server({ host: writerHost })
        writerHost.store.apply({ table: 'old', name: 'db.create', args: ['list', [1, 2, 3]] })
        await writer.save(path)
      }
      const bytes = corrupt(readFileSync(path))
      writeFileSync(path, bytes)
      const serverHost = new Host()
      await using server = new Server({ host: serverHost })
      serverHost.store.apply({ table: 'mine', name: 'db.create', args: ['dict', { keep: true }] })
      await expectCode(server.load(path), 'SNAPSHOT_CORRUPT')
      expect(serverHost.store.list()).toEqual([{ name: 'mine', type: 'dict', size: 1 }])
      expect(new Uint8Array(readFileSync(path))).toEqual(new Uint8Array(bytes))
    })
  }

  test('setBackup snapshots periodically', async () => {
    using dir = tempDir()
    const path = dir.file('periodic.cdb')
    const serverHost = new Host()
    await using server = new Server({ host: serverHost })
    server.setBackup(path, 0.05)
    serverHost.store.apply({ table: 'n', name: 'db.create', args: ['dict', { step: 1 }] })
    const stepInFile = async () => (await snapshotContent(path).catch(() => ({}) as Record<string, unknown>)).n
    await waitFor(async () => Bun.file(path).size > 0 && (await stepInFile()) !== undefined, 'a first backup')
    expect(await stepInFile()).toEqual([['step', 1]])
    // A later write reaches the file on a later tick, with no save() call.
    serverHost.store.apply({ table: 'n', name: 'dict.set', args: ['step', 2] })
    await waitFor(async () => JSON.stringify(await stepInFile()) === '[["step",2]]', 'a second backup')
  })

  const badIntervals = [0, -1, NaN]
  for (const seconds of badIntervals) {
    test(`setBackup with an interval of ${seconds} seconds fails with BAD_ARGUMENT`, async () => {
      using dir = tempDir()
      await using server = new Server()
      await expectCode(() => server.setBackup(dir.file('x.cdb'), seconds), 'BAD_ARGUMENT')
    })
  }

  test('a remote db.save() makes the server write its backup file', async () => {
    using dir = tempDir()
    const path = dir.file('remote.cdb')
    await using server = new Server()
    server.setBackup(path, 3600)
    await using db = await connect(url(await listen(server)))
    await db.createList('saved', ['remotely'])
    const stats = await db.save()
    expect({ tables: stats.tables, entries: stats.entries }).toEqual({ tables: 1, entries: 1 })
    expect(await snapshotContent(path)).toEqual({ saved: ['remotely'] })
  })
})

describe('signals (8.16g)', () => {
  test('a Server with a backup file installs no signal handlers: stopping is the app\'s choice', async () => {
    using dir = tempDir()
    const before = [process.listenerCount('SIGTERM'), process.listenerCount('SIGINT')]
    await using server = new Server()
    server.setBackup(dir.file('handlers.cdb'), 3600)
    await listen(server)
    expect([process.listenerCount('SIGTERM'), process.listenerCount('SIGINT')]).toEqual(before)
  })

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    test(`on ${signal}, an app's own handler runs alone: it closes the server (final snapshot) and exits as it chooses`, async () => {
      using dir = tempDir()
      const path = dir.file('signal.cdb')
      const child = spawnFixture('server-signal-fixture.ts', [path, PASSWORD])
      await child.stdout.until((lines) => lines.some((line) => line.startsWith('listening ')), 'the server to listen')
      const first = child.stdout.lines()[0]!
      const port = Number(first.split(' ')[1]!.replace(';', ''))
      {
        await using db = await connect(url(port))
        await db.createDict('written', { before: signal })
        await db.createList('numbers', [1, 2, 3])
      }
      child.proc.kill(signal)
      expect(await child.finish()).toEqual({
        stdout: [`listening ${port}; signal handlers: 0 + 0`, `app: ${signal}`, 'app: saved 2 tables', ''].join('\n'),
        stderr: '',
        exitCode: 3,
        signal: null,
      })
      expect(await snapshotContent(path)).toEqual({ written: [['before', signal]], numbers: [1, 2, 3] })
    })
  }
})
