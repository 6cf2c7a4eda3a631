// The database-level contract: creating, listing and dropping tables, table-type checks, proxies
// and closing. Public API only; each test opens (and closes) its own database.

import { describe, expect, test } from 'bun:test'
import type { Open } from './dict.contract.ts'
import { newDict } from './dict.contract.ts'
import { expectCode, uniqueName } from './helpers.ts'
import { newList } from './list.contract.ts'

export function databaseContract(open: Open): void {
  describe('database', () => {
    test('createDict without content makes an empty dict', async () => {
      await using db = await open()
      const name = uniqueName()
      expect(await db.createDict(name)).toBe(true)
      expect(await db.dict(name).entries()).toEqual([])
    })

    test('createDict with content from an object, a Map, entries or an iterable keeps its order', async () => {
      await using db = await open()
      const sources = [
        { b: 1, a: 2 },
        new Map([['b', 1], ['a', 2]]),
        [['b', 1], ['a', 2]] as [string, number][],
        new Set([['b', 1], ['a', 2]] as [string, number][]),
      ]
      for (const source of sources) {
        const name = uniqueName()
        expect(await db.createDict(name, source)).toBe(true)
        expect(await db.dict(name).entries()).toEqual([['b', 1], ['a', 2]])
      }
    })

    test('createList without content makes an empty list, and with content from any iterable', async () => {
      await using db = await open()
      const empty = uniqueName()
      expect(await db.createList(empty)).toBe(true)
      expect(await db.list(empty).toArray()).toEqual([])
      const sources: Iterable<unknown>[] = [[1, 'a'], new Set([1, 'a']), new Map([[1, 'a']]).entries()]
      const expected = [[1, 'a'], [1, 'a'], [[1, 'a']]]
      const got = []
      for (const source of sources) {
        const name = uniqueName()
        await db.createList(name, source)
        got.push(await db.list(name).toArray())
      }
      expect(got).toEqual(expected)
    })

    test('content that is not iterable is refused with BAD_ARGUMENT, and no table is made (8.16b)', async () => {
      await using db = await open()
      const list = uniqueName()
      const dict = uniqueName()
      const refusals = []
      for (const content of [42, 'ab', true, { length: 2 }]) {
        refusals.push((await expectCode(db.createList(list, content as never), 'BAD_ARGUMENT')).message)
      }
      for (const content of [42, 'ab', new Date(0), new Uint8Array(2)]) {
        refusals.push((await expectCode(db.createDict(dict, content as never), 'BAD_ARGUMENT')).message)
      }
      expect(refusals).toEqual([
        'a list\'s content is an array or another iterable, not a number',
        'a list\'s content is an array or another iterable, not a string',
        'a list\'s content is an array or another iterable, not a boolean',
        'a list\'s content is an array or another iterable, not an object',
        'a dict\'s content is an object, a Map or [key, value] pairs, not a number',
        'a dict\'s content is an object, a Map or [key, value] pairs, not a string',
        'update takes an object, a Map or [key, value] pairs, not a Date',
        'update takes [key, value] pairs, not a number', // a Uint8Array is iterable: its bytes
      ])
      expect((await db.tables()).filter((t) => t.name === list || t.name === dict)).toEqual([])
      const l = await newList(db, [1])
      const d = await newDict(db, { a: 1 })
      await expectCode(l.extend(42 as never), 'BAD_ARGUMENT')
      await expectCode(d.update(42 as never), 'BAD_ARGUMENT')
      expect([await l.toArray(), await d.entries()]).toEqual([[1], [['a', 1]]])
    })

    test('creating a table whose name is taken fails with TABLE_EXISTS, whatever its type', async () => {
      await using db = await open()
      const d = await newDict(db, { a: 1 })
      const l = await newList(db, [1])
      await expectCode(db.createDict(d.name), 'TABLE_EXISTS')
      await expectCode(db.createList(d.name), 'TABLE_EXISTS')
      await expectCode(db.createDict(l.name, { b: 2 }), 'TABLE_EXISTS')
      expect([await d.entries(), await l.toArray()]).toEqual([[['a', 1]], [1]])
    })

    test('ifNotExists resolves false and keeps an existing table of the same type unchanged', async () => {
      await using db = await open()
      const d = await newDict(db, { a: 1 })
      const l = await newList(db, [1])
      expect(await db.createDict(d.name, { b: 2 }, { ifNotExists: true })).toBe(false)
      expect(await db.createList(l.name, [2], { ifNotExists: true })).toBe(false)
      expect([await d.entries(), await l.toArray()]).toEqual([[['a', 1]], [1]])
      const fresh = uniqueName()
      expect(await db.createList(fresh, [7], { ifNotExists: true })).toBe(true)
      expect(await db.list(fresh).toArray()).toEqual([7])
    })

    test('ifNotExists fails with WRONG_TABLE_TYPE when the existing table has the other type', async () => {
      await using db = await open()
      const d = await newDict(db)
      const l = await newList(db)
      await expectCode(db.createList(d.name, undefined, { ifNotExists: true }), 'WRONG_TABLE_TYPE')
      await expectCode(db.createDict(l.name, undefined, { ifNotExists: true }), 'WRONG_TABLE_TYPE')
    })

    test('an empty table name fails with BAD_ARGUMENT', async () => {
      await using db = await open()
      await expectCode(db.createDict(''), 'BAD_ARGUMENT')
      await expectCode(db.createList(''), 'BAD_ARGUMENT')
    })

    test('tables lists every table with its type and size', async () => {
      await using db = await open()
      const d = await newDict(db, { a: 1, b: 2 })
      const l = await newList(db, [1, 2, 3])
      const mine = (await db.tables()).filter((t) => t.name === d.name || t.name === l.name)
      expect(mine).toEqual([
        { name: d.name, type: 'dict', size: 2 },
        { name: l.name, type: 'list', size: 3 },
      ])
    })

    test('dropTable resolves true when the table existed and false otherwise', async () => {
      await using db = await open()
      const d = await newDict(db, { a: 1 })
      expect(await db.dropTable(d.name)).toBe(true)
      expect(await db.dropTable(d.name)).toBe(false)
      expect((await db.tables()).some((t) => t.name === d.name)).toBe(false)
      expect(await db.createList(d.name, [1])).toBe(true)
      expect(await db.list(d.name).toArray()).toEqual([1])
    })

    test('a handle on a missing table fails with TABLE_NOT_FOUND', async () => {
      await using db = await open()
      const name = uniqueName('missing')
      await expectCode(db.dict(name).get('a'), 'TABLE_NOT_FOUND')
      await expectCode(db.dict(name).set('a', 1), 'TABLE_NOT_FOUND')
      await expectCode(db.list(name).push(1), 'TABLE_NOT_FOUND')
      await expectCode(db.list(name).length(), 'TABLE_NOT_FOUND')
      expect((await db.tables()).some((t) => t.name === name)).toBe(false)
    })

    test('a dict handle on a list, or a list handle on a dict, fails with WRONG_TABLE_TYPE', async () => {
      await using db = await open()
      const l = await newList(db, [1])
      const d = await newDict(db, { a: 1 })
      await expectCode(db.dict(l.name).get('a'), 'WRONG_TABLE_TYPE')
      await expectCode(db.dict(l.name).set('a', 1), 'WRONG_TABLE_TYPE')
      await expectCode(db.list(d.name).push(1), 'WRONG_TABLE_TYPE')
      expect([await l.toArray(), await d.entries()]).toEqual([[1], [['a', 1]]])
    })

    describe('proxy', () => {
      test('a proxy has the table methods and sees the same tables as its database', async () => {
        await using db = await open()
        const proxy = await db.proxy()
        const name = uniqueName()
        expect(await proxy.createDict(name, { a: 1 })).toBe(true)
        await proxy.dict(name).set('b', 2)
        expect(await db.dict(name).entries()).toEqual([['a', 1], ['b', 2]])
        const list = uniqueName()
        await db.createList(list, [1])
        expect(await proxy.list(list).push(2)).toBe(2)
        expect((await proxy.tables()).filter((t) => t.name === name || t.name === list))
          .toEqual([{ name, type: 'dict', size: 2 }, { name: list, type: 'list', size: 2 }])
        expect(await proxy.dropTable(list)).toBe(true)
        await proxy.close()
      })

      test('handles of a closed proxy fail with CONNECTION_CLOSED while the database goes on', async () => {
        await using db = await open()
        const d = await newDict(db, { a: 1 })
        const proxy = await db.proxy()
        const viaProxy = proxy.dict(d.name)
        expect(await viaProxy.get('a')).toBe(1)
        await proxy.close()
        await expectCode(viaProxy.get('a'), 'CONNECTION_CLOSED')
        await expectCode(proxy.list(uniqueName()).push(1), 'CONNECTION_CLOSED')
        await expectCode(proxy.tables(), 'CONNECTION_CLOSED')
        expect(await d.get('a')).toBe(1)
      })

      test('await using closes a proxy at the end of its block', async () => {
        await using db = await open()
        const d = await newDict(db)
        let escaped
        {
          await using proxy = await db.proxy()
          escaped = proxy.dict(d.name)
          await escaped.set('a', 1)
        }
        await expectCode(escaped.get('a'), 'CONNECTION_CLOSED')
        expect(await d.get('a')).toBe(1)
      })

      test('many proxies can be open at once', async () => {
        await using db = await open()
        const d = await newDict(db)
        const proxies = await Promise.all(Array.from({ length: 10 }, () => db.proxy()))
        await Promise.all(proxies.map((p, i) => p.dict(d.name).set(i, i)))
        await Promise.all(proxies.map((p) => p.close()))
        expect(await d.size()).toBe(10)
      })
    })

    test('operations after close fail with CONNECTION_CLOSED', async () => {
      const db = await open()
      const d = await newDict(db, { a: 1 })
      const l = await newList(db, [1])
      await db.close()
      expect(db.isClosed).toBe(true)
      await expectCode(d.get('a'), 'CONNECTION_CLOSED')
      await expectCode(l.push(2), 'CONNECTION_CLOSED')
      await expectCode(db.tables(), 'CONNECTION_CLOSED')
      await expectCode(db.createDict(uniqueName()), 'CONNECTION_CLOSED')
      await expectCode(db.proxy(), 'CONNECTION_CLOSED')
      await db.close() // closing twice is harmless
    })
  })
}
