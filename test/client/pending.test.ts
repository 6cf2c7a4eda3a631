// The ring of requests in flight: settles by id in any order, keeps a straggler without growing
// forever, and drains oldest first.

import { describe, expect, test } from 'bun:test'
import { CyberError } from '../../src/errors.ts'
import type { Op } from '../../src/engine/commands.ts'
import { PendingRequests } from '../../src/client/pending.ts'

const op = (n: number): Op => ({ table: 't', name: 'dict.get', args: [n] }) as Op
const toError = (value: unknown) => new CyberError('KEY_NOT_FOUND', String(value))

describe('PendingRequests', () => {
  test('settles each id once, in any order, with its value or its error', () => {
    const pending = new PendingRequests()
    const settled: string[] = []
    for (let id = 1; id <= 1000; id++) {
      const ok = (v: unknown) => settled.push(`ok ${id} ${v}`)
      pending.add(id, op(id), ok, (e) => settled.push(`err ${id} ${e.message}`))
    }
    expect(pending.size).toBe(1000)
    for (let id = 1000; id >= 1; id--) {
      expect(pending.settle(id, id % 2 === 0, id * 10, toError)).toBe(true)
    }
    expect(pending.settle(5, true, 0, toError)).toBe(false)
    expect(pending.size).toBe(0)
    expect(settled[0]).toBe('ok 1000 10000')
    expect(settled[1]).toBe('err 999 9990')
    expect(settled.length).toBe(1000)
  })

  test('a request that stays while ids wrap past it keeps its slot; the ring stays small', () => {
    const pending = new PendingRequests()
    let answered = 0
    pending.add(1, op(1), () => answered--, () => {})
    for (let id = 2; id < 100_000; id++) {
      pending.add(id, op(id), () => answered++, () => {})
      expect(pending.settle(id, true, null, toError)).toBe(true)
    }
    expect(answered).toBe(100_000 - 2)
    expect(pending.size).toBe(1)
    expect(pending.slots).toBe(256)
    expect(pending.drain().map((r) => r.op.args[0])).toEqual([1])
  })

  test('drain hands back every request, oldest first, overflow included, and empties', () => {
    const pending = new PendingRequests()
    for (let id = 1; id <= 300; id++) pending.add(id, op(id), () => {}, () => {})
    for (let id = 2; id <= 256; id++) pending.settle(id, true, null, toError)
    pending.add(257 + 256, op(513), () => {}, () => {}) // lands on 1's slot: the overflow
    pending.add(1 + 256 * 3, op(769), () => {}, () => {})
    const ids = pending.drain().map((r) => r.op.args[0])
    expect(ids).toEqual([1, ...Array.from({ length: 44 }, (_, i) => 257 + i), 513, 769])
    expect(pending.size).toBe(0)
    expect(pending.drain()).toEqual([])
  })
})
