// Where the host reads the time. Injected (connect(url, { clock }), new Server({ clock })) so that
// what depends on the moment (a command's logged form now, expiry later) runs the same in tests
// without sleeping.

export interface Clock {
  /** Milliseconds since the epoch, as Date.now() gives them. */
  now(): number
}

export const systemClock: Clock = { now: Date.now }
