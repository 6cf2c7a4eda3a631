// What a stored value may be, and the two things the engine does to values besides storing them:
// copy them (so callers never share an object with the store) and compare them deeply.
// The allowed types are exactly what the wire codec round-trips, so embedded and remote agree.

import { badArgument } from '../errors.ts'

/** A key of a dict table. `0` and `'0'` are different keys, as in a `Map`. */
export type Key = string | number

// Deep enough for any real document, shallow enough that a hostile value cannot exhaust the stack
// of the copier, the comparer or the codec. A cyclic value hits this limit too.
export const MAX_VALUE_DEPTH = 100

export function isKey(key: unknown): key is Key {
  return typeof key === 'string' || typeof key === 'number'
}

export function checkKey(key: unknown): Key {
  if (typeof key === 'string' || typeof key === 'number') return key
  throw badArgument(`a key must be a string or a number, not ${describe(key)}`)
}

/**
 * A deep copy of a value, refusing what cannot be stored (functions, symbols, values nested deeper
 * than MAX_VALUE_DEPTH or cyclic). Primitives come back as they are, so the common case costs one
 * `typeof`. Class instances become plain objects of their own enumerable fields, as on the wire.
 */
export function cloneValue<T>(value: T): T {
  if (typeof value !== 'object' || value === null) return checkPrimitive(value)
  return cloneObject(value, 0) as T
}

function cloneAny(value: unknown, depth: number): unknown {
  if (typeof value !== 'object' || value === null) return checkPrimitive(value)
  return cloneObject(value, depth)
}

function checkPrimitive<T>(value: T): T {
  const type = typeof value
  if (type === 'function' || type === 'symbol') {
    throw badArgument(`a ${type} cannot be stored: values are data (no code ever crosses)`)
  }
  return value
}

function cloneObject(value: object, depth: number): unknown {
  if (depth >= MAX_VALUE_DEPTH) {
    throw badArgument(`a value may nest at most ${MAX_VALUE_DEPTH} levels (or it refers to itself)`)
  }
  const next = depth + 1
  if (Array.isArray(value)) {
    const length = value.length
    const copy = new Array(length)
    for (let i = 0; i < length; i++) copy[i] = cloneAny(value[i], next)
    return copy
  }
  const proto = Object.getPrototypeOf(value)
  if (proto === Object.prototype || proto === null) return clonePlain(value, next)
  if (value instanceof Map) {
    const copy = new Map()
    for (const [k, v] of value) copy.set(cloneAny(k, next), cloneAny(v, next))
    return copy
  }
  if (value instanceof Set) {
    const copy = new Set()
    for (const v of value) copy.add(cloneAny(v, next))
    return copy
  }
  if (value instanceof Date) return new Date(value.getTime())
  // Buffer's slice() is a view, so copy through the Uint8Array constructor.
  if (value instanceof Uint8Array) return new Uint8Array(value)
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
    return (value as unknown as { slice(): unknown }).slice()
  }
  if (value instanceof RegExp) return new RegExp(value)
  if (value instanceof Promise || value instanceof WeakMap || value instanceof WeakSet) {
    throw badArgument(`a ${proto.constructor.name} cannot be stored: it is not data`)
  }
  return clonePlain(value, next)
}

// An object key "__proto__" is stored as "__proto_": msgpackr renames it so on every decode, to
// guard against prototype pollution, so the wire and snapshots could not keep it anyway. The
// embedded copier does the same, so both modes store the same data.
export const PROTO_KEY_STORED_AS = '__proto_'

function clonePlain(value: object, depth: number): Record<string, unknown> {
  const copy: Record<string, unknown> = {}
  for (const key of Object.keys(value)) {
    const v = cloneAny((value as Record<string, unknown>)[key], depth)
    copy[key === '__proto__' ? PROTO_KEY_STORED_AS : key] = v
  }
  return copy
}

/**
 * Refuses a value nested deeper than MAX_VALUE_DEPTH, counting levels as cloneValue does. The
 * server checks what it decodes with this: its values need no copy, but the same limit.
 */
export function checkDepth(value: unknown, depth = 0): void {
  if (typeof value !== 'object' || value === null) return
  if (depth >= MAX_VALUE_DEPTH) {
    throw badArgument(`a value may nest at most ${MAX_VALUE_DEPTH} levels (or it refers to itself)`)
  }
  const next = depth + 1
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) checkDepth(value[i], next)
  } else if (value instanceof Map) {
    for (const [k, v] of value) {
      checkDepth(k, next)
      checkDepth(v, next)
    }
  } else if (value instanceof Set) {
    for (const v of value) checkDepth(v, next)
  } else if (!ArrayBuffer.isView(value) && !(value instanceof Date)) {
    for (const key of Object.keys(value)) checkDepth((value as Record<string, unknown>)[key], next)
  }
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
