// Where the host reads the time. Injected (connect(url, { clock }), new Server({ clock })) so that
// what depends on the moment (a command's logged form now, expiry later) runs the same in tests
// without sleeping.

export interface Clock {
  /** Milliseconds since the epoch, as Date.now() gives them. */
  now(): number
}

export const systemClock: Clock = { now: Date.now }

/** Runs `run` once after `ms` milliseconds; the returned function cancels it. The host's waiting
 * takes time out through one (tests give manual ones, test/fixtures/timers.ts). */
export type SetTimer = (run: () => void, ms: number) => () => void

// setTimeout fires at once past 2^31 - 1 ms (about 24.8 days): a longer wait goes in steps.
const MAX_TIMEOUT_MS = 2 ** 31 - 1

/** Real timers, kept referenced: a script awaiting a take with a wait stays alive until it ends. */
export const systemTimer: SetTimer = (run, ms) => {
  let timer: Timer
  const start = (left: number): void => {
    timer = left > MAX_TIMEOUT_MS ? setTimeout(() => start(left - MAX_TIMEOUT_MS), MAX_TIMEOUT_MS)
      : setTimeout(run, left)
  }
  start(ms)
  return () => clearTimeout(timer)
}
