// openSync(): the shared contracts over a SyncDatabase (every op through its synchronous handle
// methods, test/fixtures/sync-adapter.ts), then what only the synchronous database promises:
// errors thrown at once, values copied, iteration, one host with `database` and serve(), and
// durability=always on disk when a set() returns.

import { afterAll, describe, expect, test } from 'bun:test'
import { statSync } from 'node:fs'
import { Database } from '../../src/client/database.ts'
import { EmbeddedTransport } from '../../src/client/embedded.ts'
import { SyncDatabase } from '../../src/client/sync-database.ts'
import { CyberError, connect, manualClock, openSync } from '../../src/index.ts'
import { cacheContract } from '../contract/cache.contract.ts'
import { feedContract } from '../contract/feed.contract.ts'
import { tempDir, uniqueName } from '../contract/helpers.ts'
import { propertyContract, ttlPropertyContract } from '../contract/property.contract.ts'
import { storeContract } from '../contract/store.contract.ts'
import { takeContract } from '../contract/take.contract.ts'
import { adapt } from '../fixtures/sync-adapter.ts'
import { spawnFixture } from '../fixtures/spawn.ts'

const dir = tempDir()
afterAll(() => dir[Symbol.dispose]())
let files = 0
const fileUrl = (name: string) => `file:${dir.file(`${name}-${++files}.cdb`)}`

storeContract('sync memory', async () => adapt(openSync('memory://')))
storeContract('sync file', async () => adapt(openSync(fileUrl('contract'))))
propertyContract('sync memory', async () => adapt(openSync('memory://')))
ttlPropertyContract('sync memory', async (clock) => adapt(openSync('memory://', { clock })))
cacheContract('sync memory', { open: async (clock) => adapt(openSync('memory://', { clock })) })
cacheContract('sync file', {
  open: async (clock) => adapt(openSync(fileUrl('cache'), { clock })),
  reopen: async (name, clock) => adapt(openSync(`file:${dir.file(`${name}.cdb`)}`, { clock })),
})
// A peer is another database on the same host; waiting takes go through syncDb.database.
takeContract(async (timers) => {
  const transport = EmbeddedTransport.memory({ setTimer: timers.setTimer })
  const db = adapt(new SyncDatabase(transport))
  return { db, peer: async () => new Database(transport.sibling()), [Symbol.asyncDispose]: () => db.close() }
})

// The change feed through the sync database's watch(); the writes go through its sync handles.
feedContract('sync memory', {
  open: async (options) => {
    const transport = EmbeddedTransport.memory(options)
    const db = adapt(new SyncDatabase(transport))
    return {
      db,
      peer: async () => new Database(transport.sibling()),
      watchers: () => transport.host.watchers,
      [Symbol.asyncDispose]: () => db.close(),
    }
  },
})

/** What a call threw, as [code, message] ('returned' if it did not throw). */
function thrown(run: () => unknown): [string, string] | 'no error' {
  try {
    const result = run()
    if (result instanceof Promise) return 'no error'
  } catch (error) {
    expect(error).toBeInstanceOf(CyberError)
    return [(error as CyberError).code, (error as CyberError).message]
  }
  return 'no error'
}

async function rejected(run: () => Promise<unknown>): Promise<[string, string] | 'no error'> {
  try {
    await run()
    return 'no error'
  } catch (error) {
    return [(error as CyberError).code, (error as CyberError).message]
  }
}

