// The change feed in every mode (issue 12): watchers get exactly the changes their filter selects,
// in commit order, with no gap and no duplicate, also when they resume with `since` while writes go
// on; applying the changes to a copy reproduces the tables; FEED_COMPACTED carries the oldest seq;
// an atomic batch is one seq; expiry and eviction are changes; leaving the loop, closing the
// database or a proxy frees the watch; a data file (or a server on one) continues its seq and
// history across a restart. Writers are bounded loops; nothing sleeps.

import { describe, expect, test } from 'bun:test'
import { manualClock, type Change, type Database, type ManualClock, type WatchOptions } from '../../src/index.ts'
import { Host } from '../../src/host/host.ts'
import { expectCode, uniqueName, waitFor } from './helpers.ts'

export interface FeedOptions {
  clock?: ManualClock
  feedHistory?: number
}

export interface FeedKit extends AsyncDisposable {
  db: Database
  /** Another client of the same host (a second connection, a sibling database). */
  peer(): Promise<Database>
  /** Watchers the host holds now. */
  watchers(): number
}

export interface FeedHarness {
  open(options?: FeedOptions): Promise<FeedKit>
  /** The same data file after a close (absent for memory://). */
  reopen?(name: string, options?: FeedOptions): Promise<FeedKit>
}

const T0 = 1_700_000_000_000

/** Reads `n` changes of `stream` (bounded: the caller knows how many must come). */
export async function take(stream: AsyncIterator<Change>, n: number): Promise<Change[]> {
  const out: Change[] = []
  while (out.length < n) {
    const next = await stream.next()
    if (next.done) break
    out.push(next.value)
  }
  return out
}

/** A commit's seq to watch from: a watch sent on one connection is not ordered with writes made
 * on another, so a test whose writers are other clients starts its watchers after a known seq. */
async function mark(db: Database, d: string): Promise<number> {
  const tx = db.atomic()
  tx.dict(d).set('mark', 0)
  return ((await tx.commit()) as { seq: number }).seq
}

/** What a filter selects, as the feed defines it. */
export function selects(options: WatchOptions, change: Change): boolean {
  if (options.tables !== undefined && !options.tables.includes(change.table)) return false
  if (options.prefix === undefined || change.key === undefined) return true
  return typeof change.key === 'string' && change.key.startsWith(options.prefix)
}

// A tiny deterministic generator: the same writes every run.
function random(seed: number): () => number {
  let state = seed
  return () => {
    state = (state * 1103515245 + 12345) & 0x7fffffff
    return state / 0x7fffffff
  }
}

// One random write of a small mix (sets, deletes, bulk sets, pushes, shifts, an atomic batch);
// resolves with how many commits it made (every one of these commits once).
async function randomWrite(db: Database, next: () => number, d1: string, d2: string, l: string): Promise<void> {
  const key = `${next() < 0.5 ? 'a' : 'b'}${Math.floor(next() * 8)}`
  const dict = db.dict(next() < 0.5 ? d1 : d2)
  const pick = next()
  if (pick < 0.35) await dict.set(key, Math.floor(next() * 100))
  else if (pick < 0.5) await dict.delete(key)
  else if (pick < 0.6) await dict.setMany([[key, 1], [`x${key}`, 2]])
  else if (pick < 0.75) await db.list(l).push(key)
  else if (pick < 0.85) await db.list(l).shift()
  else {
    const tx = db.atomic()
    tx.dict(d1).set(key, 'tx')
    tx.list(l).push(key)
    await tx.commit()
  }
}

/** Applies changes in order to a fresh host: the tables a replica would have. */
function replay(changes: Change[], tables: string[]): Host {
  const host = new Host()
  for (const change of changes) {
    if (!tables.includes(change.table)) continue
    host.apply({ table: change.table, name: change.op, args: change.args })
  }
  return host
}

async function entries(db: Database, d: string): Promise<unknown> {
  return (await db.dict(d).entries()).sort((x, y) => String(x[0]).localeCompare(String(y[0])))
}

