// The queue half of the list contract: list.take, alone and waiting, across several databases on
// one store (other connections to one server; other databases on one host in process). Waits end
// on manual timers the runner hands to the host, so no test sleeps.

import { describe, expect, test } from 'bun:test'
import type { Database, ListHandle } from '../../src/index.ts'
import { manualTimers } from '../fixtures/timers.ts'
import { expectCode, uniqueName } from './helpers.ts'
import { newList } from './list.contract.ts'

/** Databases on one store whose host times takes out on `timers`. */
export interface Queues extends AsyncDisposable {
  readonly db: Database
  /** Another database on the same store: another connection, another database on the host. */
  peer(): Promise<Database>
}

export type OpenQueues = (timers: ReturnType<typeof manualTimers>) => Promise<Queues>

const LONG = 60_000

// Resolves once every request `db` sent before it has been run: requests on one database run in
// the order sent, and a take that waits has then taken its place in line.
async function barrier(db: Database): Promise<void> {
  await db.tables()
}

// What each promise has settled to so far ('pending' if not yet), after one more round trip.
async function settled(db: Database, promises: Promise<unknown>[]): Promise<unknown[]> {
  const states = promises.map(() => 'pending' as unknown)
  promises.forEach((p, i) => p.then((v) => { states[i] = v }, (e) => { states[i] = e.code }))
  await barrier(db)
  await barrier(db)
  return states
}

