// The embedded transport: the shared contracts over memory:// and file:, then what only the
// in-process mode promises (its store, its copies, its cursors, its closing).

import { afterAll, describe, expect, spyOn, test } from 'bun:test'
import { existsSync } from 'node:fs'
import { connect } from '../../src/index.ts'
import { propertyContract } from '../contract/property.contract.ts'
import { storeContract } from '../contract/store.contract.ts'
import { tempDir } from '../contract/helpers.ts'

storeContract('memory', () => connect('memory://'))
propertyContract('memory', () => connect('memory://'))

const dir = tempDir()
afterAll(() => dir[Symbol.dispose]())
let files = 0
storeContract('file', () => connect(`file:${dir.file(`contract-${++files}.cdb`)}`))
propertyContract('file', () => connect(`file:${dir.file(`property-${++files}.cdb`)}`))
