// Replicas (issue 16, src/client/replica.ts): tables loaded at one seq and kept current by the
// change feed; reads answered in process, writes through the server resolving once applied here.

import { afterAll, describe, expect, test } from 'bun:test'
import { Server, connect, manualClock } from '../../src/index.ts'
import { Host } from '../../src/host/host.ts'
import { expectCode, waitFor } from '../contract/helpers.ts'

const PASSWORD = 'pw'
const servers: Server[] = []
afterAll(async () => {
  for (const server of servers) await server.close()
})

async function serve(host = new Host()): Promise<{ host: Host; url: string }> {
  const server = new Server({ host })
  servers.push(server)
  const { port } = await server.listen({ host: '127.0.0.1', port: 0, password: PASSWORD })
  return { host, url: `cyberdb://:${PASSWORD}@127.0.0.1:${port}` }
}

describe('replica', () => {
  test('loads, follows, reads locally and reads its own writes', async () => {
    const { host, url } = await serve()
    await using writer = await connect(url)
    await writer.createDict('centre', { content: 'Hello' })
    await using db = await connect(`${url}?replica=centre`)
    expect(db.replica('centre').get('content')).toBe('Hello')
    expect(await db.dict('centre').get('content')).toBe('Hello')
    await db.dict('centre').set('content', 'mine')
    expect(db.replica('centre').get('content')).toBe('mine')
    expect(db.replica('centre').seq).toBe(host.seq)
    await writer.dict('centre').set('other', 1)
    await waitFor(() => db.replica('centre').get('other') === 1, 'the change to arrive')
    await expectCode(db.dict('centre').pop('missing'), 'KEY_NOT_FOUND')
    await expectCode(db.list('centre').at(0), 'WRONG_TABLE_TYPE')
  })
})
