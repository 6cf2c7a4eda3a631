// The one interface both transports implement. Handles and the Database talk only to this, and
// never ask which transport they hold, so code moves from memory:// to cyberdb:// with one edit.

import { CyberError } from '../errors.ts'
import type { Op } from '../engine/commands.ts'
import type { SnapshotStats } from '../persistence/snapshot.ts'
import type { Address, ListenOptions } from '../server/server.ts'

export interface Transport extends AsyncDisposable {
  /** Runs one operation; values go in and come out as copies. Rejects with a CyberError. */
  call(op: Op): Promise<unknown>
  /** Snapshots now: embedded, to its file (or `path`); remote, the server to its backup file. */
  save(path?: string): Promise<SnapshotStats>
  /** A transport bound to one connection for a unit of work; closing it gives the connection back.
   * Synchronous (a proxy is made once per web request): throws CONNECTION_CLOSED when closed. */
  pin(): Transport
  /** Serves this database to other processes (embedded only); closing the database stops it. */
  serve(options: ListenOptions): Promise<Address>
  close(): Promise<void>
  readonly isClosed: boolean
}

/** Closing a proxy does no I/O: one settled promise serves every close. */
export const DONE: Promise<void> = Promise.resolve()

export function closedError(what: 'database' | 'proxy'): CyberError {
  return new CyberError('CONNECTION_CLOSED', `this ${what} is closed`)
}
