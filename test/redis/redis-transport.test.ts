// The Redis transport against a real redis-server started here: the shared contracts over
// redis:// (less the named exclusions), then what only this mode promises. The Cluster runs are
// in cluster.test.ts.

import { afterAll, describe, expect, test } from 'bun:test'
import { connect, manualClock } from '../../src/index.ts'
import { expectCode, uniqueName } from '../contract/helpers.ts'
import { redisContracts } from '../fixtures/redis-contracts.ts'
import { REDIS_EXCLUDED } from '../fixtures/redis-excluded.ts'
import { redisMissing, startRedisServer } from '../fixtures/redis-servers.ts'

if (redisMissing !== undefined) {
  test.skip(`redis:// contract: skipped because ${redisMissing}`, () => {})
} else {
  const redis = await startRedisServer()
  afterAll(() => redis.close())
  const url = redis.url
  redisContracts('redis', url, async (n) => `${url}/${n}`, REDIS_EXCLUDED, true)

  describe('redis:// only', () => {
    test('the URL is checked: an unknown parameter and a bad database number are BAD_ARGUMENT', async () => {
      await expectCode(connect(`${url}?pool=3`), 'BAD_ARGUMENT')
      await expectCode(connect(`${url}/x`), 'BAD_ARGUMENT')
    })

    test('a server nobody listens on is CONNECTION_CLOSED at connect, and the password is never echoed', async () => {
      const error = await expectCode(connect('redis://:hunter2@127.0.0.1:1?connectTimeout=1'), 'CONNECTION_CLOSED')
      expect(error.message).not.toContain('hunter2')
      const bad = await expectCode(connect('redis://:hunter2@127.0.0.1:1?bogus=1'), 'BAD_ARGUMENT')
      expect([bad.message.includes('hunter2'), bad.message.includes('***')]).toEqual([false, true])
    })

    test('db.save with a path is BAD_ARGUMENT (Redis keeps its own persistence)', async () => {
      await using db = await connect(url)
      await expectCode(db.save('x.cdb'), 'BAD_ARGUMENT')
    })

    // The contract's version of this is excluded (redis-excluded.ts): here both takes are
    // watched from the start, since they end after dropTable resolves.
    test('dropping a table ends the waiting takes of every client with TABLE_NOT_FOUND', async () => {
      await using db = await connect(url)
      await using other = await connect(url)
      const name = uniqueName('drop')
      await db.createList(name)
      const takes = [db.list(name).take({ wait: 60_000 }), other.list(name).take({ wait: 60_000 })]
        .map((take) => take.then(() => 'resolved', (error) => error.code))
      await db.tables()
      await other.tables()
      expect(await other.dropTable(name)).toBe(true)
      expect(await Promise.all(takes)).toEqual(['TABLE_NOT_FOUND', 'TABLE_NOT_FOUND'])
    })

    // incr, setdefault, pop, getMany, setMany, ... read only the keys they name (LOAD_FIELDS):
    // an expired key they set again must still become a new key, last in the order.
    test('ops that read only their keys: an expired key incr sets again starts from 0 and goes last', async () => {
      const clock = manualClock(1_000_000)
      await using db = await connect(url, { clock })
      const name = uniqueName('keyed')
      await db.createDict(name)
      const d = db.dict<number>(name)
      await d.set('a', 5, { ttl: 10 })
      await d.set('b', 1)
      clock.advance(10)
      expect(await d.incr('a', 2)).toBe(2)
      expect(await d.entries()).toEqual([['b', 1], ['a', 2]])
      expect(await d.getMany(['a', 'b', 'zz'])).toEqual([2, 1, undefined])
      await d.setMany([['c', 3], ['b', 4]])
      expect(await d.deleteMany(['a', 'nope'])).toBe(1)
      expect(await d.entries()).toEqual([['b', 4], ['c', 3]])
    })

    test('a table is one hash (values), one zset (order) and a meta hash, all under one {tag}', async () => {
      await using db = await connect(url)
      const name = uniqueName('layout')
      await db.createDict(name, { a: 1 })
      await db.dict(name).set(0, 'n')
      const { Redis } = await import('ioredis')
      const raw = new Redis(url)
      try {
        const keys = (await raw.keys(`cdb:{${name}}:*`)).sort()
        expect(keys).toEqual(['h', 'm', 'o', 'v'].map((k) => `cdb:{${name}}:${k}`))
        expect((await raw.hkeys(`cdb:{${name}}:h`)).sort()).toEqual(['n0', 'sa'])
        expect(await raw.hget(`cdb:{${name}}:m`, 'type')).toBe('dict')
      } finally {
        raw.disconnect()
      }
    })
  })
}