export function takeContract(open: OpenQueues): void {
  describe('list.take (issue 11.3)', () => {
    const setUp = async (): Promise<{ q: Queues; timers: ReturnType<typeof manualTimers>; name: string; l: ListHandle<unknown> }> => {
      const timers = manualTimers()
      const q = await open(timers)
      const l = await newList(q.db)
      return { q, timers, name: l.name, l }
    }

    test('take without a wait removes and returns the first value, and undefined on an empty list', async () => {
      const { q, l } = await setUp()
      await using _ = q
      await l.push('a', 'b')
      expect([await l.take(), await l.take({}), await l.take(), await l.take({ wait: 0 }), await l.length()])
        .toEqual(['a', 'b', undefined, undefined, 0])
    })

    test('take with a wait on a list that has a value returns it at once', async () => {
      const { q, l } = await setUp()
      await using _ = q
      await l.push({ job: 1 })
      expect(await l.take({ wait: LONG })).toEqual({ job: 1 })
    })

    test('a waiting take gets the value another database pushes, and the list stays empty', async () => {
      const { q, l, name } = await setUp()
      await using _ = q
      await using other = await q.peer()
      const taken = l.take({ wait: LONG })
      await barrier(q.db)
      expect(await other.list(name).push('job')).toBe(1)
      expect([await taken, await l.length()]).toEqual(['job', 0])
    })

    test('a waiting take gets a value pushed by an atomic batch, once the batch commits', async () => {
      const { q, l, name } = await setUp()
      await using _ = q
      await using other = await q.peer()
      const taken = l.take({ wait: LONG })
      await barrier(q.db)
      const failed = other.atomic()
      failed.list(name).push('never')
      failed.list(name).pop(5) // INDEX_OUT_OF_RANGE: the batch applies nothing, hands nothing out
      await expectCode(failed.commit(), 'INDEX_OUT_OF_RANGE')
      expect(await settled(q.db, [taken])).toEqual(['pending'])
      const tx = other.atomic()
      tx.list(name).push('job')
      expect(await tx.commit()).toMatchObject({ ok: true })
      expect([await taken, await l.length()]).toEqual(['job', 0])
    })

    test('a waiting take does not hold up other requests of its database', async () => {
      const { q, l, name } = await setUp()
      await using _ = q
      const taken = l.take({ wait: LONG })
      const other = uniqueName('list')
      await q.db.createList(other, [1])
      expect([await q.db.list(other).toArray(), await l.length()]).toEqual([[1], 0])
      await q.db.list(name).push('late')
      expect(await taken).toBe('late')
    })

    test('three takes waiting from three databases are served in the order they asked, one value each', async () => {
      const { q, l, name } = await setUp()
      await using _ = q
      const dbs = [await q.peer(), await q.peer(), await q.peer()]
      try {
        const takes: Promise<unknown>[] = []
        for (const db of dbs) {
          takes.push(db.list(name).take({ wait: LONG }))
          await barrier(db)
        }
        // The length the push made, as Redis's RPUSH answers with takes blocked: then handed out.
        expect(await l.push('first', 'second')).toBe(2)
        expect(await settled(q.db, takes)).toEqual(['first', 'second', 'pending'])
        await l.push('third', 'left')
        expect([await Promise.all(takes), await l.toArray()]).toEqual([['first', 'second', 'third'], ['left']])
      } finally {
        for (const db of dbs) await db.close()
      }
    })

    test('every write that leaves values in the list hands them out: insert, extend, unshift', async () => {
      const { q, l } = await setUp()
      await using _ = q
      const takes = [l.take({ wait: LONG }), l.take({ wait: LONG }), l.take({ wait: LONG }), l.take({ wait: LONG })]
      await l.insert(0, 'i')
      await l.extend(['e1', 'e2'])
      await l.unshift('u')
      expect([await Promise.all(takes), await l.length()]).toEqual([['i', 'e1', 'e2', 'u'], 0])
    })

    test('a take whose wait runs out resolves undefined, and a value pushed after it stays in the list', async () => {
      const { q, l, timers } = await setUp()
      await using _ = q
      const taken = l.take({ wait: 1000 })
      await barrier(q.db)
      timers.advance(999)
      expect(await settled(q.db, [taken])).toEqual(['pending'])
      timers.advance(1)
      expect(await taken).toBeUndefined()
      await l.push('kept')
      expect(await l.toArray()).toEqual(['kept'])
    })

    test('a take that timed out gives its place to the next one in line', async () => {
      const { q, l, timers, name } = await setUp()
      await using _ = q
      await using other = await q.peer()
      const short = l.take({ wait: 10 })
      await barrier(q.db)
      const long = other.list(name).take({ wait: LONG })
      await barrier(other)
      timers.advance(10)
      await l.push('v')
      expect([await short, await long, await l.length()]).toEqual([undefined, 'v', 0])
    })

    test('a waiting database that closes loses nothing: its take fails with CONNECTION_CLOSED and the value goes to the next take', async () => {
      const { q, l, name } = await setUp()
      await using _ = q
      const leaving = await q.peer()
      await using staying = await q.peer()
      const lost = leaving.list(name).take({ wait: LONG })
      await barrier(leaving)
      const kept = staying.list(name).take({ wait: LONG })
      await barrier(staying)
      await leaving.close()
      await expectCode(lost, 'CONNECTION_CLOSED')
      await l.push('v', 'w')
      expect([await kept, await l.toArray()]).toEqual(['v', ['w']])
    })

    test('closing a database ends its waiting takes with CONNECTION_CLOSED; later values stay in the list', async () => {
      const { q, name } = await setUp()
      await using _ = q
      const leaving = await q.peer()
      const takes = [leaving.list(name).take({ wait: LONG }), leaving.list(name).take()]
      await leaving.close()
      const [waiting, plain] = await Promise.allSettled(takes)
      expect([waiting?.status, (waiting as PromiseRejectedResult).reason?.code, plain])
        .toEqual(['rejected', 'CONNECTION_CLOSED', { status: 'fulfilled', value: undefined }])
      await q.db.list(name).push(1)
      expect(await q.db.list(name).toArray()).toEqual([1])
    })

    test('dropping a table ends the takes waiting on it with TABLE_NOT_FOUND', async () => {
      const { q, l, name } = await setUp()
      await using _ = q
      await using other = await q.peer()
      const takes = [l.take({ wait: LONG }), other.list(name).take({ wait: LONG })]
      await barrier(q.db)
      await barrier(other)
      expect(await other.dropTable(name)).toBe(true)
      for (const take of takes) await expectCode(take, 'TABLE_NOT_FOUND')
      await q.db.createList(name)
      await l.push('new')
      expect(await l.toArray()).toEqual(['new'])
    })

    test('a take on a missing table fails at once with TABLE_NOT_FOUND, on a dict with WRONG_TABLE_TYPE', async () => {
      const { q } = await setUp()
      await using _ = q
      const dict = uniqueName('dict')
      await q.db.createDict(dict)
      await expectCode(q.db.list(uniqueName('none')).take({ wait: LONG }), 'TABLE_NOT_FOUND')
      await expectCode(q.db.list(uniqueName('none')).take(), 'TABLE_NOT_FOUND')
      await expectCode(q.db.list(dict).take({ wait: LONG }), 'WRONG_TABLE_TYPE')
    })

    const bad: [string, unknown][] = [
      ['a negative wait', { wait: -1 }], ['a NaN wait', { wait: Number.NaN }],
      ['an infinite wait', { wait: Number.POSITIVE_INFINITY }], ['a string wait', { wait: '5' }],
      ['a number for options', 5], ['null for options', null], ['an array for options', [100]],
    ]
    for (const [what, options] of bad) {
      test(`take with ${what} fails with BAD_ARGUMENT and takes nothing`, async () => {
        const { q, l } = await setUp()
        await using _ = q
        await l.push('v')
        const error = await expectCode(l.take(options as never), 'BAD_ARGUMENT')
        expect([error.message.includes('take'), await l.toArray()]).toEqual([true, ['v']])
      })
    }
  })
}
