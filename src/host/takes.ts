// Takes waiting for a list to have an element (list.take with { wait }). One line per list, in
// the order the takes asked (a Set keeps insertion order and deletes in O(1)); each waiting take
// also belongs to its caller's Takers (a server session, an embedded database), which ends them
// all when the caller goes away. The host hands elements out; this file keeps only the lines.

import { badArgument, type CyberError } from '../errors.ts'
import { describe } from '../engine/values.ts'

/** One waiting take. Whoever ends it (an element, its timer, a cancel, a drop) calls leave()
 * first, so no element can be handed to a take that already ended. */
export class Waiter {
  readonly table: string
  readonly owner: Takers
  readonly resolve: (value: unknown) => void
  readonly reject: (error: CyberError) => void
  readonly #lines: Takes
  cancelTimer: () => void = () => {}

  constructor(table: string, owner: Takers, lines: Takes,
    settle: { resolve: (value: unknown) => void; reject: (error: CyberError) => void }) {
    this.table = table
    this.owner = owner
    this.#lines = lines
    this.resolve = settle.resolve
    this.reject = settle.reject
  }

  /** Out of its line and its owner's set, its timer stopped. */
  leave(): void {
    this.cancelTimer()
    this.#lines.remove(this)
    this.owner.waiting.delete(this)
  }
}

/** The host's lines of waiting takes, by list name. */
export class Takes {
  readonly #lines = new Map<string, Set<Waiter>>()
  #waiting = 0

  /** Takes waiting now, on every list. */
  get waiting(): number {
    return this.#waiting
  }

  /** Lists with a waiting take: 0 on the hot path, where a write checks nothing more. */
  get size(): number {
    return this.#lines.size
  }

  /** The take that asked first on `table`. */
  first(table: string): Waiter | undefined {
    return this.#lines.get(table)?.values().next().value
  }

  add(waiter: Waiter): void {
    let line = this.#lines.get(waiter.table)
    if (line === undefined) this.#lines.set(waiter.table, line = new Set())
    line.add(waiter)
    this.#waiting++
    waiter.owner.waiting.add(waiter)
  }

  remove(waiter: Waiter): void {
    const line = this.#lines.get(waiter.table)
    if (line === undefined || !line.delete(waiter)) return
    this.#waiting--
    if (line.size === 0) this.#lines.delete(waiter.table)
  }
}

/** One caller's waiting takes. */
export class Takers {
  /** The caller's takes still waiting (Takes.add and Waiter.leave keep it). */
  readonly waiting = new Set<Waiter>()

  get size(): number {
    return this.waiting.size
  }

  /** Ends every waiting take of this caller with `error`; each leaves its line first, so an
   * element arriving later goes to the next take in line or stays in the list. Returns how many. */
  cancel(error: CyberError): number {
    const ended = [...this.waiting]
    for (const waiter of ended) {
      waiter.leave()
      waiter.reject(error)
    }
    return ended.length
  }
}

/** A take's `{ wait }` in milliseconds: 0 without one. */
export function takeWait(options: unknown): number {
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
