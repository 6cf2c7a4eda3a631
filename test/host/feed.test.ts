// The host's change feed (src/host/feed.ts) below the contract: history bounded in changes with
// whole commits, the oldest held seq, the deterministic form of each op's changes, and the seq
// carried by snapshots and log records across a clean restart and a kill -9.

import { afterAll, describe, expect, test } from 'bun:test'
import { Host } from '../../src/host/host.ts'
import { Feed, changeCount, changesOf, type Change } from '../../src/host/feed.ts'
import { CRASH_SEQ_SKIP, DataFile } from '../../src/persistence/data-file.ts'
import { connect } from '../../src/index.ts'
import { expectCode, tempDir } from '../contract/helpers.ts'
import { spawnFixture } from '../fixtures/spawn.ts'

const dir = tempDir()
afterAll(() => dir[Symbol.dispose]())

function changes(name: string, args: unknown[]): Omit<Change, 'seq' | 'table'>[] {
  const out: Change[] = []
  changesOf(7, { table: 't', name, args }, out)
  return out.map(({ seq: _, table: __, ...rest }) => rest)
}

describe('changesOf', () => {
  test('changeCount (what bounds history, counted without making the changes) is how many changesOf makes', () => {
    const ops: [string, unknown[]][] = [
      ['dict.set', ['k', 1]], ['dict.delete', ['k']], ['dict.setMany', [{ a: 1, b: 2 }]],
      ['dict.setMany', [new Map([['a', 1]]), { ttl: 5 }]], ['dict.update', [[['a', 1], ['b', 2], ['c', 3]]]],
      ['dict.update', [new Date(0)]], ['dict.deleteMany', [['a', 'b']]], ['dict.expire', [['a', 'b', 'c']]],
      ['dict.evict', [[]]], ['dict.clear', []], ['list.push', [1, 2, 3]], ['db.drop', []],
      ['db.atomic', [['t', 'dict.set', ['a', 1]], ['t', 'dict.get', ['a']], ['u', 'dict.setMany', [{ x: 1, y: 2 }]]]],
    ]
    for (const [name, args] of ops) {
      const op = { table: 't', name, args }
      const out: Change[] = []
      changesOf(1, op, out)
      expect([name, changeCount(op)]).toEqual([name, out.length])
    }
  })

  test('one change per key for ops on several keys, narrowed to that key; none for reads in a batch', () => {
    expect(changes('dict.evict', [['a', 'b']])).toEqual([
      { op: 'dict.evict', key: 'a', args: [['a']] }, { op: 'dict.evict', key: 'b', args: [['b']] }])
    expect(changes('dict.setMany', [[['a', 1], ['b', 2]], { deadline: 5 }])).toEqual([
      { op: 'dict.setMany', key: 'a', args: [[['a', 1]], { deadline: 5 }] },
      { op: 'dict.setMany', key: 'b', args: [[['b', 2]], { deadline: 5 }] }])
    expect(changes('dict.update', [{ a: 1 }])).toEqual([{ op: 'dict.update', key: 'a', args: [[['a', 1]]] }])
    expect(changes('list.push', [1, 2])).toEqual([{ op: 'list.push', args: [1, 2] }])
    const out: Change[] = []
    changesOf(3, { table: '', name: 'db.atomic', args: [['x', 'dict.get', ['k']], ['x', 'dict.set', ['k', 1]]] }, out)
    expect(out).toEqual([{ seq: 3, table: 'x', op: 'dict.set', key: 'k', args: ['k', 1] }])
  })
})

describe('Feed', () => {
  test('holds at most feedHistory changes, dropping whole commits, and keeps the newest commit whole', () => {
    const feed = new Feed(3)
    feed.publish(1, { table: 't', name: 'list.push', args: [1] })
    feed.publish(2, { table: 't', name: 'dict.deleteMany', args: [['a', 'b']] })
    expect([feed.oldest, feed.history().length]).toEqual([1, 2])
    feed.publish(3, { table: 't', name: 'dict.deleteMany', args: [['a', 'b', 'c', 'd']] })
    expect([feed.oldest, feed.history()]).toEqual([3, [[3, 't', 'dict.deleteMany', [['a', 'b', 'c', 'd']]]]])
    expect(() => feed.watch({ since: 1 }, () => {})).toThrow('oldest it holds is 3')
    expect(feed.watch({ since: 2 }, () => {}).read()).toHaveLength(4)
  })

  test('feedHistory is a whole number, 1 or more', async () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) await expectCode(() => new Feed(bad), 'BAD_ARGUMENT')
  })

  test('a watcher holds no copy of history: one that never reads costs the writers nothing more', () => {
    const host = new Host({ feedHistory: 100 })
    const watcher = host.watch(undefined, () => {})
    host.apply({ table: 'd', name: 'db.create', args: ['dict'] })
    for (let i = 0; i < 1000; i++) host.apply({ table: 'd', name: 'dict.set', args: ['k', i] })
    expect([host.seq, host.oldestSeq, host.feedState().history.length, host.watchers]).toEqual([1001, 902, 100, 1])
    expect(() => watcher.read()).toThrow('oldest it holds is 902')
    expect(host.watchers).toBe(0)
  })
})

