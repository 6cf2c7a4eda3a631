// The Keyv adapter: the published @keyv/test-suite (2.x, with keyv 5) over memory:// and a server,
// keyv 6 (its adapter contract: absolute expires, declared capabilities), both Keyvs reading one
// table, and cache-manager over the adapter.

import { afterAll, afterEach, beforeEach, describe, expect, it, test } from 'bun:test'
import Keyv from 'keyv'
import Keyv6 from 'keyv6'
import keyvTestSuite, { keyvIteratorTests } from '@keyv/test-suite'
import { createCache } from 'cache-manager'
import { Server, connect, manualClock } from '../../src/index.ts'
import { KeyvCyberDB } from '../../src/keyv/index.ts'

// The suite is written for vitest: `it(name, (t) => ...)`. bun's test runner takes a callback
// with a parameter for a done-callback, so each test is wrapped to be called with { expect }.
const vitestLike = {
  it: (name: string, fn: (t: { expect: typeof expect }) => unknown) => it(name, () => fn({ expect }) as never),
  test: (name: string, fn: (t: { expect: typeof expect }) => unknown) => it(name, () => fn({ expect }) as never),
  beforeEach: (fn: () => unknown) => beforeEach(fn as never),
  afterEach: (fn: () => unknown) => afterEach(fn as never),
  describe,
  expect,
} as never

const memory = await connect('memory://')
const server = new Server()
const { port } = await server.listen({ host: '127.0.0.1', port: 0, password: 'pw' })
const remoteUrl = `cyberdb://:pw@127.0.0.1:${port}`
const remote = await connect(remoteUrl)
afterAll(async () => {
  await memory.close()
  await remote.close()
  await server.close()
})

describe('@keyv/test-suite with keyv 5 (memory://)', () => {
  keyvTestSuite(vitestLike, Keyv, () => new KeyvCyberDB(memory, { table: 'suite' }))
  keyvIteratorTests(vitestLike, Keyv, () => new KeyvCyberDB(memory, { table: 'suite-iterator' }))
})

describe('@keyv/test-suite with keyv 5 (cyberdb://)', () => {
  keyvTestSuite(vitestLike, Keyv, () => new KeyvCyberDB(remote, { table: 'suite' }))
  keyvIteratorTests(vitestLike, Keyv, () => new KeyvCyberDB(remote, { table: 'suite-iterator' }))
})

describe('keyv 6', () => {
  test('get, set with a ttl on the table\'s own expiry, has, getMany, deleteMany, clear and iterator', async () => {
    const clock = manualClock(Date.now())
    await using db = await connect('memory://', { clock })
    const keyv = new Keyv6({ store: new KeyvCyberDB(db, { table: 'k6' }), namespace: 'app' })
    const other = new Keyv6({ store: new KeyvCyberDB(db, { table: 'k6' }), namespace: 'other' })
    expect(await keyv.set('a', { n: 1 })).toBe(true)
    expect(await keyv.set('short', 'x', 1_000)).toBe(true)
    await other.set('a', 'other a')
    expect([await keyv.get('a'), await keyv.get('short'), await keyv.has('a'), await keyv.has('none')])
      .toEqual([{ n: 1 }, 'x', true, false])
    // Stored under the namespace prefix, with a deadline of the table's own.
    expect(await db.dict('k6').ttl('app:short')).toBe(1_000)
    clock.advance(1_001)
    expect([await keyv.get('short'), await db.dict('k6').has('app:short')]).toEqual([undefined, false])
    expect((await db.info()).expired).toBe(1)
    await keyv.set('b', 2)
    expect(await keyv.get(['a', 'b', 'none'])).toEqual([{ n: 1 }, 2, undefined])
    const seen: unknown[] = []
    for await (const entry of keyv.iterator()) seen.push(entry)
    expect(seen).toEqual([['a', { n: 1 }], ['b', 2]])
    expect(await keyv.delete(['b', 'none'])).toEqual([true, false])
    await keyv.clear()
    expect([await keyv.get('a'), await other.get('a')]).toEqual([undefined, 'other a'])
  })

  test('keyv 5 and keyv 6 read what the other wrote in one namespace', async () => {
    await using db = await connect('memory://')
    const v5 = new Keyv({ store: new KeyvCyberDB(db, { table: 'both' }), namespace: 'ns' })
    const v6 = new Keyv6({ store: new KeyvCyberDB(db, { table: 'both' }), namespace: 'ns' })
    await v5.set('from5', 5)
    await v6.set('from6', 6)
    expect([await v6.get('from5'), await v5.get('from6')]).toEqual([5, 6])
    expect((await db.dict('both').keys()).sort()).toEqual(['ns:from5', 'ns:from6'])
  })
})

describe('the adapter on its own', () => {
  test('a url opens a database of its own, closed by disconnect()', async () => {
    const store = new KeyvCyberDB(remoteUrl, { table: 'own' })
    const keyv = new Keyv({ store })
    await keyv.set('k', 'v')
    expect(await remote.dict('own').get('keyv:k')).toBeString()
    await keyv.disconnect()
    expect(await store.get('keyv:k').catch((error) => error.code)).toBe('CONNECTION_CLOSED')
  })

  test('a table of the wrong type fails each call with WRONG_TABLE_TYPE, which Keyv reports', async () => {
    await using db = await connect('memory://')
    await db.createList('taken')
    const store = new KeyvCyberDB(db, { table: 'taken' })
    expect(await store.get('k').catch((error) => error.code)).toBe('WRONG_TABLE_TYPE')
    const errors: unknown[] = []
    const keyv = new Keyv({ store })
    keyv.on('error', (error) => errors.push(error))
    expect(await keyv.set('k', 1)).toBe(false)
    expect(errors.length).toBe(1)
  })
})

describe('cache-manager', () => {
  test('createCache over the adapter: set with a ttl, get, wrap, del', async () => {
    await using db = await connect('memory://')
    const cache = createCache({ stores: [new Keyv({ store: new KeyvCyberDB(db, { table: 'cache' }) })] })
    await cache.set('user:1', { name: 'Ada' }, 60_000)
    expect(await cache.get('user:1')).toEqual({ name: 'Ada' })
    expect(await db.dict('cache').ttl('keyv:user:1')).toBeGreaterThan(59_000)
    let calls = 0
    const load = async () => ++calls
    expect([await cache.wrap('computed', load, 60_000), await cache.wrap('computed', load, 60_000)]).toEqual([1, 1])
    await cache.del('user:1')
    expect(await cache.get('user:1')).toBeUndefined()
  })
})
