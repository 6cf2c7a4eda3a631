// The one value model: what a stored value may be, in every mode. One walk enforces it: the
// clients (embedded and remote) copy each argument through it before anything is stored or sent,
// and the server checks what it decodes with the same walk (no copy), so every mode accepts,
// transforms and refuses the same values with the same messages. README "Values" is its table.

import { CyberError, badArgument } from '../errors.ts'

// Deep enough for any real document, shallow enough that a hostile value cannot exhaust the stack
// of the copier, the comparer or the codec. A cyclic value hits this limit too.
export const MAX_VALUE_DEPTH = 100

// The values of one request together, as estimated by the cost functions below (an upper bound of
// their msgpack size). 32 MiB leaves the other half of a default 64 MiB frame for the table name,
// the envelope and the estimate's slack, so a request that passes always fits in a frame.
export const MAX_VALUE_BYTES = 32 * 1024 * 1024

// An object key "__proto__" is stored as "__proto_": msgpackr renames it so on every decode, to
// guard against prototype pollution, so the wire and snapshots could not keep it anyway. The
// copier does the same, so every mode stores the same data.
export const PROTO_KEY_STORED_AS = '__proto_'

// --- size: one estimator, for the request limit and for maxMemory ---

// Per-item costs are msgpack's worst case for the item's header (a bigint or a typed array is an
// extension, a string its UTF-8 bytes). Records mode writes an object's keys once per shape, so
// counting them for every object only over-estimates.
const SCALAR_BYTES = 9
const CONTAINER_BYTES = 8

// A string's exact msgpack size: its UTF-8 bytes and a header. Buffer.byteLength is a native call
// (~20 ns for a short key), too dear for every argument of every call: the walk counts the upper
// bound below instead, and measures exactly only when that bound passes the limit.
function stringBytes(value: string): number {
  return Buffer.byteLength(value, 'utf8') + 5
}

// No UTF-16 code unit takes more than 3 bytes of UTF-8.
function stringBound(value: string): number {
  return value.length * 3 + 5
}

// What a string counts for maxMemory: one byte per UTF-16 code unit and a header. This is about its
// in-memory size for Latin-1 text and half of it for other text. It is not its UTF-8 size, but it
// is cheap, and it is the same for a string every time, so adds and removes balance.
function stringCost(value: string): number {
  return value.length + 5
}

function bigintBytes(value: bigint): number {
  if (value >= -0x8000000000000000n && value <= 0xffffffffffffffffn) return SCALAR_BYTES
  const hex = (value < 0n ? -value : value).toString(16).length
  return Math.ceil(hex / 16 + 1) * 8 + 6
}

/**
 * The approximate size of a stored value in bytes, as the maxMemory count measures it: msgpack's
 * size, except that a string counts its length (stringCost). The value must be in the model.
 */
export function sizeOf(value: unknown): number {
  switch (typeof value) {
    case 'string': return stringCost(value)
    case 'bigint': return bigintBytes(value)
    case 'object': break
    default: return SCALAR_BYTES
  }
  if (value === null) return SCALAR_BYTES
  if (Array.isArray(value)) {
    let n = CONTAINER_BYTES
    for (let i = 0; i < value.length; i++) n += sizeOf(value[i])
    return n
  }
  if (value instanceof Map) {
    let n = CONTAINER_BYTES
    for (const [k, v] of value) n += sizeOf(k) + sizeOf(v)
    return n
  }
  if (value instanceof Set) {
    let n = CONTAINER_BYTES
    for (const v of value) n += sizeOf(v)
    return n
  }
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return value.byteLength + CONTAINER_BYTES
  if (value instanceof Date) return 15
  if (value instanceof RegExp) return stringCost(value.source) + stringCost(value.flags) + CONTAINER_BYTES
  let n = CONTAINER_BYTES
  for (const key of Object.keys(value)) n += stringCost(key) + sizeOf((value as Record<string, unknown>)[key])
  return n
}

