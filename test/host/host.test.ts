// The one write path: a write's log record is encoded before the write is applied, so a value the
// encoder refuses never reaches the store, and snapshots keep working after it.

import { describe, expect, test } from 'bun:test'
import { Database } from '../../src/client/database.ts'
import { EmbeddedTransport } from '../../src/client/embedded.ts'
import { Server, connect } from '../../src/index.ts'
import { expectCode, tempDir } from '../contract/helpers.ts'
import { Host } from '../../src/host/host.ts'

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
