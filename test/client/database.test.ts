// Database's own ops (create, drop, tables, save) are typed against the operation registry as the
// handles are: `npx tsc --noEmit` compiles this file, so each @ts-expect-error below fails the
// type check if the mistake it marks ever compiles.

import { describe, expect, test } from 'bun:test'
import { Database } from '../../src/client/database.ts'
import { EmbeddedTransport } from '../../src/client/embedded.ts'
import type { SnapshotStats } from '../../src/persistence/snapshot.ts'
import { expectCode } from '../contract/helpers.ts'

class WrongDatabase extends Database {
  dropAsCount(name: string): Promise<number> {
    // @ts-expect-error db.drop answers a boolean
    return this.call(name, 'db.drop', [])
  }

  misspelt(): Promise<unknown> {
    // @ts-expect-error there is no db.list
    return this.call('', 'db.list', [])
  }

  saveAsStats(): Promise<SnapshotStats> {
    return this.call('', 'db.save', []) // db.save answers what the host's save does
  }
}

describe('database op types', () => {
  test('what the compiler refuses, the engine refuses or answers as typed', async () => {
    await using db = new WrongDatabase(EmbeddedTransport.memory())
    await db.createDict('d')
    expect(await db.dropAsCount('d')).toBe(true as never)
    await expectCode(db.misspelt(), 'BAD_ARGUMENT')
    await expectCode(db.saveAsStats(), 'BAD_ARGUMENT') // memory:// has no file
  })
})
