import { describe, expect, test } from 'bun:test'
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import type { DictTable } from '../../src/engine/dict-table.ts'
import type { ListTable } from '../../src/engine/list-table.ts'
import { Store } from '../../src/engine/store.ts'
import { connect, type Key } from '../../src/index.ts'
import { encodeHeader } from '../../src/persistence/format.ts'
import { decodeSnapshot, encodeSnapshot, readSnapshot, writeSnapshot } from '../../src/persistence/snapshot.ts'
import { createCodec } from '../../src/protocol/codec.ts'
import { expectCode, tempDir, waitFor } from '../contract/helpers.ts'
import { mulberry32 } from '../fixtures/random.ts'
import { VALUE_CASES, kindOf } from '../contract/values.contract.ts'
import { spawnFixture } from '../fixtures/spawn.ts'

function fileImage(store: Store): Uint8Array {
  const { header, body } = encodeSnapshot(store)
  const file = new Uint8Array(header.length + body.length)
  file.set(header)
  file.set(body, header.length)
  return file
}

/** A hand-made version 1 snapshot: a sound header (right length and checksum) over any body. */
function craft(body: unknown, tables: number): Uint8Array {
  const bytes = createCodec().pack(body)
  const header = encodeHeader(tables, 0, bytes, 0, 1)
  const file = new Uint8Array(header.length + bytes.length)
  file.set(header)
  file.set(bytes, header.length)
  return file
}

/** A hand-made version 2 snapshot: a sound header over a sequence of msgpack values. */
function craft2(values: unknown[], tables: number): Uint8Array {
  const codec = createCodec()
  const bytes = Buffer.concat(values.map((value) => codec.pack(value)))
  const header = encodeHeader(tables, 0, bytes, 0, 2) // a version 2 file (before cache tables)
  const file = new Uint8Array(header.length + bytes.length)
  file.set(header)
  file.set(bytes, header.length)
  return file
}

describe('round trip through a file', () => {
  for (const [what, make] of VALUE_CASES) {
    test(`${what} survives close and reopen in a dict and a list`, async () => {
      using dir = tempDir()
      const url = `file:${dir.file('values.cdb')}`
      {
        await using db = await connect(url)
        await db.createDict('d', [['k', make()]])
        await db.createList('l', ['before', make()])
      }
      await using db = await connect(url)
      const [got, listed] = [await db.dict('d').get('k', 'missing'), await db.list('l').toArray()]
      expect([got, listed]).toEqual([make(), ['before', make()]])
      expect([kindOf(got), kindOf(listed[1])]).toEqual([kindOf(make()), kindOf(make())])
    })
  }

  test('keys, their types and insertion order survive, so popitem still takes the newest', async () => {
    using dir = tempDir()
    const url = `file:${dir.file('keys.cdb')}`
    const keys: Key[] = ['z', '', 0, '0', -1.5, 'é', '😀', 2 ** 53 - 1, '__proto__', 'a']
    {
      await using db = await connect(url)
      await db.createDict('d')
      for (const key of keys) await db.dict('d').set(key, String(key))
      await db.dict('d').delete('z')
      await db.dict('d').set('z', 'again')
    }
    await using db = await connect(url)
    const d = db.dict('d')
    expect(await d.keys()).toEqual([...keys.slice(1), 'z'])
    expect([await d.popitem(), await d.popitem()]).toEqual([['z', 'again'], ['a', 'a']])
  })

  test('every table, empty ones included, comes back with its type, size and order', async () => {
    using dir = tempDir()
    const url = `file:${dir.file('tables.cdb')}`
    {
      await using db = await connect(url)
      await db.createList('empty list')
      await db.createDict('empty dict')
      await db.createDict('d', { a: 1 })
      await db.createList('l', Array.from({ length: 10_000 }, (_, i) => i))
    }
    await using db = await connect(url)
    expect(await db.tables()).toEqual([
      { name: 'empty list', type: 'list', size: 0 },
      { name: 'empty dict', type: 'dict', size: 0 },
      { name: 'd', type: 'dict', size: 1 },
      { name: 'l', type: 'list', size: 10_000 },
    ])
    expect((await db.list('l').toArray()).at(-1)).toBe(9999)
  })

  test('encodeSnapshot and decodeSnapshot round-trip a store and count what they wrote', () => {
    const store = new Store()
    store.create('d', 'dict', [[1, 'a'], ['1', new Map([[2n, new Set([1])]])]], undefined)
    store.create('l', 'list', [null, undefined, new Date(0)], undefined)
    const { header, body, stats } = encodeSnapshot(store)
    expect(stats).toEqual({ tables: 2, entries: 5, bytes: header.length + body.length })
    const tables = decodeSnapshot(fileImage(store), 'mem')
    const loaded = new Store()
    loaded.replaceAll(tables)
    expect(loaded.list()).toEqual(store.list())
    expect(loaded.apply({ table: 'd', name: 'dict.entries', args: [] }))
      .toEqual(store.apply({ table: 'd', name: 'dict.entries', args: [] }))
    expect(loaded.apply({ table: 'l', name: 'list.slice', args: [] })).toEqual([null, undefined, new Date(0)])
  })
})

