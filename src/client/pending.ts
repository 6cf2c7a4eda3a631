// The requests in flight on one connection, by id. Ids are consecutive, so an array ring indexed
// by `id & mask` holds them with no Map entry and no object per request; a request that stays
// long (a save, a blocking take) while ids wrap past it keeps its slot, and the newcomer that
// lands on it goes to a small Map instead, so one slow request never makes the ring grow forever.

import type { CyberError } from '../errors.ts'
import type { Op } from '../engine/commands.ts'

/** A request in flight, as handed back by drain(). */
export interface Unanswered {
  op: Op
  resolve(value: unknown): void
  reject(error: CyberError): void
}

const FIRST_SLOTS = 256

export class PendingRequests {
  #ids: number[] = new Array<number>(FIRST_SLOTS).fill(0)
  #ops: (Op | undefined)[] = new Array<Op | undefined>(FIRST_SLOTS).fill(undefined)
  #resolves: (((value: unknown) => void) | undefined)[] = new Array(FIRST_SLOTS).fill(undefined)
  #rejects: (((error: CyberError) => void) | undefined)[] = new Array(FIRST_SLOTS).fill(undefined)
  #mask = FIRST_SLOTS - 1
  readonly #overflow = new Map<number, Unanswered>()
  #size = 0

  get size(): number {
    return this.#size
  }

  /** Slots in the ring (its memory), for tests. */
  get slots(): number {
    return this.#ids.length
  }

  /** Adds request `id` (> 0, not in flight). */
  add(id: number, op: Op, resolve: (value: unknown) => void, reject: (error: CyberError) => void): void {
    let slot = id & this.#mask
    if (this.#ids[slot] !== 0) {
      if (this.#size * 2 < this.#ids.length) {
        this.#overflow.set(id, { op, resolve, reject })
        this.#size++
        return
      }
      this.#grow()
      slot = id & this.#mask
      if (this.#ids[slot] !== 0) { // still taken after doubling: a straggler's slot
        this.#overflow.set(id, { op, resolve, reject })
        this.#size++
        return
      }
    }
    this.#ids[slot] = id
    this.#ops[slot] = op
    this.#resolves[slot] = resolve
    this.#rejects[slot] = reject
    this.#size++
  }

  /** Settles request `id` with its reply (an error reply's payload made an error by `toError`);
   * false when it is not in flight. */
  settle(id: number, ok: boolean, value: unknown, toError: (value: unknown) => CyberError): boolean {
    const slot = id & this.#mask
    if (this.#ids[slot] === id) {
      const resolve = this.#resolves[slot]!
      const reject = this.#rejects[slot]!
      this.#ids[slot] = 0
      this.#ops[slot] = undefined
      this.#resolves[slot] = undefined
      this.#rejects[slot] = undefined
      this.#size--
      if (ok) resolve(value)
      else reject(toError(value))
      return true
    }
    const other = this.#overflow.get(id)
    if (other === undefined) return false
    this.#overflow.delete(id)
    this.#size--
    if (ok) other.resolve(value)
    else other.reject(toError(value))
    return true
  }

  /** Whether a request of operation `name` is in flight (a waiting take, when closing). */
  hasOp(name: string): boolean {
    for (let slot = 0; slot < this.#ops.length; slot++) if (this.#ops[slot]?.name === name) return true
    for (const request of this.#overflow.values()) if (request.op.name === name) return true
    return false
  }

  /** Every request in flight, oldest first; none is left. */
  drain(): Unanswered[] {
    const all: (Unanswered & { id: number })[] = []
    for (let slot = 0; slot < this.#ids.length; slot++) {
      const id = this.#ids[slot]!
      if (id === 0) continue
      const op = this.#ops[slot]!
      all.push({ id, op, resolve: this.#resolves[slot]!, reject: this.#rejects[slot]! })
    }
    for (const [id, request] of this.#overflow) all.push({ id, ...request })
    all.sort((a, b) => a.id - b.id)
    this.#ids.fill(0)
    this.#ops.fill(undefined)
    this.#resolves.fill(undefined)
    this.#rejects.fill(undefined)
    this.#overflow.clear()
    this.#size = 0
    return all.map(({ op, resolve, reject }) => ({ op, resolve, reject }))
  }

  #grow(): void {
    const ids = this.#ids
    const ops = this.#ops
    const resolves = this.#resolves
    const rejects = this.#rejects
    const slots = ids.length * 2
    this.#ids = new Array<number>(slots).fill(0)
    this.#ops = new Array<Op | undefined>(slots).fill(undefined)
    this.#resolves = new Array(slots).fill(undefined)
    this.#rejects = new Array(slots).fill(undefined)
    this.#mask = slots - 1
    for (let old = 0; old < ids.length; old++) {
      const id = ids[old]!
      if (id === 0) continue
      const slot = id & this.#mask // distinct ids of one old slot differ in the old size's bit
      this.#ids[slot] = id
      this.#ops[slot] = ops[old]
      this.#resolves[slot] = resolves[old]
      this.#rejects[slot] = rejects[old]
    }
  }
}
