// A watch over the network (src/client/remote-watch.ts, server/watches.ts): it resumes by itself
// across a server restart on the same data file and port and across a dropped connection, with no
// gap and no duplicate; a watcher that does not read holds at most WATCH_WINDOW changes in flight,
// and filters apply on the server (nothing of other tables crosses the wire).

import { afterAll, describe, expect, test } from 'bun:test'
import { Server, connect, type Change } from '../../src/index.ts'
import type { ChangeStream } from '../../src/client/change-stream.ts'
import { Host } from '../../src/host/host.ts'
import { WATCH_WINDOW } from '../../src/protocol/messages.ts'
import { expectCode, tempDir, waitFor } from '../contract/helpers.ts'
import { take } from '../contract/feed.contract.ts'
import { tapProxy } from '../fixtures/wire.ts'
import { spawnFixture } from '../fixtures/spawn.ts'

const PASSWORD = 'pw'
const dir = tempDir()
afterAll(() => dir[Symbol.dispose]())

async function serve(file: string, port = 0, host = new Host()): Promise<{ server: Server; port: number }> {
  const server = new Server({ host })
  await server.load(file)
  server.setBackup(file, 3600)
  const address = await server.listen({ host: '127.0.0.1', port, password: PASSWORD })
  return { server, port: address.port }
}

/**
 * A server on `host`, a watcher of table `d` connected through a tap the test can cut, and a
 * writer connected directly. The watch starts after the create: the writer's connection is
 * another. Disposing closes the two clients; the test closes the server.
 */
async function watchBehindTap(host: Host) {
  const server = new Server({ host })
  const { port } = await server.listen({ host: '127.0.0.1', port: 0, password: PASSWORD })
  const tap = tapProxy(port)
  const db = await connect(`cyberdb://:${PASSWORD}@127.0.0.1:${tap.port}`)
  const writer = await connect(`cyberdb://:${PASSWORD}@127.0.0.1:${port}`)
  await db.createDict('d')
  const stream = db.watch({ tables: ['d'], since: 1 })
  return {
    server, port, tap, db, writer, stream,
    async [Symbol.asyncDispose]() {
      await writer.close()
      await db.close()
    },
  }
}