describe('opening a data file', () => {
  test('a missing file opens an empty database, and close writes the file', async () => {
    using dir = tempDir()
    const path = dir.file('new.cdb')
    const db = await connect(`file:${path}`)
    expect([await db.tables(), existsSync(path)]).toEqual([[], false])
    await db.close()
    expect(existsSync(path)).toBe(true)
    await using again = await connect(`file:${path}`)
    expect(await again.tables()).toEqual([])
  })

  function soundFile(): Uint8Array {
    const store = new Store()
    store.create('d', 'dict', { a: 1, b: 'two' }, undefined)
    store.create('l', 'list', [1, 2, 3], undefined)
    return fileImage(store)
  }
  const damaged: [string, (sound: Uint8Array) => Uint8Array, string?][] = [
    ['a flipped byte in the body', (f) => flip(f, f.length - 3), 'checksum'],
    ['a flipped byte in the header checksum', (f) => flip(f, 30), 'checksum'],
    ['a flipped byte in the header body length', (f) => flip(f, 27), 'truncated'],
    ['a table count that disagrees with the body', (f) => flip(f, 11, 0x04), 'malformed'],
    ['a bad magic', (f) => flip(f, 0), 'not a CyberDB snapshot'],
    ['a newer format version', (f) => set(f, 7, 5), 'format version 5'], // 4 is current (the change feed)
    ['an empty file', () => new Uint8Array(0), 'truncated'],
    ['a file cut inside the header', (f) => f.slice(0, 20), 'truncated'],
    ['a file cut right after the header', (f) => f.slice(0, 32), 'truncated'],
    ['a file cut in the middle of the body', (f) => f.slice(0, 32 + Math.floor((f.length - 32) / 2)), 'truncated'],
    ['a file missing its last byte', (f) => f.slice(0, -1), 'truncated'],
    ['a file with a byte appended', (f) => new Uint8Array([...f, 0]), 'padded'],
    ['a body that does not decode', () => {
      const garbage = new Uint8Array([0xc1, 0xc1, 0xc1])
      const header = encodeHeader(1, 0, garbage, 0, 1)
      return new Uint8Array([...header, ...garbage])
    }, 'does not decode'],
    ['a version 2 body cut inside a value', () => {
      const cut = new Uint8Array([0x91, 0x93, 0xa1, 0x74, 0xa4, 0x6c, 0x69, 0x73, 0x74, 0x01, 0x92, 0x01])
      const header = encodeHeader(1, 0, cut)
      return new Uint8Array([...header, ...cut])
    }, 'does not decode'],
    ['a body that is not a list of tables', () => craft({ d: 1 }, 1), 'malformed'],
    ['a table entry that is not an array', () => craft(['d'], 1), 'malformed'],
    ['a table of an unknown type', () => craft([['t', 'set', [1]]], 1), 'malformed'],
    ['a dict with a key but no value', () => craft([['t', 'dict', ['a', 1, 'b']]], 1), 'malformed'],
    ['a dict with an object key', () => craft([['t', 'dict', [{ k: 1 }, 1]]], 1), 'bad key'],
    ['a version 2 table list that is not an array', () => craft2([{ t: 1 }], 1), 'malformed'],
    ['a version 2 table without a size', () => craft2([[['t', 'list']], [1]], 1), 'malformed'],
    ['a version 2 table of an unknown type', () => craft2([[['t', 'set', 0]]], 1), 'malformed'],
    ['a version 2 table missing its chunks', () => craft2([[['t', 'list', 3]], [1, 2]], 1), 'malformed'],
    ['a version 2 table with more entries than its size', () => craft2([[['t', 'list', 1]], [1, 2]], 1), 'malformed'],
    ['a version 2 body with a value after the last table', () => craft2([[['t', 'list', 1]], [1], [2]], 1), 'malformed'],
    ['a version 2 dict chunk with a key but no value', () => craft2([[['t', 'dict', 1]], ['a', 1, 'b']], 1), 'malformed'],
    ['a version 2 dict with an object key', () => craft2([[['t', 'dict', 1]], [{ k: 1 }, 1]], 1), 'bad key'],
  ]
  for (const [what, damage, why] of damaged) {
    test(`${what} fails with SNAPSHOT_CORRUPT, leaves the file untouched and the lock free`, async () => {
      using dir = tempDir()
      const path = dir.file('bad.cdb')
      const bytes = damage(soundFile())
      writeFileSync(path, bytes)
      const error = await expectCode(connect(`file:${path}`), 'SNAPSHOT_CORRUPT')
      expect(error.message).toContain(why!)
      expect(error.message).toContain(path)
      // Again: SNAPSHOT_CORRUPT, not LOCKED, so the failed open released the lock.
      await expectCode(connect(`file:${path}`), 'SNAPSHOT_CORRUPT')
      expect(readFileSync(path)).toEqual(Buffer.from(bytes))
      expect(readdirSync(dir.path)).toEqual(['bad.cdb'])
    })
  }

  test('version 1 files (written before the operation log) and version 2 chunked tables load', async () => {
    using dir = tempDir()
    writeFileSync(dir.file('v1.cdb'), craft([['d', 'dict', ['a', 1, 2, [3]]], ['l', 'list', [1, 2]]], 2))
    const big = Array.from({ length: 20_000 }, (_, i) => i)
    writeFileSync(dir.file('v2.cdb'), craft2([[['l', 'list', 20_000], ['e', 'dict', 0], ['d', 'dict', 2]],
      big.slice(0, 7), big.slice(7), ['a', 1], [2, [3]]], 3))
    await using v1 = await connect(`file:${dir.file('v1.cdb')}`)
    expect([await v1.dict('d').entries(), await v1.list('l').toArray()]).toEqual([[['a', 1], [2, [3]]], [1, 2]])
    await using v2 = await connect(`file:${dir.file('v2.cdb')}`)
    expect([await v2.dict('d').entries(), await v2.list('l').toArray(), await v2.dict('e').size()])
      .toEqual([[['a', 1], [2, [3]]], big, 0])
  })

  test('the sound file that the damaged ones start from loads', async () => {
    using dir = tempDir()
    writeFileSync(dir.file('good.cdb'), soundFile())
    await using db = await connect(`file:${dir.file('good.cdb')}`)
    expect([await db.dict('d').toObject(), await db.list('l').toArray()]).toEqual([{ a: 1, b: 'two' }, [1, 2, 3]])
  })

  test('readSnapshot of a missing file is undefined', async () => {
    using dir = tempDir()
    expect(await readSnapshot(dir.file('none.cdb'))).toBeUndefined()
  })

  test('a leftover .tmp file from a crash neither breaks opening nor survives the next save', async () => {
    using dir = tempDir()
    const path = dir.file('data.cdb')
    writeFileSync(path, soundFile())
    writeFileSync(`${path}.tmp`, 'half a snapshot from a process that died')
    await using db = await connect(`file:${path}`)
    expect(await db.list('l').toArray()).toEqual([1, 2, 3])
    await db.save()
    expect(readdirSync(dir.path).toSorted()).toEqual(['data.cdb', 'data.cdb.lock', 'data.cdb.log'])
  })
})

