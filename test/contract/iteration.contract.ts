// `for await` over tables: chunked streaming (tables bigger than one chunk), leaving early, and
// writes during the iteration, which behave as in a `for...of` over a Map or an Array.

import { describe, expect, test } from 'bun:test'
import type { Key } from '../../src/index.ts'
import type { Open } from './dict.contract.ts'
import { newDict } from './dict.contract.ts'
import { expectCode } from './helpers.ts'
import { newList } from './list.contract.ts'

// Three chunks of 512 (SCAN_CHUNK) and a bit: the iteration must stitch chunks together.
const BIG = 1500

function bigEntries(): [Key, { i: number }][] {
  return Array.from({ length: BIG }, (_, i) => [i % 2 === 0 ? i : `k${i}`, { i }])
}

export function iterationContract(open: Open): void {
  describe('iteration', () => {
    test('for await over a dict yields [key, value] pairs in insertion order', async () => {
      await using db = await open()
      const d = await newDict<unknown>(db, [['b', 1], [2, { x: 2 }], ['a', 3]])
      const seen = []
      for await (const entry of d) seen.push(entry)
      expect(seen).toEqual([['b', 1], [2, { x: 2 }], ['a', 3]])
    })

    test('for await over an empty dict or list yields nothing', async () => {
      await using db = await open()
      const seen = []
      for await (const entry of await newDict(db)) seen.push(entry)
      for await (const value of await newList(db)) seen.push(value)
      expect(seen).toEqual([])
    })

    test('for await over a dict larger than one chunk yields every entry once, in order', async () => {
      await using db = await open()
      const entries = bigEntries()
      const d = await newDict(db, entries)
      const seen = []
      for await (const entry of d) seen.push(entry)
      expect(seen).toEqual(entries)
    })

    test('for await over a list larger than one chunk yields every value once, in order', async () => {
      await using db = await open()
      const values = Array.from({ length: BIG }, (_, i) => ({ i }))
      const l = await newList(db, values)
      const seen = []
      for await (const value of l) seen.push(value)
      expect(seen).toEqual(values)
    })

    test('for await over a table of exactly one chunk yields every value', async () => {
      await using db = await open()
      const values = Array.from({ length: 512 }, (_, i) => i)
      const l = await newList(db, values)
      const seen = []
      for await (const value of l) seen.push(value)
      expect(seen).toEqual(values)
    })

    test('breaking out of an iteration early leaves the table intact and iterable again', async () => {
      await using db = await open()
      const entries = bigEntries()
      const d = await newDict(db, entries)
      const l = await newList(db, entries.map(([, v]) => v))
      let n = 0
      for await (const _ of d) if (++n === 600) break
      for await (const _ of l) if (++n === 1200) break
      expect(n).toBe(1200)
      const again = []
      for await (const entry of d) again.push(entry)
      expect([again, await l.length()]).toEqual([entries, BIG])
    })

    test('values yielded by an iteration are copies', async () => {
      await using db = await open()
      const l = await newList(db, [{ n: 1 }])
      for await (const value of l) value.n = 2
      expect(await l.toArray()).toEqual([{ n: 1 }])
    })

    test('a dict iteration sees keys added, changed and deleted ahead of it, as a Map does', async () => {
      await using db = await open()
      const entries = bigEntries()
      const d = await newDict<unknown>(db, entries)
      const seen: [Key, unknown][] = []
      for await (const entry of d) {
        if (seen.length === 0) {
          // The first chunk (0..511) is already fetched; everything past it is still ahead.
          await d.set('added', 'new')
          await d.set('k1201', 'changed')
          await d.delete(1400)
        }
        seen.push(entry)
      }
      const expected: [Key, unknown][] = entries
        .filter(([k]) => k !== 1400)
        .map(([k, v]) => [k, k === 'k1201' ? 'changed' : v])
      expect(seen).toEqual([...expected, ['added', 'new']])
    })

    test('a list iteration sees values pushed and popped ahead of it, as an Array does', async () => {
      await using db = await open()
      const values = Array.from({ length: BIG }, (_, i) => i)
      const l = await newList<unknown>(db, values)
      const seen = []
      for await (const value of l) {
        if (value === 0) {
          await l.pop()
          await l.push('pushed')
          await l.set(1000, 'set')
        }
        seen.push(value)
      }
      expect(seen).toEqual([...values.slice(0, 1000), 'set', ...values.slice(1001, BIG - 1), 'pushed'])
    })

    test('a table dropped during an iteration fails it with TABLE_NOT_FOUND', async () => {
      await using db = await open()
      const d = await newDict(db, bigEntries())
      const iterator = d[Symbol.asyncIterator]()
      expect((await iterator.next()).value).toEqual([0, { i: 0 }])
      await db.dropTable(d.name)
      await expectCode(async () => {
        for (;;) if ((await iterator.next()).done) break
      }, 'TABLE_NOT_FOUND')
    })

    test('a table dropped and re-created during an iteration fails it with TABLE_NOT_FOUND', async () => {
      await using db = await open()
      const l = await newList(db, Array.from({ length: BIG }, (_, i) => i))
      const seen = []
      await expectCode(async () => {
        for await (const value of l) {
          if (value === 0) {
            await db.dropTable(l.name)
            await db.createList(l.name, ['other'])
          }
          seen.push(value)
        }
      }, 'TABLE_NOT_FOUND')
      expect(seen.length).toBe(512)
    })
  })
}
