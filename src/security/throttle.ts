// Bounds password guessing by rationing proof checks, not connections. Each address, and the
// server as a whole, has a bucket of checks (a burst, refilled at a steady rate); every proof is
// counted when it ARRIVES and checked once both buckets have a check to spare, oldest first per
// address and in turn across addresses. A right proof gives its check back, so clients that know
// the password never drain a bucket, however many connect; wrong proofs drain it, and then every
// proof from that address (right ones too, or a guesser could learn from which proofs are
// answered at once) waits for its turn. Nothing is ever refused: a correct client waits at most
// for the proofs queued ahead of it, never for a lockout.

import { unrefTimer, type SetTimer } from '../host/clock.ts'

/** Proofs from one address checked at once before the rate applies. */
export const ADDRESS_BURST = 10
/** Wrong proofs from one address checked per minute once its burst is spent. */
export const ADDRESS_PER_MINUTE = 60
/** Proofs from all addresses checked at once before the overall rate applies. */
export const OVERALL_BURST = 100
/** Wrong proofs from all addresses together checked per minute once the burst is spent. */
export const OVERALL_PER_MINUTE = 600
/** Addresses remembered; past it the one least recently seen is forgotten (spoofed sources
 * cannot grow memory, and the overall bucket still bounds them all). */
export const MAX_ADDRESSES = 10_000


export interface ThrottleOptions {
  now?: () => number
  setTimer?: SetTimer
  addressBurst?: number
  addressPerMinute?: number
  overallBurst?: number
  overallPerMinute?: number
}

interface Bucket {
  tokens: number
  at: number
}

interface Waiting {
  evaluate: () => boolean
}

/** setTimeout, unref'd: a pending timer does not keep the process alive. */

export class AuthThrottle {
  readonly #now: () => number
  readonly #setTimer: SetTimer
  readonly #addressBurst: number
  readonly #addressPerMs: number
  readonly #overallBurst: number
  readonly #overallPerMs: number
  readonly #overall: Bucket
  // Least recently seen first (re-inserted on use).
  readonly #buckets = new Map<string, Bucket>()
  // Proofs waiting for a check, per address, oldest first; addresses in turn (Map order).
  readonly #queues = new Map<string, Waiting[]>()
  #waiting = 0
  #cancelTimer: (() => void) | undefined
  /** Proofs checked so far, and of those, wrong ones. */
  checked = 0
  failed = 0

  constructor(options: ThrottleOptions | (() => number) = {}) {
    const o = typeof options === 'function' ? { now: options } : options
    this.#now = o.now ?? Date.now
    this.#setTimer = o.setTimer ?? unrefTimer
    this.#addressBurst = o.addressBurst ?? ADDRESS_BURST
    this.#addressPerMs = (o.addressPerMinute ?? ADDRESS_PER_MINUTE) / 60_000
    this.#overallBurst = o.overallBurst ?? OVERALL_BURST
    this.#overallPerMs = (o.overallPerMinute ?? OVERALL_PER_MINUTE) / 60_000
    this.#overall = { tokens: this.#overallBurst, at: this.#now() }
  }

  /** Proofs that arrived and wait for their check. */
  get waiting(): number {
    return this.#waiting
  }

  /**
   * A proof arrived from `address`: `evaluate` checks it (true: right) at once, or once the
   * buckets allow, in arrival order. Returns a function that withdraws it (its connection left
   * before the check; nothing is spent), or undefined when it was checked at once.
   */
  submit(address: string, evaluate: () => boolean): (() => void) | undefined {
    const queue = this.#queues.get(address)
    if (queue === undefined && this.#take(address)) {
      this.#check(address, evaluate)
      return undefined
    }
    const waiting: Waiting = { evaluate }
    if (queue === undefined) this.#queues.set(address, [waiting])
    else queue.push(waiting)
    this.#waiting++
    this.#schedule()
    return () => this.#withdraw(address, waiting)
  }