describe('sync only', () => {
  const cases: [string, (db: SyncDatabase) => unknown, (db: Database) => Promise<unknown>][] = [
    ['get of a missing table', (s) => s.dict('nope').get('k'), (a) => a.dict('nope').get('k')],
    ['get with an object key', (s) => s.dict('d').get({} as never), (a) => a.dict('d').get({} as never)],
    ['get with a lone surrogate key', (s) => s.dict('d').get('\ud800'), (a) => a.dict('d').get('\ud800')],
    ['set of a lone surrogate value', (s) => s.dict('d').set('k', '\udfff'), (a) => a.dict('d').set('k', '\udfff')],
    ['set of a function', (s) => s.dict('d').set('k', (() => 1) as never), (a) => a.dict('d').set('k', (() => 1) as never)],
    ['set on a list', (s) => s.dict('l').set('k', 'v'), (a) => a.dict('l').set('k', 'v')],
    ['get on a list', (s) => s.dict('l').get('k'), (a) => a.dict('l').get('k')],
    ['pop of an empty list', (s) => s.list('l').pop(), (a) => a.list('l').pop()],
    ['push on a dict', (s) => s.list('d').push(1), (a) => a.list('d').push(1)],
    ['a second createDict', (s) => s.createDict('d'), (a) => a.createDict('d')],
    ['take with bad options', (s) => s.list('l').take('soon' as never), (a) => a.list('l').take('soon' as never)],
  ]
  for (const [what, sync, async] of cases) {
    test(`${what} throws synchronously the error the async database rejects with`, async () => {
      await using s = openSync('memory://')
      s.createDict('d')
      s.createList('l')
      const expected = await rejected(() => async(s.database))
      expect(expected).not.toBe('no error')
      expect(thrown(() => sync(s))).toEqual(expected)
    })
  }

  test('take with a wait is BAD_ARGUMENT naming the async way; without one it takes what is there', async () => {
    await using s = openSync('memory://')
    s.createList('jobs', ['a'])
    const jobs = s.list<string>('jobs')
    const refused = thrown(() => jobs.take({ wait: 10 }))
    expect(refused[0]).toBe('BAD_ARGUMENT')
    expect(refused[1]).toContain('db.database.list("jobs").take({ wait })')
    expect([jobs.take({ wait: 0 }), jobs.take(), jobs.length()]).toEqual(['a', undefined, 0])
  })

  test('values are copied in and out', async () => {
    await using s = openSync('memory://')
    s.createDict('d')
    const d = s.dict<{ tags: string[] }>('d')
    const value = { tags: ['a'] }
    d.set('k', value)
    value.tags.push('changed outside')
    const got = d.get('k')!
    got.tags.push('changed by the reader')
    expect([d.get('k'), got === d.get('k')]).toEqual([{ tags: ['a'] }, false])
  })

  test('for...of iterates a dict and a list in chunks, and leaving early frees the cursor', async () => {
    await using s = openSync('memory://')
    const entries = Array.from({ length: 1300 }, (_, i) => [`k${i}`, i] as [string, number])
    s.createDict('d', entries)
    s.createList('l', entries.map(([, i]) => i))
    expect([[...s.dict('d')], [...s.list('l')]]).toEqual([entries, entries.map(([, i]) => i)])
    let seen = 0
    for (const _ of s.dict('d')) if (++seen === 600) break // past one chunk: a cursor was open
    expect([seen, [...s.dict('d').scan({ prefix: 'k12' })].length]).toEqual([600, 1 + 10 + 100])
  })

  test('database is an async Database on the same store, and its waiting takes get sync pushes', async () => {
    await using s = openSync('memory://')
    s.createDict('d')
    s.createList('jobs')
    s.dict('d').set('k', 'from sync')
    await s.database.dict('d').set('j', 'from async')
    const waiting = s.database.list('jobs').take({ wait: 60_000 })
    await s.database.tables() // the take has taken its place in line
    expect(s.list('jobs').push('job')).toBe(1)
    expect([await waiting, await s.database.dict('d').get('k'), s.dict('d').get('j'), s.list('jobs').length()])
      .toEqual(['job', 'from sync', 'from async', 0])
  })

  test('a handle kept across a drop and re-create by another database sees the new table', async () => {
    await using s = openSync('memory://')
    s.createDict('t', { k: 'dict' })
    const t = s.dict<string>('t')
    expect(t.get('k')).toBe('dict') // the handle now holds the table
    await s.database.dropTable('t')
    expect(thrown(() => t.get('k'))[0]).toBe('TABLE_NOT_FOUND')
    await s.database.createList('t', ['list'])
    expect(thrown(() => t.set('k', 'v'))).toEqual(['WRONG_TABLE_TYPE', 'table "t" is a list, not a dict'])
    await s.database.dropTable('t')
    await s.database.createDict('t', { k: 'again' })
    expect(t.get('k')).toBe('again')
  })

  test('counters count the fast paths as the async ones', async () => {
    await using s = openSync('memory://')
    s.createDict('d')
    s.dict('d').set('a', 'x')
    s.dict('d').get('a')
    s.dict('d').get('missing')
    await s.database.dict('d').get('a')
    const { ops, hits, misses } = s.counters
    expect([ops.get('dict.set'), ops.get('dict.get'), hits, misses]).toEqual([1, 3, 2, 1])
  })

  test('a closed database throws CONNECTION_CLOSED, and so does its database', async () => {
    const s = openSync('memory://')
    s.createDict('d')
    const d = s.dict('d')
    await s.close()
    expect([thrown(() => d.get('k'))[0], thrown(() => d.set('k', 'v'))[0], thrown(() => s.tables())[0],
      (await rejected(() => s.database.tables()))[0]]).toEqual(Array(4).fill('CONNECTION_CLOSED'))
  })

  test('openSync refuses a server URL and a bad one with BAD_ARGUMENT', () => {
    expect(thrown(() => openSync('cyberdb://127.0.0.1:9980'))[0]).toBe('BAD_ARGUMENT')
    expect(thrown(() => openSync('memory://?nope=1'))[0]).toBe('BAD_ARGUMENT')
  })

  test('serve() serves the same store to remote clients', async () => {
    await using s = openSync('memory://')
    s.createDict('d')
    s.dict('d').set('k', 'served')
    const { port } = await s.serve({ host: '127.0.0.1', port: 0, password: 'pw' })
    await using remote = await connect(`cyberdb://:pw@127.0.0.1:${port}`)
    await remote.dict('d').set('r', 'remote')
    expect([await remote.dict('d').get('k'), s.dict('d').get('r')]).toEqual(['served', 'remote'])
  })

  test('file: loads synchronously, holds the lock, snapshots on close and reopens with the data', async () => {
    const url = fileUrl('reopen')
    const s = openSync(url)
    s.createDict('d', { a: 1 })
    s.dict('d').set('b', 'two')
    expect(thrown(() => openSync(url))[0]).toBe('LOCKED')
    await s.close()
    await using again = openSync(url)
    expect(again.dict('d').entries()).toEqual([['a', 1], ['b', 'two']])
  })

  test('atomic() commits through the sync path before commit() returns', async () => {
    await using s = openSync('memory://')
    s.createDict('d', { n: 1 })
    const tx = s.atomic()
    tx.dict('d').check('n', 1)
    tx.dict('d').set('n', 2)
    const committed = tx.commit()
    expect(s.dict('d').get('n')).toBe(2)
    expect(await committed).toMatchObject({ ok: true, results: [undefined] })
  })

  test('under everysec a synchronous loop of writes reaches the log file before it yields', async () => {
    const path = dir.file(`loop-${++files}.cdb`)
    await using s = openSync(`file:${path}?durability=everysec`)
    s.createDict('d')
    const d = s.dict<string>('d')
    const value = 'x'.repeat(1000)
    for (let i = 0; i < 3000; i++) d.set(`k${i}`, value) // about 3 MB of records, no yield
    expect(statSync(`${path}.log`).size).toBeGreaterThan(1 << 20)
  })

  // The child never yields to the event loop after its last set(): only the synchronous write and
  // fdatasync of each set() can have put it in the log before the SIGKILL.
  test('under durability=always every set() is on disk when it returns (SIGKILL right after)', async () => {
    const path = dir.file(`killed-${++files}.cdb`)
    const child = spawnFixture('sync-write-fixture.ts', [path, 'always', '50'])
    await child.stdout.until((lines) => lines.includes('written 50'), 'the writes')
    child.proc.kill('SIGKILL')
    const { signal, stderr } = await child.finish()
    expect([signal, stderr]).toEqual(['SIGKILL', ''])
    await using again = openSync(`file:${path}`)
    const d = again.dict('d')
    expect([d.size(), d.get('k0'), d.get('k49')]).toEqual([50, 'v0', 'v49'])
  })

  test('under durability=everysec the same child loses what it never yielded to write (the test above discriminates)', async () => {
    const path = dir.file(`killed-${++files}.cdb`)
    const child = spawnFixture('sync-write-fixture.ts', [path, 'everysec', '50'])
    await child.stdout.until((lines) => lines.includes('written 50'), 'the writes')
    child.proc.kill('SIGKILL')
    await child.finish()
    await using again = openSync(`file:${path}`)
    expect(again.tables()).toEqual([])
  })
})

test('uniqueName keeps sync tables apart', () => {
  expect(uniqueName()).not.toBe(uniqueName())
})
