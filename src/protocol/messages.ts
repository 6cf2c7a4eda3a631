// The shapes on the wire. A connection opens with the server's hello (binary: magic, protocol
// version, flags, frame limit, a fresh nonce), or with an error frame when the server refuses it.
// The client answers with a bare 32-byte HMAC-SHA256 of the nonce keyed by the password: the
// password never crosses, and the server decodes no msgpack before the proof checks out.
// After that, requests are msgpack [id, name, table, args] and replies [id, status, payload].

import { createHmac, timingSafeEqual } from 'node:crypto'
import type { Packr } from 'msgpackr'
import { CyberError, isErrorCode, type ErrorCode } from '../errors.ts'
import { packInPlace, type Packed } from './codec.ts'
import type { FrameWriter } from './frame.ts'
import { readReply, readRequest } from './fast-read.ts'
import { argsBound, valueBound, writeArgs, writeAscii, writeUint, writeValue } from './fast-write.ts'

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

// A server's first frame is a hello or a small plain error frame ([0, 1, [code, message]]), so its
// first bytes are known: a u32 length, then MAGIC or msgpack's 0x93 0x00 0x01.
const MAX_REFUSAL_BYTES = 64 * 1024
const REFUSAL_START = [0x93, 0x00, 0x01]
/** How many of a server's first bytes checkFirstBytes needs to tell a CyberDB server from another. */
export const FIRST_BYTES = 4 + MAGIC.length

/**
 * Checks the first bytes a peer sent (FIRST_BYTES of them, or fewer so far) against how a CyberDB
 * server's first frame can start; PROTOCOL at once when they cannot start one, naming what the
 * peer looks like, instead of waiting for a frame that will never come (issue 8.16e).
 */
