import { describe, expect, test } from 'bun:test'
import { COMMANDS } from '../../src/engine/commands.ts'
import { DictTable } from '../../src/engine/dict-table.ts'
import { ListTable } from '../../src/engine/list-table.ts'
import { Store } from '../../src/engine/store.ts'
import { sizeOf } from '../../src/engine/value-model.ts'
import { expectCode } from '../contract/helpers.ts'

function storeWith(): Store {
  const store = new Store()
  store.apply({ table: 'd', name: 'db.create', args: ['dict', { a: 1, b: 2, c: 3 }] })
  store.apply({ table: 'l', name: 'db.create', args: ['list', [1, 2, 3, 4, 5]] })
  return store
}

describe('Store.apply', () => {
  test('runs an operation and returns its result', () => {
    const store = storeWith()
    store.apply({ table: 'd', name: 'dict.set', args: ['z', 26] })
    expect(store.apply({ table: 'd', name: 'dict.get', args: ['z'] })).toBe(26)
    expect(store.apply({ table: 'l', name: 'list.push', args: [6, 7] })).toBe(7)
  })

  const unknownOps = ['dict.nope', '', 'DICT.GET', '__proto__', 'constructor', 'toString', 'dict.map']
  for (const name of unknownOps) {
    test(`an unknown operation ${JSON.stringify(name)} fails with BAD_ARGUMENT`, async () => {
      const error = await expectCode(() => storeWith().apply({ table: 'd', name, args: [] }), 'BAD_ARGUMENT')
      expect(error.message).toContain('unknown operation')
    })
  }

  test('a bigint where a name or a table type belongs fails with BAD_ARGUMENT, never INTERNAL', async () => {
    const store = storeWith()
    const badType = await expectCode(() => store.apply({ table: 'x', name: 'db.create', args: [1n] }), 'BAD_ARGUMENT')
    expect(badType.message).toBe('a table type is "dict" or "list", not a bigint')
    const badName = await expectCode(() => store.apply({ table: 'd', name: 2n as never, args: [] }), 'BAD_ARGUMENT')
    expect(badName.message).toBe('an operation name must be a string, not a bigint')
  })

  const arities: [string, string, unknown, string][] = [
    ['too few arguments', 'dict.set', ['k'], 'dict.set takes 2 to 3 arguments, not 1'],
    ['too many arguments', 'dict.get', ['k', 1, 2], 'dict.get takes 1 to 2 arguments, not 3'],
    ['arguments to an operation that takes none', 'list.length', [1], 'list.length takes 0 arguments, not 1'],
    ['arguments that are not an array', 'dict.get', { 0: 'k' }, 'the arguments of dict.get must be an array, not an object'],
    ['missing arguments', 'dict.size', undefined, 'the arguments of dict.size must be an array, not undefined'],
  ]
  for (const [what, name, args, message] of arities) {
    test(`${what} fail with BAD_ARGUMENT naming the arity`, async () => {
      const error = await expectCode(() => storeWith().apply({ table: 'd', name, args: args as unknown[] }), 'BAD_ARGUMENT')
      expect(error.message).toBe(message)
    })
  }

  test('list.push takes any number of arguments, none included', () => {
    const store = storeWith()
    expect(store.apply({ table: 'l', name: 'list.push', args: [] })).toBe(5)
    expect(store.apply({ table: 'l', name: 'list.push', args: Array(1000).fill(0) })).toBe(1005)
  })

  const badNames: unknown[] = [1, null, undefined, {}, ['d']]
  for (const table of badNames) {
    test(`a table name that is ${JSON.stringify(table) ?? 'undefined'} fails with BAD_ARGUMENT`, async () => {
      await expectCode(() => storeWith().apply({ table: table as string, name: 'dict.get', args: ['a'] }), 'BAD_ARGUMENT')
      await expectCode(() => storeWith().apply({ table: table as string, name: 'db.create', args: ['dict'] }), 'BAD_ARGUMENT')
    })
  }

  test('a missing table fails with TABLE_NOT_FOUND and a table of the other type with WRONG_TABLE_TYPE', async () => {
    const store = storeWith()
    await expectCode(() => store.apply({ table: 'x', name: 'dict.get', args: ['a'] }), 'TABLE_NOT_FOUND')
    const error = await expectCode(() => store.apply({ table: 'l', name: 'dict.get', args: ['a'] }), 'WRONG_TABLE_TYPE')
    expect(error.message).toBe('table "l" is a list, not a dict')
    await expectCode(() => store.apply({ table: 'd', name: 'list.push', args: [1] }), 'WRONG_TABLE_TYPE')
  })

  const badArgs: [string, string, string, unknown[]][] = [
    ['an object key', 'd', 'dict.get', [{}]],
    ['a NaN amount for incr', 'd', 'dict.incr', ['a', Number.NaN]],
    ['an infinite amount for incr', 'd', 'dict.incr', ['a', Number.POSITIVE_INFINITY]],
    ['a string amount for incr', 'd', 'dict.incr', ['a', '1']],
    ['extend with something not an array', 'l', 'list.extend', [new Set([1])]],
    ['a float index', 'l', 'list.at', [0.5]],
    ['an unsafe integer index', 'l', 'list.at', [2 ** 53]],
    ['a string index', 'l', 'list.insert', ['0', 1]],
    ['sort options that are not an object', 'l', 'list.sort', ['asc']],
    ['a sort path that is not a string', 'l', 'list.sort', [{ by: ['a'] }]],
    ['a descending flag that is not a boolean', 'l', 'list.sort', [{ descending: 'yes' }]],
    ['a scan count of zero', 'l', 'list.scan', [0, 0]],
    ['a scan cursor that is not an integer', 'd', 'dict.scan', ['0', 10]],
    ['a cursor to close that is not an integer', '', 'cursor.close', [null]],
  ]
  for (const [what, table, name, args] of badArgs) {
    test(`${name} with ${what} fails with BAD_ARGUMENT`, async () => {
      await expectCode(() => storeWith().apply({ table, name, args }), 'BAD_ARGUMENT')
    })
  }

  test('every write is marked as a write and every read as a read', () => {
    const writes = [...COMMANDS.keys()].filter((name) => Store.writes(name))
    expect(writes.toSorted()).toEqual([
      'db.atomic', 'db.create', 'db.drop',
      'dict.clear', 'dict.delete', 'dict.deleteMany', 'dict.evict', 'dict.expire', 'dict.incr', 'dict.persist',
      'dict.pop', 'dict.popitem', 'dict.set', 'dict.setMany', 'dict.setTtl', 'dict.setdefault',
      'dict.update',
      'list.clear', 'list.extend', 'list.insert', 'list.pop', 'list.push', 'list.remove', 'list.reverse',
      'list.set', 'list.shift', 'list.sort', 'list.unshift',
    ])
    expect(Store.writes('no.such.op')).toBe(false)
  })
})

