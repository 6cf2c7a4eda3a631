// list.take({ wait }) on Redis. A take first shifts (one script, with the table checks); with
// nothing there and a wait, it blocks in BLMOVE on a connection of its own (a blocking command
// must never hold the shared one), moving the element it gets into an inbox key of its own on the
// list's slot. The wait is ended by this client's timer (so tests' manual timers work): the
// connection is dropped, and whatever reached the inbox meanwhile is still handed over, never lost.
// Redis serves blocked clients first come, first served: the line is Redis's.

import type { Redis } from 'ioredis'
import { CyberError, badArgument } from '../errors.ts'
import { describe } from '../engine/values.ts'
import { systemTimer, type SetTimer } from '../host/clock.ts'

export interface TakesOptions {
  duplicate: () => Redis
  setTimer?: SetTimer
  shift: (table: string) => Promise<unknown>
  decode: (bytes: Buffer) => unknown
  /** LPOP on the shared connection (an inbox is emptied at once: it never blocks). */
  popInbox: (key: string) => Promise<Buffer | null>
  listKey: (table: string) => string
}

interface Waiting {
  connection: Redis
  end: (error?: CyberError) => void
}

export class Takes {
  readonly #options: TakesOptions
  readonly #waiting = new Set<Waiting>()

  constructor(options: TakesOptions) {
    this.#options = options
  }

  async take(table: string, args: unknown[]): Promise<unknown> {
    if (args.length > 1) throw badArgument(`list.take takes 0 to 1 arguments, not ${args.length}`)
    const wait = takeWait(args[0])
    const first = await this.#options.shift(table)
    if (first !== undefined || wait === 0) return first
    return this.#block(table, wait)
  }

  #block(table: string, wait: number): Promise<unknown> {
    const list = this.#options.listKey(table)
    const inbox = `${list}:take:${crypto.randomUUID()}`
    const connection = this.#options.duplicate()
    const settle = Promise.withResolvers<unknown>()
    let done = false
    const waiting: Waiting = {
      connection,
      end: (error) => {
        if (done) return
        done = true
        cancelTimer()
        this.#waiting.delete(waiting)
        connection.disconnect()
        // An element BLMOVE moved just before we let go is in the inbox: hand it over.
        void this.#fromInbox(inbox).then((value) => {
          if (value !== undefined) settle.resolve(value)
          else if (error !== undefined) settle.reject(error)
          else settle.resolve(undefined)
        }, settle.reject)
      },
    }
    this.#waiting.add(waiting)
    const cancelTimer = (this.#options.setTimer ?? systemTimer)(() => waiting.end(), wait)
    connection.blmoveBuffer(list, inbox, 'LEFT', 'LEFT', 0).then(async (moved) => {
      if (done || moved === null) return
      done = true
      cancelTimer()
      this.#waiting.delete(waiting)
      connection.disconnect()
      await (this.#fromInbox(inbox).then(settle.resolve, settle.reject))
    }, () => waiting.end())
    return settle.promise
  }

  async #fromInbox(inbox: string): Promise<unknown> {
    const bytes = await this.#options.popInbox(inbox)
    return bytes === null ? undefined : this.#options.decode(bytes)
  }

  /** take.cancel: ends this client's waiting takes with CONNECTION_CLOSED. */
  cancel(): Promise<number> {
    const n = this.#waiting.size
    for (const waiting of [...this.#waiting]) {
      waiting.end(new CyberError('CONNECTION_CLOSED', 'the take was cancelled: its database closed'))
    }
    return Promise.resolve(n)
  }

  async close(): Promise<void> {
    await this.cancel()
  }
}

function takeWait(options: unknown): number {
  if (options === undefined) return 0
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw badArgument(`take options are an object like { wait: ms }, not ${describe(options)}`)
  }
  const { wait } = options as { wait?: unknown }
  if (wait === undefined) return 0
  if (typeof wait !== 'number' || !Number.isFinite(wait) || wait < 0) {
    throw badArgument(`take's wait is a finite number of milliseconds, 0 or more, not ${describe(wait)}`)
  }
  return wait
}
