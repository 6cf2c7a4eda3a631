// An embedded database serving its host: the one place the client side reaches the server, loaded
// lazily by EmbeddedTransport.serve() (so src/client/ imports nothing of src/server/).

import type { Host } from './host/host.ts'
import type { Address, ListenOptions } from './listen-options.ts'
import { Server } from './server/server.ts'

export interface Served {
  readonly address: Address
  close(): Promise<unknown>
}

export async function serveHost(host: Host, options: ListenOptions): Promise<Served> {
  const server = new Server({ host })
  const address = await server.listen(options)
  return { address, close: () => server.close() }
}
