// CyberDB as a throwaway store in bun test: a fresh memory:// database per test, and one real
// server on a free port for a whole suite. Run: bun test examples/bun-test-fixture.test.ts
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'bun:test'
import { connect, Server, type Database } from '../src/index.ts'

describe('a fresh in-memory store per test', () => {
  let db: Database
  beforeEach(async () => (db = await connect('memory://')))
  afterEach(() => db.close())

  test('starts empty', async () => {
    expect(await db.tables()).toEqual([])
    await db.createDict('cart', { apples: 2 })
  })

  test('sees nothing of the previous test', async () => {
    expect(await db.tables()).toEqual([])
  })
})

describe('one server for the suite', () => {
  const server = new Server()
  let db: Database
  beforeAll(async () => {
    const { port } = await server.listen({ host: '127.0.0.1', port: 0, password: 'test' })
    db = await connect(`cyberdb://:test@127.0.0.1:${port}`)
    await db.createList('events')
  })
  afterAll(async () => {
    await db.close()
    await server.close()
  })

  test('a write is seen by the server', async () => {
    await db.list('events').push('signed-up')
    expect(await db.tables()).toEqual([{ name: 'events', type: 'list', size: 1 }])
  })
})
