// Keys, and what the engine does to stored values besides storing them: compare them deeply and
// describe them in messages. What a value may be is the value model (value-model.ts).

import { badArgument } from '../errors.ts'

/** A key of a dict table. `0` and `'0'` are different keys, as in a `Map`. */
export type Key = string | number

// The value model itself (what may be stored, the copy, the size estimate) is value-model.ts.
export { MAX_VALUE_DEPTH, PROTO_KEY_STORED_AS, acceptValue as cloneValue } from './value-model.ts'

export function isKey(key: unknown): key is Key {
  return typeof key === 'string' || typeof key === 'number'
}

export function checkKey(key: unknown): Key {
  // A lone surrogate does not survive UTF-8 (the wire, snapshots, the log), so no mode stores a key
  // with one: the value walk (value-model.ts) refuses it in every string of every request, keys
  // included, before an op reaches the engine. Checking again here cost a native call per op.
  if (typeof key === 'string' || typeof key === 'number') return key
  throw badArgument(`a key must be a string or a number, not ${describe(key)}`)
}

/** Assigns a property, keeping a `__proto__` key as plain data rather than a prototype change
 * (toObject: a dict key "__proto__" is data like any other key). */
export function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true })
  } else {
    target[key] = value
  }
}

/**
 * Deep equality as `remove`, `indexOf` and `count` need it: stored values are copies, so identity
 * means nothing. NaN equals NaN and 0 equals -0, as in a `Map` (SameValueZero).
 */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) {
    return a !== a && b !== b // NaN
  }
  return Bun.deepEquals(a, b, true)
}

export function describe(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  const type = typeof value
  if (type === 'undefined') return 'undefined'
  if (type !== 'object') return `a ${type}`
  const proto = Object.getPrototypeOf(value)
  if (proto === Object.prototype || proto === null) return 'an object'
  return `a ${proto?.constructor?.name ?? 'object'}`
}
