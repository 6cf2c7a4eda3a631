// `cyberdb serve --durability` and `cyberdb repair`, run as a user runs them: a child process,
// its stdout, stderr and exit code. (The rest of the command: main.test.ts.)

import { describe, expect, test } from 'bun:test'
import { readFileSync, writeFileSync } from 'node:fs'
import { Server, connect } from '../../src/index.ts'
import { FileLock } from '../../src/persistence/lock.ts'
import { LOG_HEADER_BYTES, RECORD_HEADER_BYTES, encodeLogHeader, encodeRecord } from '../../src/persistence/log-format.ts'
import { expectCode, tempDir } from '../contract/helpers.ts'
import { spawnCli } from '../fixtures/spawn.ts'
import { Host } from '../../src/host/host.ts'

function cyberdb(args: string[]) {
  return spawnCli(args, { CYBERDB_PASSWORD: 'pw' })
}

const RECORDS = [
  encodeRecord({ table: 'l', name: 'db.create', args: ['list'] }),
  encodeRecord({ table: 'l', name: 'list.push', args: [1] }),
  encodeRecord({ table: 'l', name: 'list.push', args: [2] }),
  encodeRecord({ table: 'l', name: 'list.push', args: [3] }),
]

/** A log whose third record fails its checksum, with one good record after it. */
function brokenLog(): Uint8Array {
  const image = new Uint8Array(Buffer.concat([encodeLogHeader(0), ...RECORDS]))
  image[LOG_HEADER_BYTES + RECORDS[0]!.length + RECORDS[1]!.length + RECORD_HEADER_BYTES + 1]! ^= 0xff
  return image
}

describe('cyberdb serve --durability', () => {
  test('always: every write acknowledged before a SIGKILL of the server is in the file', async () => {
    using dir = tempDir()
    const data = dir.file('serve.cdb')
    const child = cyberdb(['serve', '--port', '0', '--data', data, '--durability', 'always'])
    await child.stdout.until((lines) => lines.some((line) => line.includes(' on 127.0.0.1:')), 'the start line')
    const port = Number(/127\.0\.0\.1:(\d+)/.exec(child.stdout.text)![1])
    {
      await using db = await connect(`cyberdb://:pw@127.0.0.1:${port}`)
      await db.createList('l')
      for (let i = 0; i < 20; i++) await db.list('l').push(i)
    }
    child.proc.kill('SIGKILL')
    expect((await child.finish()).signal).toBe('SIGKILL')
    const host = new Host()
    await using server = new Server({ host })
    await server.load(data)
    expect(host.store.apply({ table: 'l', name: 'list.slice', args: [] })).toEqual(Array.from({ length: 20 }, (_, i) => i))
  })

  test('an unknown durability is refused, naming the three', async () => {
    const { stderr, exitCode } = await cyberdb(['serve', '--port', '0', '--durability', 'sometimes']).finish()
    expect({ stderr, exitCode }).toEqual({
      stderr: 'cyberdb: BAD_ARGUMENT: --durability takes always, everysec, no, not "sometimes"\n', exitCode: 1,
    })
  })
})

describe('cyberdb repair', () => {
  test('prints what it drops, cuts the log at its last good record, and the file opens again', async () => {
    using dir = tempDir()
    const data = dir.file('r.cdb')
    writeFileSync(`${data}.log`, brokenLog())
    await expectCode(connect(`file:${data}`), 'SNAPSHOT_CORRUPT')
    const bad = LOG_HEADER_BYTES + RECORDS[0]!.length + RECORDS[1]!.length
    const size = bad + RECORDS[2]!.length + RECORDS[3]!.length
    const dry = await cyberdb(['repair', `${data}.log`, '--dry-run']).finish()
    const line = `${data}.log: 2 good records (${bad} bytes); dropping ${size - bad} bytes from byte ${bad} ` +
      'to the end: a record that fails its checksum, then 1 whole records\n'
    expect(dry).toEqual({ stdout: line, stderr: '', exitCode: 0, signal: null })
    expect(readFileSync(`${data}.log`).length).toBe(size)
    const run = await cyberdb(['repair', data]).finish()
    expect(run).toEqual({ stdout: `${line}cyberdb: cut 1 log\n`, stderr: '', exitCode: 0, signal: null })
    expect(readFileSync(`${data}.log`).length).toBe(bad)
    await using db = await connect(`file:${data}`)
    expect(await db.list('l').toArray()).toEqual([1])
  })

  test('a sound log is left as it is; an open database is LOCKED; --help and a missing file', async () => {
    using dir = tempDir()
    const data = dir.file('ok.cdb')
    writeFileSync(`${data}.log`, new Uint8Array(Buffer.concat([encodeLogHeader(0), ...RECORDS])))
    const sound = await cyberdb(['repair', data]).finish()
    expect(sound.stdout).toEqual(`${data}.log: 4 good records (${LOG_HEADER_BYTES + Buffer.concat(RECORDS).length} ` +
      'bytes); nothing to drop\ncyberdb: nothing to repair\n')
    writeFileSync(`${data}.log`, brokenLog())
    const lock = FileLock.acquire(data) // as an open database holds it
    const locked = await cyberdb(['repair', data]).finish()
    lock.release()
    expect({ exitCode: locked.exitCode, locked: locked.stderr.includes('LOCKED') }).toEqual({ exitCode: 1, locked: true })
    expect(readFileSync(`${data}.log`)).toEqual(Buffer.from(brokenLog()))
    const help = await cyberdb(['repair', '--help']).finish()
    expect([help.exitCode, help.stdout.startsWith('usage: cyberdb repair FILE')]).toEqual([0, true])
    const missing = await cyberdb(['repair', dir.file('none.cdb')]).finish()
    expect([missing.exitCode, missing.stderr]).toEqual([1, `cyberdb: BAD_ARGUMENT: no such file: ${dir.file('none.cdb')}\n`])
  })
})