describe('remote watch', () => {
  test('resumes across a server restart on the same data file and port, with no gap', async () => {
    const file = dir.file('restart.cdb')
    let { server, port } = await serve(file)
    await using db = await connect(`cyberdb://:${PASSWORD}@127.0.0.1:${port}`)
    await db.createDict('d')
    const stream = db.watch({ tables: ['d'] })
    for (let i = 0; i < 5; i++) await db.dict('d').set('k', i)
    const before = await take(stream, 5)
    // Written after the watcher read, before the restart: it must come after the reconnect.
    await db.dict('d').set('k', 'unread')
    await server.close()
    ;({ server } = await serve(file, port))
    await db.dict('d').set('k', 'after') // the pool reconnects
    const after = await take(stream, 2)
    expect(after.map((c) => c.args[1])).toEqual(['unread', 'after'])
    expect(after[0]!.seq).toBe(before.at(-1)!.seq + 1)
    await stream.return!()
    await db.close()
    await server.close()
  })

  test('resumes across a kill -9 of the server, restarted on the same data file and port, with no gap', async () => {
    const file = dir.file('killed.cdb')
    const first = spawnFixture('feed-server-fixture.ts', [file, '0', PASSWORD])
    await first.stdout.until((lines) => lines.some((l) => l.startsWith('listening ')), 'the server')
    const port = first.stdout.lines()[0]!.split(' ')[1]!
    await using db = await connect(`cyberdb://:${PASSWORD}@127.0.0.1:${port}`)
    await db.createDict('d')
    const stream = db.watch({ tables: ['d'] })
    for (let i = 0; i < 5; i++) await db.dict('d').set('k', i)
    const before = await take(stream, 5)
    first.proc.kill('SIGKILL')
    await first.finish()
    const second = spawnFixture('feed-server-fixture.ts', [file, port, PASSWORD])
    try {
      await second.stdout.until((lines) => lines.some((l) => l.startsWith('listening ')), 'the restarted server')
      await db.dict('d').set('k', 'after')
      const [after] = await take(stream, 1)
      expect(after!.args).toEqual(['k', 'after'])
      expect(after!.seq).toBeGreaterThan(before.at(-1)!.seq)
      await stream.return!()
    } finally {
      second.proc.kill('SIGKILL')
      await second.finish()
    }
  })

  test('resumes after its connection drops, with no gap', async () => {
    const host = new Host()
    await using kit = await watchBehindTap(host)
    const { server, port, tap, db, writer, stream } = kit
    await writer.dict('d').set('k', 1)
    expect((await take(stream, 1))[0]!.args).toEqual(['k', 1])
    await tap[Symbol.asyncDispose]() // the network drops the watcher's connection
    for (let i = 2; i <= 10; i++) await writer.dict('d').set('k', i)
    await using _again = tapProxy(port, tap.port)
    for (let i = 11; i <= 20; i++) await writer.dict('d').set('k', i)
    expect((await take(stream, 19)).map((c) => c.args[1])).toEqual(Array.from({ length: 19 }, (_, i) => i + 2))
    await stream.return!()
    await waitFor(() => host.watchers === 0, 'the server to let go of the watcher')
    await db.close()
    await writer.close()
    await server.close()
  })

  test('a resume that history no longer reaches surfaces FEED_COMPACTED with the oldest seq', async () => {
    const host = new Host({ feedHistory: 5 })
    await using kit = await watchBehindTap(host)
    const { server, port, tap, writer, stream } = kit
    await writer.dict('d').set('k', 0)
    expect((await take(stream, 1))[0]!.args).toEqual(['k', 0])
    await tap[Symbol.asyncDispose]()
    for (let i = 1; i <= 20; i++) await writer.dict('d').set('k', i)
    await using _again = tapProxy(port, tap.port)
    const error = await expectCode(stream.next(), 'FEED_COMPACTED')
    expect(error.oldest).toBe(host.oldestSeq)
    await server.close()
  })

  test('a watcher that does not read holds at most WATCH_WINDOW changes, then is caught up or ends with FEED_COMPACTED', async () => {
    const host = new Host({ feedHistory: 100 })
    const server = new Server({ host })
    const { port } = await server.listen({ host: '127.0.0.1', port: 0, password: PASSWORD })
    await using db = await connect(`cyberdb://:${PASSWORD}@127.0.0.1:${port}`)
    await db.createDict('d')
    const stream = db.watch({ tables: ['d'] }) as ChangeStream
    for (let i = 0; i < 1000; i++) await db.dict('d').set('k', i)
    await db.dict('d').size() // a round trip: what was pushed before it is in
    expect(stream.buffered).toBe(WATCH_WINDOW)
    const got: Change[] = []
    const error = await expectCode(async () => {
      for (let n = 0; n < 2000; n++) got.push((await stream.next()).value as Change)
    }, 'FEED_COMPACTED')
    expect(got.map((c) => c.args[1])).toEqual(Array.from({ length: WATCH_WINDOW }, (_, i) => i))
    expect(error.oldest).toBe(host.oldestSeq)
    expect(host.watchers).toBe(0)
    await server.close()
  })

  test('filters apply on the server: changes of other tables never reach the client', async () => {
    const server = new Server()
    const { port } = await server.listen({ host: '127.0.0.1', port: 0, password: PASSWORD })
    await using db = await connect(`cyberdb://:${PASSWORD}@127.0.0.1:${port}`)
    await db.createDict('a')
    await db.createDict('b')
    const stream = db.watch({ tables: ['a'] }) as ChangeStream
    for (let i = 0; i < 300; i++) await db.dict('b').set('k', i)
    await db.dict('b').size()
    expect(stream.buffered).toBe(0)
    await db.dict('a').set('k', 1)
    expect((await take(stream, 1))[0]!.table).toBe('a')
    await stream.return!()
    await server.close()
  })

  test('many watchers on one connection and on many: each gets every change, requests are not held up', async () => {
    const server = new Server()
    const { port } = await server.listen({ host: '127.0.0.1', port: 0, password: PASSWORD })
    const url = `cyberdb://:${PASSWORD}@127.0.0.1:${port}`
    const clients = await Promise.all(Array.from({ length: 4 }, () => connect(`${url}?pool=1`)))
    const [db] = clients
    await db!.createDict('d')
    // From seq 1 (the create): a watch sent on one connection is not ordered with writes on another.
    const streams = clients.flatMap((client) => [client.watch({ since: 1 }), client.watch({ tables: ['d'], since: 1 })])
    for (let i = 0; i < 50; i++) await clients[i % 4]!.dict('d').set(`k${i}`, i)
    for (const stream of streams) {
      expect((await take(stream, 50)).map((c) => c.args[1])).toEqual(Array.from({ length: 50 }, (_, i) => i))
    }
    for (const client of clients) await client.close()
    await server.close()
  })
})
