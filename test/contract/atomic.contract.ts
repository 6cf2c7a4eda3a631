// Atomic batches in every mode: db.atomic() with checks and table ops, all or nothing, one seq;
// a failed check applies nothing; an op that fails rejects commit() and is rolled back with every
// op before it (one case per error an op can raise); and 20 clients incrementing one key through
// read-check-write retries end at the exact count.

import { describe, expect, test } from 'bun:test'
import type { Atomic, Database, ErrorCode, TableClient } from '../../src/index.ts'
import { type Open, newDict } from './dict.contract.ts'
import { expectCode, uniqueName } from './helpers.ts'

/** n clients on one store: separate connections remotely, proxies of one database embedded. */
export type Clients = (db: Database, n: number) => Promise<{ clients: TableClient[]; close(): Promise<void> }>

async function newList(db: Database, items: unknown[] = []): Promise<string> {
  const name = uniqueName('list')
  await db.createList(name, items)
  return name
}

interface Tables {
  d: string
  l: string
  other: string
}

// Every op of a batch that writes, on two dicts and a list, before the op that fails.
function writeEverything(tx: Atomic, { d, l, other }: Tables): void {
  const dict = tx.dict(d)
  dict.set('a', 10) // existing key
  dict.set('new', { deep: [1] })
  dict.incr('n', 5)
  dict.delete('b')
  dict.setdefault('sd', 1)
  dict.update({ u: 1, a: 11 })
  dict.setMany([['m', 1], ['c', 'replaced']])
  dict.deleteMany(['m', 'c'])
  dict.pop('new')
  dict.popitem()
  dict.clear({ prefix: 'p:' })
  const list = tx.list(l)
  list.push(4, 5)
  list.extend([6])
  list.insert(0, 'first')
  list.pop()
  list.pop(0)
  list.remove(2)
  list.set(-1, 99)
  list.reverse()
  list.sort()
  list.push('mixed')
  tx.dict(other).clear()
}

const FAILURES: [ErrorCode, string, (tx: Atomic, t: Tables) => void][] = [
  ['KEY_NOT_FOUND', 'dict.pop of a missing key', (tx, t) => tx.dict(t.d).pop('missing')],
  ['WRONG_TABLE_TYPE', 'a dict op on a list', (tx, t) => tx.dict(t.l).set('k', 1)],
  ['TABLE_NOT_FOUND', 'an op on a missing table', (tx) => tx.list(uniqueName('missing')).push(1)],
  ['INDEX_OUT_OF_RANGE', 'list.set past the end', (tx, t) => tx.list(t.l).set(100, 'x')],
  ['VALUE_NOT_FOUND', 'list.remove of an absent value', (tx, t) => tx.list(t.l).remove('absent')],
  ['BAD_ARGUMENT', 'incr of a string', (tx, t) => tx.dict(t.d).incr('s')],
  ['BAD_ARGUMENT', 'sort of a mix of numbers and strings', (tx, t) => tx.list(t.l).sort()],
]

