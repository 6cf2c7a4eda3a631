// What dict and list handles share: the table name, the transport, and chunked iteration.
// A handle is a name and a transport: creating one does no I/O, and it never knows which
// transport it holds.

import type { Op, OpName, OpResult } from '../engine/commands.ts'
import type { DatabaseInfo } from '../host/info.ts'
import type { SnapshotStats } from '../persistence/snapshot.ts'
import type { Transport } from './transport.ts'

// Large enough that iteration costs few round trips, small enough that one chunk of big values
// stays far below the frame size limit.
export const SCAN_CHUNK = 512

/** Whether a value is an object to spread with Array.from. Anything else (a number, a string, an
 * array-like `{ length }`) goes to the engine as it is, which refuses it with the same message in
 * every mode: Array.from(42) would make a silent empty list (issue 8.16b). */
export function isIterable(value: unknown): value is Iterable<unknown> {
  return typeof value === 'object' && value !== null && Symbol.iterator in value
}

/** What an op answers a client: its command's result, or for db.save and db.info, which the host
 * runs (their commands in the engine only refuse), the snapshot's figures and the info. */
export type CallResult<N extends OpName> = N extends 'db.save' ? SnapshotStats
  : N extends 'db.info' ? DatabaseInfo : OpResult<N>

/** Runs one op through a transport, the one place a client types a transport's answer. `R` is
 * what the caller promises (inferred from its return type): the compiler checks it against what
 * the command returns, so a method cannot promise a number for an op that answers a boolean, nor
 * call an op that does not exist. */
export function callOp<N extends OpName, R extends CallResult<N> = CallResult<N>>(transport: Transport,
  table: string, name: N, args: unknown[]): Promise<R> {
  const op: Op<OpName> = { table, name, args }
  return transport.call(op) as Promise<R>
}

export abstract class TableHandle<T> implements AsyncIterable<T> {
  readonly name: string
  protected readonly transport: Transport
  protected abstract readonly type: 'dict' | 'list'

  constructor(transport: Transport, name: string) {
    this.transport = transport
    this.name = name
  }

  /** Runs one op on this table, typed as callOp says. */
  protected call<N extends OpName, R extends CallResult<N> = CallResult<N>>(name: N,
    args: unknown[]): Promise<R> {
    return callOp<N, R>(this.transport, this.name, name, args)
  }

  /** Streams the table in chunks: neither one round trip per element nor the whole table at once.
   * Writes made during the iteration behave as in a `for...of` over a Map or an Array. */
  [Symbol.asyncIterator](): AsyncGenerator<T, void, undefined> {
    return this.stream([])
  }

  /** The iteration, with the scan's options after cursor and count (dict: `{ prefix }`). */
  protected async *stream(options: unknown[]): AsyncGenerator<T, void, undefined> {
    let cursor = 0
    try {
      do {
        const [next, items] = await this.call<'dict.scan' | 'list.scan', [number, T[]]>(
          `${this.type}.scan`, [cursor, SCAN_CHUNK, ...options])
        cursor = next
        yield* items
      } while (cursor !== 0)
    } finally {
      // Left early (break, throw): free the server's cursor now rather than at its eviction.
      if (cursor !== 0 && !this.transport.isClosed) {
        const close: Op<OpName> = { table: '', name: 'cursor.close', args: [cursor] }
        await this.transport.call(close).catch(() => {})
      }
    }
  }
}
