// The undo of atomic batches against a model: random batches of every write op on a dict and a
// list (many of them failing somewhere) either end as the same ops run one by one, or, when one
// fails, leave the tables exactly as they were: contents, insertion order and byte counts.

import { describe, expect, test } from 'bun:test'
import type { DictTable } from '../../src/engine/dict-table.ts'
import { Store } from '../../src/engine/store.ts'
import { mulberry32 } from '../fixtures/random.ts'

type Item = [string, string, unknown[]]

function fresh(): Store {
  const store = new Store()
  store.create('d', 'dict', [['a', 1], ['b', 'text'], ['p:1', 2], [7, 3], ['c', { x: [1] }]], undefined)
  store.create('l', 'list', [3, 1, 2, 1], undefined)
  store.create('e', 'dict', undefined, undefined)
  return store
}

function state(store: Store): unknown {
  const tables = [...store.tables].map(([name, table]) => [name, [...table], table.bytes])
  return structuredClone([tables, store.bytes])
}

function randomItem(random: () => number): Item {
  const pick = <T>(values: T[]): T => values[Math.floor(random() * values.length)]!
  const key = pick(['a', 'b', 'c', 'new', 'p:1', 'p:2', 7, 8])
  const index = pick([0, 1, -1, 2, 5, -9])
  const value = pick([1, 2, 'text', { x: [1] }, null])
  const dict: Item[] = [
    ['d', 'dict.set', [key, value]], ['d', 'dict.setdefault', [key, value]], ['d', 'dict.incr', [key, 1]],
    ['d', 'dict.delete', [key]], ['d', 'dict.pop', [key]], ['d', 'dict.pop', [key, 0]], ['d', 'dict.popitem', []],
    ['d', 'dict.update', [{ [String(key)]: value, z: 1 }]], ['d', 'dict.setMany', [[[key, value], ['y', 2]]]],
    ['d', 'dict.deleteMany', [[key, 'a']]], ['d', 'dict.clear', [{ prefix: 'p:' }]], ['e', 'dict.clear', []],
    ['d', 'dict.get', [key]], ['e', 'dict.popitem', []], ['d', 'dict.clear', []],
  ]
  const list: Item[] = [
    ['l', 'list.push', [value, 4]], ['l', 'list.extend', [[5, 6]]], ['l', 'list.insert', [index, value]],
    ['l', 'list.pop', []], ['l', 'list.pop', [index]], ['l', 'list.remove', [value]], ['l', 'list.remove', [1]],
    ['l', 'list.set', [index, value]], ['l', 'list.reverse', []], ['l', 'list.sort', []], ['l', 'list.clear', []],
    ['l', 'list.slice', []],
  ]
  return pick(random() < 0.5 ? dict : list)
}

describe('rolling back an atomic batch', () => {
  test('500 random batches: each ends as its ops run one by one, or exactly as it began', () => {
    const random = mulberry32(0xa70)
    let failed = 0
    let committed = 0
    for (let trial = 0; trial < 500; trial++) {
      const items = Array.from({ length: 1 + Math.floor(random() * 12) }, () => randomItem(random))
      const store = fresh()
      const before = state(store)
      let threw = false
      try {
        store.apply({ table: '', name: 'db.atomic', args: structuredClone(items) })
      } catch {
        threw = true
      }
      const model = fresh()
      let modelThrew = false
      for (const [table, name, args] of structuredClone(items)) {
        try {
          model.apply({ table, name, args })
        } catch {
          modelThrew = true
          break
        }
      }
      const expected = modelThrew ? before : state(model)
      expect({ trial, items, threw, after: state(store) }).toEqual({ trial, items, threw: modelThrew, after: expected })
      if (threw) failed++
      else committed++
    }
    // Both outcomes were exercised many times.
    expect([failed > 100, committed > 100]).toEqual([true, true])
  })

  test('a rolled-back delete puts the key back in its place: insertion order and popitem are as before', () => {
    const store = fresh()
    expect(() => store.apply({ table: '', name: 'db.atomic', args: [['d', 'dict.delete', ['a']],
      ['d', 'dict.pop', ['missing']]] })).toThrow('not found')
    const d = store.tables.get('d') as DictTable
    expect([[...d.keys()], store.apply({ table: 'd', name: 'dict.popitem', args: [] })])
      .toEqual([['a', 'b', 'p:1', 7, 'c'], ['c', { x: [1] }]])
  })
})
