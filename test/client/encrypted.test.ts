// The whole table-behaviour contract over encrypt=true: every operation, value type and error
// round-trips through sealed frames exactly as it does in the plain remote mode.

import { afterAll } from 'bun:test'
import { Server, connect } from '../../src/index.ts'
import { storeContract } from '../contract/store.contract.ts'

const PASSWORD = 'encrypted-contract'
const server = new Server()
const { port } = await server.listen({ host: '127.0.0.1', port: 0, password: PASSWORD, encrypt: true })
afterAll(() => server.close())

storeContract('encrypted', () => connect(`cyberdb://:${PASSWORD}@127.0.0.1:${port}?encrypt=true`))
