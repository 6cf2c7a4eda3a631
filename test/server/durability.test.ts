// The server's operation log: a write's reply leaves only once its record is durable as the policy
// says, reads never touch the log, load() continues a data file's log, and group commit shares one
// fdatasync among the writes of one turn.

import { describe, expect, test } from 'bun:test'
import { copyFileSync, existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { Host } from '../../src/host/host.ts'
import { Server, connect } from '../../src/index.ts'
import { DataFile } from '../../src/persistence/data-file.ts'
import { LOG_HEADER_BYTES, encodeLogHeader } from '../../src/persistence/log-format.ts'
import { scanLog } from '../../src/persistence/log-reader.ts'
import { expectCode, tempDir } from '../contract/helpers.ts'

const PASSWORD = 'durability-test'
const url = (port: number) => `cyberdb://:${PASSWORD}@127.0.0.1:${port}`

async function serve(server: Server): Promise<number> {
  return (await server.listen({ host: '127.0.0.1', port: 0, password: PASSWORD })).port
}

/** The files as a crash would leave them now, copied where no lock is held. */
function copyAside(from: string, to: string): void {
  for (const name of readdirSync(dirname(from))) {
    const suffix = name.slice(basename(from).length)
    if (name.startsWith(basename(from)) && (suffix === '' || suffix.startsWith('.log'))) {
      copyFileSync(join(dirname(from), name), to + suffix)
    }
  }
}

describe('acknowledged writes are in the log', () => {
  for (const durability of ['always', 'everysec', 'no'] as const) {
    test(`${durability}: every write a client saw acknowledged is recovered from a copy taken right then`, async () => {
      using dir = tempDir()
      const path = dir.file('s.cdb')
      await using server = new Server()
      server.setBackup(path, 300, { durability })
      await using db = await connect(url(await serve(server)))
      await db.createList('l')
      for (let i = 0; i < 10; i++) {
        await db.list('l').push(i)
        copyAside(path, dir.file(`at-${i}.cdb`))
      }
      for (const i of [0, 4, 9]) {
        const crashedHost = new Host()
        await using crashed = new Server({ host: crashedHost })
        await crashed.load(dir.file(`at-${i}.cdb`))
        expect(crashedHost.store.apply({ table: 'l', name: 'list.slice', args: [] }))
          .toEqual(Array.from({ length: i + 1 }, (_, j) => j))
      }
    })
  }

  test('always: each sequential write is acknowledged only after an fdatasync that covers it', async () => {
    using dir = tempDir()
    const host = new Host()
    await using server = new Server({ host })
    server.setBackup(dir.file('a.cdb'), 300, { durability: 'always' })
    await using db = await connect(url(await serve(server)))
    await db.createDict('d')
    const log = host.log!
    for (let i = 0; i < 5; i++) {
      const before = log.counts.syncs
      await db.dict('d').set(`k${i}`, i)
      expect(log.counts.syncs).toBeGreaterThan(before)
    }
  })

  test('always: pipelined writes of one connection and writes of many connections share fdatasyncs', async () => {
    using dir = tempDir()
    const host = new Host()
    await using server = new Server({ host })
    server.setBackup(dir.file('g.cdb'), 300, { durability: 'always' })
    const port = await serve(server)
    const clients = await Promise.all(Array.from({ length: 8 }, () => connect(`${url(port)}?pool=1`)))
    await clients[0]!.createDict('d')
    const log = host.log!
    const before = { ...log.counts }
    await Promise.all(clients.map((db, c) =>
      Promise.all(Array.from({ length: 50 }, (_, i) => db.dict('d').set(`c${c}-${i}`, i)))))
    const syncs = log.counts.syncs - before.syncs
    expect({ size: host.store.tables.get('d')!.size, shared: syncs < 400 / 4 }).toEqual({ size: 400, shared: true })
    for (const db of clients) await db.close()
  })

  test('reads never touch the log', async () => {
    using dir = tempDir()
    const path = dir.file('r.cdb')
    const host = new Host()
    await using server = new Server({ host })
    server.setBackup(path, 300)
    await using db = await connect(url(await serve(server)))
    await db.createDict('d', { a: 1 })
    const log = host.log!
    const [appended, bytes] = [log.appended, readFileSync(`${path}.log`).length]
    await db.dict('d').get('a')
    await db.dict('d').entries()
    await db.tables()
    for await (const entry of db.dict('d')) expect(entry).toEqual(['a', 1])
    await expectCode(db.dict('d').pop('nope'), 'KEY_NOT_FOUND')
    expect([log.appended, readFileSync(`${path}.log`).length]).toEqual([appended, bytes])
  })
})

describe('load and setBackup', () => {
  test('load() replays the log and setBackup() on the same file continues it', async () => {
    using dir = tempDir()
    const path = dir.file('c.cdb')
    {
      const server = new Server()
      server.setBackup(path, 300)
      await using db = await connect(url(await serve(server)))
      await db.createDict('d', { a: 1 })
      await db.dict('d').set('b', 2)
      copyAside(path, dir.file('crashed.cdb'))
      await db.close()
      await server.close()
    }
    const crashed = dir.file('crashed.cdb')
    expect(existsSync(crashed)).toBe(false) // nothing but the log holds the writes
    {
      await using server = new Server()
      expect(await server.load(crashed)).toEqual({ tables: 1, entries: 2, bytes: 0 })
      server.setBackup(crashed, 300)
      await using db = await connect(url(await serve(server)))
      await db.dict('d').set('c', 3)
      const scan = scanLog(readFileSync(`${crashed}.log`), 'log')
      expect(scan.records.map((r) => r.name)).toEqual(['db.create', 'dict.set', 'dict.set'])
    }
    const againHost = new Host()
    await using again = new Server({ host: againHost })
    await again.load(crashed)
    expect(againHost.store.apply({ table: 'd', name: 'dict.entries', args: [] })).toEqual([['a', 1], ['b', 2], ['c', 3]])
  })

  test('setBackup() without load() rewrites the file with the server\'s tables at once', async () => {
    using dir = tempDir()
    const path = dir.file('o.cdb')
    writeFileSync(`${path}.log`, encodeLogHeader(0)) // someone else's empty log
    {
      const host = new Host()
      await using server = new Server({ host })
      host.store.create('mine', 'list', [1], undefined)
      server.setBackup(path, 300)
      await server.save()
      expect(readdirSync(dir.path).toSorted()).toEqual(['o.cdb', 'o.cdb.lock', 'o.cdb.log'])
      // The old log set aside as generation 0, the new one 1, its first snapshot 2, this save 3.
      expect(scanLog(readFileSync(`${path}.log`), 'log').generation).toBe(3)
    }
    const againHost = new Host()
    await using again = new Server({ host: againHost })
    await again.load(path)
    expect(againHost.store.list()).toEqual([{ name: 'mine', type: 'list', size: 1 }])
  })

  test('load() of a data file whose log is corrupt fails with SNAPSHOT_CORRUPT and changes nothing', async () => {
    using dir = tempDir()
    const path = dir.file('bad.cdb')
    const garbage = new Uint8Array([...encodeLogHeader(0), 0, 0, 0, 1, 0, 0, 0, 0, 0xc0, 0, 0, 0, 0])
    writeFileSync(`${path}.log`, garbage)
    const host = new Host()
    await using server = new Server({ host })
    host.store.create('kept', 'dict', undefined, undefined)
    const error = await expectCode(server.load(path), 'SNAPSHOT_CORRUPT')
    expect(error.message).toContain(`byte ${LOG_HEADER_BYTES}`)
    expect([host.store.list(), readFileSync(`${path}.log`)]).toEqual([[{ name: 'kept', type: 'dict', size: 0 }], Buffer.from(garbage)])
  })

  test('a server given a host that saves to its own data file leaves that file to its owner', async () => {
    using dir = tempDir()
    const host = new Host()
    const file = await DataFile.open(host, dir.file('embedded.cdb'))
    host.saver = file
    const server = new Server({ host })
    expect(() => server.setBackup(dir.file('other.cdb'), 300)).toThrow('this server saves through its embedded database')
    expect(server.backupPath).toBe(dir.file('embedded.cdb'))
    expect(await server.close()).toBeUndefined() // no final snapshot: the file is not the server's
    expect(host.saver).toBe(file)
    await file.close()
  })

  test('db.serve(): remote writes go to the embedded database\'s log', async () => {
    using dir = tempDir()
    const path = dir.file('e.cdb')
    await using db = await connect(`file:${path}?durability=always`)
    const { port } = await db.serve({ host: '127.0.0.1', port: 0, password: PASSWORD })
    await using remote = await connect(url(port))
    await remote.createDict('d', { from: 'remote' })
    copyAside(path, dir.file('copy.cdb'))
    await using copy = await connect(`file:${dir.file('copy.cdb')}`)
    expect(await copy.dict('d').toObject()).toEqual({ from: 'remote' })
  })
})
