// The Redis transport on a real 3-master Redis Cluster started here: the shared contracts over
// redis://…?cluster=true (less the named exclusions, redis-excluded.ts), and what a Cluster adds:
// tables spread over the masters, batches refused across slots.

import { afterAll, describe, expect, test } from 'bun:test'
import { connect } from '../../src/index.ts'
import { expectCode, uniqueName } from '../contract/helpers.ts'
import { redisContracts } from '../fixtures/redis-contracts.ts'
import { CLUSTER_EXCLUDED } from '../fixtures/redis-excluded.ts'
import { redisMissing, startRedisCluster } from '../fixtures/redis-servers.ts'

if (redisMissing !== undefined) {
  test.skip(`Redis Cluster contract: skipped because ${redisMissing}`, () => {})
} else {
  const cluster = await startRedisCluster(3)
  afterAll(() => cluster.close())
  const url = cluster.url

  // A Cluster has one database: a "new data file" of the cache contract's restarts is the
  // cluster emptied of the tables the tests before made (the tests of a file run one at a time).
  redisContracts('redis cluster', url, async () => {
    await using db = await connect(url)
    for (const { name } of await db.tables()) await db.dropTable(name)
    return url
  }, CLUSTER_EXCLUDED, false)

  describe('Redis Cluster only', () => {
    test('tables are spread over the masters: each one whole on one of them', async () => {
      await using db = await connect(url)
      const names = Array.from({ length: 12 }, () => uniqueName('spread'))
      for (const name of names) await db.createDict(name, { k: name })
      const { Redis } = await import('ioredis')
      const holders = new Set<number>()
      for (const node of cluster.nodes) {
        const raw = new Redis(node.port, '127.0.0.1')
        try {
          const keys = await raw.keys('cdb:{spread*')
          if (keys.length > 0) holders.add(node.port)
        } finally {
          raw.disconnect()
        }
      }
      expect(holders.size).toBeGreaterThan(1)
      expect(await Promise.all(names.map((name) => db.dict(name).get('k')))).toEqual(names)
    })

    test('an atomic batch over tables on different slots is refused with BAD_ARGUMENT, and applies nothing', async () => {
      await using db = await connect(url)
      const [a, b] = [uniqueName('a'), uniqueName('b')]
      await db.createDict(a)
      await db.createDict(b)
      const tx = db.atomic()
      tx.dict(a).set('k', 1)
      tx.dict(b).set('k', 2)
      const error = await expectCode(tx.commit(), 'BAD_ARGUMENT')
      expect(error.message).toContain('one hash slot')
      expect([await db.dict(a).has('k'), await db.dict(b).has('k')]).toEqual([false, false])
    })

    // The feed contract is not run on a Cluster (redis-excluded.ts): watch() says why at once.
    test('db.watch() on a Cluster fails with BAD_ARGUMENT: no one stream in commit order', async () => {
      await using db = await connect(url)
      const error = await expectCode(db.watch().next(), 'BAD_ARGUMENT')
      expect(error.message).toContain('Cluster')
    })

    test('an atomic batch on one table commits on a Cluster', async () => {
      await using db = await connect(url)
      const name = uniqueName('one')
      await db.createDict(name, { n: 1 })
      const tx = db.atomic()
      tx.dict(name).check('n', 1)
      tx.dict(name).incr('n', 2)
      expect(await tx.commit()).toEqual({ ok: true, seq: expect.any(Number), results: [3] })
    })
  })
}