describe('tables', () => {
  test('create, list and drop tables', () => {
    const store = new Store()
    expect(store.create('a', 'dict', undefined, undefined)).toBe(true)
    expect(store.create('b', 'list', [1, 2], undefined)).toBe(true)
    expect(store.create('c', 'dict', null, undefined)).toBe(true)
    expect(store.list()).toEqual([
      { name: 'a', type: 'dict', size: 0 }, { name: 'b', type: 'list', size: 2 }, { name: 'c', type: 'dict', size: 0 },
    ])
    expect([store.drop('a'), store.drop('a'), store.list().map((t) => t.name)]).toEqual([true, false, ['b', 'c']])
  })

  test('create checks the name, the type and the content', async () => {
    const store = new Store()
    await expectCode(() => store.create('', 'dict', undefined, undefined), 'BAD_ARGUMENT')
    await expectCode(() => store.create('t', 'set', undefined, undefined), 'BAD_ARGUMENT')
    await expectCode(() => store.create('t', undefined, undefined, undefined), 'BAD_ARGUMENT')
    await expectCode(() => store.create('t', 'list', { 0: 1 }, undefined), 'BAD_ARGUMENT')
    await expectCode(() => store.create('t', 'dict', 5, undefined), 'BAD_ARGUMENT')
    await expectCode(() => store.create('t', 'dict', [['a', 1], [{}, 2]], undefined), 'BAD_ARGUMENT')
    expect(store.list()).toEqual([])
  })

  test('create of an existing name: TABLE_EXISTS, or false with ifNotExists, or WRONG_TABLE_TYPE', async () => {
    const store = new Store()
    store.create('t', 'dict', { a: 1 }, undefined)
    await expectCode(() => store.create('t', 'dict', undefined, undefined), 'TABLE_EXISTS')
    await expectCode(() => store.create('t', 'dict', undefined, 'yes'), 'TABLE_EXISTS')
    expect(store.create('t', 'dict', { b: 2 }, true)).toBe(false)
    await expectCode(() => store.create('t', 'list', undefined, true), 'WRONG_TABLE_TYPE')
    expect(store.list()).toEqual([{ name: 't', type: 'dict', size: 1 }])
  })

  test('replaceAll swaps every table at once', () => {
    const store = storeWith()
    const list = ListTable.from(['new'])
    store.replaceAll(new Map([['n', list]]))
    expect(store.list()).toEqual([{ name: 'n', type: 'list', size: 1 }])
  })
})

