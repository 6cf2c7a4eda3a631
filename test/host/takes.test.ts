// Waiting takes in the host (src/host/takes.ts and Host.applyLater): what the log sees of them,
// whose takes a cancel ends, and the timer each wait runs on.

import { describe, expect, test } from 'bun:test'
import type { Op } from '../../src/engine/commands.ts'
import { Host } from '../../src/host/host.ts'
import { Takers } from '../../src/host/takes.ts'
import { expectCode } from '../contract/helpers.ts'
import { recordingLog } from '../fixtures/recording-log.ts'
import { manualTimers } from '../fixtures/timers.ts'

function recordingHost(): { host: Host; records: Op[]; timers: ReturnType<typeof manualTimers> } {
  const { log, records } = recordingLog()
  const timers = manualTimers()
  const host = new Host({ setTimer: timers.setTimer })
  host.attach(log)
  host.apply({ table: 'q', name: 'db.create', args: ['list'] })
  records.length = 0
  return { host, records, timers }
}

const take = (wait?: number): Op => ({ table: 'q', name: 'list.take', args: wait === undefined ? [] : [{ wait }] })
const push = (...values: unknown[]): Op => ({ table: 'q', name: 'list.push', args: values })

describe('waiting takes in the host', () => {
  test('the log sees a list.shift for every value a take got, and never a take', async () => {
    const { host, records } = recordingHost()
    const waiting = [host.applyLater(take(1000), 'local'), host.applyLater(take(1000), 'local')]
    expect(host.waitingTakes).toBe(2)
    host.apply(push('a', 'b', 'c'))
    const now = host.applyLater(take(), 'local')
    expect(await Promise.all([...waiting, now])).toEqual(['a', 'b', 'c'])
    expect(records.map((r) => r.name)).toEqual(['list.push', 'list.shift', 'list.shift', 'list.shift'])
    expect([host.waitingTakes, host.counters.ops.get('list.take'), host.counters.ops.get('list.shift')])
      .toEqual([0, 3, 3]) // each take, and each shift it ran
  })

  test('a take on an empty list without a wait logs nothing and resolves undefined', async () => {
    const { host, records } = recordingHost()
    expect([await host.applyLater(take(), 'local'), await host.applyLater(take(0), 'local'), records])
      .toEqual([undefined, undefined, []])
  })

  test("take.cancel ends the caller's own waiting takes with CONNECTION_CLOSED, and no one else's", async () => {
    const { host } = recordingHost()
    const mine = new Takers()
    const theirs = new Takers()
    const a = host.applyLater(take(1000), 'remote', mine)
    const b = host.applyLater(take(1000), 'remote', theirs)
    expect(await host.applyLater({ table: '', name: 'take.cancel', args: [] }, 'remote', mine)).toBe(1)
    await expectCode(a, 'CONNECTION_CLOSED')
    host.apply(push('v'))
    expect([await b, host.waitingTakes, mine.size, theirs.size]).toEqual(['v', 0, 0, 0])
  })

  test("a wait ends on the host's timer, after exactly its milliseconds", async () => {
    const { host, timers } = recordingHost()
    const state: unknown[] = []
    host.applyLater(take(500), 'local').then((v) => state.push(v))
    timers.advance(499)
    await new Promise(setImmediate)
    expect([state, host.waitingTakes]).toEqual([[], 1])
    timers.advance(1)
    await new Promise(setImmediate)
    expect([state, host.waitingTakes]).toEqual([[undefined], 0])
    host.apply(push('stays'))
    expect(host.store.apply({ table: 'q', name: 'list.slice', args: [] })).toEqual(['stays'])
  })

  test('a handed-out take resolves only once its shift is durable', async () => {
    const { host } = recordingHost()
    const disk = Promise.withResolvers<void>()
    const log = host.log as unknown as { durable: () => Promise<void> | undefined }
    log.durable = () => disk.promise
    const state: unknown[] = []
    const taken = host.applyLater(take(1000), 'local')
    taken.then((v) => state.push(v))
    host.apply(push('v'))
    await new Promise(setImmediate) // every microtask has run: nothing but the disk is awaited
    expect([state, host.waitingTakes]).toEqual([[], 0])
    disk.resolve()
    expect(await taken).toBe('v')
  })
})
