import { describe, expect, spyOn, test } from 'bun:test'
import { readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { Store } from '../../src/engine/store.ts'
import { connect } from '../../src/index.ts'
import {
  LOG_HEADER_BYTES, RECORD_HEADER_BYTES, encodeEndMarker, encodeLogHeader, encodeRecord, writeRecordHeader,
} from '../../src/persistence/log-format.ts'
import { recover, scanLog } from '../../src/persistence/log-reader.ts'
import { encodeSnapshot } from '../../src/persistence/snapshot.ts'
import { createCodec } from '../../src/protocol/codec.ts'
import { expectCode, tempDir } from '../contract/helpers.ts'

const OPS = [
  { table: 'd', name: 'db.create', args: ['dict'] },
  { table: 'd', name: 'dict.set', args: ['a', 1] },
  { table: 'd', name: 'dict.set', args: ['b', 'two'] },
  { table: 'd', name: 'dict.incr', args: ['a', 41] },
]
const RECORDS = OPS.map((op) => encodeRecord(op))

function logImage(generation = 0, records = RECORDS): Uint8Array {
  return new Uint8Array(Buffer.concat([encodeLogHeader(generation), ...records]))
}

/** A rotated log as a rotation leaves it: its records, then its end marker. */
function rotatedImage(generation: number, records: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat([encodeLogHeader(generation), ...records, encodeEndMarker(records.length)]))
}

function snapshotImage(generation: number, content: Record<string, unknown> = { z: 0 }): Uint8Array {
  const store = new Store()
  store.create('d', 'dict', content, undefined)
  const { header, body } = encodeSnapshot(store, generation)
  return new Uint8Array(Buffer.concat([header, body]))
}

const quiet = () => spyOn(console, 'warn').mockImplementation(() => {})

describe('scanLog', () => {
  test('a log cut at every byte of its last record drops that record as torn, naming its offset', () => {
    const full = logImage()
    const last = full.length - RECORDS.at(-1)!.length
    for (let length = last + 1; length < full.length; length++) {
      const scan = scanLog(full.subarray(0, length), 'x')
      expect({ length, records: scan.records.length, torn: scan.torn?.offset, good: scan.goodBytes })
        .toEqual({ length, records: 3, torn: last, good: last })
    }
    expect(scanLog(full.subarray(0, last), 'x').torn).toBeUndefined()
  })

  test('a flipped byte in the last record is a torn record; in an earlier one, SNAPSHOT_CORRUPT at its offset', async () => {
    const full = logImage()
    const last = full.length - RECORDS.at(-1)!.length
    const flipped = full.slice()
    flipped[full.length - 1]! ^= 0xff
    expect(scanLog(flipped, 'x').torn).toEqual({ offset: last, bytes: full.length - last, why: 'the last record fails its checksum' })
    const second = LOG_HEADER_BYTES + RECORDS[0]!.length
    const middle = full.slice()
    middle[second + RECORD_HEADER_BYTES + 1]! ^= 0x01
    const error = await expectCode(() => scanLog(middle, 'm.log'), 'SNAPSHOT_CORRUPT')
    expect(error.message).toContain(`bad record at byte ${second}`)
    expect(error.message).toContain('m.log')
    expect(scanLog(middle, 'm.log', true).torn).toEqual({
      offset: second, bytes: full.length - second, why: 'a record that fails its checksum, then 2 whole records',
    })
  })

  test('a header cut short is an empty torn log; a file that is not a log is SNAPSHOT_CORRUPT', async () => {
    const header = encodeLogHeader(3)
    for (let length = 0; length < LOG_HEADER_BYTES; length++) {
      expect(scanLog(header.subarray(0, length), 'x').generation).toBeUndefined()
    }
    await expectCode(() => scanLog(new TextEncoder().encode('not a log at all, no'), 'x'), 'SNAPSHOT_CORRUPT')
    const future = logImage()
    future[6] = 9
    expect((await expectCode(() => scanLog(future, 'x'), 'SNAPSHOT_CORRUPT')).message).toContain('version 9')
  })

  test('a record that passes its checksum but is not [table, name, args] is SNAPSHOT_CORRUPT', async () => {
    const odd = encodeRecord({ table: 'd', name: 'dict.set', args: [] })
    const body = new Uint8Array([0x92, 0xa1, 0x64, 0x01]) // ['d', 1]
    const bad = new Uint8Array(RECORD_HEADER_BYTES + body.length)
    writeRecordHeader(bad, 0, body.length, Bun.hash.crc32(body))
    bad.set(body, RECORD_HEADER_BYTES)
    const error = await expectCode(() => scanLog(logImage(0, [bad, odd]), 'x'), 'SNAPSHOT_CORRUPT')
    expect(error.message).toContain(`malformed record at byte ${LOG_HEADER_BYTES}`)
  })
})

