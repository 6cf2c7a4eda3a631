// The one write path. A Host owns the Store and, for a data file, its operation log: every
// operation of the embedded transport and of the server goes through apply(), so the modes cannot
// drift apart in how a write reaches memory and disk. A write's log record is encoded before the
// write is applied: a value the encoder refuses never touches the store (else it would sit in
// memory, missing from the log, and break every later snapshot). Durability is waited for through
// here too, through the log's one wait (OpLog.durable): whenDurable() for the embedded promise,
// commit() for the server's held replies.
// (The clock, the change feed and the counters are to join this class; it is their seam.)

import type { Op } from '../engine/commands.ts'
import { Store } from '../engine/store.ts'
import type { OpLog } from '../persistence/op-log.ts'

/** What a server session needs to hold a reply until the writes it acknowledges are durable. */
export interface WriteHold {
  /** Sequence number of the last logged write (0 without a log). */
  readonly appended: number
  /** Undefined when writes `from`..`to` are durable as the policy says; else a promise for it,
   * rejected when the disk refused any of them (they were then not applied). */
  commit(from: number, to: number): Promise<void> | undefined
}

export class Host implements WriteHold {
  readonly store: Store
  #log: OpLog | undefined

  constructor(store: Store = new Store()) {
    this.store = store
  }

  /** The data file's operation log, when there is one. */
  get log(): OpLog | undefined {
    return this.#log
  }

  /** Writes go to `log` from now on (a data file starting or stopping to log). */
  attach(log: OpLog | undefined): void {
    this.#log = log
  }

  /** Runs one operation; a write with a log: encode its record, apply it, then append the record
   * (dropped when apply throws). Throws CyberError. Returns stored values as they are. */
  apply(op: Op): unknown {
    const log = this.#log
    if (log === undefined || !Store.writes(op.name)) return this.store.apply(op)
    log.check()
    const record = log.encode(op) // valid until the log encodes again: apply never logs
    const result = this.store.apply(op)
    log.appendEncoded(record)
    return result
  }

  get appended(): number {
    return this.#log?.appended ?? 0
  }

  /** Resolves once every write applied so far is durable as the policy says. */
  whenDurable(): Promise<void> {
    const log = this.#log
    return log?.durable(log.appended) ?? Promise.resolve()
  }

  commit(from: number, to: number): Promise<void> | undefined {
    this.#log?.flush(to)
    return this.#log?.durable(from, to)
  }
}
