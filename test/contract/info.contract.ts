// db.info() in every mode: the same plain-data shape, and counts that move with what a client
// does. Exact figures depend on the mode (a shared server counts every test's ops): the tests
// compare before and after, and check types, never absolute counts.

import { describe, expect, test } from 'bun:test'
import type { DatabaseInfo } from '../../src/index.ts'
import type { Open } from './dict.contract.ts'
import { uniqueName } from './helpers.ts'

const KEYS = ['at', 'evicted', 'expired', 'feed', 'gets', 'memory', 'ops', 'persistence', 'server', 'since',
  'tables']

/** Every field of an info, as the types it must have (what a dashboard or a scraper reads). */
export function expectInfoShape(info: DatabaseInfo): void {
  expect(Object.keys(info).sort()).toEqual(KEYS)
  const numbers = [info.at, info.since, info.expired, info.evicted, info.feed.seq, info.gets.hits,
    info.gets.misses, info.memory.rss, info.memory.heapUsed, info.memory.heapTotal, info.memory.storeBytes,
    info.memory.maxMemory, info.persistence.logBytes]
  expect(numbers.map((n) => typeof n)).toEqual(numbers.map(() => 'number'))
  expect(info.feed.oldest === null || typeof info.feed.oldest === 'number').toBe(true)
  expect(Object.keys(info.persistence).sort()).toEqual(['durability', 'file', 'lastSave', 'logBytes'])
  expect(Object.values(info.ops).every((n) => Number.isSafeInteger(n) && n > 0)).toBe(true)
  for (const table of info.tables) {
    expect(Object.keys(table).sort()).toEqual(['bytes', 'name', 'size', 'type', 'withDeadline'])
  }
  if (info.server !== null) {
    expect(Object.keys(info.server).sort()).toEqual(['bufferBytes', 'connections', 'refused', 'unsentBytes'])
  }
}

export function infoContract(open: Open): void {
  describe('db.info', () => {
    test('info() is plain data of the documented shape, with each table\'s size, bytes and deadlines', async () => {
      await using db = await open()
      const name = uniqueName()
      await db.createDict(name, { a: 'x'.repeat(100), b: 2 })
      await db.dict(name).set('c', 3, { ttl: 60_000 })
      const info = await db.info()
      expectInfoShape(info)
      const table = info.tables.find((t) => t.name === name)!
      expect({ ...table, bytes: table.bytes > 100 }).toEqual({ name, type: 'dict', size: 3, bytes: true,
        withDeadline: 1 })
      expect(info.memory.storeBytes).toBeGreaterThanOrEqual(table.bytes)
      expect(JSON.parse(JSON.stringify(info))).toEqual(info)
    })

    test('op counts, get hits and misses and the feed seq move with what a client does', async () => {
      await using db = await open()
      const name = uniqueName()
      await db.createDict(name)
      const before = await db.info()
      const dict = db.dict(name)
      await dict.set('k', 1)
      await dict.set('k', 2)
      await dict.get('k')
      await dict.get('missing')
      const after = await db.info()
      expect((after.ops['dict.set'] ?? 0) - (before.ops['dict.set'] ?? 0)).toBeGreaterThanOrEqual(2)
      expect(after.gets.hits - before.gets.hits).toBeGreaterThanOrEqual(1)
      expect(after.gets.misses - before.gets.misses).toBeGreaterThanOrEqual(1)
      expect(after.feed.seq - before.feed.seq).toBeGreaterThanOrEqual(2)
      expect(after.ops['db.info']).toBeGreaterThanOrEqual(1)
    })

    test('a list reports its length and no deadlines; a proxy answers info() too', async () => {
      await using db = await open()
      const name = uniqueName()
      await db.createList(name, [1, 2, 3])
      await using proxy = await db.proxy()
      const info = await proxy.info()
      expectInfoShape(info)
      const table = info.tables.find((t) => t.name === name)!
      expect([table.type, table.size, table.withDeadline]).toEqual(['list', 3, 0])
    })
  })
}
