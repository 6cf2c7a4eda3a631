// Replicas (issue 16, src/client/replica.ts): tables loaded at one seq and kept current by the
// change feed; reads answered in process, writes through the server resolving once applied here.

import { afterAll, describe, expect, test } from 'bun:test'
import { CyberError, Server, connect, manualClock, type Database } from '../../src/index.ts'
import { Host } from '../../src/host/host.ts'
import { expectCode, tempDir, waitFor } from '../contract/helpers.ts'

const PASSWORD = 'pw'
const servers: Server[] = []
const dir = tempDir()
afterAll(async () => {
  for (const server of servers) await server.close()
  dir[Symbol.dispose]()
})

async function serve(host = new Host(), file?: string, port = 0): Promise<{ host: Host; url: string; server: Server }> {
  const server = new Server({ host })
  servers.push(server)
  if (file !== undefined) {
    await server.load(file)
    server.setBackup(file, 3600)
  }
  const address = await server.listen({ host: '127.0.0.1', port, password: PASSWORD })
  return { host, server, url: `cyberdb://:${PASSWORD}@127.0.0.1:${address.port}` }
}

describe('replica', () => {
  test('loads, follows, reads locally and reads its own writes', async () => {
    const { host, url } = await serve()
    await using writer = await connect(url)
    await writer.createDict('centre', { content: 'Hello' })
    await using db = await connect(`${url}?replica=centre`)
    expect(db.replica('centre').get('content')).toBe('Hello')
    expect(await db.dict('centre').get('content')).toBe('Hello')
    await db.dict('centre').set('content', 'mine')
    expect(db.replica('centre').get('content')).toBe('mine')
    expect(db.replica('centre').seq).toBe(host.seq)
    await writer.dict('centre').set('other', 1)
    await waitFor(() => db.replica('centre').get('other') === 1, 'the change to arrive')
    await expectCode(db.dict('centre').pop('missing'), 'KEY_NOT_FOUND')
    await expectCode(db.list('centre').at(0), 'WRONG_TABLE_TYPE')
  })

  test('a proxy reads locally and reads its own writes; unnamed tables go to the server', async () => {
    const { url } = await serve()
    await using db = await connect(url, { replica: ['centre'] })
    await db.createDict('centre')
    await db.createDict('plain', { k: 1 })
    await using proxy = await db.proxy()
    await proxy.dict('centre').set('k', 'v')
    expect(db.replica('centre').get('k')).toBe('v')
    expect(await proxy.dict('centre').get('k')).toBe('v')
    expect(await proxy.dict('plain').get('k')).toBe(1)
    expect(() => db.replica('plain')).toThrow('not one of')
    await proxy.close()
    await expectCode(proxy.dict('centre').get('k'), 'CONNECTION_CLOSED')
  })

  test('a read returns a copy, and bad arguments are the engine\'s BAD_ARGUMENT', async () => {
    const { url } = await serve()
    await using db = await connect(url, { replica: ['centre'] })
    await db.createDict('centre', { obj: { n: 1 } })
    const got = db.replica<{ n: number }>('centre').get('obj')!
    got.n = 2
    expect(db.replica<{ n: number }>('centre').get('obj')).toEqual({ n: 1 })
    expect(await db.dict('centre').get('obj')).toEqual({ n: 1 })
    await expectCode(db.dict('centre').get(null as never), 'BAD_ARGUMENT')
    await expectCode(() => db.replica('centre').get(null as never), 'BAD_ARGUMENT')
    await expectCode(db.dict('centre').set('k', () => 1), 'BAD_ARGUMENT')
    await expectCode(db.dict('missing').get('k'), 'TABLE_NOT_FOUND')
  })

  test('the replica option and URL parameter are checked', async () => {
    const { url } = await serve()
    await expectCode(connect(`${url}?replica=a,,b`), 'BAD_ARGUMENT')
    await expectCode(connect(url, { replica: 'a' as never }), 'BAD_ARGUMENT')
    await using plain = await connect(url)
    expect(() => plain.replica('a')).toThrow('keeps no replica')
    await expectCode(connect('memory://', { replica: ['t'] }), 'BAD_ARGUMENT')
    await expectCode(connect('memory://?replica=t'), 'BAD_ARGUMENT')
  })

  test('info() reports the replica\'s seq and lag', async () => {
    const { host, url } = await serve()
    await using db = await connect(url, { replica: ['centre'] })
    await db.createDict('centre')
    await db.dict('centre').set('k', 1)
    const info = await db.info()
    expect(info.replica).toEqual({ tables: ['centre'], seq: host.seq, serverSeq: host.seq, behind: 0,
      lagMs: expect.any(Number), maxLagMs: expect.any(Number), reloads: 0 })
    expect(info.feed.seq).toBe(host.seq)
    // commits of tables it does not hold leave it current
    await db.createDict('other')
    for (let i = 0; i < 5; i++) await db.dict('other').set('k', i)
    const later = await db.info()
    expect(later.replica).toMatchObject({ seq: info.replica!.seq, serverSeq: host.seq, behind: 0 })
    expect(later.feed.seq).toBeGreaterThan(later.replica!.seq)
  })

  test('a table dropped and recreated, as another type, follows; a drop through the replica waits', async () => {
    const { url } = await serve()
    await using writer = await connect(url)
    await using db = await connect(url, { replica: ['t'] })
    await expectCode(() => db.replica('t').get('k'), 'TABLE_NOT_FOUND')
    await writer.createDict('t', { k: 1 })
    await waitFor(() => db.replica('t').has('k'), 'the create')
    await writer.dropTable('t')
    await writer.createList('t', ['a', 'b'])
    await waitFor(() => { try { return db.replica('t').length() === 2 } catch { return false } }, 'the list')
    expect(db.replica('t').toArray()).toEqual(['a', 'b'])
    expect([db.replica('t').at(-1), db.replica('t').indexOf('b'), db.replica('t').count('a')]).toEqual(['b', 1, 1])
    await expectCode(() => db.replica('t').get('k'), 'WRONG_TABLE_TYPE')
    expect(await db.dropTable('t')).toBe(true)
    await expectCode(() => db.replica('t').length(), 'TABLE_NOT_FOUND')
    expect(await db.createDict('t', { again: true })).toBe(true)
    expect(db.replica('t').get('again')).toBe(true)
    expect(await db.createDict('t', undefined, { ifNotExists: true })).toBe(false)
  })

  test('resumes across a server restart on the same data file and port', async () => {
    const file = dir.file('restart.cdb')
    const first = await serve(new Host(), file)
    const port = Number(new URL(first.url).port)
    await using db = await connect(first.url, { replica: ['centre'] })
    await db.createDict('centre')
    await db.dict('centre').set('k', 'before')
    await first.server.close()
    const second = await serve(new Host(), file, port)
    await using writer = await connect(second.url)
    await writer.dict('centre').set('k', 'after')
    await waitFor(() => db.replica('centre').get('k') === 'after', 'the change after the restart')
    await db.dict('centre').set('mine', 1)
    expect(db.replica('centre').get('mine')).toBe(1)
    expect((await db.info()).replica!.reloads).toBe(0)
  })

  test('reloads without the caller noticing when the feed no longer reaches its seq', async () => {
    const file = dir.file('compacted.cdb')
    const first = await serve(new Host({ feedHistory: 4 }), file)
    const port = Number(new URL(first.url).port)
    await using db = await connect(first.url, { replica: ['centre'] })
    await db.createDict('centre')
    await db.dict('centre').set('k', 0)
    await first.server.close()
    // while the replica is away, more commits than the feed keeps
    {
      await using direct = await connect(`file:${file}`, { feedHistory: 4 })
      for (let i = 1; i <= 10; i++) await direct.dict('centre').set('k', i)
      await direct.dict('centre').set('gone', true)
      await direct.dict('centre').delete('gone')
    }
    const second = await serve(new Host({ feedHistory: 4 }), file, port)
    void second
    await waitFor(() => db.replica('centre').get('k') === 10, 'the reload')
    expect(db.replica('centre').has('gone')).toBe(false)
    expect((await db.info()).replica!.reloads).toBe(1)
    await db.dict('centre').set('k', 'mine')
    expect(db.replica('centre').get('k')).toBe('mine')
  })

  test('a server that comes back with another history (a fresh memory) is loaded again', async () => {
    const first = await serve()
    const port = Number(new URL(first.url).port)
    await using db = await connect(first.url, { replica: ['centre'] })
    await db.createDict('centre', { k: 'old' })
    for (let i = 0; i < 5; i++) await db.dict('centre').set('n', i)
    await first.server.close()
    const second = await serve(new Host(), undefined, port)
    await using writer = await connect(second.url)
    await writer.createDict('centre', { k: 'new' })
    await waitFor(() => db.replica('centre').get('k') === 'new', 'the reload from the new server')
    expect(db.replica('centre').has('n')).toBe(false)
    expect(db.replica('centre').seq).toBe(second.host.seq)
    await db.dict('centre').set('mine', 1)
    expect(db.replica('centre').get('mine')).toBe(1)
  })

  test('a table with a ttl: deadlines follow the server, and a key past its deadline is hidden at once', async () => {
    const clock = manualClock(1_000_000)
    const { host, url } = await serve(new Host({ clock }))
    await using writer = await connect(url)
    await using db = await connect(url, { replica: ['cache'], clock })
    await writer.createDict('cache', { old: 0 }, { ttl: 1000 })
    await waitFor(() => db.replica('cache').has('old'), 'the create')
    await db.dict('cache').set('short', 1, { ttl: 100 })
    await db.dict('cache').set('forever', 2)
    await db.dict('cache').persist('forever')
    expect(db.replica('cache').ttl('short')).toBe(100)
    expect(db.replica('cache').ttl('forever')).toBe(Infinity)
    expect(db.replica('cache').ttl('old')).toBe(1000)
    clock.advance(150) // the server sweeps 'short' (a logged dict.expire)
    expect(db.replica('cache').has('short')).toBe(false) // hidden here before the change arrives
    expect(await db.dict('cache').get('short')).toBeUndefined()
    clock.advance(900)
    expect(db.replica('cache').has('old')).toBe(false)
    await waitFor(() => db.replica('cache').seq === host.seq, 'the expiry changes')
    expect(db.replica('cache').entries()).toEqual([['forever', 2]])
    expect(db.replica('cache').toObject()).toEqual({ forever: 2 })
    expect(db.replica('cache').toMap()).toEqual(new Map([['forever', 2]]))
    expect(db.replica('cache').size()).toBe(1)
    expect(await writer.dict('cache').entries()).toEqual([['forever', 2]])
  })

  test('same values and same errors as the server, op by op (a replicated table beside a plain one)', async () => {
    const { url } = await serve()
    await using db = await connect(url, { replica: ['rd', 'rl'] })
    await db.createDict('rd', { a: 1, b: 'x', o: { deep: [1, 2] } })
    await db.createDict('pd', { a: 1, b: 'x', o: { deep: [1, 2] } })
    await db.createList('rl', [1, 2, 3, 2])
    await db.createList('pl', [1, 2, 3, 2])
    const dictOps: [string, unknown[]][] = [['dict.get', ['a']], ['dict.get', ['zz', 'fallback']],
      ['dict.get', [null]], ['dict.get', []], ['dict.has', ['b']], ['dict.size', []], ['dict.keys', []],
      ['dict.keys', [{ prefix: 'a' }]], ['dict.keys', [{ limit: 0 }]], ['dict.values', [{ limit: 1 }]],
      ['dict.entries', []], ['dict.getMany', [['a', 'zz']]], ['dict.getMany', ['a']], ['dict.ttl', ['a']],
      ['dict.ttl', ['zz']], ['dict.set', ['n', 5]], ['dict.incr', ['n', 2]], ['dict.incr', ['b']],
      ['dict.pop', ['zz']], ['dict.pop', ['zz', 0]], ['dict.set', ['k', 1, { ttl: -1 }]],
      ['dict.setdefault', ['a', 9]], ['dict.update', [{ u: 1 }]], ['dict.delete', ['u']],
      ['dict.set', []], ['dict.set', ['k', 1, {}, 4]], ['list.at', [0]], ['dict.setMany', [[['m', 1]]]],
      ['dict.deleteMany', [['m', 'zz']]], ['dict.clear', [{ prefix: 'n' }]], ['dict.entries', []]]
    const listOps: [string, unknown[]][] = [['list.at', [0]], ['list.at', [-1]], ['list.at', [9]],
      ['list.at', ['0']], ['list.slice', [1]], ['list.slice', [1, -1]], ['list.indexOf', [2]],
      ['list.indexOf', [7]], ['list.count', [2]], ['list.length', []], ['list.push', [4, 5]],
      ['list.pop', []], ['list.remove', [7]], ['list.insert', [1, 'i']], ['list.set', [99, 1]],
      ['list.sort', [{ by: 5 }]], ['list.shift', []], ['dict.get', ['a']], ['list.slice', []]]
    const outcome = (call: Promise<unknown>, plain: string) => call.then((value) => ({ value }),
      (error: CyberError) => ({ code: error.code, message: error.message.replaceAll(`"${plain}"`, '"T"') }))
    for (const [ops, replicated, plain] of [[dictOps, 'rd', 'pd'], [listOps, 'rl', 'pl']] as const) {
      for (const [name, args] of ops) {
        const here = await outcome(send(db, name, replicated, args), replicated)
        const there = await outcome(send(db, name, plain, args), plain)
        expect({ name, args, ...here }).toEqual({ name, args, ...there } as never)
      }
    }
  })
})

// Calls the handle method that sends `op` (its name after the dot) on `table`.
function send(db: Database, op: string, table: string, args: unknown[]): Promise<unknown> {
  const handle = op.startsWith('dict.') ? db.dict(table) : db.list(table)
  const method = (handle as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[op.slice(op.indexOf('.') + 1)]!
  return method.apply(handle, args)
}
