// The host's part of db.info: persistence (the data file, its log, the last save), expiry counts
// on a manual clock, and the server's part when a server listens on the host.

import { describe, expect, test } from 'bun:test'
import { Server, connect, manualClock } from '../../src/index.ts'
import { Host } from '../../src/host/host.ts'
import { tempDir } from '../contract/helpers.ts'

describe('db.info', () => {
  test('a memory database has no file, no durability and no save yet', async () => {
    await using db = await connect('memory://')
    expect((await db.info()).persistence).toEqual({ file: null, durability: null, logBytes: 0, lastSave: null })
  })

  test('a file database reports its file, durability, growing log bytes and its last save', async () => {
    using dir = tempDir()
    const path = dir.file('info.cdb')
    await using db = await connect(`file:${path}?durability=always`)
    await db.createDict('d')
    const before = (await db.info()).persistence
    await db.dict('d').set('k', 'x'.repeat(1000))
    const grown = (await db.info()).persistence
    expect([before.file, before.durability, grown.logBytes - before.logBytes > 1000]).toEqual([path, 'always', true])
    const stats = await db.save()
    const { lastSave, logBytes } = (await db.info()).persistence
    expect(lastSave).toEqual({ at: expect.any(Number), ms: expect.any(Number), ok: true, bytes: stats.bytes, error: null })
    expect(logBytes).toBeLessThan(grown.logBytes)
  })

  test('a failed save is reported with ok false and its error', async () => {
    using dir = tempDir()
    await using db = await connect('memory://')
    await db.save(dir.file('missing-folder/x.cdb')).catch(() => {})
    const { lastSave } = (await db.info()).persistence
    expect([lastSave?.ok, typeof lastSave?.error]).toEqual([false, 'string'])
  })

  test('expired keys and the time are read on the host clock', async () => {
    const clock = manualClock(1_000)
    await using db = await connect('memory://', { clock })
    await db.createDict('c')
    await db.dict('c').set('k', 1, { ttl: 10 })
    expect((await db.info()).tables).toEqual([{ name: 'c', type: 'dict', size: 1, bytes: expect.any(Number), withDeadline: 1 }])
    clock.advance(20)
    const info = await db.info()
    expect([info.at, info.since, info.expired, info.tables[0]!.size]).toEqual([1_020, 1_000, 1, 0])
  })

  test('a listening server adds its connections and refusals, and leaves them out once closed', async () => {
    const host = new Host()
    const server = new Server({ host })
    const { port } = await server.listen({ host: '127.0.0.1', port: 0, password: 'pw' })
    const db = await connect(`cyberdb://:pw@127.0.0.1:${port}?pool=1`)
    const bad = await connect(`cyberdb://:wrong@127.0.0.1:${port}`).catch((error) => error)
    const info = await db.info()
    expect(bad.code).toBe('AUTH_FAILED')
    expect(info.server).toEqual({ connections: 1, refused: { notAllowed: 0, tooMany: 0, throttled: expect.any(Number),
      authFailed: 1, unauthenticated: 0 }, unsentBytes: expect.any(Number), bufferBytes: expect.any(Number) })
    expect(server.info().server?.connections).toBe(1)
    await db.close()
    await server.close()
    expect(host.info().server).toBeNull()
  })
})
