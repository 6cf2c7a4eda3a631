// dict.scan / list.scan on Redis: this client's open iterations, as the engine's Cursors keeps
// them (random ids, never 0, bounded, unknown ones refused), each holding a position in the
// table: a dict's last insertion score, a list's next index. Each step is one SCAN script.

import type { Packr } from 'msgpackr'
import { CyberError, badArgument } from '../errors.ts'
import { checkIndex, type Op } from '../engine/commands.ts'
import { scanFilter } from '../engine/listing.ts'
import { MAX_CURSORS } from '../engine/cursors.ts'
import { decodeKey } from './keys.ts'

export interface ScanCursor {
  table: string
  on: 'dict' | 'list'
  after: number
  count: number
  born: string | undefined
  keep: ((item: unknown) => boolean) | undefined
}

const random = new Uint32Array(2)

function randomId(): number {
  crypto.getRandomValues(random)
  return (random[0]! & 0x1f_ffff) * 2 ** 32 + random[1]!
}

export class Scans {
  readonly #open = new Map<number, ScanCursor>()

  /** The cursor a scan call continues (or starts: cursor 0), with its arguments checked. */
  open(op: Op, on: 'dict' | 'list'): ScanCursor {
    const id = checkIndex(op.args[0], 'a cursor')
    const count = checkIndex(op.args[1], 'a count')
    if (count < 1) throw badArgument(`a count must be at least 1, not ${count}`)
    const keep = on === 'dict' ? scanFilter(op.args[2]) : undefined
    if (id === 0) return { table: op.table, on, after: 0, count, born: undefined, keep }
    const cursor = this.#open.get(id)
    this.#open.delete(id)
    if (cursor === undefined || cursor.on !== on) throw badArgument(`cursor ${id} is unknown or expired`)
    if (cursor.table !== op.table) {
      throw new CyberError('TABLE_NOT_FOUND', `table "${op.table}" was dropped during the iteration`)
    }
    return { ...cursor, count }
  }

  /** [next cursor or 0, items] from a SCAN reply {type, born, next, items...}. */
  next(cursor: ScanCursor, reply: Buffer[], codec: Packr): [number, unknown[]] {
    const born = reply[1]!.toString()
    if (cursor.born !== undefined && cursor.born !== born) {
      throw new CyberError('TABLE_NOT_FOUND', `table "${cursor.table}" was dropped during the iteration`)
    }
    const items: unknown[] = []
    if (cursor.on === 'dict') {
      for (let i = 3; i < reply.length; i += 2) {
        const item = [decodeKey(reply[i]!.toString()), codec.unpack(reply[i + 1]!)]
        if (cursor.keep === undefined || cursor.keep(item)) items.push(item)
      }
    } else {
      for (let i = 3; i < reply.length; i++) items.push(codec.unpack(reply[i]!))
    }
    const next = Number(reply[2]!.toString())
    if (next === 0) return [0, items]
    let id = randomId()
    while (id === 0 || this.#open.has(id)) id = randomId()
    this.#open.set(id, { ...cursor, after: next, born })
    if (this.#open.size > MAX_CURSORS) this.#open.delete(this.#open.keys().next().value!)
    return [id, items]
  }

  close(id: number): boolean {
    return this.#open.delete(id)
  }
}
