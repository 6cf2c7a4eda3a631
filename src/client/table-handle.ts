// What dict and list handles share: the table name, the transport, and chunked iteration.
// A handle is a name and a transport: creating one does no I/O, and it never knows which
// transport it holds.

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

export abstract class TableHandle<T> implements AsyncIterable<T> {
  readonly name: string
  protected readonly transport: Transport
  protected abstract readonly type: 'dict' | 'list'

  constructor(transport: Transport, name: string) {
    this.transport = transport
    this.name = name
  }

  protected call(name: string, args: unknown[]): Promise<any> {
    return this.transport.call({ table: this.name, name, args })
  }

  /** Streams the table in chunks: neither one round trip per element nor the whole table at once.
   * Writes made during the iteration behave as in a `for...of` over a Map or an Array. */
  async *[Symbol.asyncIterator](): AsyncGenerator<T, void, undefined> {
    let cursor = 0
    try {
      do {
        const [next, items] = (await this.call(`${this.type}.scan`, [cursor, SCAN_CHUNK])) as [number, T[]]
        cursor = next
        yield* items
      } while (cursor !== 0)
    } finally {
      // Left early (break, throw): free the server's cursor now rather than at its eviction.
      if (cursor !== 0 && !this.transport.isClosed) {
        await this.transport.call({ table: '', name: 'cursor.close', args: [cursor] }).catch(() => {})
      }
    }
  }
}
