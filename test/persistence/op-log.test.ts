import { describe, expect, test } from 'bun:test'
import { copyFileSync, existsSync, readFileSync, readdirSync } from 'node:fs'
import { Database } from '../../src/client/database.ts'
import { EmbeddedTransport } from '../../src/client/embedded.ts'
import { connect } from '../../src/index.ts'
import {
  LOG_HEADER_BYTES, LOG_MAGIC, LOG_VERSION, encodeEndMarker, encodeLogHeader, encodeRecord, writeAll,
  type Durability, type LogIO,
} from '../../src/persistence/log-format.ts'
import { scanLog } from '../../src/persistence/log-reader.ts'
import { expectCode, tempDir } from '../contract/helpers.ts'

async function open(path: string, durability: Durability = 'everysec', compactBytes?: number) {
  const transport = await EmbeddedTransport.file({ path, durability, compactBytes })
  const log = transport.host.log!
  return { db: new Database(transport), log }
}

/** Another process's view after a crash: the files as they are now, copied where no lock is held. */
function copyAside(from: string, to: string): void {
  for (const suffix of ['', '.log']) {
    if (existsSync(from + suffix)) copyFileSync(from + suffix, to + suffix)
  }
}

describe('log format', () => {
  test('the header is magic, version, a reserved byte and the generation as a u64, big-endian', () => {
    const header = encodeLogHeader(2 ** 40 + 3)
    const view = new DataView(header.buffer)
    expect({
      length: header.length,
      magic: new TextDecoder().decode(header.subarray(0, 6)),
      version: header[6],
      reserved: header[7],
      generation: view.getBigUint64(8),
    }).toEqual({ length: LOG_HEADER_BYTES, magic: LOG_MAGIC, version: LOG_VERSION, reserved: 0, generation: 2n ** 40n + 3n })
  })

  test('a record is its body length, the CRC-32 of its body, the CRC-32 of those 8 bytes, then msgpack [table, name, args]', () => {
    const record = encodeRecord({ table: 'd', name: 'dict.set', args: ['k', { v: 1n }] })
    const view = new DataView(record.buffer)
    const body = record.subarray(12)
    expect([view.getUint32(0), view.getUint32(4), view.getUint32(8)])
      .toEqual([body.length, Bun.hash.crc32(body), Bun.hash.crc32(record.subarray(0, 8))])
    const scan = scanLog(new Uint8Array([...encodeLogHeader(5), ...record]), 'x.log')
    expect(scan).toEqual({
      path: 'x.log', generation: 5, version: 2, goodBytes: LOG_HEADER_BYTES + record.length,
      size: LOG_HEADER_BYTES + record.length, ended: false, torn: undefined,
      records: [{ offset: LOG_HEADER_BYTES, table: 'd', name: 'dict.set', args: ['k', { v: 1n }] }],
    })
  })

  test('a rotated log ends with an end marker: a record header of length 0xFFFFFFFF counting its records', () => {
    const record = encodeRecord({ table: 'd', name: 'dict.set', args: ['k', 1] })
    const marker = encodeEndMarker(1)
    const view = new DataView(marker.buffer)
    expect([marker.length, view.getUint32(0), view.getUint32(4), view.getUint32(8)])
      .toEqual([12, 0xffffffff, 1, Bun.hash.crc32(marker.subarray(0, 8))])
    const scan = scanLog(new Uint8Array([...encodeLogHeader(5), ...record, ...marker]), 'x.log.5')
    expect({ ended: scan.ended, records: scan.records.length, torn: scan.torn }).toEqual({ ended: true, records: 1, torn: undefined })
  })
})

