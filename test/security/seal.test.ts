// AES-256-GCM sealing on its own: round trips, and every way a sealed frame can be wrong
// (tampered, replayed, reordered, truncated, sealed with another key, shorter than its tag) fails
// with PROTOCOL; the master key is computed once per password; session keys differ per nonce and
// per direction. Then the sealed stream (Outbox -> Inbox) across several sealed pieces.

import { describe, expect, test } from 'bun:test'
import { Inbox, Outbox, SEAL_CHUNK_BYTES } from '../../src/protocol/frame.ts'
import { Opener, Sealer, TAG_BYTES, masterKey, sessionKeys } from '../../src/security/seal.ts'
import { expectCode } from '../contract/helpers.ts'

const NONCE = new Uint8Array(32).fill(7)
const KEYS = sessionKeys(masterKey('seal-test'), NONCE)
const text = (s: string) => new TextEncoder().encode(s)

/** A sealer and the opener that matches it, both at counter 0. */
function pair(): { sealer: Sealer; opener: Opener } {
  return { sealer: new Sealer(KEYS.clientToServer), opener: new Opener(KEYS.clientToServer) }
}

describe('Sealer and Opener', () => {
  const plains: [string, Uint8Array][] = [
    ['an empty frame', new Uint8Array(0)],
    ['one byte', new Uint8Array([42])],
    ['a short message', text('hello, sealed world')],
    ['a 256 KiB piece', new Uint8Array(SEAL_CHUNK_BYTES).map((_, i) => (i * 7) % 256)],
  ]
  for (const [what, plain] of plains) {
    test(`${what} opens to the same bytes, ${TAG_BYTES} bytes longer sealed, and not in clear`, () => {
      const { sealer, opener } = pair()
      const sealed = sealer.seal(plain)
      expect(sealed.length).toBe(plain.length + TAG_BYTES)
      if (plain.length >= 8) expect(Buffer.from(sealed).includes(Buffer.from(plain.subarray(0, 8)))).toBe(false)
      expect(opener.open(sealed).equals(plain)).toBe(true)
    })
  }

  test('a sequence of frames opens in order', () => {
    const { sealer, opener } = pair()
    const sealed = ['a', 'b', 'c', 'd'].map((s) => sealer.seal(text(s)))
    expect(sealed.map((s) => new TextDecoder().decode(opener.open(s)))).toEqual(['a', 'b', 'c', 'd'])
  })

  test('the same plain text seals differently each time (the counter is the nonce)', () => {
    const { sealer } = pair()
    expect(Buffer.from(sealer.seal(text('same'))).equals(Buffer.from(sealer.seal(text('same'))))).toBe(false)
  })

  const attacks: [string, (sealed: Uint8Array[]) => Uint8Array[]][] = [
    ['a flipped bit in the cipher text', ([a]) => [flip(a!, 0)]],
    ['a flipped bit in the tag', ([a]) => [flip(a!, a!.length - 1)]],
    ['a replayed frame', ([a]) => [a!, a!]],
    ['two frames in the wrong order', ([a, b]) => [b!, a!]],
    ['a dropped frame', ([a, , c]) => [a!, c!]],
    ['a frame truncated by one byte', ([a]) => [a!.subarray(0, a!.length - 1)]],
    ['a frame with a byte appended', ([a]) => [Buffer.concat([a!, new Uint8Array([0])])]],
    ['a frame shorter than its tag', () => [new Uint8Array(TAG_BYTES - 1)]],
    ['an empty frame', () => [new Uint8Array(0)]],
    ['a tag-sized frame of zeros', () => [new Uint8Array(TAG_BYTES)]],
  ]
  for (const [what, attack] of attacks) {
    test(`${what} fails with PROTOCOL`, async () => {
      const { sealer, opener } = pair()
      const sealed = ['first', 'second', 'third'].map((s) => sealer.seal(text(s)))
      const received = attack(sealed)
      await expectCode(() => received.forEach((frame) => opener.open(frame)), 'PROTOCOL')
    })
  }

  test('a frame sealed with another password\'s key fails with PROTOCOL', async () => {
    const other = sessionKeys(masterKey('another password'), NONCE)
    const sealed = new Sealer(other.clientToServer).seal(text('hello'))
    await expectCode(() => new Opener(KEYS.clientToServer).open(sealed), 'PROTOCOL')
  })

  test('a frame sealed for the other direction fails with PROTOCOL (no reflection)', async () => {
    const sealed = new Sealer(KEYS.serverToClient).seal(text('hello'))
    await expectCode(() => new Opener(KEYS.clientToServer).open(sealed), 'PROTOCOL')
  })

  test('a frame sealed under another session\'s nonce fails with PROTOCOL', async () => {
    const other = sessionKeys(masterKey('seal-test'), new Uint8Array(32).fill(8))
    const sealed = new Sealer(other.clientToServer).seal(text('hello'))
    await expectCode(() => new Opener(KEYS.clientToServer).open(sealed), 'PROTOCOL')
  })
})