/** A maxMemory option: a whole number of bytes, at least 1 MiB (a smaller one is a typo). */
export function checkMaxMemory(bytes: unknown): number {
  if (Number.isSafeInteger(bytes) && (bytes as number) >= 1 << 20) return bytes as number
  throw badArgument(`maxMemory is a whole number of bytes of at least 1048576 (1 MiB), not ${String(bytes)}`)
}

// --- the walk ---

// One walk at a time (it is synchronous): its mode and running total live here rather than in
// arguments, so the primitive path stays a typeof and an add.
let copying = true
let limited = true
let total = 0
// Strings count their upper bound (stringBound) until the total passes the limit; the walk then
// starts again counting them exactly (stringBytes), and refuses only if that passes it too.
let exact = false
const RECOUNT = Symbol('recount')

function stringSize(value: string): number {
  return exact ? stringBytes(value) : stringBound(value)
}

/**
 * Client side, every mode: replaces each argument by its copy in the value model (Buffer becomes
 * Uint8Array, -0 becomes 0, a class instance a plain object of its own enumerable fields) or
 * throws BAD_ARGUMENT, before anything is stored or sent. Returns the estimated bytes.
 */
export function acceptArgs(args: unknown[]): number {
  // Most calls are a key and a scalar: they need no copy, so they skip the walk's setup (its
  // mode, its try, its recount). The same total and the same -0; anything else walks.
  let n = 0
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]
    switch (typeof arg) {
      case 'string':
        if (!arg.isWellFormed()) return walkArgs(args, true) // which refuses it
        n += stringBound(arg)
        continue
      case 'number':
        if (arg === 0) args[i] = 0
        n += SCALAR_BYTES
        continue
      case 'boolean':
      case 'undefined':
        n += SCALAR_BYTES
        continue
      default:
        return walkArgs(args, true)
    }
  }
  return n > MAX_VALUE_BYTES ? walkArgs(args, true) : n
}

/**
 * Server side: checks decoded arguments in place with the same walk and messages, without a copy
 * (decoded values are fresh and own their bytes). Only -0 is rewritten, to 0.
 */
export function checkArgs(args: unknown[]): number {
  return walkArgs(args, false)
}

function walkArgs(args: unknown[], copy: boolean): number {
  copying = copy
  limited = true
  exact = false
  try {
    return walkEach(args, copy)
  } catch (error) {
    if (error !== RECOUNT) throw error
  }
  exact = true
  return walkEach(args, copy) // over copies already made, if any: walking a copy copies it again
}

function walkEach(args: unknown[], copy: boolean): number {
  total = 0
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]
    // Keys and short strings are most arguments: checked here, without the walk's call and switch.
    if (typeof arg === 'string' && !exact) {
      if (!arg.isWellFormed()) throw badArgument(LONE_SURROGATE)
      add(stringBound(arg))
      continue
    }
    const stored = walk(arg, 0)
    if (copy || arg === 0) args[i] = stored
  }
  return total
}

/** A deep copy of one value, accepted by the model (what cloneValue did): BAD_ARGUMENT if not. */
export function acceptValue<T>(value: T): T {
  const args = [value]
  acceptArgs(args)
  return args[0] as T
}

/** A copy of a stored value to hand out (embedded reads): no size limit, it is already stored. */
export function copyStored<T>(value: T): T {
  if (typeof value !== 'object' || value === null) return value
  copying = true
  limited = false
  total = 0
  return walk(value, 0) as T
}

