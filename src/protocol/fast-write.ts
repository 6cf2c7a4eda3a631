// Writes the requests [id, name, table, args] and replies [id, status, payload] whose values are
// ASCII strings (up to 65535 characters), numbers, booleans, null, undefined, or arrays of those
// (one level: getMany's keys and its reply) as msgpack, in place in the batch buffer: no msgpackr
// call and no copy out of its buffer per message. Anything else reports -1 or false, and the
// caller encodes with msgpackr; the bytes are the msgpack msgpackr reads as the same values.

const MAX_STRING = 0xffff
const MAX_ARGS = 15 // a fixarray
// Arrays are written one level deep (a list of keys, a list of values): deeper ones go to
// msgpackr, so nothing here recurses far.
const MAX_ITEMS = 0xffff // an array16

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
