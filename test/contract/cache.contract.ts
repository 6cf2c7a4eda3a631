// Cache tables in every mode, on a manual clock: per-key deadlines and the rules for which writes
// keep, reset or clear one; expiry at the exact millisecond; bounds with LRU eviction; capped
// lists; deadlines across a restart; wrong arguments. No test sleeps: the clock is advanced.

import { describe, expect, test } from 'bun:test'
import { manualClock, type Database, type ManualClock } from '../../src/index.ts'
import { expectCode, uniqueName } from './helpers.ts'

export interface CacheHarness {
  /** A database whose host (embedded or the server's) runs on `clock`. */
  open(clock: ManualClock): Promise<Database>
  /** A database on a data file called `name` (the same name: the same data after close); absent
   * for memory://. */
  reopen?(name: string, clock: ManualClock): Promise<Database>
}

const T0 = 1_700_000_000_000

export function cacheContract(label: string, harness: CacheHarness): void {
  describe(`cache contract (${label})`, () => {
    async function fresh(options?: object): Promise<{ db: Database; clock: ManualClock; name: string }> {
      const clock = manualClock(T0)
      const db = await harness.open(clock)
      const name = uniqueName('cache')
      await db.createDict(name, undefined, options)
      return { db, clock, name }
    }

    test('a key set with a ttl is visible until deadline - 1 and gone at its deadline', async () => {
      const { db, clock, name } = await fresh()
      await using _ = db
      const d = db.dict(name)
      await d.set('k', 'v', { ttl: 100 })
      clock.advance(99)
      expect([await d.get('k'), await d.has('k'), await d.size(), await d.ttl('k')]).toEqual(['v', true, 1, 1])
      clock.advance(1)
      expect([await d.get('k'), await d.has('k'), await d.size(), await d.ttl('k'), await d.keys()])
        .toEqual([undefined, false, 0, undefined, []])
    })

    test('setMany stores every entry as set() with its options would: ttl, keepTtl, none (the default)', async () => {
      const { db, clock, name } = await fresh({ ttl: 1000 })
      await using _ = db
      const d = db.dict<number>(name)
      await d.set('kept', 0, { ttl: 50 })
      await d.setMany({ a: 1, b: 2 }, { ttl: 100 })
      await d.setMany([['kept', 3]], { keepTtl: true })
      await d.setMany(new Map([['c', 4]]))
      await d.setMany({ forever: 5 }, { ttl: null })
      expect(await Promise.all(['a', 'b', 'kept', 'c', 'forever'].map((k) => d.ttl(k))))
        .toEqual([100, 100, 50, 1000, Infinity])
      clock.advance(100)
      expect(await d.keys()).toEqual(['c', 'forever'])
      await expectCode(d.setMany({ x: 1 }, { ttl: -1 }), 'BAD_ARGUMENT')
      await expectCode(d.setMany({ x: 1 }, { ttl: 1, keepTtl: true }), 'BAD_ARGUMENT')
      expect(await d.has('x')).toBe(false)
    })

    test('an atomic batch that fails gives back every deadline it changed; one that commits keeps its ttls', async () => {
      const { db, clock, name } = await fresh()
      await using _ = db
      const d = db.dict<number>(name)
      await d.setMany({ a: 1, b: 2, c: 3 }, { ttl: 500 })
      await d.set('p', 4)
      const failed = db.atomic()
      failed.dict(name).set('a', 10, { ttl: null })
      failed.dict(name).setMany({ b: 20 }, { ttl: 5 })
      failed.dict(name).expire('p', 5)
      failed.dict(name).delete('c')
      failed.dict(name).popitem()
      failed.dict(name).pop('missing') // KEY_NOT_FOUND: all of it is taken back
      await expectCode(failed.commit(), 'KEY_NOT_FOUND')
      expect(await d.entries()).toEqual([['a', 1], ['b', 2], ['c', 3], ['p', 4]])
      expect(await Promise.all(['a', 'b', 'c', 'p'].map((k) => d.ttl(k)))).toEqual([500, 500, 500, Infinity])
      const tx = db.atomic()
      tx.dict(name).set('a', 10, { ttl: 50 })
      tx.dict(name).persist('b')
      tx.dict(name).ttl('a')
      expect(await tx.commit()).toMatchObject({ ok: true, results: [undefined, true, 50] })
      clock.advance(500)
      expect(await d.entries()).toEqual([['b', 2], ['p', 4]])
    })

    test('a bounded table past its bound within an atomic batch is evicted once the batch commits', async () => {
      const { db, name } = await fresh({ maxEntries: 2 })
      await using _ = db
      const d = db.dict<number>(name)
      await d.setMany({ a: 1, b: 2 })
      const tx = db.atomic()
      tx.dict(name).check('a', 1)
      tx.dict(name).set('c', 3)
      tx.dict(name).set('d', 4)
      expect(await tx.commit()).toMatchObject({ ok: true })
      expect(await d.entries()).toEqual([['c', 3], ['d', 4]])
    })

    test('an expired key is invisible to every operation before any sweep', async () => {
      const clock = manualClock(T0)
      await using db = await harness.open(clock)
      const name = uniqueName('cache')
      await db.createDict(name, { a: 1, b: 2, c: 3 })
      const d = db.dict<number>(name)
      await d.expire('b', 10)
      await d.expire('c', 10)
      // (advance also runs the sweep; the engine's tests check the same rule before any sweep)
      clock.advance(10)
      expect(await d.entries()).toEqual([['a', 1]])
      expect(await d.values()).toEqual([1])
      expect(await d.get('b', 'fallback')).toBe('fallback')
      expect(await d.pop('b', 'none')).toBe('none')
      expect(await d.incr('c')).toBe(1)
      expect(await d.setdefault('b', 7)).toBe(7)
      expect(await d.popitem()).toEqual(['b', 7])
      const listed: unknown[] = []
      for await (const entry of d) listed.push(entry)
      expect(listed).toEqual([['a', 1], ['c', 1]])
      const tables = await db.tables()
      expect(tables.find((t) => t.name === name)?.size).toBe(2)
    })

    test('the table default ttl applies to set without options, and to new keys of incr, update, setdefault', async () => {
      const { db, clock, name } = await fresh({ ttl: 1000 })
      await using _ = db
      const d = db.dict<number>(name)
      await d.set('s', 1)
      await d.incr('i')
      await d.update({ u: 1 })
      await d.setdefault('sd', 1)
      expect(await Promise.all(['s', 'i', 'u', 'sd'].map((k) => d.ttl(k)))).toEqual([1000, 1000, 1000, 1000])
    })

    test('incr, update and setdefault keep an existing deadline; set resets it; keepTtl keeps it', async () => {
      const { db, clock, name } = await fresh({ ttl: 1000 })
      await using _ = db
      const d = db.dict<number>(name)
      for (const k of ['i', 'u', 'sd', 's', 'kt']) await d.set(k, 1, { ttl: 50 })
      clock.advance(10)
      await d.incr('i')
      await d.update([['u', 2]])
      await d.setdefault('sd', 3)
      await d.set('s', 4)
      await d.set('kt', 5, { keepTtl: true })
      expect(await Promise.all(['i', 'u', 'sd', 's', 'kt'].map((k) => d.ttl(k)))).toEqual([40, 40, 40, 1000, 40])
    })

    test('set without options on a table with no default clears an old deadline; ttl: null never expires', async () => {
      const { db, clock, name } = await fresh()
      await using _ = db
      const d = db.dict(name)
      await d.set('a', 1, { ttl: 10 })
      await d.set('a', 2)
      await d.set('b', 1, { ttl: 10 })
      await d.set('b', 2, { ttl: null })
      clock.advance(1_000_000)
      expect([await d.get('a'), await d.ttl('a'), await d.get('b'), await d.ttl('b')]).toEqual([2, Infinity, 2, Infinity])
    })

    test('expire, persist and ttl: answers for live, missing and expired keys', async () => {
      const { db, clock, name } = await fresh()
      await using _ = db
      const d = db.dict(name)
      await d.set('a', 1)
      expect([await d.ttl('a'), await d.ttl('missing'), await d.persist('a')]).toEqual([Infinity, undefined, false])
      expect([await d.expire('a', 500), await d.expire('missing', 500)]).toEqual([true, false])
      expect(await d.ttl('a')).toBe(500)
      expect(await d.persist('a')).toBe(true)
      expect(await d.ttl('a')).toBe(Infinity)
      await d.expire('a', 0)
      expect([await d.has('a'), await d.expire('a', 10), await d.persist('a')]).toEqual([false, false, false])
      clock.advance(1)
    })

    test('a set of an expired key makes a new key: last in order, default deadline', async () => {
      const { db, clock, name } = await fresh()
      await using _ = db
      const d = db.dict(name)
      await d.set('x', 1, { ttl: 5 })
      await d.set('y', 2)
      clock.advance(5)
      await d.set('x', 3)
      expect([await d.keys(), await d.ttl('x')]).toEqual([['y', 'x'], Infinity])
    })

    test('the sweep removes expired keys without reads, and info counts them', async () => {
      const { db, clock, name } = await fresh()
      await using _ = db
      const d = db.dict(name)
      for (let i = 0; i < 50; i++) await d.set(i, i, { ttl: 10 + (i % 3) })
      clock.advance(12)
      expect(await d.size()).toBe(0)
    })

    test('maxEntries: the least recently used entries are evicted; gets and writes are uses', async () => {
      const { db, clock, name } = await fresh({ maxEntries: 3 })
      await using _ = db
      const d = db.dict(name)
      await d.set('a', 1)
      await d.set('b', 2)
      await d.set('c', 3)
      await d.get('a') // b is now the least recently used
      await d.set('d', 4)
      expect(await d.keys()).toEqual(['a', 'c', 'd'])
      await d.set('c', 30) // a is now the least recently used
      await d.set('e', 5)
      expect([await d.keys(), await d.size()]).toEqual([['c', 'd', 'e'], 3])
      clock.advance(1)
    })

    test('the bound is never exceeded after a write, a bulk update and a create with content included', async () => {
      const clock = manualClock(T0)
      await using db = await harness.open(clock)
      const name = uniqueName('cache')
      await db.createDict(name, Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, i])), { maxEntries: 5 })
      const d = db.dict(name)
      expect(await d.keys()).toEqual(['k15', 'k16', 'k17', 'k18', 'k19'])
      for (let i = 0; i < 30; i++) {
        await d.update([[`u${i}`, i], [`v${i}`, i]])
        expect(await d.size()).toBeLessThanOrEqual(5)
      }
    })

    test('maxBytes bounds the approximate bytes of keys and values; a value larger than the bound is evicted too', async () => {
      const { db, clock, name } = await fresh({ maxBytes: 200 })
      await using _ = db
      const d = db.dict(name)
      for (let i = 0; i < 20; i++) await d.set(`k${i}`, 'x'.repeat(30))
      const kept = await d.keys()
      expect(kept.length).toBeGreaterThan(0)
      expect(kept.length).toBeLessThan(20)
      expect(kept.at(-1)).toBe('k19')
      await d.set('huge', 'y'.repeat(1000))
      expect([await d.has('huge'), await d.size()]).toEqual([false, 0])
      clock.advance(1)
    })

    test('maxLength: pushing past it drops from the front', async () => {
      const clock = manualClock(T0)
      await using db = await harness.open(clock)
      const name = uniqueName('capped')
      await db.createList(name, [1, 2, 3, 4, 5], { maxLength: 3 })
      const l = db.list<number>(name)
      expect(await l.toArray()).toEqual([3, 4, 5])
      expect(await l.push(6, 7)).toBe(3)
      await l.insert(0, 0)
      await l.extend([8])
      expect(await l.toArray()).toEqual([6, 7, 8])
    })

    const badCreates: [string, object][] = [
      ['a negative ttl', { ttl: -1 }], ['a NaN ttl', { ttl: NaN }], ['a string ttl', { ttl: '10' }],
      ['maxEntries: 0', { maxEntries: 0 }], ['a fractional maxEntries', { maxEntries: 1.5 }],
      ['maxBytes: -5', { maxBytes: -5 }], ['an unknown option', { maxItems: 3 }],
    ]
    for (const [what, options] of badCreates) {
      test(`createDict with ${what} fails with BAD_ARGUMENT`, async () => {
        await using db = await harness.open(manualClock(T0))
        await expectCode(db.createDict(uniqueName('bad'), undefined, options as never), 'BAD_ARGUMENT')
      })
    }

    test('createList with maxLength 0 fails with BAD_ARGUMENT', async () => {
      await using db = await harness.open(manualClock(T0))
      await expectCode(db.createList(uniqueName('bad'), [], { maxLength: 0 }), 'BAD_ARGUMENT')
    })

    const badTtls: [string, unknown][] = [
      ['negative', -1], ['NaN', NaN], ['Infinity', Infinity], ['a string', '5'], ['an object', {}],
    ]
    for (const [what, ttl] of badTtls) {
      test(`set, expire with a ${what} ttl fail with BAD_ARGUMENT and change nothing`, async () => {
        const { db, name } = await fresh()
        await using _ = db
        const d = db.dict(name)
        await d.set('k', 1)
        await expectCode(d.set('k', 2, { ttl: ttl as number }), 'BAD_ARGUMENT')
        await expectCode(d.expire('k', ttl as number), 'BAD_ARGUMENT')
        expect([await d.get('k'), await d.ttl('k')]).toEqual([1, Infinity])
      })
    }

    test('set with both ttl and keepTtl, or a non-boolean keepTtl, fails with BAD_ARGUMENT', async () => {
      const { db, name } = await fresh()
      await using _ = db
      await expectCode(db.dict(name).set('k', 1, { ttl: 5, keepTtl: true }), 'BAD_ARGUMENT')
      await expectCode(db.dict(name).set('k', 1, { keepTtl: 'yes' as never }), 'BAD_ARGUMENT')
    })

    const reopen = harness.reopen
    if (reopen !== undefined) {
      for (const [when, later] of [['far in the future', 10 ** 9], ['in the past', -(10 ** 9)]] as const) {
        test(`deadlines and options survive a restart with a clock ${when}`, async () => {
          const file = uniqueName('restart')
          const clock = manualClock(T0)
          const expected = { keys: ['live', 'forever', 'soon'], soon: 'v' }
          {
            await using db = await reopen(file, clock)
            await db.createDict('c', undefined, { ttl: 1000, maxEntries: 4 })
            await db.createList('l', [], { maxLength: 2 })
            const d = db.dict('c')
            await d.set('gone', 'v', { ttl: 5 })
            await d.set('live', 'v')
            await d.set('forever', 'v', { ttl: null })
            clock.advance(10)
            await d.set('soon', 'v', { ttl: 100 })
            await db.list('l').push(1, 2, 3)
            await db.save()
            await d.incr('n') // after the snapshot: from the log
            await d.delete('n')
            clock.advance(10)
          }
          const after = manualClock(T0 + 20 + later)
          await using db = await reopen(file, after)
          const d = db.dict('c')
          if (later > 0) {
            expect([await d.keys(), await d.get('forever')]).toEqual([['forever'], 'v'])
          } else {
            // the clock went back: nothing that had expired comes back, deadlines are absolute
            expect([await d.keys(), await d.get('soon'), await d.ttl('soon') !== undefined])
              .toEqual([expected.keys, expected.soon, true])
          }
          await d.set('x', 1)
          await d.set('y', 1)
          await d.set('z', 1)
          expect((await d.keys()).length).toBe(4)
          expect(await db.list('l').push(4)).toBe(2)
        })
      }
    }
  })
}
