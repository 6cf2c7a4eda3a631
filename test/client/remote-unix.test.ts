// The remote transport over a unix socket (cyberdb+unix://): the shared contracts, then what the
// socket must keep of TCP's promises: the password, encryption, the limits and the timeouts; the
// allow-list, which has no address to check there, does not apply.

import { afterAll, describe, expect, test } from 'bun:test'
import { Server, connect, type Clock, type Database } from '../../src/index.ts'
import { Host } from '../../src/host/host.ts'
import { cacheContract } from '../contract/cache.contract.ts'
import { feedContract, type FeedOptions } from '../contract/feed.contract.ts'
import { takeContract } from '../contract/take.contract.ts'
import { parseRemoteUrl } from '../../src/connect.ts'
import { storeContract } from '../contract/store.contract.ts'
import { propertyContract } from '../contract/property.contract.ts'
import { expectCode, tempDir, uniqueName, waitFor } from '../contract/helpers.ts'
import { manualTimers } from '../fixtures/timers.ts'

const PASSWORD = 'pw'
const dir = tempDir()
const SOCKET = dir.file('cyberdb.sock')
const server = new Server()
await server.listen({ unix: SOCKET, password: PASSWORD })
afterAll(async () => {
  await server.close()
  dir[Symbol.dispose]()
})

const URL = `cyberdb+unix://:${PASSWORD}@localhost${SOCKET}`

storeContract('unix', () => connect(URL), async (_db, n) => {
  const clients = await Promise.all(Array.from({ length: n }, () => connect(`${URL}?pool=1`)))
  return { clients, close: async () => void await Promise.all(clients.map((client) => client.close())) }
})
propertyContract('unix', () => connect(URL))

// The contracts that need a server of their own (a manual clock, manual timers, a feed's history),
// each on a socket of its own in the temp dir.
let sockets = 0
async function socketKit(own: Server, after: () => void = () => {}) {
  const path = dir.file(`own-${++sockets}.sock`)
  await own.listen({ unix: path, password: PASSWORD })
  const url = `cyberdb+unix://:${PASSWORD}@localhost${path}`
  const peers: Database[] = []
  const db = await connect(url)
  return {
    db,
    peer: async () => {
      const peer = await connect(url)
      peers.push(peer)
      return peer
    },
    async [Symbol.asyncDispose]() {
      for (const peer of [db, ...peers]) await peer.close()
      await own.close()
      after()
    },
  }
}
async function onClock(clock: Clock, file?: string): Promise<Database> {
  const own = new Server({ clock })
  if (file !== undefined) {
    await own.load(file)
    own.setBackup(file, 3600)
  }
  const { db } = await socketKit(own)
  const close = db.close.bind(db)
  db.close = async () => {
    await close()
    await own.close()
  }
  return db
}
async function feedServer(options: FeedOptions = {}, file?: string) {
  const host = new Host({ clock: options.clock, feedHistory: options.feedHistory })
  const own = new Server({ host })
  if (file !== undefined) {
    await own.load(file)
    own.setBackup(file, 3600)
  }
  return { ...await socketKit(own, () => host.close()), watchers: () => host.watchers }
}
takeContract((timers) => socketKit(new Server({ setTimer: timers.setTimer })))
cacheContract('unix', {
  open: (clock) => onClock(clock),
  reopen: (name, clock) => onClock(clock, dir.file(`${name}.cdb`)),
})
feedContract('unix', {
  open: (options) => feedServer(options),
  reopen: (name, options) => feedServer(options, dir.file(`feed-${name}.cdb`)),
})

