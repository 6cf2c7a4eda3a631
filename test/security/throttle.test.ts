// The auth throttle with an injected clock: per-address delays that double and cap, the lockout
// after MAX_FAILURES in a row and its expiry, a success that forgives, and a bounded table.

import { describe, expect, test } from 'bun:test'
import {
  AuthThrottle, BASE_DELAY_MS, LOCKOUT_MS, MAX_ADDRESSES, MAX_DELAY_MS, MAX_FAILURES,
} from '../../src/security/throttle.ts'

/** A throttle on a clock the test moves by hand. */
function manualClock(): { throttle: AuthThrottle; advance(ms: number): void } {
  let now = 1_000_000
  return { throttle: new AuthThrottle(() => now), advance: (ms) => void (now += ms) }
}

function failTimes(throttle: AuthThrottle, address: string, times: number): number[] {
  const delays: number[] = []
  for (let i = 0; i < times; i++) delays.push(throttle.fail(address))
  return delays
}

describe('AuthThrottle delays', () => {
  test('a failure delays the reply by 100 ms, doubling per failure in a row and capped at 5 s', () => {
    const { throttle } = manualClock()
    expect([BASE_DELAY_MS, MAX_DELAY_MS]).toEqual([100, 5000])
    expect(failTimes(throttle, '10.0.0.1', MAX_FAILURES))
      .toEqual([100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000, 5000])
  })

  test('addresses are counted apart', () => {
    const { throttle } = manualClock()
    failTimes(throttle, '10.0.0.1', 5)
    expect(throttle.fail('10.0.0.2')).toBe(100)
    expect(throttle.fail('10.0.0.1')).toBe(3200)
  })

  test('failures spaced out in time still count as in a row until a success', () => {
    const { throttle, advance } = manualClock()
    throttle.fail('10.0.0.1')
    advance(LOCKOUT_MS * 10)
    expect(throttle.fail('10.0.0.1')).toBe(200)
  })

  test('a success clears the address: its next failure starts again at the base delay', () => {
    const { throttle } = manualClock()
    failTimes(throttle, '10.0.0.1', MAX_FAILURES - 1)
    throttle.succeed('10.0.0.1')
    expect(throttle.isLocked('10.0.0.1')).toBe(false)
    expect(throttle.fail('10.0.0.1')).toBe(BASE_DELAY_MS)
  })
})

describe('AuthThrottle lockout', () => {
  test(`an address is not locked after ${MAX_FAILURES - 1} failures in a row`, () => {
    const { throttle } = manualClock()
    failTimes(throttle, '10.0.0.1', MAX_FAILURES - 1)
    expect(throttle.isLocked('10.0.0.1')).toBe(false)
  })

  test(`${MAX_FAILURES} failures in a row lock the address, and only that address`, () => {
    const { throttle } = manualClock()
    failTimes(throttle, '10.0.0.1', MAX_FAILURES)
    expect([throttle.isLocked('10.0.0.1'), throttle.isLocked('10.0.0.2')]).toEqual([true, false])
  })

  test('the lockout lasts LOCKOUT_MS (60 s), then the address may try again from scratch', () => {
    const { throttle, advance } = manualClock()
    expect(LOCKOUT_MS).toBe(60_000)
    failTimes(throttle, '10.0.0.1', MAX_FAILURES)
    advance(LOCKOUT_MS - 1)
    expect(throttle.isLocked('10.0.0.1')).toBe(true)
    advance(1)
    expect(throttle.isLocked('10.0.0.1')).toBe(false)
    expect(throttle.fail('10.0.0.1')).toBe(BASE_DELAY_MS)
    expect(throttle.isLocked('10.0.0.1')).toBe(false)
  })

  test('an unknown address is never locked', () => {
    const { throttle } = manualClock()
    expect(throttle.isLocked('192.0.2.1')).toBe(false)
  })
})

describe('AuthThrottle memory', () => {
  test(`the table holds at most ${MAX_ADDRESSES} addresses: the least recently failed is forgotten`, () => {
    const { throttle } = manualClock()
    failTimes(throttle, 'first', MAX_FAILURES - 1)
    failTimes(throttle, 'second', MAX_FAILURES - 1)
    throttle.fail('first') // now the most recent: it survives, 'second' is the oldest
    for (let i = 0; i < MAX_ADDRESSES - 1; i++) throttle.fail(`spoofed-${i}`)
    expect(throttle.isLocked('first')).toBe(true)
    expect(throttle.fail('second')).toBe(BASE_DELAY_MS) // forgotten: counting from scratch
  })
})
