// Replicas under randomized load (issue 16, item 5): writers on the server (plain clients and the
// replicas themselves) and several replica clients. During the run every state a replica shows
// is the server's state at the seq the replica reports, no older than its reported lag allows,
// an atomic batch is never seen in part, and a replica reads its own writes; after quiescence
// every replica equals the server's tables.

import { expect, test } from 'bun:test'
import { Server, connect, type Database } from '../../src/index.ts'
import { watchHost } from '../../src/client/embedded.ts'
import { Store } from '../../src/engine/store.ts'
import { Host } from '../../src/host/host.ts'
import { mulberry32 } from '../fixtures/random.ts'
import { waitFor } from '../contract/helpers.ts'

const PASSWORD = 'pw'
const TABLES = ['d', 'q']
const KEYS = ['a', 'b', 'c', 'd', 'e']

// The server's tables after each commit that touched them, by seq (a shadow fed by the feed).
function stateOf(store: Store): string {
  const d = store.tables.has('d') ? store.apply({ table: 'd', name: 'dict.entries', args: [] }) as [string, unknown][] : null
  const q = store.tables.has('q') ? store.apply({ table: 'q', name: 'list.slice', args: [] }) : null
  return JSON.stringify([d?.sort(([x], [y]) => x < y ? -1 : 1) ?? null, q])
}

function replicaState(db: Database): string {
  const d = db.replica('d').entries().sort(([x], [y]) => x < y ? -1 : 1)
  return JSON.stringify([d, db.replica('q').slice()])
}

async function writer(db: Database, seed: number, rounds: number, checkOwn: boolean): Promise<void> {
  const random = mulberry32(seed)
  const pick = <T>(items: T[]) => items[Math.floor(random() * items.length)]!
  for (let i = 0; i < rounds; i++) {
    const r = random()
    const key = pick(KEYS)
    const value = Math.floor(random() * 1000)
    const mine = `mine:${seed}` // only this writer writes it: what it reads back is its own write
    if (r < 0.3) {
      await db.dict('d').set(key, value)
    } else if (r < 0.4) {
      await db.dict('d').set(mine, value)
      if (checkOwn) expect(db.replica('d').get(mine)).toBe(value)
    } else if (r < 0.5) {
      await db.dict('d').delete(random() < 0.5 ? key : mine)
      if (checkOwn) expect(db.replica('d').has(mine)).toBe(await db.dict('d').has(mine))
    } else if (r < 0.6) {
      await db.dict('d').incr('n', value)
    } else if (r < 0.7) {
      await db.list('q').push(value)
    } else if (r < 0.75) {
      await db.list('q').shift()
    } else if (r < 0.85) {
      // x and y always change together: a replica never shows them apart
      const batch = db.atomic()
      batch.dict('d').set('x', value)
      batch.dict('d').set('y', value)
      batch.list('q').push(-value)
      batch.dict('d').set(mine, value)
      await batch.commit()
      if (checkOwn) expect(db.replica('d').get(mine)).toBe(value)
    } else if (r < 0.9) {
      await db.dict('d').update({ [key]: value, [pick(KEYS)]: value + 1 })
    } else {
      await db.dict('u').set(key, value) // a table no replica holds
    }
  }
}

test('randomized writers and replicas: every state shown was the server\'s, and all converge', async () => {
  const serverHost = new Host()
  const own = new Server({ host: serverHost })
  const { port } = await own.listen({ host: '127.0.0.1', port: 0, password: PASSWORD })
  const url = `cyberdb://:${PASSWORD}@127.0.0.1:${port}`
  const states = new Map<number, string>([[0, 'none']])
  const seqs: number[] = [0]
  const shadow = new Store()
  const feed = watchHost(serverHost, { tables: TABLES, since: 0 })
  let following = true
  void (async () => {
    while (following) {
      const { value, done } = await feed.next()
      if (done) return
      for (const change of [value, ...feed.drain()]) {
        shadow.apply({ table: change.table, name: change.op, args: change.args })
        if (seqs.at(-1) !== change.seq) seqs.push(change.seq)
        states.set(change.seq, stateOf(shadow))
      }
    }
  })()
  const plain = await connect(url)
  await plain.createDict('d', { x: 0, y: 0 })
  await plain.createList('q')
  await plain.createDict('u')
  const replicas = await Promise.all([1, 2, 3].map(() => connect(url, { replica: TABLES })))
  // the state at `seq`: the one after the last commit of these tables at or before it
  const serverStateAt = (seq: number): string | undefined => {
    let at = 0
    for (const s of seqs) if (s <= seq) at = s
    return states.get(at)
  }
  const samples: { seq: number; state: string; floor: number }[] = []
  let sampling = true
  const sampler = (async () => {
    for (let i = 0; sampling && i < 100_000; i++) {
      for (const db of replicas) {
        const info = await db.info()
        const seq = db.replica('d').seq
        expect(db.replica('q').seq).toBe(seq)
        const d = db.replica('d')
        expect(d.get('x')).toBe(d.get('y'))
        expect(seq).toBeGreaterThanOrEqual(info.replica!.seq)
        samples.push({ seq, state: replicaState(db), floor: info.replica!.serverSeq - info.replica!.behind })
      }
    }
  })()
  await Promise.all([
    writer(plain, 1, 150, false),
    ...replicas.map((db, i) => writer(db, 10 + i, 100, true)),
  ])
  sampling = false
  await sampler
  // quiescence: a last commit, seen by the shadow and by every replica
  const end = plain.atomic()
  end.dict('d').set('end', true)
  const { seq: last } = await end.commit() as { seq: number }
  await waitFor(() => seqs.at(-1)! >= last, 'the shadow')
  await waitFor(() => replicas.every((db) => db.replica('d').seq >= last), 'the replicas to converge')
  const entries = (await plain.dict('d').entries()).sort(([x], [y]) => x < y ? -1 : 1)
  const items = await plain.list('q').slice()
  for (const db of replicas) expect(replicaState(db)).toBe(JSON.stringify([entries, items]))
  expect(samples.length).toBeGreaterThan(10)
  // The state shown is the server's at the replica's seq, and the server's at some seq no older
  // than the lag the replica reported (behind 0: the server's at the time it was asked).
  for (const { seq, state, floor } of samples) {
    expect(state).toBe(serverStateAt(seq)!)
    expect(state).toBe(serverStateAt(Math.max(seq, floor))!)
  }
  following = false
  await feed.return()
  for (const db of replicas) await db.close()
  await plain.close()
  await own.close()
})
