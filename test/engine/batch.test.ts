// db.atomic in the engine: what a batch may hold (table ops only), the checks, and the memory
// limit inside a batch. The rollback itself is tested against a model in undo.test.ts.

import { describe, expect, test } from 'bun:test'
import { CyberError } from '../../src/errors.ts'
import { Store } from '../../src/engine/store.ts'

function fresh(): Store {
  const store = new Store()
  store.create('d', 'dict', { a: 1 }, undefined)
  store.create('l', 'list', [1], undefined)
  return store
}

function codeOf(action: () => unknown): string | undefined {
  try {
    action()
  } catch (error) {
    return error instanceof CyberError ? error.code : String(error)
  }
  return undefined
}

describe('db.atomic', () => {
  const refused: [string, unknown[]][] = [
    ['a nested batch', ['', 'db.atomic', [['d', 'dict.set', ['a', 3]]]]],
    ['a host-run op (db.save)', ['', 'db.save', []]],
    ['a database op (db.create)', ['x', 'db.create', ['dict']]],
    ['a database op (db.drop)', ['d', 'db.drop', []]],
    ['a scan', ['d', 'dict.scan', [0, 10]]],
    ['cursor.close', ['', 'cursor.close', [1]]],
    ['an unknown op', ['d', 'dict.nope', []]],
    ['an op with too many arguments', ['d', 'dict.set', ['a', 1, 2]]],
    ['an item that is not [table, op, args]', ['d', 'dict.set']],
    ['a check without its value', ['d', 'dict.check', ['a']]],
  ]
  for (const [what, item] of refused) {
    test(`${what} in a batch is BAD_ARGUMENT, and the batch applies nothing`, () => {
      const store = fresh()
      const args = [['d', 'dict.set', ['a', 2]], ['l', 'list.push', [2]], item]
      expect(codeOf(() => store.apply({ table: '', name: 'db.atomic', args }))).toBe('BAD_ARGUMENT')
      expect([[...store.tables.get('d')!], [...store.tables.get('l')!]]).toEqual([[['a', 1]], [1]])
    })
  }

  test('checks run before any op: the first that fails is named and nothing runs', () => {
    const store = fresh()
    const args = [['d', 'dict.set', ['a', 2]], ['d', 'dict.check', ['a', 1]], ['d', 'dict.check', ['b', 0]]]
    expect(store.apply({ table: '', name: 'db.atomic', args })).toEqual({ ok: false, failed: 1 })
    expect(store.apply({ table: 'd', name: 'dict.get', args: ['a'] })).toBe(1)
  })

  test('at the memory limit a growing op in a batch fails with MEMORY_LIMIT and the freeing ones before it are rolled back', () => {
    const store = fresh()
    store.apply({ table: 'd', name: 'dict.set', args: ['big', 'x'.repeat(2 << 20)] })
    store.maxMemory = 1 << 20
    const bytes = store.bytes
    const args = [['d', 'dict.delete', ['a']], ['l', 'list.pop', []], ['d', 'dict.set', ['b', 1]]]
    expect(codeOf(() => store.apply({ table: '', name: 'db.atomic', args }))).toBe('MEMORY_LIMIT')
    expect([store.bytes, store.apply({ table: 'd', name: 'dict.keys', args: [] })]).toEqual([bytes, ['a', 'big']])
    // Only freeing ops: the batch runs at the limit, as they would alone.
    expect(store.apply({ table: '', name: 'db.atomic', args: [['d', 'dict.delete', ['big']]] }))
      .toEqual({ ok: true, results: [true] })
  })
})
