// The shapes on the wire. A connection opens with the server's hello (binary: magic, protocol
// version, flags, frame limit, a fresh nonce), or with an error frame when the server refuses it.
// The client answers with a bare 32-byte HMAC-SHA256 of the nonce keyed by the password: the
// password never crosses, and the server decodes no msgpack before the proof checks out.
// After that, requests are msgpack [id, name, table, args] and replies [id, status, payload].

import { createHmac, timingSafeEqual } from 'node:crypto'
import { CyberError, isErrorCode, type ErrorCode } from '../errors.ts'

export const PROTOCOL_VERSION = 1
export const MAGIC = new TextEncoder().encode('CYBERDB')
export const NONCE_BYTES = 32
export const PROOF_BYTES = 32
const HELLO_BYTES = MAGIC.length + 1 + 1 + 4 + NONCE_BYTES

export const FLAG_ENCRYPT = 1

export const STATUS_OK = 0
export const STATUS_ERROR = 1

/** Request id 0 is never used by a client: replies with id 0 concern the connection itself. */
export const CONNECTION_ID = 0

export interface Hello {
  version: number
  flags: number
  maxFrameBytes: number
  nonce: Uint8Array
}

export function encodeHello(hello: Hello): Uint8Array {
  const body = new Uint8Array(HELLO_BYTES)
  const view = new DataView(body.buffer)
  body.set(MAGIC, 0)
  let at = MAGIC.length
  view.setUint8(at++, hello.version)
  view.setUint8(at++, hello.flags)
  view.setUint32(at, hello.maxFrameBytes)
  body.set(hello.nonce, at + 4)
  return body
}

/** A hello, or `undefined` when the frame is not one (it is then an error frame). */
export function decodeHello(body: Uint8Array): Hello | undefined {
  if (body.length !== HELLO_BYTES) return undefined
  for (let i = 0; i < MAGIC.length; i++) if (body[i] !== MAGIC[i]) return undefined
  const view = new DataView(body.buffer, body.byteOffset, body.length)
  let at = MAGIC.length
  return {
    version: view.getUint8(at++),
    flags: view.getUint8(at++),
    maxFrameBytes: view.getUint32(at),
    nonce: body.slice(at + 4),
  }
}

/** The client's proof that it knows the password: an HMAC of the nonce keyed by the password's
 * master key (a slow KDF of it), so a captured handshake does not make guessing cheap. */
export function authProof(key: Uint8Array, nonce: Uint8Array): Uint8Array {
  return createHmac('sha256', key).update(nonce).digest()
}

/** Compares a received proof with the expected one in constant time. */
export function checkProof(expected: Uint8Array, received: Uint8Array): boolean {
  return received.length === expected.length && timingSafeEqual(expected, received)
}

export type Request = [id: number, name: string, table: string, args: unknown[]]
export type Reply = [id: number, status: number, payload: unknown]

/** A request whose id could be read; the rest is as it arrived, for the host to check (checkOp in
 * the engine, the check every mode runs) and refuse on that id alone. */
export interface UncheckedRequest {
  name: unknown
  table: unknown
  args: unknown
}

/** The id of a decoded request [id > 0, name, table, args]; PROTOCOL when there is none to answer
 * on: the stream is then not to be trusted, and the connection closes. */
export function requestId(message: unknown): number {
  const id: unknown = Array.isArray(message) ? message[0] : undefined
  if (typeof id === 'number' && Number.isSafeInteger(id) && id > 0) return id
  throw new CyberError('PROTOCOL', 'a request is [id > 0, name, table, args]')
}

/**
 * The parts of a request whose id was readable (requestId). From there on a wrong shape is that
 * request's own error, never the connection's (issue 8.15): a wrong length is a BAD_ARGUMENT
 * here, and wrong types are the host's to refuse.
 */
export function checkRequest(message: unknown[]): UncheckedRequest {
  if (message.length !== 4) {
    throw new CyberError('BAD_ARGUMENT', `a request is [id, name, table, args], not ${message.length} items`)
  }
  return { name: message[1], table: message[2], args: message[3] }
}

/** The payload of an error reply. */
export function errorPayload(error: CyberError): [ErrorCode, string] {
  return [error.code, error.message]
}

/** Rebuilds the CyberError a server sent, with the same code. */
export function errorFromPayload(payload: unknown): CyberError {
  if (Array.isArray(payload) && isErrorCode(payload[0]) && typeof payload[1] === 'string') {
    return new CyberError(payload[0], payload[1])
  }
  return new CyberError('PROTOCOL', 'the server sent a malformed error reply')
}
