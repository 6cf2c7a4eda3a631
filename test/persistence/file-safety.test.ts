// Files a data file writes are its own: a symlink planted at PATH.tmp is removed, never written
// through, and every file (snapshot, log, rotated log, lock) is created readable by its owner only.

import { describe, expect, test } from 'bun:test'
import { lstatSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { connect } from '../../src/index.ts'
import { tempDir } from '../contract/helpers.ts'

describe('file safety', () => {
  test('a symlink planted at PATH.tmp: its target is untouched and the save succeeds', async () => {
    using dir = tempDir()
    const path = dir.file('s.cdb')
    const victim = dir.file('victim.txt')
    writeFileSync(victim, 'precious')
    await using db = await connect(`file:${path}`)
    await db.createDict('d', { a: 1 })
    symlinkSync(victim, `${path}.tmp`)
    expect(await db.save()).toEqual({ tables: 1, entries: 1, bytes: expect.any(Number) })
    expect(readFileSync(victim, 'utf8')).toBe('precious')
    expect(lstatSync(path).isSymbolicLink()).toBe(false)
    expect(readdirSync(dir.path).toSorted()).toEqual(['s.cdb', 's.cdb.lock', 's.cdb.log', 'victim.txt'])
  })

  test('snapshot, log and lock are created with mode 0600 (a rotated log is the renamed log)', async () => {
    using dir = tempDir()
    const path = dir.file('m.cdb')
    const mode = (name: string) => [name, (statSync(join(dir.path, name)).mode & 0o777).toString(8)]
    await using db = await connect(`file:${path}`)
    await db.createDict('d', { a: 1 })
    await db.save()
    await db.dict('d').set('b', 2)
    expect(readdirSync(dir.path).toSorted().map(mode)).toEqual([
      ['m.cdb', '600'], ['m.cdb.lock', '600'], ['m.cdb.log', '600'],
    ])
  })
})
