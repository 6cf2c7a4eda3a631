// The one interface both transports implement. Handles and the Database talk only to this, and
// never ask which transport they hold, so code moves from memory:// to cyberdb:// with one edit.
// Saving is an operation like any other (db.save); serving is the embedded transport's alone.

import { CyberError } from '../errors.ts'
import type { Op } from '../engine/commands.ts'
import type { ChangeStream, WatchOptions } from './change-stream.ts'

export interface Transport extends AsyncDisposable {
  /** Runs one operation; values go in and come out as copies. Rejects with a CyberError. */
  call(op: Op): Promise<unknown>
  /** A transport bound to one connection for a unit of work; closing it gives the connection back.
   * Synchronous (a proxy is made once per web request): throws CONNECTION_CLOSED when closed. */
  pin(): Transport
  close(): Promise<void>
  readonly isClosed: boolean
  /** The change feed from `options` (issue 12); errors (BAD_ARGUMENT, FEED_COMPACTED) surface
   * on the stream's first read. Optional: a transport without a feed refuses db.watch(). */
  watch?(options: WatchOptions | undefined): ChangeStream
}

/** Closing a proxy does no I/O: one settled promise serves every close. */
export const DONE: Promise<void> = Promise.resolve()

export function closedError(what: 'database' | 'proxy'): CyberError {
  return new CyberError('CONNECTION_CLOSED', `this ${what} is closed`)
}
