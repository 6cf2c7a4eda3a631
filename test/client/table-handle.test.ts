// The handles are typed against the operation registry: `npx tsc --noEmit` compiles this file, so
// each @ts-expect-error below fails the type check if the mistake it marks ever compiles.

import { describe, expect, test } from 'bun:test'
import { DictHandle } from '../../src/client/dict-handle.ts'
import { EmbeddedTransport } from '../../src/client/embedded.ts'
import { ListHandle } from '../../src/client/list-handle.ts'
import { expectCode } from '../contract/helpers.ts'

class WrongDict extends DictHandle {
  sizeAsText(): Promise<string> {
    // @ts-expect-error dict.size answers a number
    return this.call('dict.size', [])
  }

  misspelt(): Promise<unknown> {
    // @ts-expect-error there is no dict.sizes
    return this.call('dict.sizes', [])
  }
}

class WrongList extends ListHandle<number> {
  lengthAsFlag(): Promise<boolean> {
    // @ts-expect-error list.length answers a number
    return this.call('list.length', [])
  }
}

describe('handle types', () => {
  test('what the compiler refuses, the engine refuses or answers as typed', async () => {
    const transport = EmbeddedTransport.memory()
    await transport.call({ table: 'd', name: 'db.create', args: ['dict'] })
    await transport.call({ table: 'l', name: 'db.create', args: ['list', [1, 2]] })
    const dict = new WrongDict(transport, 'd')
    const list = new WrongList(transport, 'l')
    expect([await dict.sizeAsText(), await list.lengthAsFlag()]).toEqual([0 as never, 2 as never])
    await expectCode(dict.misspelt(), 'BAD_ARGUMENT')
    await transport.close()
  })
})