describe('saving', () => {
  test('save writes the file now and reports its tables, entries and bytes', async () => {
    using dir = tempDir()
    const path = dir.file('s.cdb')
    await using db = await connect(`file:${path}`)
    await db.createDict('d', { a: 1, b: 2 })
    await db.createList('l', [1])
    const stats = await db.save()
    expect(stats).toEqual({ tables: 2, entries: 3, bytes: statSync(path).size })
    expect(readdirSync(dir.path).toSorted()).toEqual(['s.cdb', 's.cdb.lock', 's.cdb.log'])
    const tables = await readSnapshot(path)
    expect([...tables!.keys()]).toEqual(['d', 'l'])
  })

  test('each of several overlapping saves includes what was written before it was called', async () => {
    using dir = tempDir()
    const path = dir.file('s.cdb')
    await using db = await connect(`file:${path}`)
    await db.createList('l')
    const saves = []
    for (let i = 0; i < 10; i++) {
      await db.list('l').push(i)
      saves.push(db.save().then(async () => (await readSnapshot(path))!.get('l')!.size))
    }
    const sizes = await Promise.all(saves)
    for (const [i, size] of sizes.entries()) expect(size).toBeGreaterThanOrEqual(i + 1)
    expect(sizes.at(-1)).toBe(10)
  })

  test('close takes a final snapshot of what was written since the last save', async () => {
    using dir = tempDir()
    const url = `file:${dir.file('c.cdb')}`
    {
      await using db = await connect(url)
      await db.createDict('d', { saved: 1 })
      await db.save()
      await db.dict('d').set('after save', 2)
    }
    await using db = await connect(url)
    expect(await db.dict('d').toObject()).toEqual({ saved: 1, 'after save': 2 })
  })

  test('save(path) in file mode writes a copy elsewhere and leaves the data file as it was', async () => {
    using dir = tempDir()
    const path = dir.file('main.cdb')
    await using db = await connect(`file:${path}`)
    await db.createDict('d', { a: 1 })
    await db.save(dir.file('copy.cdb'))
    expect(existsSync(path)).toBe(false)
    await using copy = await connect(`file:${dir.file('copy.cdb')}`)
    expect(await copy.dict('d').toObject()).toEqual({ a: 1 })
  })

  test('save() on memory:// fails with BAD_ARGUMENT, save(path) writes a loadable file', async () => {
    using dir = tempDir()
    await using db = await connect('memory://')
    await db.createList('l', [1, 2n, { three: 3 }])
    const error = await expectCode(db.save(), 'BAD_ARGUMENT')
    expect(error.message).toContain('save(path)')
    const stats = await db.save(dir.file('m.cdb'))
    expect(stats).toEqual({ tables: 1, entries: 3, bytes: statSync(dir.file('m.cdb')).size })
    await using loaded = await connect(`file:${dir.file('m.cdb')}`)
    expect(await loaded.list('l').toArray()).toEqual([1, 2n, { three: 3 }])
  })

  test('save after close fails with CONNECTION_CLOSED', async () => {
    using dir = tempDir()
    const db = await connect(`file:${dir.file('x.cdb')}`)
    await db.close()
    await expectCode(db.save(), 'CONNECTION_CLOSED')
    const memory = await connect('memory://')
    await memory.close()
    await expectCode(memory.save(dir.file('y.cdb')), 'CONNECTION_CLOSED')
  })

  test('writeSnapshot replaces the file atomically through a .tmp sibling it does not leave behind', async () => {
    using dir = tempDir()
    const path = dir.file('w.cdb')
    const store = new Store()
    store.create('l', 'list', [1], undefined)
    await writeSnapshot(store, path)
    store.apply({ table: 'l', name: 'list.push', args: [2] })
    await writeSnapshot(store, path)
    expect(readdirSync(dir.path)).toEqual(['w.cdb'])
    expect((await readSnapshot(path))!.get('l')!.size).toBe(2)
  })

  test('?backup= snapshots periodically while the database is open', async () => {
    using dir = tempDir()
    const path = dir.file('b.cdb')
    await using db = await connect(`file:${path}?backup=0.05`)
    await db.createDict('d', { n: 1 })
    const stored = async () => {
      try {
        return (await readSnapshot(path))?.get('d')?.size
      } catch {
        return undefined // a snapshot being renamed in right now: look again
      }
    }
    await waitFor(async () => (await stored()) === 1, 'the first periodic snapshot')
    await db.dict('d').set('m', 2)
    await waitFor(async () => (await stored()) === 2, 'a later periodic snapshot with the new key')
  })
})