  /** Gives the address its whole burst back (for an operator, or a test between cases). */
  forgive(address: string): void {
    this.#buckets.delete(address)
    this.#pump()
  }

  #check(address: string, evaluate: () => boolean): void {
    this.checked++
    if (evaluate()) {
      // A right proof costs nothing: give the check back to both buckets.
      const bucket = this.#buckets.get(address)
      if (bucket) bucket.tokens = Math.min(this.#addressBurst, bucket.tokens + 1)
      this.#overall.tokens = Math.min(this.#overallBurst, this.#overall.tokens + 1)
    } else {
      this.failed++
    }
  }

  // Takes one check from the address's bucket and the overall one, if both have one.
  #take(address: string): boolean {
    const now = this.#now()
    this.#refill(this.#overall, this.#overallBurst, this.#overallPerMs, now)
    if (this.#overall.tokens < 1) return false
    const bucket = this.#bucket(address, now)
    if (bucket.tokens < 1) return false
    bucket.tokens--
    this.#overall.tokens--
    return true
  }

  #bucket(address: string, now: number): Bucket {
    let bucket = this.#buckets.get(address)
    if (bucket === undefined) {
      bucket = { tokens: this.#addressBurst, at: now }
    } else {
      this.#buckets.delete(address) // re-insert: least recently seen first
      this.#refill(bucket, this.#addressBurst, this.#addressPerMs, now)
    }
    this.#buckets.set(address, bucket)
    if (this.#buckets.size > MAX_ADDRESSES) {
      for (const old of this.#buckets.keys()) {
        if (this.#buckets.size <= MAX_ADDRESSES) break
        if (!this.#queues.has(old)) this.#buckets.delete(old) // one with proofs waiting is kept
      }
    }
    return bucket
  }

  #refill(bucket: Bucket, burst: number, perMs: number, now: number): void {
    if (now > bucket.at) bucket.tokens = Math.min(burst, bucket.tokens + (now - bucket.at) * perMs)
    bucket.at = now
  }

  // Checks what the buckets allow now, one address at a time in turn; each pass checks at least
  // one proof or stops, so the loop ends within the tokens there are.
  #pump(): void {
    let progressed = true
    while (progressed && this.#queues.size > 0) {
      progressed = false
      for (const [address, queue] of [...this.#queues]) {
        if (!this.#take(address)) continue
        const waiting = queue.shift()!
        this.#waiting--
        this.#queues.delete(address) // back of the line, or gone when empty
        if (queue.length > 0) this.#queues.set(address, queue)
        this.#check(address, waiting.evaluate)
        progressed = true
      }
    }
    this.#schedule()
  }

  // One timer, for the moment the next waiting proof may be checked.
  #schedule(): void {
    this.#cancelTimer?.()
    this.#cancelTimer = undefined
    if (this.#queues.size === 0) return
    const now = this.#now()
    const overall = Math.max(0, (1 - this.#overall.tokens) / this.#overallPerMs)
    let address = Infinity
    for (const name of this.#queues.keys()) {
      const bucket = this.#buckets.get(name)
      const tokens = bucket === undefined ? this.#addressBurst
        : Math.min(this.#addressBurst, bucket.tokens + (now - bucket.at) * this.#addressPerMs)
      address = Math.min(address, Math.max(0, (1 - tokens) / this.#addressPerMs))
    }
    const wait = Math.ceil(Math.max(overall, address === Infinity ? 0 : address))
    this.#cancelTimer = this.#setTimer(() => {
      this.#cancelTimer = undefined
      this.#pump()
    }, wait)
  }

  #withdraw(address: string, waiting: Waiting): void {
    const queue = this.#queues.get(address)
    const at = queue ? queue.indexOf(waiting) : -1
    if (queue === undefined || at < 0) return
    queue.splice(at, 1)
    this.#waiting--
    if (queue.length === 0) this.#queues.delete(address)
    this.#schedule()
  }
}
