// What db.watch() returns in every mode: an async iterator over changes that a source fills (the
// embedded host's watcher, or a connection's pushes). It holds what the source gave and the one
// caller waiting; leaving the loop (return) or the database closing tells the source to let go.

import type { CyberError } from '../errors.ts'

/** One change of the feed; see DESIGN.md "Change feed". */
export interface Change {
  /** The commit's number: one per commit (an atomic batch's changes share it). */
  readonly seq: number
  readonly table: string
  /** The op in its logged form: 'dict.set', 'dict.expire', 'list.push', 'db.drop', ... */
  readonly op: string
  /** The dict key, for an op on one key (an op on several keys is one change per key). */
  readonly key?: string | number
  /** The op's arguments in their deterministic form: enough to apply it to a replica. */
  readonly args: unknown[]
}

export interface WatchOptions {
  /** Only changes of these tables (default: all). */
  tables?: string[]
  /** Only changes of dict keys with this prefix (changes with no key are kept). */
  prefix?: string
  /** Every change after this seq first, then live (default: from the next commit). */
  since?: number
}

/** What feeds a stream. */
export interface ChangeSource {
  /** The stream has nothing left to give: add more now if there is some (push), or later. */
  pull(): void
  /** The caller left (return(), or the database closed): let go of everything. */
  end(): void
  /** The caller read one change (a remote watch asks the server for more). */
  consumed?(): void
}

export class ChangeStream implements AsyncIterableIterator<Change> {
  #source: ChangeSource | undefined
  #items: Change[] = []
  #head = 0
  #error: CyberError | undefined
  #ended = false
  #waiting: PromiseWithResolvers<IteratorResult<Change>> | undefined
  /** The seq of the last change handed to the caller (a resume starts after it). */
  lastSeq = -1

  #onEnd: (() => void)[] = []

  /** Calls `fn` once when the stream ends (the caller left, the database closed, an error). */
  whenEnded(fn: () => void): void {
    if (this.#ended) fn()
    else this.#onEnd.push(fn)
  }

  #end(): void {
    this.#ended = true
    this.#source?.end()
    for (const fn of this.#onEnd.splice(0)) fn()
  }

  /** Set the source before the first next(). */
  attach(source: ChangeSource): void {
    this.#source = source
  }

  /** Changes for the caller, in order. */
  push(changes: readonly Change[]): void {
    if (this.#ended) return
    for (const change of changes) this.#items.push(change)
    this.#settle()
  }

  /** The watch failed (FEED_COMPACTED, BAD_ARGUMENT, ...): the caller's next read throws it. */
  fail(error: CyberError): void {
    if (this.#ended || this.#error !== undefined) return
    this.#error = error
    this.#settle()
  }

  /** The watch ends without an error (the database closed): the loop ends. */
  finish(): void {
    if (this.#ended) return
    this.#end()
    this.#items = []
    this.#settle()
  }

  get isEnded(): boolean {
    return this.#ended
  }

  /** Changes received and not yet read by the caller. */
  get buffered(): number {
    return this.#items.length - this.#head
  }

  next(): Promise<IteratorResult<Change>> {
    if (this.#waiting !== undefined) return Promise.reject(new Error('watch: next() called while another waits'))
    if (this.#head === this.#items.length && !this.#ended && this.#error === undefined) this.#source?.pull()
    const now = this.#take()
    if (now !== undefined) return now
    this.#waiting = Promise.withResolvers()
    return this.#waiting.promise
  }

  return(): Promise<IteratorResult<Change>> {
    this.finish()
    return Promise.resolve({ done: true, value: undefined })
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<Change> {
    return this
  }

  // An answer now when there is one: a change, the error (then ended), or the end.
  #take(): Promise<IteratorResult<Change>> | undefined {
    if (this.#head < this.#items.length) {
      const value = this.#items[this.#head++]!
      if (this.#head === this.#items.length) {
        this.#items = []
        this.#head = 0
      }
      this.lastSeq = value.seq
      this.#source?.consumed?.()
      return Promise.resolve({ done: false, value })
    }
    if (this.#error !== undefined && !this.#ended) {
      this.#end()
      return Promise.reject(this.#error)
    }
    if (this.#ended) return Promise.resolve({ done: true, value: undefined })
    return undefined
  }

  #settle(): void {
    const waiting = this.#waiting
    if (waiting === undefined) return
    const now = this.#take()
    if (now === undefined) return
    this.#waiting = undefined
    now.then(waiting.resolve, waiting.reject)
  }
}
