// Hand-written msgpack for the shapes nearly every request and reply has: [id, name, table, args]
// and [id, status, payload] whose values are ASCII strings, small numbers, booleans, null or
// undefined, or arrays of those (getMany's keys and its reply). One msgpackr call costs a few hundred nanoseconds of setup per message, and a
// decoded op name or table name is a fresh string that every Map lookup hashes again; here a
// message is read or written in one pass over the bytes, straight into the batch buffer, and names
// are interned. Anything else (a non-ASCII string, an object, a bigint, a long string) returns
// undefined or false, and the caller takes msgpackr's path: the bytes on the wire are msgpack
// either way, and both paths decode them to the same values.

/** A value this file writes and reads itself. */
const MAX_STRING = 0xffff
const MAX_ARGS = 15 // a fixarray
// Arrays are read and written one level deep (a list of keys, a list of values): deeper ones go
// to msgpackr, so nothing here recurses far.
const MAX_ITEMS = 0xffff // an array16

// --- reading ---

// Short names (op and table names) are interned: the same bytes give the same string object,
// whose hash the engine's Maps have cached already. Direct-mapped, so a miss costs one compare.
const INTERN_SLOTS = 256
const INTERN_MAX_BYTES = 48
const internBytes: (Uint8Array | undefined)[] = new Array(INTERN_SLOTS).fill(undefined)
const internStrings: string[] = new Array(INTERN_SLOTS).fill('')

let src: Uint8Array = new Uint8Array(0)
let at = 0
let stop = 0
// Set when the bytes are not one of the shapes read here: the caller then asks msgpackr.
let refused = false

/** The request [id, name, table, args] in `data[start..end)`, or undefined when it is not one of
 * the simple shapes (decode it with msgpackr then). */
export function readRequest(data: Uint8Array, start: number, end: number): unknown[] | undefined {
  if (data[start] !== 0x94) return undefined
  src = data
  at = start + 1
  stop = end
  refused = false
  const id = readUint()
  const name = readName()
  const table = readName()
  const args = readArgs()
  if (refused || at !== end) return undefined
  return [id, name, table, args]
}

/** The reply [id, status, payload] in `data[start..end)`, or undefined (decode it with msgpackr). */
export function readReply(data: Uint8Array, start: number, end: number): [number, number, unknown] | undefined {
  if (data[start] !== 0x93) return undefined
  src = data
  at = start + 1
  stop = end
  refused = false
  const id = readUint()
  const status = at < stop ? src[at++]! : 0xff
  if (status > 0x7f) return undefined
  const payload = readValue()
  if (refused || at !== end) return undefined
  return [id, status, payload]
}

function readUint(): number {
  if (at >= stop) return fail()
  const b = src[at++]!
  if (b <= 0x7f) return b
  if (b === 0xcc && at + 1 <= stop) return src[at++]!
  if (b === 0xcd && at + 2 <= stop) {
    at += 2
    return (src[at - 2]! << 8) | src[at - 1]!
  }
  if (b === 0xce && at + 4 <= stop) {
    at += 4
    return ((src[at - 4]! << 24) >>> 0) + ((src[at - 3]! << 16) | (src[at - 2]! << 8) | src[at - 1]!)
  }
  return fail()
}

function fail(): 0 {
  refused = true
  at = stop
  return 0
}

// A string's length from its header at `at` (moving past it), or -1 when it is not a string.
function stringLength(b: number): number {
  if ((b & 0xe0) === 0xa0) return b & 0x1f
  if (b === 0xd9 && at + 1 <= stop) return src[at++]!
  if (b === 0xda && at + 2 <= stop) {
    at += 2
    return (src[at - 2]! << 8) | src[at - 1]!
  }
  return -1
}

function readName(): string {
  if (at >= stop) return failString()
  const length = stringLength(src[at++]!)
  if (length < 0 || at + length > stop) return failString()
  if (length > INTERN_MAX_BYTES) return readAscii(length)
  let hash = length
  for (let i = 0; i < length; i++) hash = (hash * 31 + src[at + i]!) & (INTERN_SLOTS - 1)
  const known = internBytes[hash]
  if (known !== undefined && known.length === length) {
    let same = true
    for (let i = 0; i < length; i++) {
      if (known[i] !== src[at + i]) {
        same = false
        break
      }
    }
    if (same) {
      at += length
      return internStrings[hash]!
    }
  }
  const bytes = src.slice(at, at + length)
  const string = readAscii(length)
  if (!refused) {
    internBytes[hash] = bytes
    internStrings[hash] = string
  }
  return string
}

