// The embedded transport: the shared contracts over memory:// and file:, then what only the
// in-process mode promises (its store, its copies, its cursors, its closing).

import { afterAll, describe, expect, spyOn, test } from 'bun:test'
import { copyFileSync, existsSync, readdirSync } from 'node:fs'
import { Database } from '../../src/client/database.ts'
import { EmbeddedTransport } from '../../src/client/embedded.ts'
import { Store } from '../../src/engine/store.ts'
import { connect } from '../../src/index.ts'
import { expectCode, tempDir } from '../contract/helpers.ts'
import { cacheContract } from '../contract/cache.contract.ts'
import { propertyContract, ttlPropertyContract } from '../contract/property.contract.ts'
import { storeContract } from '../contract/store.contract.ts'
import { takeContract, type Queues } from '../contract/take.contract.ts'
import { feedContract, type FeedKit } from '../contract/feed.contract.ts'
import { spawnFixture } from '../fixtures/spawn.ts'

storeContract('memory', () => connect('memory://'))
propertyContract('memory', () => connect('memory://'))

const dir = tempDir()
afterAll(() => dir[Symbol.dispose]())
let files = 0
storeContract('file', () => connect(`file:${dir.file(`contract-${++files}.cdb`)}`))
propertyContract('file', () => connect(`file:${dir.file(`property-${++files}.cdb`)}`))
cacheContract('memory', { open: (clock) => connect('memory://', { clock }) })
ttlPropertyContract('memory', (clock) => connect('memory://', { clock }))
ttlPropertyContract('file', (clock) => connect(`file:${dir.file(`ttl-property-${++files}.cdb`)}`, { clock }))
cacheContract('file', {
  open: (clock) => connect(`file:${dir.file(`cache-${++files}.cdb`)}`, { clock }),
  reopen: (name, clock) => connect(`file:${dir.file(`${name}.cdb`)}`, { clock }),
})

// Peers are other databases on the same host (what a second client of one store is in process).
takeContract(async (timers) => {
  const transport = EmbeddedTransport.memory({ setTimer: timers.setTimer })
  return queues(new Database(transport), transport)
})
takeContract(async (timers) => {
  const transport = await EmbeddedTransport.file({ path: dir.file(`take-${++files}.cdb`), setTimer: timers.setTimer })
  return queues(new Database(transport), transport)
})

function queues(db: Database, transport: EmbeddedTransport): Queues {
  return {
    db,
    peer: async () => new Database(transport.sibling()),
    [Symbol.asyncDispose]: () => db.close(),
  }
}