function walk(value: unknown, depth: number): unknown {
  switch (typeof value) {
    case 'string':
      if (!value.isWellFormed()) throw badArgument(LONE_SURROGATE)
      add(stringSize(value))
      return value
    case 'number':
      total += SCALAR_BYTES
      return value === 0 ? 0 : value // -0: msgpack has no integer -0, so no mode keeps it
    case 'boolean':
    case 'undefined':
      total += SCALAR_BYTES
      return value
    case 'bigint':
      add(bigintBytes(value))
      return value
    case 'function':
    case 'symbol':
      throw badArgument(`a ${typeof value} cannot be stored: values are data (no code ever crosses)`)
  }
  if (value === null) {
    total += SCALAR_BYTES
    return null
  }
  if (depth >= MAX_VALUE_DEPTH) throw badArgument(TOO_DEEP)
  total += CONTAINER_BYTES
  const next = depth + 1
  if (Array.isArray(value)) return walkArray(value, next)
  const proto = Object.getPrototypeOf(value)
  if (proto === Object.prototype || proto === null) return walkFields(value as object, next)
  if (value instanceof Map) return walkMap(value, next)
  if (value instanceof Set) {
    const copy = copying ? new Set() : value
    for (const v of value) {
      const stored = walk(v, next)
      if (copying) copy.add(stored)
    }
    return copy
  }
  if (value instanceof Date) {
    total += 7
    return copying ? new Date(value.getTime()) : value
  }
  if (ArrayBuffer.isView(value)) return walkView(value)
  if (value instanceof ArrayBuffer) {
    add(value.byteLength)
    return copying ? value.slice(0) : value
  }
  if (value instanceof RegExp) {
    add(stringSize(value.source) + stringSize(value.flags))
    return copying ? new RegExp(value.source, value.flags) : value
  }
  const builtin = builtinName(proto)
  if (builtin !== undefined) throw refusedClass(builtin)
  return walkFields(value as object, next)
}

function add(bytes: number): void {
  total += bytes
  if (total > MAX_VALUE_BYTES && limited) throw exact ? badArgument(TOO_LARGE) : RECOUNT
}

function walkArray(value: unknown[], depth: number): unknown[] {
  const length = value.length
  // A hole becomes undefined: msgpack has no holes, so the copy has none either.
  const copy = copying ? new Array(length) : value
  for (let i = 0; i < length; i++) {
    const v = value[i]
    const stored = walk(v, depth)
    if (copying || v === 0) copy[i] = stored
  }
  return copy
}

function walkFields(value: object, depth: number): Record<string, unknown> {
  const source = value as Record<string, unknown>
  const copy: Record<string, unknown> = copying ? {} : source
  for (const key of Object.keys(source)) {
    if (!key.isWellFormed()) throw badArgument(LONE_SURROGATE)
    add(stringSize(key))
    const v = source[key]
    const stored = walk(v, depth)
    if (copying) copy[key === '__proto__' ? PROTO_KEY_STORED_AS : key] = stored
    else if (v === 0) copy[key] = 0
  }
  return copy
}

function walkMap(value: Map<unknown, unknown>, depth: number): Map<unknown, unknown> {
  const copy = copying ? new Map() : value
  for (const [k, v] of value) {
    const key = walk(k, depth)
    const stored = walk(v, depth)
    if (copying) copy.set(key, stored)
    else if (v === 0) copy.set(k, 0)
  }
  return copy
}

// The typed arrays msgpackr's extension carries, by their internal name (toStringTag reports the
// built-in type even for a subclass or a Buffer).
const TYPED_ARRAYS = new Set(['Int8Array', 'Uint8ClampedArray', 'Int16Array', 'Uint16Array', 'Int32Array',
  'Uint32Array', 'Float32Array', 'Float64Array', 'BigInt64Array', 'BigUint64Array'])

function walkView(value: ArrayBufferView): unknown {
  add(value.byteLength)
  if (value instanceof Uint8Array) {
    // Buffer included: a Buffer is stored, and comes back, as a plain Uint8Array that owns its bytes.
    return copying ? new Uint8Array(value) : value
  }
  const bytes = (): ArrayBuffer => new Uint8Array(value.buffer, value.byteOffset, value.byteLength).slice().buffer
  if (value instanceof DataView) return copying ? new DataView(bytes()) : value
  const name = Object.prototype.toString.call(value).slice(8, -1)
  if (!TYPED_ARRAYS.has(name)) throw refusedClass(name)
  if (!copying) return value
  const Typed = (globalThis as unknown as Record<string, new (buffer: ArrayBuffer) => unknown>)[name]!
  return new Typed(bytes())
}

