// Each connection owns its iterations: another connection can neither continue, close nor evict
// them (issue 9.6).

import { describe, expect, test } from 'bun:test'
import type { Database } from '../../src/client/database.ts'
import type { Transport } from '../../src/client/transport.ts'
import { MAX_CURSORS } from '../../src/engine/cursors.ts'
import { Server, connect } from '../../src/index.ts'
import { expectCode } from '../contract/helpers.ts'

const PASSWORD = 'cursor-test'

async function serve(server: Server): Promise<() => Promise<Database>> {
  const { port } = await server.listen({ host: '127.0.0.1', port: 0, password: PASSWORD })
  return () => connect(`cyberdb://:${PASSWORD}@127.0.0.1:${port}`)
}

/** A raw op through the database's transport: what a hand-made client could send. */
function call(db: Database, table: string, name: string, args: unknown[]): Promise<unknown> {
  return (db as unknown as { transport: Transport }).transport.call({ table, name, args } as never)
}

const scan = (db: Database, cursor: number, count = 1) =>
  call(db, 'l', 'list.scan', [cursor, count]) as Promise<[number, unknown[]]>

describe('cursors per connection', () => {
  test("one connection cannot continue or close another's cursor", async () => {
    await using server = new Server()
    const open = await serve(server)
    await using a = await open()
    await using b = await open()
    await a.createList('l', [1, 2, 3, 4])
    const [cursor] = await scan(a, 0)
    expect(cursor).not.toBe(0)
    await expectCode(scan(b, cursor), 'BAD_ARGUMENT')
    expect(await call(b, '', 'cursor.close', [cursor])).toBe(false)
    expect(await scan(a, cursor, 10)).toEqual([0, [2, 3, 4]])
  })

  test("one connection opening 5000 scans does not evict another's cursor", async () => {
    await using server = new Server()
    const open = await serve(server)
    await using a = await open()
    await using b = await open()
    await a.createList('l', [1, 2, 3])
    const [kept] = await scan(b, 0)
    const opened = await Promise.all(Array.from({ length: 5000 }, () => scan(a, 0)))
    expect(opened.length).toBeGreaterThan(MAX_CURSORS)
    await expectCode(scan(a, opened[0]![0]), 'BAD_ARGUMENT') // a's own oldest went
    expect(await scan(b, kept, 10)).toEqual([0, [2, 3]])
  })
})