describe('crash during save', () => {
  const TRIALS = 24
  const COUNTERS = 50 // as in save-loop-fixture.ts
  const PER_GENERATION = COUNTERS + 3 // push, the counters, payload, generation

  /** What the fixture's first `n` writes leave. */
  function stateAfter(n: number): { counters: Record<string, unknown>; log: number[] } {
    const g = Math.floor(n / PER_GENERATION)
    const r = n % PER_GENERATION
    const counters: Record<string, unknown> = {}
    for (let i = 0; i < COUNTERS; i++) if (i < r - 1 || g > 0) counters[`k${i}`] = i < r - 1 ? g + 1 : g
    if (r === PER_GENERATION - 1) counters.payload = 'x'.repeat(((g + 1) * 7919) % 20_000)
    else if (g > 0) counters.payload = 'x'.repeat((g * 7919) % 20_000)
    if (g > 0) counters.generation = g
    return { counters, log: Array.from({ length: g + (r > 0 ? 1 : 0) }, (_, i) => i + 1) }
  }

  /** How many of the fixture's writes a state holds (checked against stateAfter by the caller). */
  function writesIn(counters: Record<string, unknown>, log: number[]): number {
    const g = (counters.generation ?? 0) as number
    if (log.length === g) return g * PER_GENERATION
    let r = 1
    while (r - 1 < COUNTERS && counters[`k${r - 1}`] === g + 1) r++
    if (counters.payload === 'x'.repeat(((g + 1) * 7919) % 20_000)) r++
    return g * PER_GENERATION + r
  }

  test(`a process killed with SIGKILL at ${TRIALS} random moments always leaves a loadable file ` +
    'holding a prefix of its writes and every save it reported', async () => {
    using dir = tempDir()
    const path = dir.file('crash.cdb')
    const random = mulberry32(0xc0ffee)
    let generation = 0 // the last whole generation the file held when the last trial ended
    for (let trial = 0; trial < TRIALS; trial++) {
      const child = spawnFixture('save-loop-fixture.ts', [path])
      // Kill after 0 to 4 finished saves, then after a random number of event-loop turns: the kill
      // lands anywhere in the child's cycle of writes, log writes, encode, write .tmp, fsync, rename.
      const saves = Math.floor(random() * 5)
      await child.stdout.until((lines) => lines.length >= 1 + saves, `${saves} saves in trial ${trial}`)
      for (let turns = Math.floor(random() * 40); turns > 0; turns--) await new Promise(setImmediate)
      child.proc.kill('SIGKILL')
      const { stdout, stderr, exitCode, signal } = await child.finish()

      // The child loaded what the previous trial left, then reported consecutive saves.
      const lines = stdout.split('\n').filter((line) => line !== '')
      const reported = lines.length - 1
      expect({ trial, exitCode, signal, lines }).toEqual({
        trial, exitCode: null, signal: 'SIGKILL',
        lines: [`loaded ${generation}`, ...Array.from({ length: reported }, (_, i) => `saved ${generation + i + 1}`)],
      })
      // Only the warning about a torn log record a kill may leave.
      expect({ trial, stderr: stderr.replace(/^cyberdb: .*dropping a torn last record.*\n/gm, '') })
        .toEqual({ trial, stderr: '' })

      // The file loads and holds a prefix of the writes, at least every save the child reported.
      await using db = await connect(`file:${path}`)
      const names = (await db.tables()).map((table) => table.name)
      const counters = names.includes('counters') ? await db.dict('counters').toObject() : {}
      const log = names.includes('log') ? await db.list<number>('log').toArray() : []
      const n = writesIn(counters, log)
      expect({ trial, state: { counters, log } }).toEqual({ trial, state: stateAfter(n) })
      expect({ trial, enough: n >= (generation + reported) * PER_GENERATION }).toEqual({ trial, enough: true })
      generation = (counters.generation ?? 0) as number
      await db.close()
    }
    expect(generation).toBeGreaterThan(0)
  }, 10_000) // about 2 s on an idle machine (child processes): slower under load
})

