// The Redis transport against a real redis-server started here: the shared contracts over
// redis://, then what only this mode promises. The Cluster runs are in cluster.test.ts.

import { afterAll, describe, expect, test } from 'bun:test'
import { connect, type Database } from '../../src/index.ts'
import { storeContract } from '../contract/store.contract.ts'
import { takeContract } from '../contract/take.contract.ts'
import { propertyContract, ttlPropertyContract } from '../contract/property.contract.ts'
import { cacheContract } from '../contract/cache.contract.ts'
import { redisMissing, startRedisServer } from '../fixtures/redis-servers.ts'

if (redisMissing !== undefined) {
  test.skip(`redis:// contract: skipped because ${redisMissing}`, () => {})
} else {
  const redis = await startRedisServer()
  afterAll(() => redis.close())
  const url = redis.url

  storeContract('redis', () => connect(url), async (_db, n) => {
    const clients = await Promise.all(Array.from({ length: n }, () => connect(url)))
    return { clients, close: async () => void await Promise.all(clients.map((c) => c.close())) }
  })
  propertyContract('redis', () => connect(url))
  // A restart is a new client of the same Redis: each "data file" of the contract is a Redis
  // database number of its own (the tests reuse table names across files).
  const databases = new Map<string, number>()
  cacheContract('redis', {
    open: (clock) => connect(url, { clock }),
    reopen: (name, clock) => {
      if (!databases.has(name)) databases.set(name, databases.size + 1)
      return connect(`${url}/${databases.get(name)}`, { clock })
    },
  })
  ttlPropertyContract('redis', (clock) => connect(url, { clock }))
  takeContract(async (timers) => {
    const peers: Database[] = []
    const db = await connect(url, { setTimer: timers.setTimer })
    return {
      db,
      peer: async () => {
        const peer = await connect(url, { setTimer: timers.setTimer })
        peers.push(peer)
        return peer
      },
      async [Symbol.asyncDispose]() {
        for (const peer of [db, ...peers]) await peer.close()
      },
    }
  })
}