function failString(): string {
  fail()
  return ''
}

// Bun's native latin1 slice makes a flat string in one call (a string built of fromCharCode
// pieces is a rope that every later hash must flatten first); it works on any Uint8Array.
const latin1Slice = (Buffer.prototype as unknown as {
  latin1Slice(this: Uint8Array, start: number, end: number): string
}).latin1Slice

// ASCII only (where latin1 and UTF-8 agree): any byte past 0x7f leaves the string, and UTF-8's
// rules, to msgpackr.
function readAscii(length: number): string {
  const start = at
  const end = at + length
  let high = 0
  for (let i = start; i < end; i++) high |= src[i]!
  if (high > 0x7f) return failString()
  at = end
  return length === 0 ? '' : latin1Slice.call(src, start, end)
}

// A short array of simple values (not of arrays). Longer ones go to msgpackr, whose native
// extractor reads all the strings of a frame in one call (~25 ns a string, against ~45 here).
function readArray(): unknown[] {
  const b = src[at++]!
  if (b === 0xdc) return (fail(), [])
  const count = b & 0x0f
  const items = new Array<unknown>(count)
  for (let i = 0; i < count && !refused; i++) {
    const next = src[at]
    if (next !== undefined && ((next & 0xf0) === 0x90 || next === 0xdc)) return (fail(), [])
    items[i] = readValue()
  }
  return items
}

function readArgs(): unknown[] {
  if (at >= stop) return (fail(), [])
  const b = src[at++]!
  if ((b & 0xf0) !== 0x90) return (fail(), [])
  const count = b & 0x0f
  const args = new Array<unknown>(count)
  for (let i = 0; i < count && !refused; i++) args[i] = readValue()
  return args
}

function readValue(): unknown {
  if (at >= stop) return fail()
  const b = src[at]!
  if ((b & 0xf0) === 0x90 || b === 0xdc) return readArray() // an array16 is refused there
  if (b <= 0x7f) {
    at++
    return b
  }
  if (b >= 0xe0) {
    at++
    return b - 0x100
  }
  const length = stringLength(src[at++]!)
  if (length >= 0) {
    if (at + length > stop) return failString()
    return readAscii(length)
  }
  switch (b) { // `at` is past the header byte
    case 0xc0: return null
    case 0xc2: return false
    case 0xc3: return true
    case 0xcc: case 0xcd: case 0xce:
      at--
      return readUint()
    case 0xd0:
      if (at + 1 > stop) return fail()
      return (src[at++]! << 24) >> 24
    case 0xd1:
      if (at + 2 > stop) return fail()
      at += 2
      return (((src[at - 2]! << 8) | src[at - 1]!) << 16) >> 16
    case 0xd2:
      if (at + 4 > stop) return fail()
      at += 4
      return (src[at - 4]! << 24) | (src[at - 3]! << 16) | (src[at - 2]! << 8) | src[at - 1]!
    case 0xcb: {
      if (at + 8 > stop) return fail()
      const value = new DataView(src.buffer, src.byteOffset + at, 8).getFloat64(0)
      at += 8
      return value
    }
    case 0xd4: // fixext 1, type 0: msgpackr's undefined
      if (at + 2 <= stop && src[at] === 0 && src[at + 1] === 0) {
        at += 2
        return undefined
      }
      return fail()
    default:
      return fail()
  }
}

// --- writing ---

/** Where fast writes go: a buffer with room reserved, written from `at`. */
export interface Room {
  bytes: Uint8Array
  view: DataView
}

/** Bytes writeValue needs at most for `value`, or -1 when it is not one of the simple values. */
export function valueBound(value: unknown): number {
  switch (typeof value) {
    case 'string':
      return value.length <= MAX_STRING ? value.length + 3 : -1
    case 'number':
      return 9
    case 'boolean':
    case 'undefined':
      return 3
    case 'object':
      return value === null ? 1 : Array.isArray(value) ? arrayBound(value) : -1
    default:
      return -1
  }
}

