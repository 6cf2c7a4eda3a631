import { describe, expect, test } from 'bun:test'
import {
  FORMAT_VERSION, HEADER_BYTES, MAGIC, V1_HEADER_BYTES, encodeHeader, verifySnapshot,
} from '../../src/persistence/format.ts'
import { expectCode } from '../contract/helpers.ts'

const BODY = new TextEncoder().encode('any body bytes: the header does not care what they mean')

function image(body = BODY, tables = 3, entries = 42, generation = 0, version = FORMAT_VERSION): Uint8Array {
  const header = encodeHeader(tables, entries, body, generation, version)
  const file = new Uint8Array(header.length + body.length)
  file.set(header)
  file.set(body, header.length)
  return file
}

function flipped(file: Uint8Array, offset: number, mask = 0xff): Uint8Array {
  const copy = file.slice()
  copy[offset]! ^= mask
  return copy
}

describe('encodeHeader', () => {
  test('lays out magic, version, counts, body length, CRC-32 and log generation in 40 bytes, big-endian', () => {
    const header = encodeHeader(3, 2 ** 40 + 5, BODY, 2 ** 33 + 7)
    const view = new DataView(header.buffer)
    expect({
      length: header.length,
      magic: new TextDecoder().decode(header.subarray(0, 7)),
      version: header[7],
      tables: view.getUint32(8),
      entries: view.getBigUint64(12),
      bodyBytes: view.getBigUint64(20),
      checksum: view.getUint32(28),
      generation: view.getBigUint64(32),
    }).toEqual({
      length: HEADER_BYTES,
      magic: MAGIC,
      version: FORMAT_VERSION,
      tables: 3,
      entries: 2n ** 40n + 5n,
      bodyBytes: BigInt(BODY.length),
      checksum: Bun.hash.crc32(BODY),
      generation: 2n ** 33n + 7n,
    })
  })

  test('version 1 has no generation field: 32 bytes, as files written before the operation log', () => {
    expect(encodeHeader(1, 2, BODY, 0, 1).length).toBe(V1_HEADER_BYTES)
  })
})

describe('verifySnapshot', () => {
  test('returns the header and the body of a sound image', () => {
    const { header, body } = verifySnapshot(image(), 'x.cdb')
    expect({ header, body: [...body] }).toEqual({
      header: {
        version: FORMAT_VERSION, tables: 3, entries: 42, bodyBytes: BODY.length, checksum: Bun.hash.crc32(BODY),
        generation: 0,
      },
      body: [...BODY],
    })
  })

  test('reads the log generation of version 2, and generation 0 for a version 1 file', () => {
    expect(verifySnapshot(image(BODY, 3, 42, 9), 'x').header.generation).toBe(9)
    const old = verifySnapshot(image(BODY, 3, 42, 0, 1), 'x')
    expect({ version: old.header.version, generation: old.header.generation, body: [...old.body] })
      .toEqual({ version: 1, generation: 0, body: [...BODY] })
  })

  test('a version 1 file cut anywhere or flipped anywhere in its body fails with SNAPSHOT_CORRUPT', async () => {
    const sound = image(BODY, 3, 42, 0, 1)
    for (let length = 0; length < sound.length; length++) {
      await expectCode(() => verifySnapshot(sound.subarray(0, length), 'x'), 'SNAPSHOT_CORRUPT')
    }
    for (let offset = V1_HEADER_BYTES; offset < sound.length; offset++) {
      await expectCode(() => verifySnapshot(flipped(sound, offset), 'x'), 'SNAPSHOT_CORRUPT')
    }
  })

  test('accepts an empty body and an image inside a larger buffer', () => {
    const empty = new Uint8Array(0)
    expect(verifySnapshot(image(empty, 0, 0), 'x').header.bodyBytes).toBe(0)
    const sound = image()
    const big = new Uint8Array(sound.length + 20)
    big.set(sound, 10)
    expect([...verifySnapshot(big.subarray(10, 10 + sound.length), 'x').body]).toEqual([...BODY])
  })

  test('a file shorter than the header fails with SNAPSHOT_CORRUPT at every length', async () => {
    const sound = image()
    for (let length = 0; length < HEADER_BYTES; length++) {
      const error = await expectCode(() => verifySnapshot(sound.subarray(0, length), 'short.cdb'), 'SNAPSHOT_CORRUPT')
      expect(error.message).toContain('short.cdb')
    }
  })

  test('a file cut anywhere in its body fails with SNAPSHOT_CORRUPT', async () => {
    const sound = image()
    for (let length = HEADER_BYTES; length < sound.length; length++) {
      await expectCode(() => verifySnapshot(sound.subarray(0, length), 'x'), 'SNAPSHOT_CORRUPT')
    }
  })

  test('a file with bytes after its body fails with SNAPSHOT_CORRUPT', async () => {
    const sound = image()
    const padded = new Uint8Array(sound.length + 1)
    padded.set(sound)
    await expectCode(() => verifySnapshot(padded, 'x'), 'SNAPSHOT_CORRUPT')
  })

  test('any flipped bit in the body fails the checksum', async () => {
    const sound = image()
    for (let offset = HEADER_BYTES; offset < sound.length; offset++) {
      for (const mask of [0x01, 0x80]) {
        const error = await expectCode(() => verifySnapshot(flipped(sound, offset, mask), 'x'), 'SNAPSHOT_CORRUPT')
        expect(error.message).toContain('checksum')
      }
    }
  })

  const headerFlips: [string, number[]][] = [
    ['the magic', [0, 1, 2, 3, 4, 5, 6]],
    ['the version (to a newer one)', [7]],
    ['the body length', [20, 21, 22, 23, 24, 25, 26, 27]],
    ['the checksum', [28, 29, 30, 31]],
  ]
  for (const [field, offsets] of headerFlips) {
    test(`a flipped byte in ${field} fails with SNAPSHOT_CORRUPT`, async () => {
      for (const offset of offsets) await expectCode(() => verifySnapshot(flipped(image(), offset), 'x'), 'SNAPSHOT_CORRUPT')
    })
  }

  test('a file that is not a CyberDB snapshot says so', async () => {
    const error = await expectCode(() => verifySnapshot(new TextEncoder().encode('SQLite format 3\0'.repeat(4)), 'x'), 'SNAPSHOT_CORRUPT')
    expect(error.message).toContain('not a CyberDB snapshot')
  })

  for (const version of [FORMAT_VERSION + 1, 255]) {
    test(`format version ${version} is refused as too new, naming both versions`, async () => {
      const file = image()
      file[7] = version
      const error = await expectCode(() => verifySnapshot(file, 'future.cdb'), 'SNAPSHOT_CORRUPT')
      expect(error.message).toContain(`format version ${version}`)
      expect(error.message).toContain(`(${FORMAT_VERSION})`)
      expect(error.message).toContain('upgrade')
    })
  }
})
