// Slows password guessing: each failed proof from an address delays the AUTH_FAILED reply
// (doubling per consecutive failure, capped), and after MAX_FAILURES in a row the address is
// refused outright for LOCKOUT_MS. A success clears the address. The table is bounded: past
// MAX_ADDRESSES the oldest entry is forgotten, so spoofed sources cannot grow memory.

export const BASE_DELAY_MS = 100
export const MAX_DELAY_MS = 5_000
export const MAX_FAILURES = 10
export const LOCKOUT_MS = 60_000
export const MAX_ADDRESSES = 10_000

interface Record {
  failures: number
  lockedUntil: number
}

export class AuthThrottle {
  readonly #records = new Map<string, Record>()
  readonly #now: () => number

  constructor(now: () => number = Date.now) {
    this.#now = now
  }

  /** Whether the address is refused for now, after too many failures in a row. */
  isLocked(address: string): boolean {
    const record = this.#records.get(address)
    return record !== undefined && record.lockedUntil > this.#now()
  }

  /** Records a failure; returns how long to wait before replying. */
  fail(address: string): number {
    let record = this.#records.get(address)
    if (record === undefined || (record.lockedUntil > 0 && record.lockedUntil <= this.#now())) {
      record = { failures: 0, lockedUntil: 0 }
    }
    this.#records.delete(address) // re-insert: the Map's order is then least recently failed first
    this.#records.set(address, record)
    if (this.#records.size > MAX_ADDRESSES) this.#records.delete(this.#records.keys().next().value!)
    record.failures++
    if (record.failures >= MAX_FAILURES) record.lockedUntil = this.#now() + LOCKOUT_MS
    return Math.min(BASE_DELAY_MS * 2 ** (record.failures - 1), MAX_DELAY_MS)
  }

  succeed(address: string): void {
    this.#records.delete(address)
  }
}
