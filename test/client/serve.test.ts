// db.serve(): an embedded database serving its own store over TCP. Both sides see one store, a
// remote save goes through the embedded data file, and closing the database stops the server.

import { describe, expect, test } from 'bun:test'
import { connect } from '../../src/index.ts'
import { expectCode, tempDir } from '../contract/helpers.ts'
import { snapshotContent } from '../fixtures/snapshot-content.ts'

const PASSWORD = 'serve-test'

async function served(url: string) {
  const db = await connect(url)
  const address = await db.serve({ host: '127.0.0.1', port: 0, password: PASSWORD })
  return { db, address, remoteUrl: `cyberdb://:${PASSWORD}@127.0.0.1:${address.port}` }
}

describe('db.serve()', () => {
  test('serve with port 0 resolves the address it bound, where remote clients connect', async () => {
    const { db, address, remoteUrl } = await served('memory://')
    await using _db = db
    expect(address.host).toBe('127.0.0.1')
    expect(address.port).toBeGreaterThan(0)
    await using remote = await connect(remoteUrl)
    expect(await remote.tables()).toEqual([])
  })

  test('a remote client sees what the embedded one wrote, and the embedded one what the remote wrote', async () => {
    using dir = tempDir()
    const { db, remoteUrl } = await served(`file:${dir.file('shared.cdb')}`)
    await using _db = db
    await using remote = await connect(remoteUrl)

    await db.createDict('users', { ada: { born: 1815 } })
    expect(await remote.dict('users').get('ada')).toEqual({ born: 1815 })

    await remote.dict('users').set('alan', { born: 1912 })
    await remote.createList('jobs', ['one'])
    expect(await db.dict('users').keys()).toEqual(['ada', 'alan'])
    expect(await db.list('jobs').toArray()).toEqual(['one'])

    // One store: a counter bumped from both sides counts every bump.
    await Promise.all([
      ...Array.from({ length: 50 }, () => db.dict('users').incr('hits')),
      ...Array.from({ length: 50 }, () => remote.dict('users').incr('hits')),
    ])
    expect(await db.dict('users').get('hits')).toBe(100)
  })

  test('a remote db.save() writes the embedded data file, which loads afterwards with the remote writes', async () => {
    using dir = tempDir()
    const path = dir.file('saved.cdb')
    const { db, remoteUrl } = await served(`file:${path}`)
    await using _db = db
    await using remote = await connect(remoteUrl)
    await remote.createDict('remote', { written: 'remotely' })
    await remote.createList('numbers', [1, 2, 3])
    const stats = await remote.save()
    expect({ tables: stats.tables, entries: stats.entries }).toEqual({ tables: 2, entries: 4 })
    expect(await snapshotContent(path)).toEqual({ remote: [['written', 'remotely']], numbers: [1, 2, 3] })
  })

  test('closing the embedded database takes a final snapshot with the remote writes', async () => {
    using dir = tempDir()
    const path = dir.file('final.cdb')
    const { db, remoteUrl } = await served(`file:${path}`)
    {
      await using remote = await connect(remoteUrl)
      await remote.createList('late', ['written after the last save'])
    }
    await db.close()
    await using reopened = await connect(`file:${path}`)
    expect(await reopened.list('late').toArray()).toEqual(['written after the last save'])
  })

  test('closing the embedded database closes the server: remote calls and new connects fail with CONNECTION_CLOSED', async () => {
    const { db, remoteUrl } = await served('memory://')
    await using remote = await connect(`${remoteUrl}?connectTimeout=2`)
    await remote.createDict('d')
    await db.close()
    await expectCode(remote.dict('d').size(), 'CONNECTION_CLOSED')
    await expectCode(connect(remoteUrl), 'CONNECTION_CLOSED')
  })

  test('a served memory:// database has no file: a remote save fails with BAD_ARGUMENT', async () => {
    const { db, remoteUrl } = await served('memory://')
    await using _db = db
    await using remote = await connect(remoteUrl)
    await expectCode(remote.save(), 'BAD_ARGUMENT')
    expect(await remote.tables()).toEqual([])
  })

  test('a wrong password is refused with AUTH_FAILED by a served database', async () => {
    const { db, address } = await served('memory://')
    await using _db = db
    await expectCode(connect(`cyberdb://:nope@127.0.0.1:${address.port}`), 'AUTH_FAILED')
  })

  test('a closed database cannot serve: CONNECTION_CLOSED', async () => {
    const db = await connect('memory://')
    await db.close()
    await expectCode(db.serve({ host: '127.0.0.1', port: 0 }), 'CONNECTION_CLOSED')
  })
})
