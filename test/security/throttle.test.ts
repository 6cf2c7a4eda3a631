// The guess throttle on a manual clock and timers: proofs are counted when they arrive and checked
// no faster than the per-address and overall buckets allow, in arrival order and in turn across
// addresses; a right proof costs nothing, so clients that know the password are never held up by
// their own numbers, and one that shares an address with a guesser waits only for the proofs
// queued ahead of it.

import { describe, expect, test } from 'bun:test'
import {
  ADDRESS_BURST, ADDRESS_PER_MINUTE, AuthThrottle, OVERALL_BURST, OVERALL_PER_MINUTE, type ThrottleOptions,
} from '../../src/security/throttle.ts'
import { manualTimers } from '../fixtures/timers.ts'

function throttleOn(options: ThrottleOptions = {}) {
  const timers = manualTimers()
  return { timers, throttle: new AuthThrottle({ now: timers.now, setTimer: timers.setTimer, ...options }) }
}

/** Submits `count` proofs from `address`, right or wrong; returns the list the checks land in. */
function submit(throttle: AuthThrottle, address: string, count: number, right = false, checked: string[] = []): string[] {
  for (let i = 0; i < count; i++) throttle.submit(address, () => (checked.push(`${address}#${right ? 'right' : 'wrong'}`), right))
  return checked
}

describe('AuthThrottle bounds', () => {
  test('the defaults: 10 at once and 60 a minute per address, 100 at once and 600 a minute overall', () => {
    expect([ADDRESS_BURST, ADDRESS_PER_MINUTE, OVERALL_BURST, OVERALL_PER_MINUTE]).toEqual([10, 60, 100, 600])
  })

  test('1000 wrong proofs arriving at once from one address are checked no faster than the bound', () => {
    const { throttle, timers } = throttleOn()
    const checked = submit(throttle, '10.0.0.1', 1000)
    expect([checked.length, throttle.waiting]).toEqual([ADDRESS_BURST, 1000 - ADDRESS_BURST])
    // Then one a second (60 a minute), however the time is sliced.
    const counts: number[] = []
    for (let second = 1; second <= 60; second++) {
      timers.advance(1000)
      counts.push(checked.length)
      expect(checked.length).toBeLessThanOrEqual(ADDRESS_BURST + second * ADDRESS_PER_MINUTE / 60)
    }
    expect(counts.at(-1)).toBe(ADDRESS_BURST + ADDRESS_PER_MINUTE)
    expect(throttle.failed).toBe(ADDRESS_BURST + ADDRESS_PER_MINUTE)
  })

  test('wrong proofs from many addresses are bounded overall: 100 at once, then 600 a minute', () => {
    const { throttle, timers } = throttleOn()
    const checked: string[] = []
    for (let i = 0; i < 200; i++) submit(throttle, `10.0.${i >> 8}.${i & 255}`, 10, false, checked)
    expect(checked.length).toBe(OVERALL_BURST)
    timers.advance(60_000)
    expect(checked.length).toBe(OVERALL_BURST + OVERALL_PER_MINUTE)
  })

  test('addresses waiting for the overall bucket are served in turn, not one address first', () => {
    const { throttle, timers } = throttleOn({ overallBurst: 1, overallPerMinute: 60 })
    const checked = submit(throttle, 'a', 1) // takes the only overall check
    submit(throttle, 'a', 3, false, checked)
    submit(throttle, 'b', 3, false, checked)
    timers.advance(4000)
    expect(checked).toEqual(['a#wrong', 'a#wrong', 'b#wrong', 'a#wrong', 'b#wrong'])
  })

  test('proofs from one address are checked in the order they arrived', () => {
    const { throttle, timers } = throttleOn({ addressBurst: 1 })
    const order: number[] = []
    for (let i = 0; i < 5; i++) throttle.submit('a', () => (order.push(i), false))
    timers.advance(10_000)
    expect(order).toEqual([0, 1, 2, 3, 4])
  })
})

describe('AuthThrottle and clients that know the password', () => {
  test('right proofs cost nothing: 1000 of them from one address are all checked at once', () => {
    const { throttle } = throttleOn()
    const checked = submit(throttle, '10.0.0.1', 1000, true)
    expect([checked.length, throttle.waiting]).toEqual([1000, 0])
    // ...and the address still has its whole burst for mistakes.
    expect(submit(throttle, '10.0.0.1', ADDRESS_BURST).length).toBe(ADDRESS_BURST)
  })

  test('a right proof behind a throttled wrong one from the same address waits only for it', () => {
    const { throttle, timers } = throttleOn()
    submit(throttle, '127.0.0.1', ADDRESS_BURST) // a misconfigured worker spends the burst
    const checked = submit(throttle, '127.0.0.1', 1) // its next try waits
    submit(throttle, '127.0.0.1', 1, true, checked) // a correct client, same host
    expect(checked).toEqual([])
    timers.advance(1000)
    expect(checked).toEqual(['127.0.0.1#wrong'])
    timers.advance(1000)
    expect(checked).toEqual(['127.0.0.1#wrong', '127.0.0.1#right'])
  })

  test('other addresses are not held up by a guesser that spent its own bucket', () => {
    const { throttle } = throttleOn()
    submit(throttle, '10.0.0.66', 50)
    expect(submit(throttle, '10.0.0.7', 1, true)).toEqual(['10.0.0.7#right'])
  })

  test('a proof withdrawn before its turn is never checked and spends nothing', () => {
    const { throttle, timers } = throttleOn({ addressBurst: 1 })
    const checked = submit(throttle, 'a', 1)
    const withdraw = throttle.submit('a', () => (checked.push('withdrawn'), false))!
    withdraw()
    expect(throttle.waiting).toBe(0)
    timers.advance(60_000)
    expect(checked).toEqual(['a#wrong'])
  })

  test('forgive gives an address its burst back at once', () => {
    const { throttle } = throttleOn()
    const checked = submit(throttle, 'a', ADDRESS_BURST + 2)
    throttle.forgive('a')
    expect(checked.length).toBe(ADDRESS_BURST + 2)
  })
})

describe('AuthThrottle memory', () => {
  test('the table of addresses stays bounded: a forgotten address starts with a fresh burst', () => {
    const { throttle } = throttleOn({ overallBurst: 1e9 })
    submit(throttle, 'first', ADDRESS_BURST)
    for (let i = 0; i < 10_000; i++) submit(throttle, `spoofed-${i}`, 1)
    expect(submit(throttle, 'first', ADDRESS_BURST).length).toBe(ADDRESS_BURST) // forgotten, so fresh
  })
})
