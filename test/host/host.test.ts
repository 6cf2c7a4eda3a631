// The one write path: a write's log record is encoded before the write is applied, so a value the
// encoder refuses never reaches the store, and snapshots keep working after it.

import { describe, expect, test } from 'bun:test'
import { Database } from '../../src/client/database.ts'
import { EmbeddedTransport } from '../../src/client/embedded.ts'
import { Server, connect } from '../../src/index.ts'
import { expectCode, tempDir } from '../contract/helpers.ts'
import { Host, SLOW } from '../../src/host/host.ts'
import type { DictTable } from '../../src/engine/dict-table.ts'

// msgpackr has no encoding for a symbol: the log's encoder throws on it, the engine does not look.
const unencodable = { table: 'd', name: 'dict.set', args: ['bad', Symbol('no encoding')] }

describe('Host.apply', () => {
  test('embedded: a write whose record cannot be encoded leaves the store unchanged and save() still works', async () => {
    using dir = tempDir()
    const path = dir.file('h.cdb')
    const transport = await EmbeddedTransport.file({ path })
    {
      await using db = new Database(transport)
      await db.createDict('d')
      await db.dict('d').set('a', 1)
      const error = await expectCode(() => transport.host.apply(unencodable), 'BAD_ARGUMENT')
      expect(error.message).toBe('a value cannot be stored: Unknown type: symbol')
      expect(await db.dict('d').toObject()).toEqual({ a: 1 })
      expect(await db.save()).toEqual({ tables: 1, entries: 1, bytes: expect.any(Number) })
      await db.dict('d').set('b', 2) // the log goes on after the refused record
    }
    await using again = await connect(`file:${path}`)
    expect(await again.dict('d').toObject()).toEqual({ a: 1, b: 2 })
  })

  test('server: the same refusal, through the same host', async () => {
    using dir = tempDir()
    const path = dir.file('s.cdb')
    const host = new Host()
    await using server = new Server({ host })
    server.setBackup(path, 300)
    host.apply({ table: 'd', name: 'db.create', args: ['dict'] })
    await expectCode(() => host.apply(unencodable), 'BAD_ARGUMENT')
    expect(host.store.apply({ table: 'd', name: 'dict.entries', args: [] })).toEqual([])
    expect(await server.save()).toEqual({ tables: 1, entries: 0, bytes: expect.any(Number) })
  })

  test('a write that fails in the engine appends no record', async () => {
    using dir = tempDir()
    const transport = await EmbeddedTransport.file({ path: dir.file('f.cdb') })
    await using db = new Database(transport)
    await db.createDict('d')
    const log = transport.host.log!
    const before = log.appended
    await expectCode(db.dict('d').pop('missing'), 'KEY_NOT_FOUND')
    expect(log.appended).toBe(before)
  })

  test('save to an empty path is BAD_ARGUMENT, not a file system error', async () => {
    await using db = await connect('memory://')
    const error = await expectCode(db.save(''), 'BAD_ARGUMENT')
    expect(error.message).toContain('non-empty')
  })
})

describe('Host fast paths (getIn, setIn)', () => {
  function hostWithTables(): { host: Host; d: DictTable } {
    const host = new Host()
    host.apply({ table: 'd', name: 'db.create', args: ['dict'] })
    host.apply({ table: 'l', name: 'db.create', args: ['list'] })
    return { host, d: host.store.dictNamed('d')! }
  }

  test('they answer as apply() and count alike', () => {
    const { host, d } = hostWithTables()
    const seq = host.setIn(d, 'd', 'k', 'v')
    const fast = [seq, host.seq, host.getIn(d, 'k'), host.getIn(d, 'missing')]
    const { ops, hits, misses } = host.counters
    expect([fast, ops.get('dict.set'), ops.get('dict.get'), hits, misses]).toEqual([[3, 3, 'v', undefined], 1, 2, 1, 1])
  })

  test('store.dictNamed finds no table for a missing name or a list, and layout counts table changes', () => {
    const { host } = hostWithTables()
    const before = host.store.layout
    host.apply({ table: 'd', name: 'db.drop', args: [] })
    expect([host.store.dictNamed('nope'), host.store.dictNamed('l'), host.store.dictNamed('d'),
      host.store.layout - before]).toEqual([undefined, undefined, undefined, 1])
  })

  const slow: [string, (host: Host, d: DictTable) => unknown][] = [
    ['a key that is not a string or a number', (h, d) => h.getIn(d, {})],
    ['a missing lone-surrogate key', (h, d) => h.getIn(d, '\ud800')],
    ['a lone surrogate value', (h, d) => h.setIn(d, 'd', 'k', '\ud800')],
    ['a string past the fast size', (h, d) => h.setIn(d, 'd', 'k', 'x'.repeat(70_000))],
    ['the key 0 (the value model turns -0 into 0)', (h, d) => h.setIn(d, 'd', 0, 'v')],
  ]
  for (const [what, run] of slow) {
    test(`${what} answers SLOW and changes nothing`, () => {
      const { host, d } = hostWithTables()
      expect([run(host, d), host.seq, host.store.bytes]).toEqual([SLOW, 2, 0])
    })
  }

  test('a store at its memory limit makes setIn SLOW, so apply() refuses the write', () => {
    const { host, d } = hostWithTables()
    host.apply({ table: 'd', name: 'dict.set', args: ['k', 'x'.repeat(100)] })
    host.store.maxMemory = 10
    expect(host.setIn(d, 'd', 'j', 'v')).toBe(SLOW)
  })
})
