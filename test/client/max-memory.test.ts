// The store-wide memory limit (issue 8.8) and what a refused value leaves behind (issue 8.4), in
// every mode: memory://, file:, and a server, with the same error.

import { afterAll, describe, expect, test } from 'bun:test'
import { CyberError, Server, connect, type Database } from '../../src/index.ts'
import { expectCode, tempDir } from '../contract/helpers.ts'
import { MODEL_MESSAGES, causeChain } from '../contract/values.contract.ts'

const MIB = 1 << 20
const LIMIT = 4 * MIB

const dir = tempDir()
const server = new Server({ maxMemory: LIMIT })
server.setBackup(dir.file('server.cdb'), 3600)
const { port } = await server.listen({ host: '127.0.0.1', port: 0, password: 'pw' })
afterAll(async () => {
  await server.close()
  dir[Symbol.dispose]()
})

let files = 0
const modes: [string, () => Promise<Database>][] = [
  ['memory:// (option)', () => connect('memory://', { maxMemory: LIMIT })],
  ['memory:// (URL)', () => connect(`memory://?maxMemory=${LIMIT}`)],
  ['file:', () => connect(`file:${dir.file(`limit-${++files}.cdb`)}?maxMemory=${LIMIT}`)],
  ['a server', () => connect(`cyberdb://:pw@127.0.0.1:${port}`)],
]

for (const [mode, open] of modes) {
  describe(`maxMemory over ${mode}`, () => {
    test('ten 1 MiB values into a 4 MiB limit: the later ones are refused, reads and deletes work, then writes again', async () => {
      await using db = await open()
      await db.createDict(`big${files}`)
      const d = db.dict<Uint8Array>(`big${files}`)
      const value = (i: number) => new Uint8Array(MIB).fill(i)
      const outcomes: string[] = []
      for (let i = 0; i < 10; i++) {
        outcomes.push(await d.set(`v${i}`, value(i)).then(() => 'ok', (e: CyberError) => e.code))
      }
      expect(outcomes).toEqual(['ok', 'ok', 'ok', 'ok', ...Array(6).fill('MEMORY_LIMIT')])
      const error = await expectCode(db.list('nope').push(1), 'MEMORY_LIMIT')
      expect(error.message).toContain(`maxMemory ${LIMIT} bytes`)
      expect(error.message).toContain('raise maxMemory')
      expect(await d.get('v3')).toEqual(value(3))
      expect([await d.size(), await d.delete('v0'), await d.pop('v1')]).toEqual([4, true, value(1)])
      await d.set('v9', value(9))
      expect(await d.keys()).toEqual(['v2', 'v3', 'v9'])
      await d.clear()
      await db.createList(`l${files}`, [value(1), value(2), value(3), value(4)])
      await expectCode(db.list(`l${files}`).push(1), 'MEMORY_LIMIT')
      await db.dropTable(`l${files}`)
      await db.dropTable(`big${files}`)
      await db.createDict(`after${files}`, { ok: 1 })
      await db.dropTable(`after${files}`)
    })
  })
}

describe('a value the model refuses never reaches the store (8.4)', () => {
  const savers: [string, () => Promise<Database>][] = [
    ['file:', () => connect(`file:${dir.file(`cause-${++files}.cdb`)}`)],
    ['a server with a backup file', () => connect(`cyberdb://:pw@127.0.0.1:${port}`)],
  ]
  for (const [mode, open] of savers) {
    test(`a 20,000-deep Error cause chain is refused with BAD_ARGUMENT over ${mode}, and save() still works`, async () => {
      await using db = await open()
      await db.createDict(`cause${files}`)
      const error = await expectCode(db.dict(`cause${files}`).set('e', causeChain(20_000)), 'BAD_ARGUMENT')
      expect(error.message).toBe(MODEL_MESSAGES.error)
      await db.dict(`cause${files}`).set('ok', 1)
      expect((await db.save()).tables).toBeGreaterThanOrEqual(1)
      await db.dropTable(`cause${files}`)
    })
  }
})

test('maxMemory must be a whole number of at least 1 MiB, and a remote connect refuses it', async () => {
  await expectCode(connect('memory://?maxMemory=1000'), 'BAD_ARGUMENT')
  await expectCode(connect('memory://', { maxMemory: MIB + 0.5 }), 'BAD_ARGUMENT')
  await expectCode(connect('memory://?size=1'), 'BAD_ARGUMENT')
  expect(() => new Server({ maxMemory: -1 })).toThrow(CyberError)
  await expectCode(connect(`cyberdb://:pw@127.0.0.1:${port}`, { maxMemory: LIMIT }), 'BAD_ARGUMENT')
})
