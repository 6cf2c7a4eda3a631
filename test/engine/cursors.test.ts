// Cursors: one owner's open iterations, with ids nobody else's map knows, bounded per owner.

import { describe, expect, test } from 'bun:test'
import { Cursors, MAX_CURSORS } from '../../src/engine/cursors.ts'
import { ListTable } from '../../src/engine/list-table.ts'
import { expectCode } from '../contract/helpers.ts'

const list = () => ListTable.from([1, 2, 3, 4, 5])

describe('cursors', () => {
  test('ids are nonzero safe integers, not a sequence', () => {
    const cursors = new Cursors()
    const table = list()
    const ids = Array.from({ length: 50 }, () => cursors.scan('l', table, 0, 0, 1)[0])
    expect(ids.every((id) => Number.isSafeInteger(id) && id > 0)).toBe(true)
    expect(new Set(ids).size).toBe(50)
    const steps = new Set(ids.slice(1).map((id, i) => id - ids[i]!))
    expect(steps.size).toBeGreaterThan(1)
  })

  test("another owner's id finds nothing there: it cannot be continued or closed", async () => {
    const mine = new Cursors()
    const theirs = new Cursors()
    const table = list()
    const [id] = mine.scan('l', table, 0, 0, 2)
    await expectCode(() => theirs.scan('l', table, 0, id, 1), 'BAD_ARGUMENT')
    expect(theirs.close(id)).toBe(false)
    expect(mine.scan('l', table, 0, id, 10)).toEqual([0, [3, 4, 5]])
  })

  test("past the bound an owner evicts its own oldest cursor, never another owner's", async () => {
    const busy = new Cursors()
    const quiet = new Cursors()
    const table = list()
    const [kept] = quiet.scan('l', table, 0, 0, 1)
    const ids = Array.from({ length: MAX_CURSORS + 1 }, () => busy.scan('l', table, 0, 0, 1)[0])
    expect([busy.size, quiet.size]).toEqual([MAX_CURSORS, 1])
    await expectCode(() => busy.scan('l', table, 0, ids[0]!, 1), 'BAD_ARGUMENT')
    expect(busy.scan('l', table, 0, ids[1]!, 10)).toEqual([0, [2, 3, 4, 5]])
    expect(quiet.scan('l', table, 0, kept, 10)).toEqual([0, [2, 3, 4, 5]])
  })

  test('a cursor of an older epoch (before a snapshot load) is expired', async () => {
    const cursors = new Cursors()
    const table = list()
    const [id] = cursors.scan('l', table, 0, 0, 1)
    await expectCode(() => cursors.scan('l', table, 1, id, 1), 'BAD_ARGUMENT')
  })

  test('clear drops every cursor', async () => {
    const cursors = new Cursors()
    const table = list()
    const [id] = cursors.scan('l', table, 0, 0, 1)
    cursors.clear()
    expect(cursors.size).toBe(0)
    await expectCode(() => cursors.scan('l', table, 0, id, 1), 'BAD_ARGUMENT')
  })
})