describe('the seq across restarts', () => {
  test('a clean close keeps seq and history in the snapshot: the seq goes on by one', async () => {
    const path = dir.file('clean.cdb')
    {
      await using db = await connect(`file:${path}`)
      await db.createDict('d')
      for (let i = 0; i < 4; i++) await db.dict('d').set('k', i)
    }
    const host = new Host()
    const file = await DataFile.open(host, path)
    expect([host.seq, host.oldestSeq, host.feedState().history.at(-1)]).toEqual([5, 1, [5, 'd', 'dict.set', ['k', 3]]])
    expect(host.apply({ table: 'd', name: 'dict.set', args: ['k', 9] }).seq).toBe(6)
    await file.close()
  })

  test('a stop without a final snapshot replays the log\'s seqs, then skips CRASH_SEQ_SKIP', async () => {
    const path = dir.file('unclean.cdb')
    const first = new Host()
    const file = await DataFile.open(first, path)
    first.saver = file
    first.apply({ table: 'd', name: 'db.create', args: ['dict'] })
    for (let i = 0; i < 3; i++) first.apply({ table: 'd', name: 'dict.set', args: ['k', i] })
    await first.durable(1, 4)
    file.release() // as a kill -9 leaves it: the log, no final snapshot
    const host = new Host()
    const again = await DataFile.open(host, path)
    expect([host.seq, host.oldestSeq, host.feedState().history.map(([seq]) => seq)])
      .toEqual([4 + CRASH_SEQ_SKIP, 1, [1, 2, 3, 4]])
    expect(host.apply({ table: 'd', name: 'dict.set', args: ['k', 9] }).seq).toBe(5 + CRASH_SEQ_SKIP)
    await again.close()
  })

  test('two stops without a snapshot in a row: the writes after the first skip keep their seqs in the log', async () => {
    // The store has no deadline anywhere, so its records carry no time: they must still carry
    // their seq, or the second recovery would count on from the first skip's start.
    const path = dir.file('twice.cdb')
    const first = new Host()
    const file = await DataFile.open(first, path)
    first.saver = file
    first.apply({ table: 'd', name: 'db.create', args: ['dict'] })
    first.apply({ table: 'd', name: 'dict.set', args: ['k', 1] })
    await first.durable(1, 2)
    file.release()
    const second = new Host()
    const file2 = await DataFile.open(second, path)
    const seen = second.apply({ table: 'd', name: 'dict.set', args: ['k', 2] }).seq
    expect(seen).toBe(3 + CRASH_SEQ_SKIP)
    await second.durable(seen, seen)
    file2.release()
    const third = new Host()
    const file3 = await DataFile.open(third, path)
    expect(third.seq).toBeGreaterThan(seen)
    expect(third.feedState().history.map(([seq]) => seq).at(-1)).toBe(seen)
    await file3.close()
  })

  test('after kill -9 the seq goes on past every acknowledged one, and a watcher resumes with no gap', async () => {
    const path = dir.file('killed.cdb')
    const child = spawnFixture('feed-writes-fixture.ts', [path])
    await child.stdout.until((lines) => lines.length >= 50, '50 acknowledged commits')
    child.proc.kill('SIGKILL')
    await child.finish()
    const acked = child.stdout.lines().map((line) => line.split(' ').map(Number) as [number, number])
    await using db = await connect(`file:${path}`)
    const [since] = acked[10]!
    const stream = db.watch({ since })
    // Every acknowledged commit after `since` is there, in order, with its value.
    const want = acked.slice(11)
    const got: [number, unknown][] = []
    for (let i = 0; i < want.length; i++) {
      const change = (await stream.next()).value as Change
      got.push([change.seq, change.args[1]])
    }
    expect(got).toEqual(want)
    const tx = db.atomic()
    tx.dict('d').set('k', 'after')
    const { seq } = await tx.commit() as { seq: number }
    expect(seq).toBeGreaterThan(acked.at(-1)![0])
    await stream.return!()
  })
})