export function feedContract(label: string, harness: FeedHarness): void {
  describe(`feed contract (${label})`, () => {
    test('several watchers with different filters each get exactly their changes, in order; replaying them reproduces the tables', async () => {
      await using kit = await harness.open()
      const { db } = kit
      const [d1, d2, l] = [uniqueName('fd'), uniqueName('fd'), uniqueName('fl')]
      const filters: WatchOptions[] = [{}, { tables: [d1] }, { prefix: 'a' }, { tables: [d2, l], prefix: 'b' }]
      const streams = filters.map((options) => db.watch(options))
      const all = streams[0]!
      await db.createDict(d1)
      await db.createDict(d2)
      await db.createList(l)
      const writers = [db, await kit.peer(), await kit.peer()]
      await Promise.all(writers.map(async (writer, i) => {
        const next = random(i + 1)
        for (let n = 0; n < 60; n++) await randomWrite(writer, next, d1, d2, l)
      }))
      await db.createDict(uniqueName('end')) // the last commit: every watcher of all tables gets it
      const seen: Change[] = []
      for (;;) {
        const change = (await all.next()).value as Change
        seen.push(change)
        if (change.op === 'db.create' && change.table.startsWith('end_')) break
      }
      // Commit order: seqs never go down, and one seq is one commit (its changes are adjacent).
      const seqs = seen.map((c) => c.seq)
      expect(seqs.every((s, i) => i === 0 || s >= seqs[i - 1]!)).toBe(true)
      const commits = new Set(seqs)
      expect(commits.size).toBe(3 + 3 * 60 + 1)
      for (const [i, options] of filters.entries()) {
        if (i === 0) continue
        const want = seen.filter((c) => selects(options, c))
        expect(await take(streams[i]!, want.length)).toEqual(want)
      }
      const replica = replay(seen, [d1, d2, l])
      for (const d of [d1, d2]) {
        const copy = (replica.apply({ table: d, name: 'dict.entries', args: [] }).result as [string, unknown][])
          .sort((x, y) => x[0].localeCompare(y[0]))
        expect(copy).toEqual(await entries(db, d) as [string, unknown][])
      }
      expect(replica.apply({ table: l, name: 'list.slice', args: [] }).result).toEqual(await db.list(l).toArray())
      for (const stream of streams) await stream.return!()
      for (const writer of writers.slice(1)) await writer.close()
    })

    test('a change has seq, table, op, key (for one dict key) and args in the logged form', async () => {
      await using kit = await harness.open({ clock: manualClock(T0) })
      const { db } = kit
      const d = uniqueName('fd')
      const stream = db.watch({ tables: [d] })
      await db.createDict(d)
      await db.dict(d).set('k', 1, { ttl: 50 })
      await db.dict(d).deleteMany(['k', 'z'])
      const got = await take(stream, 4)
      const base = got[0]!.seq
      expect(got).toEqual([
        { seq: base, table: d, op: 'db.create', args: ['dict'] },
        { seq: base + 1, table: d, op: 'dict.set', key: 'k', args: ['k', 1, { deadline: T0 + 50 }] },
        { seq: base + 2, table: d, op: 'dict.deleteMany', key: 'k', args: [['k']] },
        { seq: base + 2, table: d, op: 'dict.deleteMany', key: 'z', args: [['z']] },
      ])
      await stream.return!()
    })

    test('resuming with since while writes go on: no gap, no duplicate', async () => {
      await using kit = await harness.open()
      const { db } = kit
      const d = uniqueName('fd')
      await db.createDict(d)
      const all = db.watch({ tables: [d], since: await mark(db, d) })
      const writer = await kit.peer()
      const N = 200
      const writing = (async () => {
        for (let i = 0; i < N; i++) await writer.dict(d).set(`k${i % 7}`, i)
      })()
      const first = db.watch({ tables: [d] })
      const got = await take(first, 20)
      await first.return!()
      const resumed = db.watch({ tables: [d], since: got.at(-1)!.seq })
      await writing
      const everything = await take(all, N)
      const start = everything.findIndex((c) => c.seq === got[0]!.seq)
      const rest = await take(resumed, everything.length - start - got.length)
      expect([...got, ...rest]).toEqual(everything.slice(start))
      await all.return!()
      await resumed.return!()
      await writer.close()
    })

    test('since older than history throws FEED_COMPACTED carrying the oldest seq held; from there it resumes', async () => {
      await using kit = await harness.open({ feedHistory: 5 })
      const { db } = kit
      const d = uniqueName('fd')
      await db.createDict(d)
      for (let i = 0; i < 19; i++) await db.dict(d).set('k', i)
      const tx = db.atomic()
      tx.dict(d).set('k', 19)
      const { seq: last } = await tx.commit() as { seq: number }
      const error = await expectCode(db.watch({ since: last - 10 }).next(), 'FEED_COMPACTED')
      expect(error.oldest).toBe(last - 4)
      const from = await take(db.watch({ since: error.oldest! - 1 }), 5)
      expect(from.map((c) => [c.seq, c.args[1]])).toEqual([0, 1, 2, 3, 4].map((i) => [last - 4 + i, 15 + i]))
    })

    test('bad options and a since past the latest seq are BAD_ARGUMENT', async () => {
      await using kit = await harness.open()
      await expectCode(kit.db.watch({ tables: 'x' } as never).next(), 'BAD_ARGUMENT')
      await expectCode(kit.db.watch({ prefix: 3 } as never).next(), 'BAD_ARGUMENT')
      await expectCode(kit.db.watch({ since: -1 }).next(), 'BAD_ARGUMENT')
      await expectCode(kit.db.watch({ since: 1.5 }).next(), 'BAD_ARGUMENT')
      await expectCode(kit.db.watch({ nope: 1 } as never).next(), 'BAD_ARGUMENT')
      await expectCode(kit.db.watch({ since: 2 ** 40 }).next(), 'BAD_ARGUMENT')
    })

    test('an atomic batch arrives as its changes with one seq, together', async () => {
      await using kit = await harness.open()
      const { db } = kit
      const [d, l] = [uniqueName('fd'), uniqueName('fl')]
      await db.createDict(d)
      await db.createList(l)
      const stream = db.watch({ tables: [d, l] })
      const tx = db.atomic()
      tx.dict(d).set('a', 1)
      tx.list(l).push('x', 'y')
      tx.dict(d).delete('a')
      const { seq } = await tx.commit() as { seq: number }
      await db.dict(d).set('after', 1)
      const got = await take(stream, 4)
      expect(got.map((c) => [c.seq - seq, c.op])).toEqual([[0, 'dict.set'], [0, 'list.push'], [0, 'dict.delete'], [1, 'dict.set']])
      await stream.return!()
    })

    test('expiry and eviction are changes, one per key removed', async () => {
      const clock = manualClock(T0)
      await using kit = await harness.open({ clock })
      const { db } = kit
      const [c, b] = [uniqueName('fc'), uniqueName('fb')]
      await db.createDict(c)
      await db.createDict(b, undefined, { maxEntries: 2 })
      const stream = db.watch({ tables: [c, b] })
      await db.dict(c).set('x', 1, { ttl: 100 })
      await db.dict(c).set('y', 1, { ttl: 100 })
      clock.advance(100)
      await db.dict(b).set('p', 1)
      await db.dict(b).set('q', 1)
      await db.dict(b).set('r', 1)
      const got = await take(stream, 7)
      expect(got.map((ch) => [ch.table === c ? 'c' : 'b', ch.op, ch.key, ch.args])).toEqual([
        ['c', 'dict.set', 'x', ['x', 1, { deadline: T0 + 100 }]],
        ['c', 'dict.set', 'y', ['y', 1, { deadline: T0 + 100 }]],
        ['c', 'dict.expire', 'x', [['x']]],
        ['c', 'dict.expire', 'y', [['y']]],
        ['b', 'dict.set', 'p', ['p', 1]],
        ['b', 'dict.set', 'q', ['q', 1]],
        ['b', 'dict.set', 'r', ['r', 1]],
      ])
      expect(await take(stream, 1)).toEqual([{ seq: got[6]!.seq + 1, table: b, op: 'dict.evict', key: 'p', args: [['p']] }])
      expect(got[2]!.seq).toBe(got[3]!.seq) // one sweep slice: one commit
      await stream.return!()
    })

    test('a watcher that stops reading is caught up from history when it reads again, or ends with FEED_COMPACTED', async () => {
      await using kit = await harness.open({ feedHistory: 100 })
      const { db } = kit
      const d = uniqueName('fd')
      await db.createDict(d)
      const slow = db.watch({ tables: [d] })
      const lost = db.watch({ tables: [d] })
      await db.dict(d).set('k', -1)
      expect((await take(slow, 1)).length + (await take(lost, 1)).length).toBe(2)
      for (let i = 0; i < 60; i++) await db.dict(d).set('k', i)
      expect((await take(slow, 60)).map((c) => c.args[1])).toEqual(Array.from({ length: 60 }, (_, i) => i))
      for (let i = 60; i < 400; i++) await db.dict(d).set('k', i)
      // Whatever reached this client before history moved on comes first, then the error.
      const error = await (async () => {
        for (let n = 0; n < 1000; n++) {
          try {
            if ((await lost.next()).done) return undefined
          } catch (e) {
            return e as { code: string }
          }
        }
      })()
      expect(error?.code).toBe('FEED_COMPACTED')
      await slow.return!()
    })

    test('leaving the loop, closing a proxy and closing the database end their watches: the host holds none', async () => {
      await using kit = await harness.open()
      const { db } = kit
      const d = uniqueName('fd')
      await db.createDict(d)
      const before = kit.watchers()
      const other = await kit.peer()
      const since = await mark(db, d)
      const viaBreak = db.watch({ tables: [d], since })
      const proxy = await db.proxy()
      const viaProxy = proxy.watch({ tables: [d], since })
      const viaClose = other.watch({ tables: [d], since })
      await db.dict(d).set('k', 1)
      for await (const change of viaBreak) {
        expect(change.key).toBe('k')
        break
      }
      expect((await take(viaProxy, 1))[0]!.key).toBe('k')
      expect((await take(viaClose, 1))[0]!.key).toBe('k')
      await proxy.close()
      await other.close()
      expect([await viaProxy.next(), await viaClose.next()]).toEqual([{ done: true, value: undefined }, { done: true, value: undefined }])
      await waitFor(() => kit.watchers() === before, 'the host to let go of the watchers')
      expect(kit.watchers()).toBe(before)
      await expectCode(proxy.watch().next(), 'CONNECTION_CLOSED')
    })

    if (harness.reopen !== undefined) {
      const reopen = harness.reopen
      test('after a restart the seq goes on past every seq before, and a watcher resumes with no gap', async () => {
        const name = uniqueName('restart')
        const d = uniqueName('fd')
        let before: Change[]
        {
          await using kit = await reopen(name)
          const stream = kit.db.watch({ tables: [d] })
          await kit.db.createDict(d)
          for (let i = 0; i < 5; i++) await kit.db.dict(d).set('k', i)
          before = await take(stream, 6)
          await stream.return!()
        }
        await using kit = await reopen(name)
        const since = before[2]!.seq
        const resumed = kit.db.watch({ tables: [d], since })
        await kit.db.dict(d).set('k', 'after')
        const got = await take(resumed, 4)
        expect(got.slice(0, 3)).toEqual(before.slice(3))
        expect(got[3]!.args).toEqual(['k', 'after'])
        expect(got[3]!.seq).toBeGreaterThan(before.at(-1)!.seq)
        await resumed.return!()
      })
    }
  })
}