describe('records with their time', () => {
  test('a record carries the time its write ran at; records of three fields (older writers) have none', () => {
    const timed = encodeRecord({ table: 'd', name: 'dict.set', args: ['a', 1] }, undefined, 1234.5)
    const { records } = scanLog(logImage(0, [RECORDS[0]!, timed]), 'x')
    expect(records.map((r) => r.now)).toEqual([undefined, 1234.5])
  })

  test('a fourth field that is not a number is SNAPSHOT_CORRUPT', async () => {
    const body = createCodec().pack(['d', 'dict.set', ['a', 1], 'noon'])
    const bad = new Uint8Array(RECORD_HEADER_BYTES + body.length)
    writeRecordHeader(bad, 0, body.length, Bun.hash.crc32(body))
    bad.set(body, RECORD_HEADER_BYTES)
    const odd = encodeRecord({ table: 'd', name: 'dict.set', args: [] })
    await expectCode(() => scanLog(logImage(0, [bad, odd]), 'x'), 'SNAPSHOT_CORRUPT')
  })
})

describe('recovery', () => {
  test('snapshot, then the log: what the log holds is applied on top, and the log goes on', async () => {
    using dir = tempDir()
    const path = dir.file('d.cdb')
    writeFileSync(path, snapshotImage(0))
    writeFileSync(`${path}.log`, logImage(0, RECORDS.slice(1)))
    {
      await using db = await connect(`file:${path}`)
      expect(await db.dict('d').toObject()).toEqual({ z: 0, a: 42, b: 'two' })
      await db.dict('d').set('c', 3)
    }
    await using db = await connect(`file:${path}`)
    expect(await db.dict('d').toObject()).toEqual({ z: 0, a: 42, b: 'two', c: 3 })
  })

  test('a torn last record is dropped with a warning naming the byte offset, then cut off the file', async () => {
    using dir = tempDir()
    const path = dir.file('t.cdb')
    const full = logImage()
    const last = full.length - RECORDS.at(-1)!.length
    writeFileSync(`${path}.log`, full.subarray(0, full.length - 2))
    const warn = quiet()
    {
      await using db = await connect(`file:${path}`)
      expect(await db.dict('d').toObject()).toEqual({ a: 1, b: 'two' })
      expect(warn.mock.calls.map((call) => String(call[0]))).toEqual([
        `cyberdb: ${path}.log: dropping a torn last record at byte ${last} (a record of ` +
        `${RECORDS.at(-1)!.length - RECORD_HEADER_BYTES} bytes cut short, ${RECORDS.at(-1)!.length - 2} bytes): the process stopped while writing it`,
      ])
      expect(readFileSync(`${path}.log`).length).toBe(last)
      await db.dict('d').set('after', true)
    }
    warn.mockRestore()
    await using db = await connect(`file:${path}`)
    expect(await db.dict('d').toObject()).toEqual({ a: 1, b: 'two', after: true })
  })

  test('a bad record before the end: SNAPSHOT_CORRUPT with its offset, files untouched, lock free', async () => {
    using dir = tempDir()
    const path = dir.file('c.cdb')
    const image = logImage()
    image[LOG_HEADER_BYTES + RECORDS[0]!.length + 10]! ^= 0x40
    writeFileSync(path, snapshotImage(0))
    writeFileSync(`${path}.log`, image)
    const error = await expectCode(connect(`file:${path}`), 'SNAPSHOT_CORRUPT')
    expect(error.message).toContain(`byte ${LOG_HEADER_BYTES + RECORDS[0]!.length}`)
    await expectCode(connect(`file:${path}`), 'SNAPSHOT_CORRUPT')
    expect([readFileSync(`${path}.log`), readFileSync(path)]).toEqual([Buffer.from(image), Buffer.from(snapshotImage(0))])
    expect(readdirSync(dir.path).toSorted()).toEqual(['c.cdb', 'c.cdb.log'])
  })

  test('a record that does not apply to the snapshot is SNAPSHOT_CORRUPT naming it', async () => {
    using dir = tempDir()
    const path = dir.file('x.cdb')
    writeFileSync(path, snapshotImage(0))
    writeFileSync(`${path}.log`, logImage(0)) // db.create of a table the snapshot has
    const error = await expectCode(connect(`file:${path}`), 'SNAPSHOT_CORRUPT')
    expect(error.message).toContain(`byte ${LOG_HEADER_BYTES} (db.create on "d")`)
  })

  test('logs replay oldest first from the snapshot generation; older ones are ignored', async () => {
    using dir = tempDir()
    const path = dir.file('g.cdb')
    writeFileSync(path, snapshotImage(4))
    writeFileSync(`${path}.log.3`, rotatedImage(3, [encodeRecord({ table: 'd', name: 'dict.set', args: ['old', 1] })]))
    writeFileSync(`${path}.log.4`, rotatedImage(4, [encodeRecord({ table: 'd', name: 'dict.set', args: ['x', 1] })]))
    const incr = encodeRecord({ table: 'd', name: 'dict.incr', args: ['x', 1] })
    writeFileSync(`${path}.log`, logImage(5, [incr]))
    const recovered = await recover(path)
    expect({ log: recovered.log, replayed: recovered.replayed })
      .toEqual({ log: { generation: 5, continueAt: LOG_HEADER_BYTES + incr.length, records: 1 }, replayed: 2 })
    await using db = await connect(`file:${path}`)
    expect(await db.dict('d').toObject()).toEqual({ z: 0, x: 2 })
  })

  test('a missing generation between the snapshot and a log is SNAPSHOT_CORRUPT', async () => {
    using dir = tempDir()
    const path = dir.file('m.cdb')
    writeFileSync(path, snapshotImage(2))
    writeFileSync(`${path}.log`, logImage(3, RECORDS.slice(1)))
    const error = await expectCode(connect(`file:${path}`), 'SNAPSHOT_CORRUPT')
    expect(error.message).toContain('no log of generation 2')
  })

  test('a log with no complete header (created, never written) is ignored with a warning and replaced', async () => {
    using dir = tempDir()
    const path = dir.file('h.cdb')
    writeFileSync(path, snapshotImage(1))
    writeFileSync(`${path}.log.1`, rotatedImage(1, [encodeRecord({ table: 'd', name: 'dict.set', args: ['y', 1] })]))
    writeFileSync(`${path}.log`, encodeLogHeader(2).subarray(0, 5))
    const warn = quiet()
    const recovered = await recover(path)
    expect(warn.mock.calls.length).toBe(1)
    warn.mockRestore()
    expect(recovered.log).toEqual({ generation: 2 })
    expect([...recovered.tables!.get('d')!]).toEqual([['z', 0], ['y', 1]])
  })
})

test('recover() reports progress: the snapshot, then the log replay, ending at every byte', async () => {
  using dir = tempDir()
  const path = dir.file('progress.cdb')
  await using db = await connect(`file:${path}`)
  await db.createDict('t', { a: 1, b: 2 })
  await db.save()
  const dict = db.dict('t')
  await Promise.all(Array.from({ length: 10_000 }, (_, i) => dict.set(`k${i}`, i)))
  const reports: { entries: number; bytes: number; totalBytes: number }[] = []
  await recover(path, () => {}, (loaded) => reports.push(loaded))
  const total = reports[0]!.totalBytes
  expect(reports.every((report) => report.totalBytes === total)).toBe(true)
  expect(reports[0]!.entries).toBe(2) // the snapshot's entries, before any record
  expect(reports.at(-1)).toEqual({ entries: 10_002, bytes: total, totalBytes: total })
  expect(reports.length).toBeGreaterThanOrEqual(4) // 10,000 records: a report every 4096
  for (let i = 1; i < reports.length; i++) expect(reports[i]!.bytes).toBeGreaterThanOrEqual(reports[i - 1]!.bytes)
})
