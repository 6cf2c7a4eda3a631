// Reads, in one pass, the requests [id, name, table, args] and replies [id, status, payload]
// whose values are ASCII strings, small numbers, booleans, null, undefined, or short arrays of
// those (fast-write.ts writes them). One msgpackr call costs a few hundred nanoseconds of setup
// per message, and a decoded op or table name is a fresh string that every Map lookup hashes
// again: here names are interned and strings are sliced flat. Anything else returns undefined,
// and the caller asks msgpackr: both read the same msgpack bytes as the same values.

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
export function readReply(data: Uint8Array, start: number, end: number):
  [number, number, unknown] | undefined {
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
