// What recovery may take for a crash and what it must refuse: a torn tail exists only at the end of
// the newest log, for its last record, with nothing after it. A damaged record header (a flipped
// length) or a rotated log cut anywhere (even exactly at a record boundary) is SNAPSHOT_CORRUPT,
// and the files are left byte for byte as they were.

import { describe, expect, spyOn, test } from 'bun:test'
import { readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { connect } from '../../src/index.ts'
import {
  LOG_HEADER_BYTES, RECORD_HEADER_BYTES, encodeEndMarker, encodeLogHeader, encodeRecord,
} from '../../src/persistence/log-format.ts'
import { applyRepair, planRepair } from '../../src/persistence/repair.ts'
import { expectCode, tempDir, type TempDir } from '../contract/helpers.ts'

const create = encodeRecord({ table: 'd', name: 'db.create', args: ['dict'] })
const sets = (from: number, count: number) =>
  Array.from({ length: count }, (_, i) => encodeRecord({ table: 'd', name: 'dict.set', args: [`k${from + i}`, from + i] }))
/** 100 records: the table, then 99 keys. */
const RECORDS = [create, ...sets(1, 99)]
const offsetOf = (records: Uint8Array[], n: number) =>
  LOG_HEADER_BYTES + records.slice(0, n).reduce((sum, record) => sum + record.length, 0)
const image = (generation: number, records: Uint8Array[], ended = false) => new Uint8Array(Buffer.concat([
  encodeLogHeader(generation), ...records, ...(ended ? [encodeEndMarker(records.length)] : []),
]))

function files(dir: TempDir): Record<string, Buffer> {
  return Object.fromEntries(readdirSync(dir.path).toSorted().map((name) => [name, readFileSync(join(dir.path, name))]))
}

/** Opening fails with SNAPSHOT_CORRUPT and leaves every file as it was. */
async function expectRefused(dir: TempDir, path: string, what: string): Promise<string> {
  const before = files(dir)
  const error = await expectCode(connect(`file:${path}`), 'SNAPSHOT_CORRUPT')
  expect({ what, files: files(dir) }).toEqual({ what, files: before })
  return error.message
}

describe('a damaged record header is not a torn tail', () => {
  test('one flipped bit in any byte of the header of record #1, #10, #50 or #100 of 100: SNAPSHOT_CORRUPT, files untouched', async () => {
    using dir = tempDir()
    const path = dir.file('flip.cdb')
    const warn = spyOn(console, 'warn').mockImplementation(() => {})
    for (const n of [0, 9, 49, 99]) {
      const at = offsetOf(RECORDS, n)
      for (let byte = 0; byte < RECORD_HEADER_BYTES; byte++) {
        for (const bit of [0x01, 0x80]) {
          const damaged = image(0, RECORDS)
          damaged[at + byte]! ^= bit
          writeFileSync(`${path}.log`, damaged)
          const message = await expectRefused(dir, path, `record #${n + 1}, byte ${byte}, bit ${bit}`)
          expect(message).toContain(`bad record at byte ${at}`)
        }
      }
    }
    expect(warn.mock.calls).toEqual([])
    warn.mockRestore()
  })
})

describe('a rotated log is complete by construction', () => {
  // Snapshot-less: generation 0 rotated (PATH.log.0), then the newest, PATH.log of generation 1.
  const rotated = [create, ...sets(1, 49)]
  const newest = sets(100, 3)

  test('cut at every offset of its last record, or exactly at a record boundary: SNAPSHOT_CORRUPT, files untouched', async () => {
    using dir = tempDir()
    const path = dir.file('rot.cdb')
    writeFileSync(`${path}.log`, image(1, newest))
    const whole = image(0, rotated, true)
    const last = offsetOf(rotated, rotated.length - 1)
    // From the start of the last record up to (not including) a whole file: every cut, including
    // the ones at the boundary before the last record and before the end marker.
    for (let length = last; length < whole.length; length++) {
      writeFileSync(`${path}.log.0`, whole.subarray(0, length))
      await expectRefused(dir, path, `rotated log cut to ${length} of ${whole.length} bytes`)
    }
    writeFileSync(`${path}.log.0`, image(0, rotated.slice(0, 31), false))
    const message = await expectRefused(dir, path, 'rotated log of 31 whole records with no end marker')
    expect(message).toContain('cut at a record boundary')
    writeFileSync(`${path}.log.0`, whole)
    await using db = await connect(`file:${path}`)
    expect(await db.dict('d').size()).toBe(52)
  })

  test('an end marker that miscounts, or bytes after it: SNAPSHOT_CORRUPT', async () => {
    using dir = tempDir()
    const path = dir.file('end.cdb')
    writeFileSync(`${path}.log`, image(1, newest))
    writeFileSync(`${path}.log.0`, new Uint8Array(Buffer.concat([encodeLogHeader(0), ...rotated.slice(0, 10), encodeEndMarker(9)])))
    await expectRefused(dir, path, 'an end marker counting 9 of 10')
    writeFileSync(`${path}.log.0`, new Uint8Array(Buffer.concat([image(0, rotated, true), rotated[1]!])))
    await expectRefused(dir, path, 'a record after the end marker')
  })

  test('repair cuts a rotated log at its last good record and ends it again, so the file opens', async () => {
    using dir = tempDir()
    const path = dir.file('fix.cdb')
    writeFileSync(`${path}.log`, image(1, newest))
    const whole = image(0, rotated, true)
    writeFileSync(`${path}.log.0`, whole.subarray(0, offsetOf(rotated, 31) + 7))
    await expectRefused(dir, path, 'cut mid-record')
    applyRepair(planRepair(path))
    expect(readFileSync(`${path}.log.0`)).toEqual(Buffer.from(image(0, rotated.slice(0, 31), true)))
    await using db = await connect(`file:${path}`)
    expect(await db.dict('d').size()).toBe(30 + 3)
  })
})

describe('the one torn tail recovery accepts', () => {
  test('the newest log cut at every offset of its last record recovers the records before it', async () => {
    using dir = tempDir()
    const records = RECORDS.slice(0, 10)
    const whole = image(0, records)
    const last = offsetOf(records, records.length - 1)
    const warn = spyOn(console, 'warn').mockImplementation(() => {})
    for (let length = last + 1; length < whole.length; length++) {
      const path = dir.file(`torn-${length}.cdb`)
      writeFileSync(`${path}.log`, whole.subarray(0, length))
      await using db = await connect(`file:${path}`)
      expect({ length, size: await db.dict('d').size(), log: readFileSync(`${path}.log`).length })
        .toEqual({ length, size: 8, log: last })
    }
    expect(warn.mock.calls.length).toBe(whole.length - last - 1)
    warn.mockRestore()
  })
})