// --- refusals: one message per kind, the same in every mode ---

const LONE_SURROGATE = 'a string must be well-formed unicode: it has a lone surrogate (\\ud800-\\udfff), ' +
  'which UTF-8 cannot carry'
const TOO_DEEP = `a value may nest at most ${MAX_VALUE_DEPTH} levels (or it refers to itself)`
const TOO_LARGE = `the values of one request may take at most ${MAX_VALUE_BYTES} bytes (32 MiB) encoded`

const HINTS: Record<string, string> = {
  Error: 'copy the fields you need (name, message) into a plain object',
  URL: 'store its href',
  Promise: 'store what it resolves to',
  SharedArrayBuffer: 'copy it into a Uint8Array',
  Float16Array: 'the codec carries no 16-bit floats: use a Float32Array',
}

function refusedClass(name: string): CyberError {
  const hint = HINTS[name] ?? 'it is not data the value model stores (see the README)'
  return badArgument(`${/^[AEIO]/.test(name) ? 'an' : 'a'} ${name} cannot be stored: ${hint}`)
}

// Instances of user classes are stored as their own enumerable fields; instances of built-in
// classes the model does not list (Error, URL, WeakMap, Promise, Blob, ...) hold their data in
// internal slots a field copy would silently lose, so they are refused. A prototype chain with a
// native constructor on it is a built-in; the answer is cached per prototype.
const builtins = new WeakMap<object, string | null>()
const NATIVE = /\{\s*\[native code\]\s*\}\s*$/

function builtinName(proto: object): string | undefined {
  let known = builtins.get(proto)
  if (known === undefined) {
    known = null
    for (let p: object | null = proto; p !== null && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
      const ctor = Object.getOwnPropertyDescriptor(p, 'constructor')?.value
      if (typeof ctor === 'function' && ctor !== Object && NATIVE.test(Function.prototype.toString.call(ctor))) {
        known = p === Error.prototype || Error.prototype.isPrototypeOf(p) ? 'Error' : ctor.name as string
        break
      }
    }
    builtins.set(proto, known)
  }
  return known ?? undefined
}

// --- replies: a listing is bounded as a request is ---

// The message names what to do instead: a listing is the one reply a caller can make as large as
// the table, and both remedies keep every reply under the bound.
function tooLargeListing(op: string): CyberError {
  return new CyberError('FRAME_TOO_LARGE', `the reply to ${op} would take more than ${MAX_VALUE_BYTES} ` +
    'bytes (32 MiB) encoded, the most one reply may carry: iterate with scan(), or pass a limit')
}

/**
 * Refuses (FRAME_TOO_LARGE) a listing whose items the walk estimates past MAX_VALUE_BYTES, the
 * bound of one request's values: it fits a default frame with room to spare, so a listing fails
 * the same way in every mode, before anything is encoded, instead of only over the wire.
 * `storedBytes` is a bound of the items' sizeOf (a table's bytes), or Infinity if unknown: sizeOf
 * counts a string's length and the walk up to 3 bytes per code unit, so under a third of the
 * limit no walk is needed. Items are stored values: the walk only measures them.
 */
export function checkListing(items: unknown[], storedBytes: number, op: string): void {
  if (3 * storedBytes + CONTAINER_BYTES * (items.length + 1) <= MAX_VALUE_BYTES) return
  try {
    walkArgs(items, false)
  } catch (error) {
    if (error instanceof CyberError && error.message === TOO_LARGE) throw tooLargeListing(op)
    throw error
  }
}