export function checkFirstBytes(bytes: Uint8Array): void {
  let fits = bytes[0] === 0 // every frame a server sends before the hello is shorter than 2^24
  if (fits && bytes.length >= 4) {
    const length = ((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) >>> 0
    fits = length <= MAX_REFUSAL_BYTES &&
      (startsWith(bytes, 4, REFUSAL_START) || (length === HELLO_BYTES && startsWith(bytes, 4, MAGIC)))
  }
  if (fits) return
  const text = new TextDecoder().decode(bytes)
  const like = bytes[0] === 0x16 && bytes[1] === 0x03 ? 'a TLS server'
    : text.startsWith('HTTP/') ? 'an HTTP server' : text.startsWith('SSH-') ? 'an SSH server' : 'another service'
  throw new CyberError('PROTOCOL', `the peer sent no CyberDB hello (it looks like ${like}): check the host ` +
    'and port, and connect to a TLS port with cyberdbs://')
}

/** Whether the bytes from `at` so far agree with `prefix` (those not yet received agree). */
function startsWith(bytes: Uint8Array, at: number, prefix: ArrayLike<number>): boolean {
  for (let i = at; i < bytes.length && i - at < prefix.length; i++) if (bytes[i] !== prefix[i - at]) return false
  return true
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

/** Where a message lies in a received chunk. */
export interface Range {
  start: number
  end: number
}

// Requests and replies are packed in place in the codec's own buffer (no copy per message: the
// frame writer copies the range once into its batch) and read in place from the received chunk.

/** A request [id, name, table, args], packed in place: valid until the codec packs again. Throws
 * what the codec throws on a value it cannot pack. */
export function encodeRequest(codec: Packr, id: number, name: string, table: string,
  args: unknown[]): Packed {
  return packInPlace(codec, [id, name, table, args])
}

/**
 * Appends the request [id, name, table, args] to `frames` as one frame, written in place with no
 * msgpackr call, when its args are simple values (fast-write.ts) and it fits `maxFrameBytes`;
 * false otherwise, with nothing appended: encode it with encodeRequest then.
 */
export function writeRequest(frames: FrameWriter, id: number, name: string, table: string,
  args: unknown[], maxFrameBytes: number): boolean {
  const bound = argsBound(args)
  if (bound < 0 || id > 0xffffffff || name.length > 0xff || table.length > 0xff) return false
  const body = frames.beginFrame(1 + 5 + 2 + name.length + 2 + table.length + bound)
  const room = frames.room
  room.bytes[body] = 0x94
  let at = writeUint(room, body + 1, id)
  at = writeAscii(room, at, name)
  if (at >= 0) at = writeAscii(room, at, table)
  if (at >= 0) at = writeArgs(room, at, args)
  if (at - body > maxFrameBytes) at = -1
  frames.endFrame(body, at)
  return at >= 0
}

/**
 * Appends the reply [id, status, payload] to `frames` as one frame written in place, when the
 * payload is a simple value and it fits `maxFrameBytes`; false otherwise, with nothing appended
 * (encodeReply then says what is wrong with it, on the same id).
 */
export function writeReply(frames: FrameWriter, id: number, status: number, payload: unknown,
  maxFrameBytes: number): boolean {
  const bound = valueBound(payload)
  if (bound < 0 || id > 0xffffffff) return false
  const body = frames.beginFrame(1 + 5 + 1 + bound)
  const room = frames.room
  room.bytes[body] = 0x93
  let at = writeUint(room, body + 1, id)
  room.bytes[at++] = status
  at = writeValue(room, at, payload)
  if (at - body > maxFrameBytes) at = -1
  frames.endFrame(body, at)
  return at >= 0
}

/** Decodes the message of a request frame (`data` from `range.start` to `range.end`), in place;
 * PROTOCOL when it does not decode (or the codec's own CyberError), or has no id to answer on
 * (see requestId). */
export function decodeRequest(codec: Packr, data: Uint8Array, range: Range):
  { id: number; message: unknown[] } {
  let message: unknown = readRequest(data, range.start, range.end)
  if (message !== undefined) return { id: requestId(message), message: message as unknown[] }
  try {
    message = codec.unpack(data, range)
  } catch (cause) {
    if (cause instanceof CyberError) throw cause
    throw new CyberError('PROTOCOL', 'a frame did not decode as a request', { cause })
  }
  return { id: requestId(message), message: message as unknown[] }
}

/**
 * A reply [id, status, payload], packed in place: valid until the codec packs again. A payload
 * that does not encode becomes an INTERNAL error reply, and one past `maxFrameBytes` a
 * FRAME_TOO_LARGE one, on the same id: the client learns why instead of losing the stream.
 */
export function encodeReply(codec: Packr, id: number, status: number, payload: unknown,
  maxFrameBytes: number): Packed {
  let packed: Packed
  try {
    packed = packInPlace(codec, [id, status, payload])
  } catch (error) {
    packed = packInPlace(codec, [id, STATUS_ERROR, ['INTERNAL', `reply did not encode: ${error}`]])
  }
  const bytes = packed.end - packed.start
  if (bytes > maxFrameBytes) {
    const message = `a reply of ${bytes} bytes exceeds the frame limit of ${maxFrameBytes}`
    packed = packInPlace(codec, [id, STATUS_ERROR, ['FRAME_TOO_LARGE', message]])
  }
  return packed
}

/** Decodes a reply frame in place; PROTOCOL when it does not decode or is not [id, status,
 * payload]. */
export function decodeReply(codec: Packr, data: Uint8Array, range: Range): Reply {
  let reply: unknown = readReply(data, range.start, range.end)
  if (reply !== undefined) return reply as Reply
  try {
    reply = codec.unpack(data, range)
  } catch (cause) {
    throw new CyberError('PROTOCOL', 'the server sent a frame that does not decode', { cause })
  }
  if (!Array.isArray(reply) || reply.length !== 3) {
    throw new CyberError('PROTOCOL', 'the server sent a malformed reply')
  }
  return reply as Reply
}

/** The payload of an error reply. */
export function errorPayload(error: CyberError): [ErrorCode, string] | [ErrorCode, string, number] {
  return error.oldest === undefined ? [error.code, error.message] : [error.code, error.message, error.oldest]
}

/** Rebuilds the CyberError a server sent, with the same code. */
export function errorFromPayload(payload: unknown): CyberError {
  if (Array.isArray(payload) && isErrorCode(payload[0]) && typeof payload[1] === 'string') {
    // FEED_COMPACTED carries the oldest seq the feed holds.
    return typeof payload[2] === 'number' ? new CyberError(payload[0], payload[1], { oldest: payload[2] })
      : new CyberError(payload[0], payload[1])
  }
  return new CyberError('PROTOCOL', 'the server sent a malformed error reply')
}

/** A watch's credit (issue 12): changes the server may push on it before the client asks for more
 * (`watch.more`); the client asks once the caller has read half of it. */
export const WATCH_WINDOW = 256