describe('what is logged', () => {
  test('only operations that succeed and write are logged; reads and failures are not', async () => {
    using dir = tempDir()
    const { db, log } = await open(dir.file('w.cdb'))
    await db.createDict('d', { a: 1 })
    await db.dict('d').set('b', 2)
    await db.dict('d').get('a')
    await db.dict('d').has('b')
    await db.dict('d').entries()
    await db.tables()
    await expectCode(db.dict('d').pop('missing'), 'KEY_NOT_FOUND')
    await expectCode(db.createDict('d'), 'TABLE_EXISTS')
    await expectCode(db.list('d').push(1), 'WRONG_TABLE_TYPE')
    await db.dict('d').delete('a')
    const scan = scanLog(readFileSync(dir.file('w.cdb.log')), 'w.cdb.log')
    expect(scan.records.map(({ table, name, args }) => [table, name, args])).toEqual([
      ['d', 'db.create', ['dict', { a: 1 }]],
      ['d', 'dict.set', ['b', 2]],
      ['d', 'dict.delete', ['a']],
    ])
    expect(log.appended).toBe(3)
    await db.close()
  })

  test('a record holds the value as it was when written, though a list keeps changing after', async () => {
    using dir = tempDir()
    const path = dir.file('l.cdb')
    const { db } = await open(path)
    await db.createList('l', [1])
    await db.list('l').push(2, 3)
    copyAside(path, dir.file('crashed.cdb'))
    await db.close()
    await using again = await connect(`file:${dir.file('crashed.cdb')}`)
    expect(await again.list('l').toArray()).toEqual([1, 2, 3])
  })

  test('memory:// writes no file at all', async () => {
    using dir = tempDir()
    await using db = await connect('memory://')
    await db.createDict('d', { a: 1 })
    await db.dict('d').set('b', 2)
    expect(readdirSync(dir.path)).toEqual([])
  })
})

describe('the io seam', () => {
  test('batches of records go through the io\'s writeRecords when it has one, headers through write', async () => {
    using dir = tempDir()
    const writes: string[] = []
    const io: LogIO = {
      write(fd, bytes) {
        writes.push(`write ${bytes.length}`)
        writeAll(fd, bytes)
      },
      writeRecords(fd, bytes) {
        writes.push('records')
        writeAll(fd, bytes)
      },
    }
    const path = dir.file('io.cdb')
    {
      await using db = new Database(await EmbeddedTransport.file({ path, io }))
      await db.createDict('d', { a: 1 })
      await db.dict('d').set('b', 2)
    }
    // The header, a batch per write, and the end marker of the log the closing snapshot retires.
    expect(writes).toEqual([`write ${LOG_HEADER_BYTES}`, 'records', 'records', `write ${encodeEndMarker(2).length}`])
    await using again = await connect(`file:${path}`)
    expect(await again.dict('d').toObject()).toEqual({ a: 1, b: 2 })
  })
})