function flip(bytes: Uint8Array, at: number): Uint8Array {
  const copy = new Uint8Array(bytes)
  copy[at]! ^= 0x01
  return copy
}

describe('keys', () => {
  test('the master key is computed once per password and cached', () => {
    const started = performance.now()
    const first = masterKey('a password never used before in this process')
    const slow = performance.now() - started
    const again = performance.now()
    const second = masterKey('a password never used before in this process')
    const fast = performance.now() - again
    expect(second).toBe(first)
    expect(first.length).toBe(32)
    expect(fast).toBeLessThan(slow)
  })

  test('different passwords have different master keys', () => {
    expect(masterKey('one').equals(masterKey('two'))).toBe(false)
  })

  test('the master key is not the password, nor a plain hash of it', () => {
    const key = masterKey('seal-test')
    expect(key.equals(new Bun.CryptoHasher('sha256').update('seal-test').digest())).toBe(false)
    expect(key.includes(Buffer.from('seal-test'))).toBe(false)
  })

  test('session keys differ per direction and per nonce, and are stable for one nonce', () => {
    const master = masterKey('seal-test')
    const a = sessionKeys(master, new Uint8Array(32).fill(1))
    const b = sessionKeys(master, new Uint8Array(32).fill(2))
    const hex = [a.clientToServer, a.serverToClient, b.clientToServer, b.serverToClient].map((k) => k.toString('hex'))
    expect(new Set(hex).size).toBe(4)
    expect(a.clientToServer.length).toBe(32)
    expect(sessionKeys(master, new Uint8Array(32).fill(1))).toEqual(a)
  })
})

describe('sealed stream (Outbox -> Inbox)', () => {
  /** Frames through a sealing outbox into an opening inbox, the wire bytes split every `step`. */
  function roundTrip(bodies: Uint8Array[], step: number): { frames: Uint8Array[]; wire: number } {
    const { sealer, opener } = pair()
    const wire: Uint8Array[] = []
    const out = new Outbox((bytes) => (wire.push(bytes.slice()), bytes.length))
    out.sealWith((plain) => sealer.seal(plain))
    for (const body of bodies) out.frames.write(body)
    out.flush()
    const inbox = new Inbox()
    inbox.openWith((sealed) => opener.open(sealed))
    const frames: Uint8Array[] = []
    const bytes = Buffer.concat(wire)
    for (let at = 0; at < bytes.length; at += step) {
      inbox.push(bytes.subarray(at, at + step), (data, start, end) => void frames.push(data.slice(start, end)))
    }
    return { frames, wire: bytes.length }
  }

  test('a 3 MiB frame spans several sealed pieces and arrives whole, in any split', () => {
    const big = new Uint8Array(3 * 1024 * 1024).map((_, i) => i % 251)
    for (const step of [1 << 20, 65_536, 4093]) {
      const { frames, wire } = roundTrip([text('before'), big, text('after')], step)
      expect(frames.length).toBe(3)
      expect(Buffer.from(frames[1]!).equals(Buffer.from(big))).toBe(true)
      expect(new TextDecoder().decode(frames[2])).toBe('after')
      const pieces = Math.ceil((big.length + 4 * 3 + 11) / SEAL_CHUNK_BYTES)
      expect(wire).toBe(big.length + 4 * 3 + 11 + pieces * (4 + TAG_BYTES))
    }
  })

  test('a sealed piece over the piece limit is FRAME_TOO_LARGE before it is buffered', async () => {
    const inbox = new Inbox()
    inbox.openWith(() => new Uint8Array(0))
    const prefix = new Uint8Array(4)
    new DataView(prefix.buffer).setUint32(0, SEAL_CHUNK_BYTES * 2)
    await expectCode(() => inbox.push(prefix, () => {}), 'FRAME_TOO_LARGE')
  })
})
