// list.take({ wait }) on Redis. A take is one TAKE script (the table checks, then the first
// element); with nothing there and a wait, it joins the list's line of waiting takes (a Redis
// list, so the line is the same for every client) and blocks on a hand-over key of its own, on
// a connection of its own (a blocking command must never hold the shared one). A write that
// leaves elements moves each to the take first in line, inside the write's own script, so takes
// are served in the order they asked. The wait is ended by this client's timer (tests' manual
// timers work): the take leaves the line, and an element handed over but not yet read goes back
// to the front of the list; one already read is handed to the caller. Nothing is dropped.

import type { Redis } from 'ioredis'
import { CyberError, badArgument } from '../errors.ts'
import { systemTimer, type SetTimer } from '../host/clock.ts'
import { takeWait } from '../host/takes.ts'

export interface TakesOptions {
  /** A connection of its own, for one blocking wait. */
  duplicate: () => Redis
  setTimer?: SetTimer
  /** The TAKE script: the first element's bytes or null. */
  take: (table: string, id: string, mode: 'none' | 'wait') => Promise<unknown>
  /** The UNWAIT script. */
  unwait: (table: string, id: string) => Promise<unknown>
  decode: (bytes: Buffer) => unknown
  handOverKey: (table: string, id: string) => string
}

interface Waiting {
  end: (error?: CyberError) => void
  done: Promise<unknown>
}

export class Takes {
  readonly #options: TakesOptions
  readonly #waiting = new Set<Waiting>()
  // Takes between their call and their wait (the first TAKE in flight): closing waits for them.
  readonly #starting = new Set<Promise<unknown>>()
  #closing = false

  constructor(options: TakesOptions) {
    this.#options = options
  }

  async take(table: string, args: unknown[]): Promise<unknown> {
    if (args.length > 1) throw badArgument(`list.take takes 0 to 1 arguments, not ${args.length}`)
    const wait = takeWait(args[0])
    const id = crypto.randomUUID()
    const started = Promise.withResolvers<unknown>()
    this.#starting.add(started.promise)
    try {
      const bytes = await this.#options.take(table, id, wait > 0 ? 'wait' : 'none')
      if (bytes !== null || wait === 0) return bytes === null ? undefined : this.#options.decode(bytes as Buffer)
      if (this.#closing) {
        await this.#options.unwait(table, id)
        throw new CyberError('CONNECTION_CLOSED', 'the take was cancelled: its database closed')
      }
      return this.#wait(table, id, wait)
    } finally {
      this.#starting.delete(started.promise)
      started.resolve(undefined)
    }
  }

  #wait(table: string, id: string, wait: number): Promise<unknown> {
    const options = this.#options
    const connection = options.duplicate()
    connection.on('error', () => {})
    let ended: { error?: CyberError; left: Promise<unknown> } | undefined
    const waiting: Waiting = {
      // Leaves the line at once, on the shared connection: a write this client sends after
      // (the next push) finds the line without this take. Then ends the BLPOP.
      end: (error) => {
        if (ended !== undefined) return
        ended = { error, left: options.unwait(table, id) }
        connection.disconnect()
      },
      done: Promise.resolve(),
    }
    const cancelTimer = (options.setTimer ?? systemTimer)(() => waiting.end(), wait)
    const run = async (): Promise<unknown> => {
      try {
        const handed = await connection.blpopBuffer(options.handOverKey(table, id), 0).catch(() => null)
        if (handed !== null) {
          const bytes = handed[1]
          // The marker: the table went away (or changed type) while this take waited.
          if (bytes.length === 0) {
            const value = await options.take(table, id, 'none')
            return value === null ? undefined : options.decode(value as Buffer)
          }
          return options.decode(bytes)
        }
        await (ended?.left ?? options.unwait(table, id))
        if (ended?.error !== undefined) throw ended.error
        return undefined
      } finally {
        cancelTimer()
        this.#waiting.delete(waiting)
        connection.disconnect()
      }
    }
    const result = run()
    waiting.done = result.catch(() => undefined)
    this.#waiting.add(waiting)
    return result
  }

  /** take.cancel: ends this client's waiting takes with CONNECTION_CLOSED, once each has left
   * its line. */
  async cancel(): Promise<number> {
    const all = [...this.#waiting]
    for (const waiting of all) {
      waiting.end(new CyberError('CONNECTION_CLOSED', 'the take was cancelled: its database closed'))
    }
    await Promise.all(all.map((waiting) => waiting.done))
    return all.length
  }

  /** Ends every take of this client; resolves once none is left in a line. */
  async close(): Promise<void> {
    this.#closing = true
    await Promise.all(this.#starting)
    await this.cancel()
  }
}

