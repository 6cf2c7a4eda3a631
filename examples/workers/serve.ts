// Step 2: one CyberDB server, the shared memory of every worker process.
//   CYBERDB_PASSWORD=secret npx bun examples/workers/serve.ts [data.cdb] [port]
//   CYBERDB_UNIX=/tmp/cyberdb.sock ...   on that unix socket too (same machine: no TCP stack)
import { Server } from '../../src/index.ts'

const file = process.argv[2] ?? './data.cdb'
const port = Number(process.argv[3] ?? 9980)
// No fallback: a password written in an example ends up guarding someone's production server.
const password = process.env.CYBERDB_PASSWORD
if (!password) {
  console.error('serve: CYBERDB_PASSWORD is not set; the server\'s password goes there:\n' +
    '  CYBERDB_PASSWORD=secret npx bun examples/workers/serve.ts')
  process.exit(1)
}
const unix = process.env.CYBERDB_UNIX

const server = new Server()
await server.load(file)
server.setBackup(file, 300) // every 300 s, and on close()
// Stopping is this script's choice (the library installs no signal handlers): save, then exit.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, async () => {
    const saved = await server.close()
    console.log(`serve: stopped; saved ${saved?.tables} tables, ${saved?.entries} entries`)
    process.exit(0)
  })
}
const address = await server.listen({ host: '127.0.0.1', port, password, ...(unix ? { unix } : {}) })
console.log(`serve: listening on ${address.host}:${address.port}`)
if (address.unix) console.log(`serve: listening on ${address.unix}`)