describe('scan', () => {
  function scan(store: Store, table: string, cursor: number, count: number): [number, unknown[]] {
    const type = table === 'd' ? 'dict' : 'list'
    return store.apply({ table, name: `${type}.scan`, args: [cursor, count] }) as [number, unknown[]]
  }

  test('scan walks a table in chunks and ends with cursor 0', () => {
    const store = storeWith()
    const [c1, first] = scan(store, 'l', 0, 2)
    const [c2, second] = scan(store, 'l', c1, 2)
    const [c3, last] = scan(store, 'l', c2, 2)
    expect([first, second, last, c3]).toEqual([[1, 2], [3, 4], [5], 0])
    expect(c1).toBeGreaterThan(0)
    expect(c2).not.toBe(c1)
  })

  test('scan of a dict yields [key, value] entries', () => {
    const store = storeWith()
    expect(scan(store, 'd', 0, 10)).toEqual([0, [['a', 1], ['b', 2], ['c', 3]]])
  })

  test('a scan ending exactly on a chunk boundary needs one more, empty, call', () => {
    const store = storeWith()
    const [cursor, items] = scan(store, 'd', 0, 3)
    expect(items.length).toBe(3)
    expect(scan(store, 'd', cursor, 3)).toEqual([0, []])
  })

  test('a cursor is used once: reusing it fails with BAD_ARGUMENT', async () => {
    const store = storeWith()
    const [cursor] = scan(store, 'l', 0, 1)
    scan(store, 'l', cursor, 1)
    const error = await expectCode(() => scan(store, 'l', cursor, 1), 'BAD_ARGUMENT')
    expect(error.message).toContain('unknown or expired')
    await expectCode(() => scan(store, 'l', 999_999, 1), 'BAD_ARGUMENT')
  })

  test('a cursor of another table fails with TABLE_NOT_FOUND', async () => {
    const store = storeWith()
    store.create('l2', 'list', [1, 2], undefined)
    const [cursor] = scan(store, 'l', 0, 1)
    await expectCode(() => scan(store, 'l2', cursor, 1), 'TABLE_NOT_FOUND')
  })

  test('closeCursor frees a cursor once', async () => {
    const store = storeWith()
    const [cursor] = scan(store, 'l', 0, 1)
    expect(store.apply({ table: '', name: 'cursor.close', args: [cursor] })).toBe(true)
    expect(store.apply({ table: '', name: 'cursor.close', args: [cursor] })).toBe(false)
    await expectCode(() => scan(store, 'l', cursor, 1), 'BAD_ARGUMENT')
  })

  test('the oldest open cursor is evicted past 4096 and then fails with BAD_ARGUMENT', async () => {
    const store = storeWith()
    const cursors = Array.from({ length: 4097 }, () => scan(store, 'l', 0, 1)[0])
    await expectCode(() => scan(store, 'l', cursors[0]!, 1), 'BAD_ARGUMENT')
    expect(scan(store, 'l', cursors[1]!, 10)).toEqual([0, [2, 3, 4, 5]])
    expect(scan(store, 'l', cursors[4096]!, 10)).toEqual([0, [2, 3, 4, 5]])
  })

  test('replacing every table (a snapshot load) expires every cursor', async () => {
    const store = storeWith()
    const [cursor] = scan(store, 'd', 0, 1)
    const fresh = new DictTable()
    fresh.set('x', 1)
    store.replaceAll(new Map([['d', fresh]]))
    await expectCode(() => scan(store, 'd', cursor, 1), 'BAD_ARGUMENT')
  })

  test('a list scan follows the live array: pushes ahead of it are seen', () => {
    const store = storeWith()
    const [cursor] = scan(store, 'l', 0, 2)
    store.apply({ table: 'l', name: 'list.push', args: [6] })
    store.apply({ table: 'l', name: 'list.pop', args: [0] })
    expect(scan(store, 'l', cursor, 10)).toEqual([0, [4, 5, 6]])
  })
})

