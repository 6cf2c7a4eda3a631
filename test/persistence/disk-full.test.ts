// A log write the disk refuses (ENOSPC, injected through the log's one write seam): the writers get
// a clear error, memory is as it was before those writes, and once the disk has room again writes
// and save() work without a restart; a restart then holds exactly the acknowledged writes.

import { describe, expect, test } from 'bun:test'
import { copyFileSync, existsSync, writeSync } from 'node:fs'
import { Database } from '../../src/client/database.ts'
import { EmbeddedTransport } from '../../src/client/embedded.ts'
import { Server, connect } from '../../src/index.ts'
import { writeAll, type LogIO } from '../../src/persistence/log-format.ts'
import { recover } from '../../src/persistence/log-reader.ts'
import type { DictTable } from '../../src/engine/dict-table.ts'
import { expectCode, tempDir } from '../contract/helpers.ts'
import { Host } from '../../src/host/host.ts'

/** A disk that, while full, takes a few bytes of a write and then refuses the rest, as a real
 * one does when it runs out of blocks mid-write. */
class Disk implements LogIO {
  full = false
  write(fd: number, bytes: Uint8Array): void {
    if (!this.full) return writeAll(fd, bytes)
    writeSync(fd, bytes, 0, Math.min(5, bytes.length))
    throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28 })
  }
}

const FULL = /^the operation log .* could not take .*\(the disk is full\): writes work again once the disk has room$/

/** What a restart would see now: the files copied where no lock is held, recovered read-only. */
async function restartView(path: string, to: string): Promise<Record<string, unknown>> {
  for (const suffix of ['', '.log']) if (existsSync(path + suffix)) copyFileSync(path + suffix, to + suffix)
  const recovered = await recover(to, () => {})
  return Object.fromEntries(recovered.tables!.get('d') as DictTable)
}

const quietErrors = () => {
  const original = console.error
  console.error = () => {}
  return { [Symbol.dispose]: () => void (console.error = original) }
}

/** Writes refused while the disk is full leave the tables as they were; once it has room, writes
 * and save() work, and a restart sees exactly the acknowledged writes. `whileFull` checks more. */
async function fillThenRecover(db: Database, disk: Disk, path: string, copy: string,
  whileFull: () => unknown): Promise<void> {
  const d = db.dict('d')
  await db.createDict('d')
  await d.set('a', 1)
  disk.full = true
  const refused = await Promise.allSettled([d.set('b', 2), d.incr('a', 10), d.set('c', 3)])
  for (const result of refused) {
    expect(result.status).toBe('rejected')
    const error = (result as PromiseRejectedResult).reason
    expect([error.code, FULL.test(error.message)]).toEqual(['INTERNAL', true])
  }
  expect(await d.toObject()).toEqual({ a: 1 })
  await whileFull()
  disk.full = false
  await d.set('e', 5)
  expect(await db.save()).toEqual({ tables: 1, entries: 2, bytes: expect.any(Number) })
  await d.set('f', 6)
  expect(await d.toObject()).toEqual({ a: 1, e: 5, f: 6 })
  expect(await restartView(path, copy)).toEqual({ a: 1, e: 5, f: 6 })
}

describe('the disk refuses a log write', () => {
  for (const durability of ['always', 'everysec'] as const) {
    test(`embedded, ${durability}: writers get the error, memory is as before, then writes and save() work`, async () => {
      using _ = quietErrors()
      using dir = tempDir()
      const path = dir.file('e.cdb')
      const disk = new Disk()
      await using db = new Database(await EmbeddedTransport.file({ path, durability, io: disk }))
      await fillThenRecover(db, disk, path, dir.file('copy.cdb'), async () => {
        const save = await expectCode(db.save(), 'INTERNAL')
        expect(FULL.test(save.message)).toBe(true)
      })
    })

    test(`server, ${durability}: writers get the same error, the connection serves on, then writes and save() work`, async () => {
      using _ = quietErrors()
      using dir = tempDir()
      const path = dir.file('s.cdb')
      const disk = new Disk()
      const host = new Host()
      await using server = new Server({ host })
      server.setBackup(path, 300, { durability, io: disk })
      const { port } = await server.listen({ host: '127.0.0.1', port: 0 })
      await using db = await connect(`cyberdb://127.0.0.1:${port}?pool=1`)
      await fillThenRecover(db, disk, path, dir.file('copy.cdb'), () => {
        expect(host.store.apply({ table: 'd', name: 'dict.entries', args: [] })).toEqual([['a', 1]])
      })
    })
  }
})