export function atomicContract(open: Open, many?: Clients): void {
  describe('atomic batches', () => {
    test('a commit applies its ops in order and resolves { ok, seq, results } with one seq', async () => {
      await using db = await open()
      const accounts = await newDict(db, { ada: 100, bob: 0 })
      const audit = await newList(db)
      const tx = db.atomic()
      tx.dict(accounts.name).check('ada', 100)
      tx.dict(accounts.name).set('ada', 90)
      tx.dict(accounts.name).incr('bob', 10)
      tx.list(audit).push({ from: 'ada', to: 'bob', amount: 10 })
      tx.dict(accounts.name).get('bob')
      const r = await tx.commit()
      expect(r).toEqual({ ok: true, seq: expect.any(Number), results: [undefined, 10, 1, 10] })
      const again = db.atomic()
      again.dict(accounts.name).set('x', 1)
      const r2 = await again.commit()
      expect([r.ok && r.seq > 0, r.ok && r2.ok && r2.seq > r.seq]).toEqual([true, true])
      expect([await accounts.entries(), await db.list(audit).toArray()])
        .toEqual([[['ada', 90], ['bob', 10], ['x', 1]], [{ from: 'ada', to: 'bob', amount: 10 }]])
    })

    test('a failed check applies nothing and names the check by its index among the checks', async () => {
      await using db = await open()
      const d = await newDict(db, { a: 1, o: { x: [1, 2] } })
      const l = await newList(db, [1])
      const tx = db.atomic()
      tx.dict(d.name).check('a', 1)
      tx.dict(d.name).set('a', 2)
      tx.list(l).push(2)
      tx.dict(d.name).check('o', { x: [1, 2] })
      tx.dict(d.name).check('missing', undefined)
      tx.dict(d.name).check('a', 3)
      expect(await tx.commit()).toEqual({ ok: false, failed: 3 })
      expect([await d.entries(), await db.list(l).toArray()]).toEqual([[['a', 1], ['o', { x: [1, 2] }]], [1]])
    })

    test('check compares deeply, and undefined means absent', async () => {
      await using db = await open()
      const d = await newDict<unknown>(db, { o: { x: [1, 2] }, u: undefined, z: 0 })
      const outcome = async (key: string, expected: unknown): Promise<boolean> => {
        const tx = db.atomic()
        tx.dict(d.name).check(key, expected)
        return (await tx.commit()).ok
      }
      expect([await outcome('o', { x: [1, 2] }), await outcome('o', { x: [1] }), await outcome('nope', undefined),
        await outcome('z', undefined), await outcome('u', undefined), await outcome('z', 0), await outcome('z', '0')])
        .toEqual([true, false, true, false, false, true, false])
    })

    for (const [code, what, fail] of FAILURES) {
      test(`an op failing with ${code} (${what}) rejects commit() and rolls back every op before it`, async () => {
        await using db = await open()
        const d = await newDict<unknown>(db, [['a', 1], ['b', 2], ['s', 'text'], ['p:1', 1], ['c', 3], ['p:2', 2],
          [7, 'seven'], ['n', 1]])
        const tables = { d: d.name, l: await newList(db, [3, 1, 2, 1]), other: (await newDict(db, { q: 1 })).name }
        const before = [await d.entries(), await db.list(tables.l).toArray(), await db.dict(tables.other).entries()]
        const tx = db.atomic()
        writeEverything(tx, tables)
        fail(tx, tables)
        tx.dict(d.name).set('after', 1)
        await expectCode(tx.commit(), code)
        const after = [await d.entries(), await db.list(tables.l).toArray(), await db.dict(tables.other).entries()]
        expect(after).toEqual(before)
        // The same ops without the failing one commit: they were all rolled back, not refused.
        const ok = db.atomic()
        writeEverything(ok, tables)
        expect((await ok.commit()).ok).toBe(true)
      })
    }

    test('a value the value model refuses fails the whole commit with BAD_ARGUMENT before anything runs', async () => {
      await using db = await open()
      const d = await newDict(db, { a: 1 })
      const tx = db.atomic()
      tx.dict(d.name).set('a', 2)
      tx.dict(d.name).set('f', (() => 1) as never)
      await expectCode(tx.commit(), 'BAD_ARGUMENT')
      expect(await d.entries()).toEqual([['a', 1]])
    })

    test('a check on a missing table or on a list rejects the commit and applies nothing', async () => {
      await using db = await open()
      const d = await newDict(db, { a: 1 })
      const l = await newList(db)
      const missing = db.atomic()
      missing.dict(d.name).set('a', 2)
      missing.dict(uniqueName('missing')).check('a', 1)
      await expectCode(missing.commit(), 'TABLE_NOT_FOUND')
      const list = db.atomic()
      list.dict(d.name).set('a', 2)
      list.dict(l).check('a', 1)
      await expectCode(list.commit(), 'WRONG_TABLE_TYPE')
      expect(await d.entries()).toEqual([['a', 1]])
    })

    test('a commit mixing dicts and lists returns each result in order; an empty commit is ok', async () => {
      await using db = await open()
      const a = await newDict(db, { n: 1 })
      const b = await newDict(db)
      const l = await newList(db, ['x'])
      const tx = db.atomic()
      tx.list(l).pop()
      tx.dict(a.name).incr('n')
      tx.dict(b.name).setMany({ k: 'v' })
      tx.list(l).push('y', 'z')
      tx.dict(b.name).getMany(['k', 'none'])
      tx.list(l).length()
      expect(await tx.commit()).toEqual({ ok: true, seq: expect.any(Number), results: ['x', 2, undefined, 2,
        ['v', undefined], 2] })
      expect(await db.atomic().commit()).toEqual({ ok: true, seq: expect.any(Number), results: [] })
    })

    test('a batch commits once; queueing after commit throws BAD_ARGUMENT', async () => {
      await using db = await open()
      const d = await newDict(db)
      const tx = db.atomic()
      tx.dict(d.name).incr('n')
      await tx.commit()
      await expectCode(tx.commit(), 'BAD_ARGUMENT')
      await expectCode(() => tx.dict(d.name).incr('n'), 'BAD_ARGUMENT')
      expect(await d.get('n')).toBe(1)
    })

    test('a proxy commits batches as the database does', async () => {
      await using db = await open()
      const d = await newDict(db, { n: 1 })
      await using proxy = await db.proxy()
      const tx = proxy.atomic()
      tx.dict(d.name).check('n', 1)
      tx.dict(d.name).incr('n')
      expect((await tx.commit()).ok).toBe(true)
      expect(await d.get('n')).toBe(2)
    })

    test('20 clients doing read-check-write increments with retries end with the exact count', async () => {
      await using db = await open()
      const d = await newDict(db, { n: 0 })
      const group = many === undefined ? await proxies(db, 20) : await many(db, 20)
      const clients = group.clients
      const PER_CLIENT = 5
      let retries = 0
      try {
        await Promise.all(clients.map(async (client) => {
          const counter = client.dict<number>(d.name)
          for (let done = 0, tries = 0; done < PER_CLIENT; tries++) {
            if (tries > 2000) throw new Error('too many retries')
            const seen = await counter.get('n')
            const tx = client.atomic()
            tx.dict(d.name).check('n', seen)
            tx.dict(d.name).set('n', (seen ?? 0) + 1)
            if ((await tx.commit()).ok) done++
            else retries++
          }
        }))
      } finally {
        await group.close()
      }
      expect(await d.get('n')).toBe(20 * PER_CLIENT)
      expect(retries).toBeGreaterThan(0) // they did race
    })
  })
}

async function proxies(db: Database, n: number): ReturnType<Clients> {
  const clients = await Promise.all(Array.from({ length: n }, () => db.proxy()))
  return { clients, close: async () => void await Promise.all(clients.map((c) => c.close())) }
}
