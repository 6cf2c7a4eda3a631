// Where the host reads the time. Injected (connect(url, { clock }), new Server({ clock })) so that
// what depends on the moment (a command's logged form, expiry) runs the same in tests without
// sleeping. A manual clock also drives expiry: its hosts subscribe to it (ON_ADVANCE) instead of
// setting timers, and advance(ms) runs the sweep of every one of them before it returns.

import { badArgument } from '../errors.ts'

export interface Clock {
  /** Milliseconds since the epoch, as Date.now() gives them. */
  now(): number
}

export const systemClock: Clock = { now: Date.now }

/** Runs `run` once after `ms` milliseconds; the returned function cancels it. Waiting takes, the
 * expiry sweep and the server's own timers go through one (tests give manual ones,
 * test/fixtures/timers.ts). */
export type SetTimer = (run: () => void, ms: number) => () => void

// setTimeout fires at once past 2^31 - 1 ms (about 24.8 days): a longer wait goes in steps.
const MAX_TIMEOUT_MS = 2 ** 31 - 1

function timer(unref: boolean): SetTimer {
  return (run, ms) => {
    let handle: Timer
    const start = (left: number): void => {
      handle = left > MAX_TIMEOUT_MS ? setTimeout(() => start(left - MAX_TIMEOUT_MS), MAX_TIMEOUT_MS)
        : setTimeout(run, left)
      if (unref) handle.unref()
    }
    start(ms)
    return () => clearTimeout(handle)
  }
}

/** Real timers, kept referenced: a script awaiting a take with a wait stays alive until it ends. */
export const systemTimer: SetTimer = timer(false)

/** Real timers that never keep the process alive: the sweep, the server's idle and auth timers. */
export const unrefTimer: SetTimer = timer(true)

/** A clock that moves only when told: every TTL test uses one. */
export interface ManualClock extends Clock {
  /** Moves time forward by `ms` (>= 0) and runs the expiry that became due, in every host on
   * this clock, before returning. */
  advance(ms: number): void
}

/** How a host on a manual clock hears it move: `clock[ON_ADVANCE](listener)` returns the
 * function that stops listening. */
export const ON_ADVANCE = Symbol('cyberdb.onAdvance')

interface Advancing {
  [ON_ADVANCE]?: (listener: () => void) => () => void
}

/** The subscribe function of a manual clock, undefined for any other clock. */
export function advanceHook(clock: Clock): ((listener: () => void) => () => void) | undefined {
  return (clock as Advancing)[ON_ADVANCE]
}

/**
 * A clock for tests: starts at `start` (ms since the epoch) and moves only on advance().
 * @example
 * const clock = manualClock()
 * const db = await connect('memory://', { clock })
 * clock.advance(60_000) // keys whose deadline passed are gone, and swept
 */
export function manualClock(start = 0): ManualClock {
  if (typeof start !== 'number' || !Number.isFinite(start)) {
    throw badArgument(`manualClock(start): start is a finite number of ms, not ${String(start)}`)
  }
  let now = start
  const listeners = new Set<() => void>()
  return {
    now: () => now,
    advance(ms: number): void {
      if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) {
        throw badArgument(`advance(ms): ms is a finite number >= 0, not ${String(ms)}`)
      }
      now += ms
      for (const listener of [...listeners]) listener()
    },
    [ON_ADVANCE](listener: () => void): () => void {
      listeners.add(listener)
      return () => void listeners.delete(listener)
    },
  } as ManualClock
}
