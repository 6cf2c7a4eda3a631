// db.replica(name) (issue 16): a replicated table read without await, from the replica's copy in
// this process (src/client/replica.ts), with the same values and errors as a handle's reads.

import type { DictTable } from '../engine/dict-table.ts'
import { copyStored } from '../engine/value-model.ts'
import { setOwn } from '../engine/values.ts'
import type { ReplicaTransport } from './replica.ts'

/** db.replica(name): a replicated table's reads, synchronous (a dict's, or a list's), named as
 * a SyncDict's and a SyncList's (openSync). */
export class ReplicaView<V = unknown> {
  readonly name: string
  readonly #replica: ReplicaTransport
  // The table the hot path reads, as of the replica's generation (-1: not looked up yet).
  #dict: DictTable | undefined
  #timed = false // it has deadlines (a key may expire with the time)
  #generation = -1
  readonly #version: { generation: number }

  constructor(replica: ReplicaTransport, name: string) {
    this.#replica = replica
    this.#version = replica.version
    this.name = name
  }

  /** The seq this copy is current to. */
  get seq(): number {
    return this.#replica.seq
  }

  #read<R>(op: string, args: unknown[]): R {
    return this.#replica.read(this.name, op, args) as R
  }

  // a dict's
  get(key: string | number): V | undefined
  get<F>(key: string | number, fallback: F): V | F
  get(key: string | number, fallback?: unknown): unknown {
    // The hot path (a web request's read): a key the table holds is one the value model
    // accepted, so a hit is the general read's answer without its walk; a miss, a missing table,
    // a list or a fallback takes the general read, for its answer or its error.
    if (arguments.length > 1) return this.#read('dict.get', [key, fallback])
    if (this.#generation !== this.#version.generation) {
      this.#generation = this.#version.generation
      this.#dict = this.#replica.dictOf(this.name)
      this.#timed = this.#dict !== undefined && this.#dict.deadlineCount > 0
    }
    const dict = this.#dict
    if (dict === undefined) return this.#read('dict.get', [key])
    if (this.#timed) dict.advance(this.#replica.now())
    const value = dict.get(key)
    if (value === undefined) return this.#read('dict.get', [key])
    return typeof value === 'object' && value !== null ? copyStored(value) : value
  }
  has(key: string | number): boolean {
    return this.#read('dict.has', [key])
  }
  size(): number {
    return this.#read('dict.size', [])
  }
  keys(options?: { prefix?: string; limit?: number }): (string | number)[] {
    return this.#read('dict.keys', options === undefined ? [] : [options])
  }
  values(options?: { prefix?: string; limit?: number }): V[] {
    return this.#read('dict.values', options === undefined ? [] : [options])
  }
  entries(options?: { prefix?: string; limit?: number }): [string | number, V][] {
    return this.#read('dict.entries', options === undefined ? [] : [options])
  }
  getMany(keys: (string | number)[]): (V | undefined)[] {
    return this.#read('dict.getMany', [keys])
  }
  /** ms left, Infinity without a deadline, undefined when missing or expired. */
  ttl(key: string | number): number | undefined {
    return this.#read('dict.ttl', [key])
  }
  toObject(): Record<string, V> {
    const object: Record<string, V> = {}
    for (const [key, value] of this.entries()) setOwn(object, String(key), value)
    return object
  }
  toMap(): Map<string | number, V> {
    return new Map(this.entries())
  }

  // a list's
  at(index: number): V {
    return this.#read('list.at', [index])
  }
  slice(start?: number, end?: number): V[] {
    const args = end !== undefined ? [start, end] : start !== undefined ? [start] : []
    return this.#read('list.slice', args)
  }
  length(): number {
    return this.#read('list.length', [])
  }
  indexOf(value: V): number {
    return this.#read('list.indexOf', [value])
  }
  count(value: V): number {
    return this.#read('list.count', [value])
  }
  toArray(): V[] {
    return this.#read('list.slice', [])
  }
}
