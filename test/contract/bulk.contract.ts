// Bulk ops and prefix selection on dicts, in every mode: getMany/setMany/deleteMany as one op
// each, keys/values/entries({ prefix, limit }), clear({ prefix }), scan({ prefix }), and the one
// bound on a listing (FRAME_TOO_LARGE, the same embedded and remote).

import { describe, expect, test } from 'bun:test'
import type { Key } from '../../src/index.ts'
import { type Open, newDict } from './dict.contract.ts'
import { expectCode, uniqueName } from './helpers.ts'

const MIXED: [Key, number][] = [['user:1', 1], [7, 2], ['user:2', 3], ['team:1', 4], ['', 5], ['user', 6],
  ['ünï:a', 7], ['日本:1', 8], ['🙂x', 9], [70, 10]]

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const item of iterable) out.push(item)
  return out
}

export function bulkContract(open: Open): void {
  describe('bulk ops', () => {
    test('getMany returns the values in the order asked, undefined where missing, repeats repeated', async () => {
      await using db = await open()
      const d = await newDict<unknown>(db, [['a', 1], [1, 'one'], ['1', 'string one'], ['o', { x: [1] }]])
      expect(await d.getMany(['o', 'nope', 1, '1', 'a', 'a'])).toEqual([{ x: [1] }, undefined, 'one', 'string one', 1, 1])
      expect([await d.getMany([]), await d.getMany(new Set(['a']))]).toEqual([[], [1]])
    })

    test('getMany and deleteMany refuse a bad key with BAD_ARGUMENT, and deleteMany then deletes none', async () => {
      await using db = await open()
      const d = await newDict(db, { a: 1, b: 2 })
      await expectCode(d.getMany(['a', null as never]), 'BAD_ARGUMENT')
      await expectCode(d.getMany('a' as never), 'BAD_ARGUMENT')
      await expectCode(d.deleteMany(['a', {} as never]), 'BAD_ARGUMENT')
      expect(await d.entries()).toEqual([['a', 1], ['b', 2]])
    })

    test('setMany writes an object, a Map or pairs in one op, and keeps existing keys in place', async () => {
      await using db = await open()
      const d = await newDict(db, { a: 0, z: 0 })
      await d.setMany({ b: 1, a: 2 })
      await d.setMany(new Map<Key, number>([[3, 3], ['z', 4]]))
      await d.setMany([['c', 5], ['c', 6]])
      expect(await d.entries()).toEqual([['a', 2], ['z', 4], ['b', 1], [3, 3], ['c', 6]])
    })

    test('setMany is all or nothing: a bad pair or key leaves the dict as it was', async () => {
      await using db = await open()
      const d = await newDict(db, { a: 1 })
      await expectCode(d.setMany([['b', 2], [null, 3]] as never), 'BAD_ARGUMENT')
      await expectCode(d.setMany([['b', 2], ['lonely']] as never), 'BAD_ARGUMENT')
      await expectCode(d.setMany(new Map<unknown, number>([['b', 2], [{}, 3]]) as never), 'BAD_ARGUMENT')
      await expectCode(d.setMany(5 as never), 'BAD_ARGUMENT')
      expect(await d.entries()).toEqual([['a', 1]])
    })

    test('setMany takes no options yet: an unknown one is BAD_ARGUMENT, not ignored', async () => {
      await using db = await open()
      const d = await newDict(db)
      await expectCode(d.setMany({ a: 1 }, { nope: 1 } as never), 'BAD_ARGUMENT')
      await d.setMany({ a: 1 }, {})
      expect(await d.entries()).toEqual([['a', 1]])
    })

    test('deleteMany returns how many keys it removed (missing and repeated keys count once)', async () => {
      await using db = await open()
      const d = await newDict(db, [['a', 1], [2, 2], ['c', 3]])
      expect(await d.deleteMany(['a', 'a', 'nope', 2, '2'])).toBe(2)
      expect([await d.deleteMany([]), await d.entries()]).toEqual([0, [['c', 3]]])
    })
  })

  describe('prefix selection', () => {
    test('keys, values and entries select string keys by prefix, in insertion order', async () => {
      await using db = await open()
      const d = await newDict(db, MIXED)
      expect(await d.keys({ prefix: 'user:' })).toEqual(['user:1', 'user:2'])
      expect(await d.values({ prefix: 'user' })).toEqual([1, 3, 6])
      expect(await d.entries({ prefix: 'team' })).toEqual([['team:1', 4]])
      expect(await d.keys({ prefix: 'nobody' })).toEqual([])
    })

    test('the empty prefix matches every string key and no number key', async () => {
      await using db = await open()
      const d = await newDict(db, MIXED)
      const strings = MIXED.filter(([key]) => typeof key === 'string').map(([key]) => key)
      expect(await d.keys({ prefix: '' })).toEqual(strings)
      expect(await d.clear({ prefix: '' })).toBe(strings.length)
      expect(await d.keys()).toEqual([7, 70])
    })

    test('number keys never match a prefix, not even one made of digits', async () => {
      await using db = await open()
      const d = await newDict(db, [[7, 'n'], ['7', 's'], [70, 'n'], ['70x', 's']])
      expect(await d.keys({ prefix: '7' })).toEqual(['7', '70x'])
    })

    test('unicode prefixes match by code units: accents, CJK and astral characters', async () => {
      await using db = await open()
      const d = await newDict(db, MIXED)
      expect([await d.keys({ prefix: 'ün' }), await d.keys({ prefix: '日本' }), await d.keys({ prefix: '🙂' }),
        await d.keys({ prefix: 'u' })]).toEqual([['ünï:a'], ['日本:1'], ['🙂x'], ['user:1', 'user:2', 'user']])
    })

    test('limit stops after that many, alone or with a prefix', async () => {
      await using db = await open()
      const d = await newDict(db, MIXED)
      expect([await d.keys({ limit: 3 }), await d.values({ prefix: 'user', limit: 2 }),
        await d.entries({ prefix: 'team', limit: 5 })]).toEqual([['user:1', 7, 'user:2'], [1, 3], [['team:1', 4]]])
    })

    const badOptions: [string, unknown][] = [
      ['limit 0', { limit: 0 }], ['limit -1', { limit: -1 }], ['limit 1.5', { limit: 1.5 }],
      ['limit "2"', { limit: '2' }], ['limit NaN', { limit: NaN }], ['limit Infinity', { limit: Infinity }],
      ['a number prefix', { prefix: 7 }], ['a null prefix', { prefix: null }], ['an unknown option', { max: 1 }],
      ['a string for options', 'user:'], ['an array for options', []],
    ]
    for (const [what, options] of badOptions) {
      test(`keys, values and entries with ${what} fail with BAD_ARGUMENT`, async () => {
        await using db = await open()
        const d = await newDict(db, { a: 1 })
        await expectCode(d.keys(options as never), 'BAD_ARGUMENT')
        await expectCode(d.values(options as never), 'BAD_ARGUMENT')
        await expectCode(d.entries(options as never), 'BAD_ARGUMENT')
      })
    }

    test('clear() still resolves undefined; clear({ prefix }) removes those keys and counts them', async () => {
      await using db = await open()
      const d = await newDict(db, MIXED)
      expect(await d.clear({ prefix: 'user' })).toBe(3)
      expect(await d.keys({ prefix: 'user' })).toEqual([])
      expect(await d.size()).toBe(MIXED.length - 3)
      expect(await d.clear({})).toBe(MIXED.length - 3)
      await d.set('a', 1)
      expect([await d.clear(), await d.size()]).toEqual([undefined, 0])
      await expectCode(d.clear({ prefix: 5 } as never), 'BAD_ARGUMENT')
      await expectCode(d.clear({ limit: 1 } as never), 'BAD_ARGUMENT')
    })

    test('scan({ prefix }) streams the matching entries over many chunks, in order', async () => {
      await using db = await open()
      const d = await newDict(db)
      const entries: [Key, number][] = []
      for (let i = 0; i < 3000; i++) entries.push([i % 3 === 0 ? `hit:${i}` : i % 3 === 1 ? `miss:${i}` : i, i])
      await d.setMany(entries)
      const hits = entries.filter(([key]) => typeof key === 'string' && key.startsWith('hit:'))
      expect(await collect(d.scan({ prefix: 'hit:' }))).toEqual(hits)
      expect(await collect(d.scan())).toEqual(entries)
      expect((await collect(d.scan({ prefix: '' }))).length).toBe(2000)
      expect(await collect(d.scan({ prefix: 'none' }))).toEqual([])
    })

    test('a scan left early stops; a scan with a bad prefix fails with BAD_ARGUMENT', async () => {
      await using db = await open()
      const d = await newDict(db, MIXED)
      const seen: Key[] = []
      for await (const [key] of d.scan({ prefix: 'user' })) {
        seen.push(key)
        if (seen.length === 2) break
      }
      expect(seen).toEqual(['user:1', 'user:2'])
      await expectCode(collect(d.scan({ prefix: 5 } as never)), 'BAD_ARGUMENT')
      await expectCode(collect(d.scan({ limit: 5 } as never)), 'BAD_ARGUMENT')
    })
  })

  describe('a listing past the reply bound', () => {
    // 9 values of 4 MiB: 36 MiB, past the 32 MiB a reply may carry (and far from the 64 MiB frame).
    const BIG = 'x'.repeat(4 << 20)

    test('values() and entries() of a huge dict fail with FRAME_TOO_LARGE naming scan(); scan, limit and keys work', async () => {
      await using db = await open()
      const d = await newDict<string>(db)
      for (let i = 0; i < 9; i++) await d.set(`k${i}`, BIG)
      const error = await expectCode(d.values(), 'FRAME_TOO_LARGE')
      expect(error.message).toContain('scan()')
      await expectCode(d.entries({ prefix: 'k' }), 'FRAME_TOO_LARGE')
      await expectCode(d.getMany(['k0', 'k1', 'k2', 'k3', 'k4', 'k5', 'k6', 'k7', 'k8']), 'FRAME_TOO_LARGE')
      expect((await d.keys()).length).toBe(9)
      expect((await d.values({ limit: 2 })).map((v) => v.length)).toEqual([4 << 20, 4 << 20])
      let n = 0
      for await (const [, value] of d.scan({ prefix: 'k' })) n += value.length
      expect(n).toBe(9 * (4 << 20))
    })

    test('toArray() of a huge list fails with FRAME_TOO_LARGE; a slice of it works', async () => {
      await using db = await open()
      const name = uniqueName('list')
      await db.createList(name)
      const l = db.list<string>(name)
      for (let i = 0; i < 9; i++) await l.push(BIG)
      await expectCode(l.toArray(), 'FRAME_TOO_LARGE')
      expect([(await l.slice(0, 2)).length, await l.length()]).toEqual([2, 9])
    })
  })
}
