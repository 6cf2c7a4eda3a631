// Message shapes: the binary hello, the password proof, request checking and error payloads.

import { describe, expect, test } from 'bun:test'
import { CyberError, ERROR_CODES } from '../../src/errors.ts'
import {
  MAGIC, NONCE_BYTES, PROOF_BYTES, PROTOCOL_VERSION, authProof, checkProof, checkRequest, decodeHello,
  FIRST_BYTES, STATUS_ERROR, STATUS_OK, checkFirstBytes, decodeReply, decodeRequest, encodeHello,
  encodeReply, encodeRequest, errorFromPayload, errorPayload, requestId,
} from '../../src/protocol/messages.ts'
import { createCodec, type Packed } from '../../src/protocol/codec.ts'
import { masterKey } from '../../src/security/seal.ts'
import { expectCode } from '../contract/helpers.ts'

const nonce = Uint8Array.from({ length: NONCE_BYTES }, (_, i) => (i * 37) & 0xff)

describe('hello', () => {
  test('encodeHello and decodeHello round trip version, flags, frame limit and nonce', () => {
    const hello = { version: PROTOCOL_VERSION, flags: 1, maxFrameBytes: 0xfffffffe, nonce }
    const body = encodeHello(hello)
    expect(body.subarray(0, MAGIC.length)).toEqual(MAGIC)
    expect(decodeHello(body)).toEqual(hello)
  })

  test('decodeHello reads a hello inside a larger buffer (a view at an offset)', () => {
    const body = encodeHello({ version: 7, flags: 0, maxFrameBytes: 1024, nonce })
    const framed = new Uint8Array(body.length + 9)
    framed.set(body, 5)
    expect(decodeHello(framed.subarray(5, 5 + body.length)))
      .toEqual({ version: 7, flags: 0, maxFrameBytes: 1024, nonce })
  })

  const notHellos: [string, Uint8Array][] = [
    ['an empty frame', new Uint8Array(0)],
    ['a msgpack error frame', createCodec().pack([0, 1, ['NOT_ALLOWED', 'too many connections']])],
    ['a hello one byte short', encodeHello({ version: 1, flags: 0, maxFrameBytes: 1, nonce }).subarray(1)],
    ['a hello-sized frame with the wrong magic', (() => {
      const body = encodeHello({ version: 1, flags: 0, maxFrameBytes: 1, nonce })
      body[0] = 'X'.charCodeAt(0)
      return body
    })()],
  ]
  for (const [what, body] of notHellos) {
    test(`decodeHello of ${what} is undefined`, () => {
      expect(decodeHello(body)).toBeUndefined()
    })
  }
})

describe('password proof', () => {
  test('authProof is a 32-byte HMAC keyed by the password master key, over the nonce', () => {
    const proof = authProof(masterKey('secret'), nonce)
    expect(proof.length).toBe(PROOF_BYTES)
    expect(authProof(masterKey('secret'), nonce)).toEqual(proof)
    expect(authProof(masterKey('Secret'), nonce)).not.toEqual(proof)
    expect(authProof(masterKey('secret'), nonce.map((b) => b ^ 1))).not.toEqual(proof)
  })

  test('checkProof accepts the expected proof', () => {
    expect(checkProof(authProof(masterKey('pw'), nonce), authProof(masterKey('pw'), nonce))).toBe(true)
  })

  const wrong: [string, Uint8Array][] = [
    ['a proof for another password', authProof(masterKey('other'), nonce)],
    ['a proof with one byte flipped', (() => {
      const proof = authProof(masterKey('pw'), nonce)
      proof[31] = proof[31]! ^ 0x80
      return proof
    })()],
    ['a proof one byte short', authProof(masterKey('pw'), nonce).subarray(0, 31)],
    ['a proof one byte long', new Uint8Array([...authProof(masterKey('pw'), nonce), 0])],
    ['an empty proof', new Uint8Array(0)],
  ]
  for (const [what, received] of wrong) {
    test(`checkProof refuses ${what}`, () => {
      expect(checkProof(authProof(masterKey('pw'), nonce), received)).toBe(false)
    })
  }
})

describe('requestId and checkRequest', () => {
  const good: [string, unknown[]][] = [
    ['a request with arguments', [1, 'dict.set', 'users', ['k', { a: 1 }]]],
    ['a request with no arguments and an empty table', [2 ** 53 - 1, 'db.tables', '', []]],
  ]
  for (const [what, message] of good) {
    test(`requestId and checkRequest read ${what}`, () => {
      expect<unknown>([requestId(message), checkRequest(message)])
        .toEqual([message[0], { name: message[1], table: message[2], args: message[3] }])
    })
  }

  // With no id to answer on, the stream is not to be trusted: PROTOCOL closes the connection.
  const noId: [string, unknown][] = [
    ['id 0 (reserved for the connection)', [0, 'dict.get', 't', ['k']]],
    ['a negative id', [-1, 'dict.get', 't', ['k']]],
    ['a float id', [1.5, 'dict.get', 't', ['k']]],
    ['an id past the safe integers', [2 ** 53, 'dict.get', 't', ['k']]],
    ['a string id', ['1', 'dict.get', 't', ['k']]],
    ['a bigint id', [1n, 'dict.get', 't', ['k']]],
    ['an empty array', []],
    ['an object', { id: 1, name: 'dict.get', table: 't', args: [] }],
    ['null', null],
    ['a string', 'dict.get'],
  ]
  for (const [what, message] of noId) {
    test(`requestId refuses ${what} with PROTOCOL`, async () => {
      await expectCode(() => requestId(message), 'PROTOCOL')
    })
  }

  // With an id, a wrong shape is that request's error alone (issue 8.15).
  const wrongLength: [string, unknown[]][] = [
    ['one element', [1]],
    ['three elements', [1, 'dict.get', 't']],
    ['five elements', [1, 'dict.get', 't', ['k'], 'extra']],
  ]
  for (const [what, message] of wrongLength) {
    test(`checkRequest refuses ${what} with BAD_ARGUMENT once the id is read`, async () => {
      expect(requestId(message)).toBe(1)
      const error = await expectCode(() => checkRequest(message), 'BAD_ARGUMENT')
      expect(error.message).toBe(`a request is [id, name, table, args], not ${message.length} items`)
    })
  }

  test('checkRequest leaves the types of name, table and args to the host (checkOp)', () => {
    expect(checkRequest([1, 42, null, 'x'])).toEqual({ name: 42, table: null, args: 'x' })
  })
})

