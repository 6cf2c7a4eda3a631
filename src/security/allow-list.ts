// Which client addresses may connect: IPv4 and IPv6 addresses and CIDR ranges. Checked when a
// socket opens, before a byte from it is decoded. An IPv4-mapped IPv6 address (::ffff:10.0.0.1)
// is matched as the IPv4 address it carries, since that is how dual-stack sockets report IPv4.

import { badArgument } from '../errors.ts'

interface Range {
  bytes: Uint8Array
  prefix: number
}

export class AllowList {
  readonly #ranges: Range[]

  /** Parses entries like "127.0.0.1", "10.0.0.0/8", "::1", "fd00::/8"; BAD_ARGUMENT otherwise. */
  constructor(entries: readonly string[]) {
    this.#ranges = entries.map(parseRange)
  }

  allows(address: string): boolean {
    const bytes = parseAddress(address)
    if (bytes === undefined) return false
    return this.#ranges.some((range) => range.bytes.length === bytes.length && matches(range, bytes))
  }
}

function parseRange(entry: string): Range {
  if (typeof entry !== 'string') throw badArgument(`an allow-list entry is a string, not ${typeof entry}`)
  const [address, prefixText, extra] = entry.trim().split('/')
  const bytes = parseAddress(address ?? '')
  if (bytes === undefined || extra !== undefined) {
    throw badArgument(`"${entry}" is not an IP address or CIDR range (like 10.0.0.0/8 or fd00::/8)`)
  }
  // An IPv4-mapped entry (::ffff:10.0.0.0/104) is matched as IPv4, so its prefix counts IPv6 bits
  // of which the first 96 are the mapping itself.
  const mapped = address!.includes(':') && bytes.length === 4
  const bits = mapped ? 128 : bytes.length * 8
  const lowest = mapped ? 96 : 0
  // Digits only: Number() would also take "0x8", " 8" or "8e0".
  const prefix = prefixText === undefined ? bits : /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : NaN
  if (!(prefix >= lowest && prefix <= bits)) {
    throw badArgument(`"${entry}" has a prefix length outside ${lowest}..${bits}`)
  }
  return { bytes, prefix: prefix - (mapped ? 96 : 0) }
}

function matches(range: Range, bytes: Uint8Array): boolean {
  let bits = range.prefix
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff
    if ((range.bytes[i]! & mask) !== (bytes[i]! & mask)) return false
  }
  return true
}

/** 4 bytes for IPv4 (and IPv4-mapped IPv6), 16 for IPv6, undefined for anything else. */
export function parseAddress(text: string): Uint8Array | undefined {
  const address = text.replace(/^\[|\]$/g, '').replace(/%.*$/, '') // [::1], fe80::1%eth0
  if (address.includes(':')) {
    const bytes = parseIPv6(address)
    if (bytes && bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff) {
      return bytes.slice(12) // ::ffff:a.b.c.d
    }
    return bytes
  }
  return parseIPv4(address)
}

function parseIPv4(text: string): Uint8Array | undefined {
  const parts = text.split('.')
  if (parts.length !== 4) return undefined
  const bytes = new Uint8Array(4)
  for (let i = 0; i < 4; i++) {
    const part = parts[i]!
    // No leading zeros: some parsers read 010 as octal 8, so an entry like that is ambiguous.
    if (!/^(0|[1-9]\d{0,2})$/.test(part) || Number(part) > 255) return undefined
    bytes[i] = Number(part)
  }
  return bytes
}

function parseIPv6(text: string): Uint8Array | undefined {
  let address = text
  // An embedded IPv4 tail (::ffff:1.2.3.4) is the last two groups written in decimal.
  const lastColon = address.lastIndexOf(':')
  if (address.slice(lastColon + 1).includes('.')) {
    const v4 = parseIPv4(address.slice(lastColon + 1))
    if (v4 === undefined) return undefined
    const hex = (hi: number, lo: number) => ((hi << 8) | lo).toString(16)
    address = `${address.slice(0, lastColon + 1)}${hex(v4[0]!, v4[1]!)}:${hex(v4[2]!, v4[3]!)}`
  }
  const halves = address.split('::')
  if (halves.length > 2) return undefined
  const groups = (half: string) => (half === '' ? [] : half.split(':'))
  const left = groups(halves[0]!)
  const right = halves.length === 2 ? groups(halves[1]!) : []
  const missing = 8 - left.length - right.length
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined
  const bytes = new Uint8Array(16)
  const words = [...left, ...Array<string>(missing).fill('0'), ...right]
  for (let i = 0; i < 8; i++) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(words[i]!)) return undefined
    const word = Number.parseInt(words[i]!, 16)
    bytes[2 * i] = word >> 8
    bytes[2 * i + 1] = word & 0xff
  }
  return bytes
}
