// Step 2: one CyberDB server, the shared memory of every worker process.
//   CYBERDB_PASSWORD=secret bun examples/workers/serve.ts [data.cdb] [port]
import { Server } from '../../src/index.ts'

const file = process.argv[2] ?? './data.cdb'
const port = Number(process.argv[3] ?? 9980)
const password = process.env.CYBERDB_PASSWORD ?? 'hWjYvVdqRC'

const server = new Server()
await server.load(file)
server.setBackup(file, 300) // every 300 s, and on SIGINT / SIGTERM
const address = await server.listen({ host: '127.0.0.1', port, password })
console.log(`serve: listening on ${address.host}:${address.port}`)