describe('byte accounting (maxMemory)', () => {
  /** What the count should be: every table measured from scratch. */
  const recounted = (store: Store) => {
    let bytes = 0
    for (const table of store.tables.values()) {
      if (table instanceof DictTable) for (const [k, v] of table) bytes += sizeOf(k) + sizeOf(v)
      else for (const v of table) bytes += sizeOf(v)
    }
    return bytes
  }

  test('every write keeps the count equal to a recount, and emptying the store brings it to 0', () => {
    const store = new Store()
    const run = (table: string, name: string, ...args: unknown[]) => store.apply({ table, name, args })
    const steps: [string, string, ...unknown[]][] = [
      ['d', 'db.create', 'dict', { a: 'x'.repeat(100), b: [1, 2] }], ['l2', 'db.create', 'list', [1, 'two']],
      ['l', 'db.create', 'list', ['x', { y: 1 }]], ['d', 'dict.set', 'a', 'short'], ['d', 'dict.set', 'c', new Uint8Array(50)],
      ['d', 'dict.update', { e: 1, f: 'ff' }], ['d', 'dict.setdefault', 'g', [1]], ['d', 'dict.incr', 'n', 5],
      ['d', 'dict.pop', 'b'], ['d', 'dict.popitem'], ['d', 'dict.delete', 'e'], ['l', 'list.push', 'p', 'q'],
      ['l', 'list.insert', 0, 'first'], ['l', 'list.set', 1, 'replaced'], ['l', 'list.pop', 0], ['l', 'list.remove', 'p'],
      ['l', 'list.sort', { by: '' }], ['l', 'list.reverse'],
    ]
    for (const [table, name, ...args] of steps) {
      try {
        run(table, name, ...args)
      } catch {} // sort of a mixed list fails: the count must still hold
      expect(store.bytes).toBe(recounted(store))
    }
    expect(store.bytes).toBeGreaterThan(0)
    run('d', 'dict.clear')
    run('l', 'list.clear')
    run('l2', 'db.drop')
    expect([store.bytes, recounted(store)]).toEqual([0, 0])
  })

  test('at the limit growing writes fail with MEMORY_LIMIT; freeing ones run; replaceAll recounts', () => {
    const store = new Store()
    store.maxMemory = 1000
    store.create('d', 'dict', { big: 'x'.repeat(2000) }, undefined)
    store.create('l', 'list', [1], undefined)
    for (const [name, table, args] of [['dict.set', 'd', ['k', 1]], ['list.push', 'l', [2]], ['db.create', 'n', ['dict']]] as const) {
      expect(() => store.apply({ table, name, args: [...args] })).toThrow(expect.objectContaining({ code: 'MEMORY_LIMIT' }))
    }
    expect(store.apply({ table: 'l', name: 'list.pop', args: [] })).toBe(1)
    expect(store.apply({ table: 'd', name: 'dict.delete', args: ['big'] })).toBe(true)
    store.apply({ table: 'd', name: 'dict.set', args: ['k', 1] })
    const other = new Store()
    other.create('x', 'list', ['y'.repeat(5000)], undefined)
    store.replaceAll(other.tables)
    expect(store.bytes).toBe(recounted(store))
    expect(() => store.apply({ table: 'x', name: 'list.push', args: [1] })).toThrow(expect.objectContaining({ code: 'MEMORY_LIMIT' }))
  })
})
