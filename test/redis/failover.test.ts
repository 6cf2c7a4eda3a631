// A Redis Cluster of 3 masters and 3 replicas, and the master holding a table killed during a
// run of writes: what was in flight fails with CONNECTION_CLOSED, the client follows the
// replica that takes over, and no acknowledged write is lost. "Acknowledged" is
// ?waitReplicas=1: a write resolves once a replica has it (WAIT 1); without it Redis replicates
// after answering, and a write acknowledged just before a crash can be lost (README).

import { afterAll, expect, test } from 'bun:test'
import { Cluster } from 'ioredis'
import { CyberError, connect } from '../../src/index.ts'
import { tableKeys } from '../../src/redis/keys.ts'
import { redisMissing, startRedisCluster } from '../fixtures/redis-servers.ts'

// A failover takes the cluster node timeout (1 s in the fixture) and an election.
const FAILOVER_TEST_MS = 60_000

if (redisMissing !== undefined) {
  test.skip(`Redis Cluster failover: skipped because ${redisMissing}`, () => {})
} else {
  const cluster = await startRedisCluster(3, 1)
  afterAll(() => cluster.close())

  test('a killed master: in-flight writes fail with CONNECTION_CLOSED, the client reconnects, no acknowledged write is lost', async () => {
    await using db = await connect(`${cluster.url}&waitReplicas=1&waitTimeout=500`)
    const name = 'failover'
    await db.createDict(name)
    const d = db.dict<number>(name)
    // The master that holds the table's slot.
    const raw = new Cluster([{ host: '127.0.0.1', port: cluster.nodes[0]!.port }])
    const slot = await raw.cluster('KEYSLOT', tableKeys(name).hash) as number
    const ranges = await raw.cluster('SLOTS') as unknown as [number, number, [string, number]][]
    raw.disconnect()
    const port = ranges.find(([from, to]) => slot >= from && slot <= to)![2][1]
    const master = cluster.nodes.find((node) => node.port === port)!

    const acknowledged = new Map<string, number>()
    const failures = new Set<string>()
    let afterKill = 0
    let killed = false
    let restarted = false
    const started = performance.now()
    // Bounded: writes go on until enough are acknowledged after the kill. The replica that took
    // over has no replica of its own (WAIT 1 times out: TIMEOUT, the write is on the new master
    // but not acknowledged) until the killed node is back and rejoins as its replica.
    for (let i = 0; i < 100_000 && afterKill < 20 && performance.now() - started < 45_000; i++) {
      const batch = Array.from({ length: 8 }, (_, j) => `k${i}-${j}`)
      const results = await Promise.allSettled(batch.map((key, j) => d.set(key, i * 8 + j)))
      results.forEach((result, j) => {
        if (result.status === 'fulfilled') {
          acknowledged.set(batch[j]!, i * 8 + j)
          if (killed) afterKill++
        } else {
          const error = result.reason
          failures.add(error instanceof CyberError ? error.code : String(error))
          if (killed && !restarted && error instanceof CyberError && error.code === 'TIMEOUT') {
            cluster.restart(master) // the new master took the write: bring the old one back
            restarted = true
          }
        }
      })
      if (i === 20) {
        cluster.kill(master)
        killed = true
      }
      if (killed && results.every((r) => r.status === 'rejected')) await Bun.sleep(50) // the election
    }
    expect({ killed, restarted, afterKill: afterKill >= 20 }).toEqual({ killed: true, restarted: true, afterKill: true })
    // What failed failed as a lost connection or an unacknowledged write, nothing else; and the
    // writes in flight at the kill did fail.
    expect([...failures].sort()).toEqual(['CONNECTION_CLOSED', 'TIMEOUT'])
    const keys = [...acknowledged.keys()]
    const values = await d.getMany(keys)
    const lost = keys.filter((key, i) => values[i] !== acknowledged.get(key))
    expect({ acknowledged: acknowledged.size > 160, lost }).toEqual({ acknowledged: true, lost: [] })
  }, FAILOVER_TEST_MS)
}