describe('durability', () => {
  for (const durability of ['always', 'everysec', 'no'] as const) {
    test(`${durability}: an acknowledged write is in the log file when its promise resolves`, async () => {
      using dir = tempDir()
      const path = dir.file('a.cdb')
      const { db } = await open(path, durability)
      await db.createDict('d')
      for (let i = 0; i < 20; i++) {
        await db.dict('d').set(`k${i}`, i)
        copyAside(path, dir.file(`crash-${i}.cdb`))
      }
      await db.close()
      await using crashed = await connect(`file:${dir.file('crash-7.cdb')}`)
      expect(await crashed.dict('d').size()).toBe(8)
    })
  }

  test('always: the writes of one tick share one write and one fdatasync', async () => {
    using dir = tempDir()
    const { db, log } = await open(dir.file('g.cdb'), 'always')
    await db.createDict('d')
    const before = { ...log.counts }
    await Promise.all(Array.from({ length: 100 }, (_, i) => db.dict('d').set(`k${i}`, i)))
    expect({ writes: log.counts.writes - before.writes, syncs: log.counts.syncs - before.syncs })
      .toEqual({ writes: 1, syncs: 1 })
    await db.close()
  })

  test('flushNow under always writes and fdatasyncs before it returns, and the tick adds no second sync', async () => {
    using dir = tempDir()
    const { db, log } = await open(dir.file('n.cdb'), 'always')
    await db.createDict('d')
    await db.tables()
    const before = { ...log.counts }
    log.append({ table: 'd', name: 'dict.set', args: ['k', 1] })
    log.flushNow()
    const now = { writes: log.counts.writes - before.writes, syncs: log.counts.syncs - before.syncs }
    await new Promise((resolve) => setImmediate(resolve)) // the tick's queued sync task has run
    expect([now, { writes: log.counts.writes - before.writes, syncs: log.counts.syncs - before.syncs }])
      .toEqual([{ writes: 1, syncs: 1 }, { writes: 1, syncs: 1 }])
    await db.close()
  })

  test('flushNow under everysec leaves the write to the end of the tick', async () => {
    using dir = tempDir()
    const { db, log } = await open(dir.file('m.cdb'), 'everysec')
    await db.createDict('d')
    await db.tables()
    const before = log.counts.writes
    log.append({ table: 'd', name: 'dict.set', args: ['k', 1] })
    log.flushNow()
    const now = log.counts.writes - before
    await db.tables()
    expect([now, log.counts.writes - before]).toEqual([0, 1])
    await db.close()
  })

  test('everysec: the writes of one tick share one write, and none waits for an fdatasync', async () => {
    using dir = tempDir()
    const { db, log } = await open(dir.file('e.cdb'), 'everysec')
    await db.createDict('d')
    const before = { ...log.counts }
    await Promise.all(Array.from({ length: 100 }, (_, i) => db.dict('d').set(`k${i}`, i)))
    expect({ writes: log.counts.writes - before.writes, syncs: log.counts.syncs - before.syncs })
      .toEqual({ writes: 1, syncs: 0 })
    await db.close()
  })

  test('?durability= and ?compact= are checked', async () => {
    using dir = tempDir()
    const bad = await expectCode(connect(`file:${dir.file('x.cdb')}?durability=sometimes`), 'BAD_ARGUMENT')
    expect(bad.message).toContain('always, everysec, no')
    await expectCode(connect(`file:${dir.file('x.cdb')}?compact=0`), 'BAD_ARGUMENT')
    await using db = await connect(`file:${dir.file('x.cdb')}?durability=always&compact=100000`)
    await db.createList('l', [1])
    expect(await db.list('l').toArray()).toEqual([1])
  })
})

describe('rotation and compaction', () => {
  test('a save starts the next log generation and deletes the old log once the snapshot is durable', async () => {
    using dir = tempDir()
    const path = dir.file('r.cdb')
    const { db, log } = await open(path)
    await db.createDict('d', { a: 1 })
    expect(log.generation).toBe(0)
    await db.save()
    await db.dict('d').set('b', 2)
    expect(readdirSync(dir.path).toSorted()).toEqual(['r.cdb', 'r.cdb.lock', 'r.cdb.log'])
    const scan = scanLog(readFileSync(`${path}.log`), 'r.cdb.log')
    expect([scan.generation, scan.records.map((r) => r.name)]).toEqual([1, ['dict.set']])
    expect(readFileSync(path).subarray(32, 40)).toEqual(Buffer.from([0, 0, 0, 0, 0, 0, 0, 1]))
    await db.close()
    // Closing snapshots the rest and leaves no log behind.
    expect(readdirSync(dir.path)).toEqual(['r.cdb'])
    await using again = await connect(`file:${path}`)
    expect(await again.dict('d').toObject()).toEqual({ a: 1, b: 2 })
  })

  test('the log is compacted by a snapshot once it passes the configured size', async () => {
    using dir = tempDir()
    const path = dir.file('c.cdb')
    const { db, log } = await open(path, 'no', 4096)
    await db.createDict('d')
    for (let i = 0; i < 200 && log.generation === 0; i++) await db.dict('d').set(`k${i}`, 'x'.repeat(100))
    expect(log.generation).toBe(1)
    const size = await db.dict('d').size()
    // The compacting snapshot is written after the rotation; wait for its file by closing.
    await db.close()
    await using again = await connect(`file:${path}`)
    expect(await again.dict('d').size()).toBe(size)
  })
})