function flip(file: Uint8Array, offset: number, mask = 0xff): Uint8Array {
  const copy = file.slice()
  copy[offset]! ^= mask
  return copy
}

function set(file: Uint8Array, offset: number, value: number): Uint8Array {
  const copy = file.slice()
  copy[offset] = value
  return copy
}

describe('cache tables in a snapshot (format 3)', () => {
  function cacheStore(): Store {
    const store = new Store()
    store.apply({ table: 'c', name: 'db.create', args: ['dict', { a: 1 }, false, { ttl: 100, maxEntries: 9 }] }, undefined, 1000)
    store.apply({ table: 'c', name: 'dict.set', args: ['b', 2, { deadline: 1005 }] }, undefined, 1000)
    store.apply({ table: 'c', name: 'dict.set', args: ['p', 3, { ttl: null }] }, undefined, 1000)
    store.apply({ table: 'l', name: 'db.create', args: ['list', [1, 2], false, { maxLength: 2 }] }, undefined, 1000)
    store.apply({ table: 'c', name: 'dict.size', args: [] }, undefined, 1010) // b expired, not swept
    return store
  }

  test('options, absolute deadlines, unswept expired keys and the time seen survive a round trip', () => {
    const tables = decodeSnapshot(fileImage(cacheStore()), 'mem')
    const c = tables.get('c') as DictTable
    const l = tables.get('l') as ListTable
    expect([c.options, [...c.storedKeys()], c.deadlineEntries(), c.now, c.size, c.has('b'), l.options])
      .toEqual([{ ttl: 100, maxEntries: 9 }, ['a', 'b', 'p'], [['a', 1100], ['b', 1005]], 1010, 2, false,
        { maxLength: 2 }])
    // the time is kept: an earlier one after a restart revives nothing
    c.advance(0)
    expect(c.has('b')).toBe(false)
  })

  test('deadline chunks that disagree with the table entry fail with SNAPSHOT_CORRUPT', () => {
    const bad: [string, unknown[]][] = [
      ['a count larger than the chunks', [[['c', 'dict', 1, null, 2, 5]], ['k', 1], ['k', 9]]],
      ['a deadline for a key the table lacks', [[['c', 'dict', 1, null, 1, 5]], ['k', 1], ['zz', 9]]],
      ['a deadline that is not a number', [[['c', 'dict', 1, null, 1, 5]], ['k', 1], ['k', 'soon']]],
      ['options that do not check', [[['c', 'dict', 1, { maxEntries: 0 }, 0, 5]], ['k', 1]]],
      ['an entry of the wrong length', [[['c', 'dict', 1, null, 0]], ['k', 1]]],
    ]
    for (const [what, values] of bad) {
      const codec = createCodec()
      const bytes = Buffer.concat(values.map((value) => codec.pack(value)))
      const header = encodeHeader(1, 1, bytes, 0)
      const file = Buffer.concat([header, bytes])
      let code: string | undefined
      try {
        decodeSnapshot(file, what)
      } catch (error) {
        code = (error as { code?: string }).code
      }
      expect([what, code]).toEqual([what, 'SNAPSHOT_CORRUPT'])
    }
  })
})
