import { describe, expect, test } from 'bun:test'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { connect } from '../../src/index.ts'
import { FileLock } from '../../src/persistence/lock.ts'
import { expectCode, tempDir } from '../contract/helpers.ts'
import { spawnFixture } from '../fixtures/spawn.ts'

/** The pid of a process that has exited (and been reaped), so no process runs under it. */
async function deadPid(): Promise<number> {
  const proc = Bun.spawn([process.execPath, '-e', ''], { stdout: 'ignore', stderr: 'ignore' })
  await proc.exited
  return proc.pid
}

describe('FileLock', () => {
  test('acquire writes PATH.lock holding this pid and release removes it, once', () => {
    using dir = tempDir()
    const path = dir.file('x.cdb')
    const lock = FileLock.acquire(path)
    expect(readFileSync(`${path}.lock`, 'utf8')).toBe(String(process.pid))
    lock.release()
    expect(existsSync(`${path}.lock`)).toBe(false)
    lock.release()
    FileLock.acquire(path).release()
  })

  test('a second acquire in the same process fails with LOCKED', async () => {
    using dir = tempDir()
    const lock = FileLock.acquire(dir.file('x.cdb'))
    const error = await expectCode(() => FileLock.acquire(dir.file('x.cdb')), 'LOCKED')
    expect(error.message).toContain('this process')
    lock.release()
  })

  test('releasing one holder does not free a lock taken over by another', () => {
    using dir = tempDir()
    const path = dir.file('x.cdb')
    const first = FileLock.acquire(path)
    first.release()
    const second = FileLock.acquire(path)
    first.release() // already released: must not delete the second holder's lock file
    expect(readFileSync(`${path}.lock`, 'utf8')).toBe(String(process.pid))
    second.release()
  })
})

describe('one process per data file', () => {
  test('opening a file twice in one process fails with LOCKED until the first closes', async () => {
    using dir = tempDir()
    const url = `file:${dir.file('x.cdb')}`
    const first = await connect(url)
    await first.createList('l', [1])
    await expectCode(connect(url), 'LOCKED')
    await expectCode(connect(`file:${dir.path}/./x.cdb`), 'LOCKED') // another spelling, same file
    expect(await first.list('l').toArray()).toEqual([1])
    await first.close()
    await using second = await connect(url)
    expect(await second.list('l').toArray()).toEqual([1])
  })

  test('a lock file left by a dead process is taken over', async () => {
    using dir = tempDir()
    const path = dir.file('x.cdb')
    const pid = await deadPid()
    writeFileSync(`${path}.lock`, String(pid))
    await using db = await connect(`file:${path}`)
    expect(readFileSync(`${path}.lock`, 'utf8')).toBe(String(process.pid))
  })

  test('a lock file that holds no pid is taken over', async () => {
    using dir = tempDir()
    const path = dir.file('x.cdb')
    writeFileSync(`${path}.lock`, 'not a pid')
    await using db = await connect(`file:${path}`)
    expect(readFileSync(`${path}.lock`, 'utf8')).toBe(String(process.pid))
  })

  test('a lock file naming a live process that does not hold it (a reused pid) is taken over', async () => {
    // The lock is the flock on the file, not the pid in it: a server killed with -9 whose pid now
    // belongs to another live process (PID 1 in a restarted container) must not block restarts.
    using dir = tempDir()
    const path = dir.file('x.cdb')
    writeFileSync(`${path}.lock`, String(process.ppid))
    await using db = await connect(`file:${path}`)
    expect(readFileSync(`${path}.lock`, 'utf8')).toBe(String(process.pid))
  })

  test('processes racing on a lock left by a killed holder: exactly one wins each round, the others get LOCKED', async () => {
    using dir = tempDir()
    const path = dir.file('race.cdb')
    const rounds = 8
    const racers = 3
    for (let round = 0; round < rounds; round++) {
      // The previous round's winner was killed with -9: its pid is still in the lock file.
      const start = Date.now() + 400
      const children = Array.from({ length: racers }, () => spawnFixture('lock-race-fixture.ts', [path, String(start)]))
      await Promise.all(children.map((child) => child.stdout.until((lines) => lines.length > 0, `round ${round}`)))
      const results = children.map((child) => child.stdout.lines()[0])
      expect({ round, results: results.toSorted() }).toEqual({ round, results: ['LOCKED', 'LOCKED', 'won'] })
      for (const child of children) child.proc.kill('SIGKILL')
      await Promise.all(children.map((child) => child.finish()))
    }
  }, 15_000) // about 3.3 s on an idle machine (child processes): slower under load

  test('a second process opening a file this process holds gets LOCKED, and opens it once released', async () => {
    using dir = tempDir()
    const path = dir.file('x.cdb')
    const db = await connect(`file:${path}`)
    await db.createDict('mine')
    await db.save()
    expect(await spawnFixture('open-fixture.ts', [path]).finish())
      .toEqual({ stdout: '{"code":"LOCKED"}\n', stderr: '', exitCode: 0, signal: null })
    await db.close()
    expect(await spawnFixture('open-fixture.ts', [path]).finish()).toEqual({
      stdout: `${JSON.stringify({ opened: true, tables: [{ name: 'mine', type: 'dict', size: 0 }] })}\n`,
      stderr: '',
      exitCode: 0,
      signal: null,
    })
  })

  test('a file held by another process is LOCKED here until that process is killed', async () => {
    using dir = tempDir()
    const path = dir.file('x.cdb')
    const child = spawnFixture('hold-fixture.ts', [path])
    await child.stdout.until((lines) => lines.includes('ready'), 'the child to hold the file')
    const error = await expectCode(connect(`file:${path}`), 'LOCKED')
    expect(error.message).toContain(`process ${child.proc.pid}`)
    child.proc.kill('SIGKILL')
    expect(await child.finish()).toEqual({ stdout: 'ready\n', stderr: '', exitCode: null, signal: 'SIGKILL' })
    await using db = await connect(`file:${path}`)
    expect(await db.dict('held').toObject()).toEqual({ by: child.proc.pid })
  })
})
