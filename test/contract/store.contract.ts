// The table-behaviour contract: what every transport must do, written once against the public API.
// Run by each transport's test file, e.g. storeContract('memory', () => connect('memory://')).
// Each test opens (and closes) its own database and uses uniquely named tables, so the suite can
// share one remote server.

import { describe } from 'bun:test'
import type { Database } from '../../src/index.ts'
import { atomicContract, type Clients } from './atomic.contract.ts'
import { bulkContract } from './bulk.contract.ts'
import { databaseContract } from './database.contract.ts'
import { dictContract } from './dict.contract.ts'
import { infoContract } from './info.contract.ts'
import { iterationContract } from './iteration.contract.ts'
import { listContract } from './list.contract.ts'
import { valuesContract } from './values.contract.ts'

/** `many` opens n clients of one store (remote: n connections); proxies of one database without it. */
export function storeContract(label: string, open: () => Promise<Database>, many?: Clients): void {
  describe(`store contract (${label})`, () => {
    databaseContract(open)
    dictContract(open)
    listContract(open)
    valuesContract(open)
    iterationContract(open)
    bulkContract(open)
    atomicContract(open, many)
    infoContract(open)
  })
}
