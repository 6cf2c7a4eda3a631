// A session's watches (src/server/watches.ts) without a socket: the frames each request makes, the
// credit that bounds what a watch sends ahead, and the bound on watches per connection.

import { describe, expect, test } from 'bun:test'
import { CyberError } from '../../src/errors.ts'
import { Host } from '../../src/host/host.ts'
import { createCodec } from '../../src/protocol/codec.ts'
import { WATCH_WINDOW } from '../../src/protocol/messages.ts'
import { MAX_WATCHES, Watches } from '../../src/server/watches.ts'

const codec = createCodec()

function setup(host = new Host()) {
  const frames: [number, boolean, unknown][] = []
  const watches = new Watches({
    watch: (options, wake) => host.watch(options, wake),
    push: (id, ok, payload) => frames.push([id, ok, payload instanceof Uint8Array ? codec.unpack(payload) : payload]),
    flush: () => {},
  })
  return { host, frames, watches }
}

describe('Watches', () => {
  test('a watch answers with its start, then whole commits within its credit; more and cancel', async () => {
    const { host, frames, watches } = setup()
    host.apply({ table: 'd', name: 'db.create', args: ['dict'] })
    watches.request(7, 'db.watch', [{ tables: ['d'] }])
    expect(frames.splice(0)).toEqual([[7, true, 1]])
    for (let i = 0; i < WATCH_WINDOW + 10; i++) host.apply({ table: 'd', name: 'dict.set', args: ['k', i] })
    await Promise.resolve() // the wake-up is a microtask after the commits
    const sent = frames.splice(0).flatMap(([id, ok, changes]) => (expect([id, ok]).toEqual([7, true]), changes as unknown[]))
    expect(sent.length).toBe(WATCH_WINDOW)
    watches.request(8, 'watch.more', [7, 128])
    expect(frames.splice(0).map(([id, , p]) => [id, Array.isArray(p) ? p.length : p])).toEqual([[8, null], [7, 10]])
    watches.request(9, 'watch.cancel', [7])
    expect(frames.splice(0)).toEqual([[7, true, null], [9, true, null]])
    expect([watches.size, host.watchers]).toEqual([0, 0])
  })

  test('bad options fail on the watch\'s id; a connection holds at most MAX_WATCHES', () => {
    const { host, frames, watches } = setup()
    watches.request(1, 'db.watch', [{ nope: 1 }])
    expect((frames.pop()![2] as CyberError).code).toBe('BAD_ARGUMENT')
    for (let id = 10; id < 10 + MAX_WATCHES; id++) watches.request(id, 'db.watch', [])
    watches.request(5, 'db.watch', [])
    expect([(frames.pop()![2] as CyberError).code, watches.size]).toEqual(['BAD_ARGUMENT', MAX_WATCHES])
    watches.closeAll()
    expect(host.watchers).toBe(0)
  })
})
