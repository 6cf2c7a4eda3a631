// The argument checks of cache tables: table options (createDict/createList) and per-key ttl
// options (set, expire). One place, so every mode refuses the same input with the same message.

import { badArgument } from '../errors.ts'
import { describe } from './values.ts'

export interface DictOptions {
  /** Default ms a key lives after a write that gives it the default; undefined: forever. */
  ttl?: number
  maxEntries?: number
  maxBytes?: number
}

export interface ListOptions {
  maxLength?: number
}

/** A key's expiry as a write gives it: undefined the table default, null none, a number an
 * absolute deadline (ms since the epoch), KEEP_TTL the deadline the key has (new key: default). */
export type Expiry = number | null | undefined | typeof KEEP_TTL
export const KEEP_TTL = 'keep' as const

/** A relative ttl in ms: a finite number >= 0. */
export function checkTtl(value: unknown, what = 'a ttl'): number {
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return value
  throw badArgument(`${what} is a number of milliseconds >= 0, not ${describe(value)}`)
}

function checkBound(value: unknown, what: string): number {
  if (Number.isSafeInteger(value) && (value as number) >= 1) return value as number
  throw badArgument(`${what} is a whole number >= 1, not ${describe(value)}`)
}

function checkObject(value: unknown, what: string, allowed: readonly string[]): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw badArgument(`${what} must be an object, not ${describe(value)}`)
  }
  for (const name of Object.keys(value)) {
    if (!allowed.includes(name)) throw badArgument(`${what} has an unknown option "${name}" (known: ${allowed.join(', ')})`)
  }
  return value as Record<string, unknown>
}

/** createDict's cache options; undefined/null: none. Returns only the options given. */
export function checkDictOptions(value: unknown): DictOptions | undefined {
  if (value === undefined || value === null) return undefined
  const o = checkObject(value, 'dict options', ['ttl', 'maxEntries', 'maxBytes'])
  const out: DictOptions = {}
  if (o.ttl !== undefined && o.ttl !== null) out.ttl = checkTtl(o.ttl, 'a table ttl')
  if (o.maxEntries !== undefined) out.maxEntries = checkBound(o.maxEntries, 'maxEntries')
  if (o.maxBytes !== undefined) out.maxBytes = checkBound(o.maxBytes, 'maxBytes')
  return Object.keys(out).length === 0 ? undefined : out
}

/** createList's options; undefined/null: none. */
export function checkListOptions(value: unknown): ListOptions | undefined {
  if (value === undefined || value === null) return undefined
  const o = checkObject(value, 'list options', ['maxLength'])
  return o.maxLength === undefined ? undefined : { maxLength: checkBound(o.maxLength, 'maxLength') }
}

/** dict.set's third argument: { ttl: ms | null } (relative, a request's), { keepTtl: true }, or
 * { deadline: ms | null } (absolute: the logged form). */
export function checkSetOptions(value: unknown, now: number): Expiry {
  if (value === undefined || value === null) return undefined
  const o = checkObject(value, 'set options', ['ttl', 'keepTtl', 'deadline'])
  const given = ['ttl', 'keepTtl', 'deadline'].filter((name) => o[name] !== undefined)
  if (given.length > 1) throw badArgument(`set options take one of ttl, keepTtl, deadline, not ${given.join(' and ')}`)
  if (o.keepTtl !== undefined) {
    if (typeof o.keepTtl !== 'boolean') throw badArgument(`keepTtl is a boolean, not ${describe(o.keepTtl)}`)
    return o.keepTtl ? KEEP_TTL : undefined
  }
  if (o.deadline !== undefined) return checkDeadline(o.deadline)
  if (o.ttl === null) return null
  if (o.ttl !== undefined) return deadlineAfter(now, checkTtl(o.ttl))
  return undefined
}

/** An absolute deadline: a finite number, or null for none. */
export function checkDeadline(value: unknown): number | null {
  if (value === null) return null
  if (typeof value === 'number' && Number.isFinite(value)) return value
  throw badArgument(`a deadline is a number of milliseconds since the epoch or null, not ${describe(value)}`)
}

/** A request's { ttl } resolved against `now` into the logged { deadline } (the `logged` hook). */
export function resolveSetOptions(value: unknown, now: number): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value
  const o = value as Record<string, unknown>
  if (o.ttl === undefined || o.ttl === null || Object.keys(o).length !== 1) return value
  return { deadline: deadlineAfter(now, checkTtl(o.ttl)) }
}

/** The deadline `ttl` ms after `now`, in whole ms, never early. */
export function deadlineAfter(now: number, ttl: number): number {
  return Math.ceil(now + ttl)
}