describe('checkFirstBytes', () => {
  const frame = (body: Uint8Array) => {
    const out = new Uint8Array(4 + body.length)
    new DataView(out.buffer).setUint32(0, body.length)
    out.set(body, 4)
    return out
  }
  const hello = frame(encodeHello({ version: PROTOCOL_VERSION, flags: 0, maxFrameBytes: 1 << 20, nonce: new Uint8Array(NONCE_BYTES) }))
  const refusal = frame(createCodec().pack([0, 1, ['NOT_ALLOWED', 'too many connections']]))
  for (const [what, bytes] of [['a hello', hello], ['a refusal frame', refusal]] as const) {
    test(`every prefix of ${what} passes, so a CyberDB server is never refused (8.16e)`, () => {
      for (let n = 1; n <= FIRST_BYTES; n++) checkFirstBytes(bytes.subarray(0, n))
      expect(bytes.length).toBeGreaterThan(FIRST_BYTES)
    })
  }

  test('a first byte that no server frame starts with is PROTOCOL at once', async () => {
    await expectCode(() => checkFirstBytes(new Uint8Array([0x48])), 'PROTOCOL')
  })
})

describe('error payloads', () => {
  for (const code of ERROR_CODES) {
    test(`errorFromPayload rebuilds a ${code} CyberError with its message`, () => {
      const error = errorFromPayload(errorPayload(new CyberError(code, `about ${code}`)))
      expect(error).toBeInstanceOf(CyberError)
      expect({ code: error.code, message: error.message }).toEqual({ code, message: `about ${code}` })
    })
  }

  const junk: [string, unknown][] = [
    ['null', null],
    ['an empty array', []],
    ['an unknown code', ['NO_SUCH_CODE', 'x']],
    ['a code that is not a string', [1, 'x']],
    ['a message that is not a string', ['KEY_NOT_FOUND', 5]],
    ['a bare string', 'KEY_NOT_FOUND'],
  ]
  for (const [what, payload] of junk) {
    test(`errorFromPayload of ${what} is a PROTOCOL error`, () => {
      const error = errorFromPayload(payload)
      expect(error).toBeInstanceOf(CyberError)
      expect(error.code).toBe('PROTOCOL')
    })
  }
})

describe('requests and replies', () => {
  const codec = createCodec()
  const all = (packed: Packed) => packed.subarray(packed.start, packed.end).slice()

  test('a request is msgpack [id, name, table, args], decoded in place from a range', () => {
    const bytes = all(encodeRequest(codec, 7, 'dict.set', 'users', ['ada', { age: 36 }]))
    expect(codec.unpack(bytes)).toEqual([7, 'dict.set', 'users', ['ada', { age: 36 }]])
    const chunk = new Uint8Array([9, 9, ...bytes, 9])
    const decoded = decodeRequest(codec, chunk, { start: 2, end: 2 + bytes.length })
    expect(decoded).toEqual({ id: 7, message: [7, 'dict.set', 'users', ['ada', { age: 36 }]] })
  })

  test('a request that does not decode, or has no id, is PROTOCOL', async () => {
    const junk = new Uint8Array([0xc1])
    await expectCode(() => decodeRequest(codec, junk, { start: 0, end: 1 }), 'PROTOCOL')
    const noId = codec.pack(['x', 'dict.get', 'd', []])
    await expectCode(() => decodeRequest(codec, noId, { start: 0, end: noId.length }), 'PROTOCOL')
  })

  test('a reply is [id, status, payload]; past the frame limit, FRAME_TOO_LARGE', () => {
    const reply = all(encodeReply(codec, 3, STATUS_OK, 'x'.repeat(100), 1000))
    const decoded = decodeReply(codec, reply, { start: 0, end: reply.length })
    expect(decoded).toEqual([3, STATUS_OK, 'x'.repeat(100)])
    const big = all(encodeReply(codec, 4, STATUS_OK, 'x'.repeat(2000), 1000))
    const [id, status, [code]] = decodeReply(codec, big, { start: 0, end: big.length }) as
      [number, number, [string]]
    expect([id, status, code]).toEqual([4, STATUS_ERROR, 'FRAME_TOO_LARGE'])
  })

  test('a reply that is not [id, status, payload] is PROTOCOL', async () => {
    const two = codec.pack([1, 0])
    await expectCode(() => decodeReply(codec, two, { start: 0, end: two.length }), 'PROTOCOL')
  })
})
