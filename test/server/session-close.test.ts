// A session closes through one path, whichever way it ends (an error, a graceful end, the peer
// leaving, twice over): what it holds is let go exactly once. Driven with a fake socket and host,
// so each path is reached directly and nothing waits for a network.

import { describe, expect, test } from 'bun:test'
import type { Socket } from 'bun'
import { CyberError } from '../../src/errors.ts'
import { createCodec } from '../../src/protocol/codec.ts'
import { MAX_FRAME_BYTES } from '../../src/protocol/frame.ts'
import { PROOF_BYTES } from '../../src/protocol/messages.ts'
import type { AuthThrottle } from '../../src/security/throttle.ts'
import { Session, type SessionHost } from '../../src/server/session.ts'
import { manualTimers } from '../fixtures/timers.ts'

/** A session on a socket that takes nothing (its output stays unsent), with what it did counted. */
function harness() {
  const timers = manualTimers()
  const seen = { ends: 0, closed: 0, output: 0, withdrawn: 0, authTimers: 0 }
  const socket = {
    remoteAddress: '127.0.0.1',
    setNoDelay() {},
    write: () => 0,
    end() {
      seen.ends++
    },
    pause() {},
    resume() {},
    terminate() {},
  } as unknown as Socket<Session>
  // A throttle that holds every proof: the session waits for its verdict until it closes.
  const throttle = {
    submit: () => () => void seen.withdrawn++,
  } as unknown as AuthThrottle
  const host: SessionHost = {
    codec: createCodec(),
    maxFrameBytes: MAX_FRAME_BYTES,
    idleTimeout: 900,
    masterKey: new Uint8Array(32),
    encrypt: false,
    authTimeoutMs: 5000,
    // Counts the timers still pending (cancelling twice, or after it ran, is allowed).
    setTimer: (run, ms) => {
      let pending = true
      seen.authTimers++
      const done = (): boolean => {
        if (!pending) return false
        pending = false
        seen.authTimers--
        return true
      }
      const cancel = timers.setTimer(() => {
        done()
        run()
      }, ms)
      return () => {
        if (done()) cancel()
      }
    },
    throttle,
    refused: { authFailed: 0, throttled: 0 },
    apply: () => ({ result: null, seq: 0 }),
    applyLater: () => Promise.resolve(null),
    durable: () => undefined,
    authenticated() {},
    maxUnsentBytes: 1 << 20,
    reserveOutput: () => true,
    outputChanged: (delta) => void (seen.output += delta),
    log() {},
    closed: () => void seen.closed++,
  }
  const session = new Session(socket, host)
  return { session, seen, timers }
}

const proofFrame = (): Uint8Array => {
  const frame = new Uint8Array(4 + PROOF_BYTES)
  new DataView(frame.buffer).setUint32(0, PROOF_BYTES)
  return frame
}

const paths: [string, (session: Session) => void][] = [
  ['the peer leaves', (session) => session.onSocketClosed()],
  ['a connection error', (session) => session.fail(new CyberError('PROTOCOL', 'bad bytes'))],
  ['an error, then the peer leaves', (session) => {
    session.fail(new CyberError('PROTOCOL', 'bad bytes'))
    session.onSocketClosed()
  }],
  ['an end with nothing left to answer, then the peer leaves', (session) => {
    session.end('bye')
    session.onDrain()
    session.onSocketClosed()
  }],
  ['the peer leaves twice', (session) => {
    session.onSocketClosed()
    session.onSocketClosed()
  }],
]

describe('one close path', () => {
  for (const [name, close] of paths) {
    test(`${name}: everything the session holds is let go once`, () => {
      const { session, seen } = harness()
      session.onData(proofFrame()) // the proof now waits for the throttle
      expect(seen.output).toBeGreaterThan(0) // the hello, unsent
      close(session)
      expect({ ...seen, ends: seen.ends > 0 }).toEqual({
        ends: true, closed: 1, output: 0, withdrawn: 1, authTimers: 0,
      })
    })
  }

  test('the auth deadline closes through the same path', () => {
    const { seen, timers } = harness()
    timers.advance(5000)
    expect({ closed: seen.closed, output: seen.output, authTimers: seen.authTimers })
      .toEqual({ closed: 1, output: 0, authTimers: 0 })
  })
})