describe('embedded only', () => {
  class Point {
    constructor(readonly x: number, readonly y: number) {}
  }

  test('a class instance is stored as a plain object of its own fields', async () => {
    await using db = await connect('memory://')
    await db.createDict('d')
    await db.dict('d').set('p', new Point(1, 2))
    const got = await db.dict('d').get('p')
    expect([got, Object.getPrototypeOf(got) === Object.prototype]).toEqual([{ x: 1, y: 2 }, true])
  })

  test('a bad call rejects its promise and never throws synchronously', async () => {
    await using db = await connect('memory://')
    await db.createDict('d')
    let pending: Promise<unknown> | undefined
    expect(() => {
      pending = db.dict('d').set('k', (() => 1) as never)
    }).not.toThrow()
    await expectCode(pending!, 'BAD_ARGUMENT')
  })

  test('operations take effect in call order, even when not awaited one by one', async () => {
    await using db = await connect('memory://')
    await db.createList('l')
    const l = db.list<number>('l')
    const lengths = await Promise.all([l.push(1), l.push(2), l.pop(), l.push(3)])
    expect([lengths, await l.toArray()]).toEqual([[1, 2, 2, 2], [1, 3]])
  })

  test('handles do no work until used: a handle on a missing table is made without error', async () => {
    await using db = await connect('memory://')
    const handle = db.dict('not yet')
    expect(handle.name).toBe('not yet')
    await db.createDict('not yet', { a: 1 })
    expect(await handle.get('a')).toBe(1)
  })

  test('a Database over a given Store sees and changes that store', async () => {
    const store = new Store()
    store.create('t', 'list', [1], undefined)
    await using db = new Database(EmbeddedTransport.memory({ store }))
    await db.list('t').push(2)
    expect(store.apply({ table: 't', name: 'list.slice', args: [] })).toEqual([1, 2])
  })

  test('leaving a for await early closes the engine cursor; finishing one needs no close', async () => {
    const store = new Store()
    const transport = EmbeddedTransport.memory({ store })
    const closeCursor = spyOn(transport.cursors, 'close')
    await using db = new Database(transport)
    await db.createList('l', Array.from({ length: 1500 }, (_, i) => i))
    for await (const value of db.list('l')) if (value === 10) break
    expect(closeCursor).toHaveBeenCalledTimes(1)
    const cursor = closeCursor.mock.calls[0]![0]
    expect(closeCursor.mock.results[0]).toEqual({ type: 'return', value: true })
    await expectCode(() => store.apply({ table: 'l', name: 'list.scan', args: [cursor, 1] }, transport.cursors), 'BAD_ARGUMENT')
    let n = 0
    for await (const _ of db.list('l')) n++
    expect([n, closeCursor.mock.calls.length]).toEqual([1500, 1])
  })

  test("two databases over one store have their own cursors: neither continues or closes the other's", async () => {
    const store = new Store()
    store.create('l', 'list', [1, 2, 3], undefined)
    const mine = EmbeddedTransport.memory({ store })
    const theirs = EmbeddedTransport.memory({ store })
    const [cursor] = await mine.call({ table: 'l', name: 'list.scan', args: [0, 1] }) as [number, unknown[]]
    await expectCode(theirs.call({ table: 'l', name: 'list.scan', args: [cursor, 1] }), 'BAD_ARGUMENT')
    expect(await theirs.call({ table: '', name: 'cursor.close', args: [cursor] })).toBe(false)
    expect(await mine.call({ table: 'l', name: 'list.scan', args: [cursor, 5] })).toEqual([0, [2, 3]])
  })

  test('closing the database also stops its proxies, with CONNECTION_CLOSED', async () => {
    const db = await connect('memory://')
    await db.createDict('d')
    const proxy = await db.proxy()
    await db.close()
    await expectCode(proxy.dict('d').get('a'), 'CONNECTION_CLOSED')
    await proxy.close()
    await proxy.close()
  })

  test('shift, unshift and take reach the log and the snapshot: a copy of the files before close and the file after it both reopen with the list as it was', async () => {
    using dir = tempDir()
    const path = dir.file('q.cdb')
    const db = await connect(`file:${path}`)
    await db.createList('q', Array.from({ length: 3000 }, (_, i) => i))
    const q = db.list<number | string>('q')
    for (let i = 0; i < 2000; i++) await q.shift()
    await q.unshift('a', 'b')
    expect(await q.take()).toBe('a')
    const expected = ['b', ...Array.from({ length: 1000 }, (_, i) => 2000 + i)]
    using copy = tempDir()
    for (const name of readdirSync(dir.path)) {
      if (!name.endsWith('.lock')) copyFileSync(dir.file(name), copy.file(name))
    }
    await db.close()
    for (const file of [copy.file('q.cdb'), path]) {
      await using reopened = await connect(`file:${file}`)
      expect(await reopened.list('q').toArray()).toEqual(expected)
    }
  })

  test('close of a file database releases its lock; isClosed follows', async () => {
    using dir = tempDir()
    const path = dir.file('x.cdb')
    const db = await connect(`file:${path}`)
    expect([db.isClosed, existsSync(`${path}.lock`)]).toEqual([false, true])
    await db.close()
    expect([db.isClosed, existsSync(`${path}.lock`), existsSync(path)]).toEqual([true, false, true])
  })

  test('a script that ends without close() still saves its file on the way out', async () => {
    using dir = tempDir()
    const path = dir.file('forgot.cdb')
    expect(await spawnFixture('forget-close-fixture.ts', [path]).finish())
      .toEqual({ stdout: 'wrote\n', stderr: '', exitCode: 0, signal: null })
    expect(existsSync(`${path}.lock`)).toBe(false)
    await using db = await connect(`file:${path}`)
    expect(await db.dict('unsaved').toObject()).toEqual({ written: 'without close' })
  })
})

// The change feed: a database and its siblings share one host (one feed).
async function feedKit(transport: EmbeddedTransport): Promise<FeedKit> {
  const db = new Database(transport)
  return {
    db,
    peer: async () => new Database(transport.sibling()),
    watchers: () => transport.host.watchers,
    [Symbol.asyncDispose]: () => db.close(),
  }
}
feedContract('memory', {
  open: async (options) => feedKit(EmbeddedTransport.memory(options)),
})
feedContract('file', {
  open: async (options) => feedKit(await EmbeddedTransport.file({ path: dir.file(`feed-${++files}.cdb`), ...options })),
  reopen: async (name, options) => feedKit(await EmbeddedTransport.file({ path: dir.file(`${name}.cdb`), ...options })),
})
