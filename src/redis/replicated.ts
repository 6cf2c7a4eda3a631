// ?waitReplicas=N: a write and a WAIT right behind it, in one pipeline to the node that holds
// the table, so the write resolves once N replicas have it: what "acknowledged" means then, and
// what survives a failover. Fewer replicas in time is TIMEOUT (the write is on the master).

import type { Cluster, Redis } from 'ioredis'
import { CyberError } from '../errors.ts'

type Pipeline = Record<string, (...args: unknown[]) => unknown> & {
  exec(): Promise<[Error | null, unknown][] | null>
  call(...args: unknown[]): unknown
}

/** Runs `method` (a defined script's Buffer variant) with `args`, then WAIT `replicas`. */
export async function replicated(client: Redis | Cluster, method: string, args: unknown[],
  replicas: number, timeoutMs: number): Promise<unknown> {
  for (let attempt = 0; ; attempt++) {
    const pipeline = client.pipeline() as unknown as Pipeline
    pipeline[method]!(...args)
    pipeline.call('WAIT', replicas, timeoutMs)
    const replies = await pipeline.exec()
    if (replies === null) throw new CyberError('CONNECTION_CLOSED', 'redis: the connection closed')
    const [[error, result], [waitError, acked]] = replies as [[Error | null, unknown], [Error | null, unknown]]
    // A pipeline is not redirected when part of it (the keyless WAIT) succeeded: after a
    // failover the script is refused with MOVED (so it did not run) and goes again, to the node
    // that holds the slot now.
    if (error !== null && /^(MOVED|ASK) /.test(error.message) && attempt < 16 && 'refreshSlotsCache' in client) {
      await new Promise<void>((resolve) => (client as Cluster).refreshSlotsCache(() => resolve()))
      continue
    }
    if (error !== null) throw error
    if (waitError !== null) throw waitError
    if ((acked as number) < replicas) {
      throw new CyberError('TIMEOUT', `written on the master, but only ${acked} of ${replicas} ` +
        `replicas had it within ${timeoutMs} ms: it may be lost if the master fails now`)
    }
    return result
  }
}
