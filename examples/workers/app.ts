// Step 3: a Bun.serve app started as several processes sharing one port (reusePort). Each
// request takes a proxy, reads centre.content, answers, and gives the proxy back.
//   CYBERDB_PASSWORD=secret npx bun examples/workers/app.ts [workers] [http-port] [cyberdb-port]
//   ... [workers] [http-port] /tmp/cyberdb.sock    the server's unix socket instead of its port
import { connect } from '../../src/index.ts'

const [workers = '2', httpPort = '8000', dbPort = '9980'] = process.argv.slice(2)
// No fallback: a password written in an example ends up guarding someone's production server.
const password = process.env.CYBERDB_PASSWORD
if (!password) {
  console.error('app: CYBERDB_PASSWORD is not set; the server\'s password goes there:\n' +
    '  CYBERDB_PASSWORD=secret npx bun examples/workers/app.ts')
  process.exit(1)
}

if (process.env.CYBERDB_WORKER === undefined) {
  // The parent only starts the workers and stops them with itself.
  const children = Array.from({ length: Number(workers) }, (_, i) => Bun.spawn({
    cmd: [process.execPath, import.meta.path, workers, httpPort, dbPort],
    env: { ...process.env, CYBERDB_WORKER: String(i) },
    stdout: 'inherit',
    stderr: 'inherit',
  }))
  const stop = () => children.forEach((child) => child.kill())
  process.on('SIGINT', stop).on('SIGTERM', stop)
  await Promise.all(children.map((child) => child.exited))
} else {
  const url = dbPort.startsWith('/') ? `cyberdb+unix://${dbPort}` : `cyberdb://127.0.0.1:${dbPort}`
  const db = await connect(url, { password })
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: Number(httpPort),
    reusePort: true,
    async fetch() {
      await using proxy = await db.proxy()
      const content = await proxy.dict<string>('centre').get('content')
      return Response.json({ code: 1, content })
    },
  })
  console.log(`app: worker ${process.env.CYBERDB_WORKER} (pid ${process.pid}) on ${server.url}`)
}