describe('connecting over a unix socket', () => {
  test('the password in the URL, as ?password= or in the options', async () => {
    const name = uniqueName('pw')
    await using query = await connect(`cyberdb+unix://${SOCKET}?password=${PASSWORD}`)
    await using option = await connect(`cyberdb+unix://${SOCKET}`, { password: PASSWORD })
    await query.createDict(name, { by: 'query' })
    expect(await option.dict(name).get('by')).toBe('query')
  })

  test('a wrong or missing password fails with AUTH_FAILED', async () => {
    await expectCode(connect(`cyberdb+unix://:wrong@localhost${SOCKET}`), 'AUTH_FAILED')
    await expectCode(connect(`cyberdb+unix://${SOCKET}`), 'AUTH_FAILED')
  })

  test('a socket file that is not there fails with CONNECTION_CLOSED naming it', async () => {
    const missing = dir.file('missing.sock')
    const error = await expectCode(connect(`cyberdb+unix://${missing}?password=${PASSWORD}`), 'CONNECTION_CLOSED')
    expect(error.message).toStartWith(`could not connect to ${missing}: `)
  })

  test('encrypt: every frame sealed, as over TCP', async () => {
    using own = tempDir()
    await using sealed = new Server()
    await sealed.listen({ unix: own.file('s.sock'), password: PASSWORD, encrypt: true })
    await using db = await connect(`cyberdb+unix://${own.file('s.sock')}?password=${PASSWORD}&encrypt=true`)
    await db.createList('l', ['a'])
    expect(await db.list('l').at(0)).toBe('a')
    await expectCode(connect(`cyberdb+unix://${own.file('s.sock')}?password=${PASSWORD}`), 'PROTOCOL')
  })

  test('the allow-list does not apply: a unix peer has no address (its file mode guards it)', async () => {
    using own = tempDir()
    await using guarded = new Server()
    await guarded.listen({ host: '127.0.0.1', port: 0, unix: own.file('a.sock'), allow: ['10.0.0.0/8'] })
    await using db = await connect(`cyberdb+unix://${own.file('a.sock')}`)
    expect(await db.tables()).toEqual([])
    expect(guarded.refused.notAllowed).toBe(0)
    await expectCode(connect(`cyberdb://127.0.0.1:${guarded.address!.port}?connectTimeout=2`), 'CONNECTION_CLOSED')
    await waitFor(() => guarded.refused.notAllowed === 1, 'the TCP connection to be refused')
  })

  test('maxConnections counts unix connections', async () => {
    using own = tempDir()
    await using full = new Server()
    await full.listen({ unix: own.file('m.sock'), maxConnections: 1 })
    await using first = await connect(`cyberdb+unix://${own.file('m.sock')}?pool=1`)
    await expectCode(connect(`cyberdb+unix://${own.file('m.sock')}`), 'NOT_ALLOWED')
    expect(await first.tables()).toEqual([])
  })

  test('idleTimeout and authTimeout close unix connections too', async () => {
    using own = tempDir()
    const path = own.file('t.sock')
    const timers = manualTimers()
    await using timed = new Server({ setTimer: timers.setTimer })
    await timed.listen({ unix: path, password: PASSWORD, idleTimeout: 1, authTimeout: 1 })
    // One that never proves the password, and one that does and then says nothing.
    let silentClosed = false
    const silent = await Bun.connect({ unix: path, socket: { data() {}, close() { silentClosed = true } } })
    await using idle = await connect(`cyberdb+unix://${path}?password=${PASSWORD}&pool=1`)
    await waitFor(() => timed.connections === 2, 'both connections to open')
    timers.advance(1000)
    await waitFor(() => silentClosed, 'the silent connection to be closed at its auth deadline')
    expect(timed.connections).toBe(1)
    timers.advance(1000)
    await waitFor(() => timed.connections === 0, 'the idle connection to be closed')
    silent.terminate()
    expect(await idle.tables()).toEqual([]) // the pool reconnects
  })

  test('db.serve({ unix }): an embedded database on a socket file, removed when it closes', async () => {
    using own = tempDir()
    const path = own.file('e.sock')
    const db = await connect('memory://')
    expect(await db.serve({ unix: path })).toEqual({ host: '', port: 0, unix: path })
    await db.createDict('d', { k: 'v' })
    await using remote = await connect(`cyberdb+unix://${path}`)
    expect(await remote.dict('d').get('k')).toBe('v')
    await db.close()
    expect(await Bun.file(path).exists()).toBe(false)
  })
})

describe('cyberdb+unix:// URLs', () => {
  const good: [string, Record<string, unknown>][] = [
    ['cyberdb+unix:///run/cyberdb.sock', { unix: '/run/cyberdb.sock', password: '', pool: 4, idleTimeout: 300 }],
    ['cyberdb+unix:///run/cyberdb.sock?password=s%26p&pool=2', { unix: '/run/cyberdb.sock', password: 's&p', pool: 2 }],
    ['cyberdb+unix://:secret@localhost/run/cyberdb.sock', { unix: '/run/cyberdb.sock', password: 'secret' }],
    ['cyberdb+unix:///tmp/a%20b.sock?timeout=30&connectTimeout=0.5&encrypt=true',
      { unix: '/tmp/a b.sock', idleTimeout: 30, connectTimeoutMs: 500, encrypt: true }],
  ]
  for (const [url, expected] of good) {
    test(`${url} parses to ${JSON.stringify(expected)}`, async () => {
      expect(await parseRemoteUrl(url)).toMatchObject(expected)
    })
  }

  const bad: [string, string][] = [
    ['cyberdb+unix://', 'the socket path is missing'],
    ['cyberdb+unix:///', 'the socket path is missing'],
    ['cyberdb+unix://db.example/run/cyberdb.sock', 'the host is empty or localhost, not "db.example"'],
    ['cyberdb+unix://localhost:9980/run/cyberdb.sock', 'a unix socket has no port'],
    ['cyberdb+unix:///run/a%zz.sock', 'malformed %-escape'],
    ['cyberdb+unix:///run/cyberdb.sock?pool=0', 'pool must be a positive number'],
    ['cyberdb+unix:///run/cyberdb.sock?ca=/tmp/ca.pem', 'unknown parameter "ca"'],
    ['cyberdb+unix://:pw@/run/cyberdb.sock', 'it does not parse as a URL'],
  ]
  for (const [url, why] of bad) {
    test(`${url} fails with BAD_ARGUMENT before connecting, naming the unix form`, async () => {
      const error = await expectCode(connect(url), 'BAD_ARGUMENT')
      expect(error.message).toContain(why)
      expect(error.message).toContain('cyberdb+unix:///ABSOLUTE/PATH.sock')
      expect(error.message).not.toContain(':pw@')
    })
  }
})