// An array of simple values that are not arrays; a plain Array only (msgpackr writes a subclass
// the same, but its own way of walking it is left to it).
function arrayBound(items: unknown[]): number {
  if (items.length > MAX_ITEMS || Object.getPrototypeOf(items) !== Array.prototype) return -1
  let bound = 3
  for (let i = 0; i < items.length; i++) {
    const item = items[i]
    if (Array.isArray(item)) return -1
    const one = valueBound(item)
    if (one < 0) return -1
    bound += one
  }
  return bound
}

/** Bytes the args of a request need at most, or -1 when any is not simple. */
export function argsBound(args: unknown[]): number {
  if (args.length > MAX_ARGS) return -1
  let bound = 1
  for (let i = 0; i < args.length; i++) {
    const one = valueBound(args[i])
    if (one < 0) return -1
    bound += one
  }
  return bound
}

/** Writes an unsigned integer (< 2^32) at `at`; returns the new end. */
export function writeUint(room: Room, at: number, n: number): number {
  const bytes = room.bytes
  if (n <= 0x7f) {
    bytes[at] = n
    return at + 1
  }
  if (n <= 0xff) {
    bytes[at] = 0xcc
    bytes[at + 1] = n
    return at + 2
  }
  if (n <= 0xffff) {
    bytes[at] = 0xcd
    room.view.setUint16(at + 1, n)
    return at + 3
  }
  bytes[at] = 0xce
  room.view.setUint32(at + 1, n)
  return at + 5
}

/** Writes a simple value (valueBound >= 0) at `at`; returns the new end, or -1 when it turns out
 * not to be simple after all (a non-ASCII string): the caller then encodes with msgpackr. */
export function writeValue(room: Room, at: number, value: unknown): number {
  const bytes = room.bytes
  switch (typeof value) {
    case 'string':
      return writeAscii(room, at, value)
    case 'number':
      if (Number.isInteger(value) && value >= -0x80000000 && value <= 0xffffffff) {
        if (value >= 0) return writeUint(room, at, value) // -0 is 0, as msgpackr writes it
        if (value >= -32) {
          bytes[at] = value & 0xff
          return at + 1
        }
        if (value >= -0x80) {
          bytes[at] = 0xd0
          room.view.setInt8(at + 1, value)
          return at + 2
        }
        if (value >= -0x8000) {
          bytes[at] = 0xd1
          room.view.setInt16(at + 1, value)
          return at + 3
        }
        bytes[at] = 0xd2
        room.view.setInt32(at + 1, value)
        return at + 5
      }
      bytes[at] = 0xcb
      room.view.setFloat64(at + 1, value)
      return at + 9
    case 'boolean':
      bytes[at] = value ? 0xc3 : 0xc2
      return at + 1
    case 'undefined':
      bytes[at] = 0xd4
      bytes[at + 1] = 0
      bytes[at + 2] = 0
      return at + 3
    default: // null or an array (valueBound let nothing else through)
      if (value === null) {
        bytes[at] = 0xc0
        return at + 1
      }
      return writeArray(room, at, value as unknown[])
  }
}

/** Writes a string of at most MAX_STRING characters if it is ASCII; -1 if it is not. */
export function writeAscii(room: Room, at: number, value: string): number {
  const bytes = room.bytes
  const length = value.length
  let start: number
  if (length < 32) {
    bytes[at] = 0xa0 | length
    start = at + 1
  } else if (length <= 0xff) {
    bytes[at] = 0xd9
    bytes[at + 1] = length
    start = at + 2
  } else {
    bytes[at] = 0xda
    room.view.setUint16(at + 1, length)
    start = at + 3
  }
  for (let i = 0; i < length; i++) {
    const code = value.charCodeAt(i)
    if (code > 0x7f) return -1
    bytes[start + i] = code
  }
  return start + length
}

function writeArray(room: Room, at: number, items: unknown[]): number {
  const length = items.length
  if (length < 16) {
    room.bytes[at++] = 0x90 | length
  } else {
    room.bytes[at] = 0xdc
    room.view.setUint16(at + 1, length)
    at += 3
  }
  for (let i = 0; i < length && at >= 0; i++) at = writeValue(room, at, items[i])
  return at
}

/** Writes a simple args array (argsBound >= 0); -1 when a string turns out not to be ASCII. */
export function writeArgs(room: Room, at: number, args: unknown[]): number {
  room.bytes[at++] = 0x90 | args.length
  for (let i = 0; i < args.length && at >= 0; i++) at = writeValue(room, at, args[i])
  return at
}
