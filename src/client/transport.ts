// The one interface both transports implement. Handles and the Database talk only to this, and
// never ask which transport they hold, so code moves from memory:// to cyberdb:// with one edit.
// Saving is an operation like any other (db.save); serving is the embedded transport's alone.

import { CyberError } from '../errors.ts'
import type { Op } from '../engine/commands.ts'

export interface Transport extends AsyncDisposable {
  /** Runs one operation; values go in and come out as copies. Rejects with a CyberError. */
  call(op: Op): Promise<unknown>
  /** A transport bound to one connection for a unit of work; closing it gives the connection back.
   * Synchronous (a proxy is made once per web request): throws CONNECTION_CLOSED when closed. */
  pin(): Transport
  close(): Promise<void>
  readonly isClosed: boolean
}

/** Closing a proxy does no I/O: one settled promise serves every close. */
export const DONE: Promise<void> = Promise.resolve()

export function closedError(what: 'database' | 'proxy'): CyberError {
  return new CyberError('CONNECTION_CLOSED', `this ${what} is closed`)
}
