// encrypt=true: after the hello, every batch of frames one side writes travels as one sealed
// frame, AES-256-GCM with a per-direction key and a counter nonce that neither side sends. A frame
// that was tampered with, replayed, reordered or dropped fails its tag, and the connection closes.
// Sealing a write batch rather than each inner frame keeps the cost per socket write, not per
// request, which is what keeps pipelined throughput close to the plain mode.

import { createCipheriv, createDecipheriv, hkdfSync, pbkdf2Sync } from 'node:crypto'
import { CyberError } from '../errors.ts'

// PBKDF2-SHA256 is slow on purpose: a captured handshake must not make guessing the password
// cheap. It runs once per password per process (cached), never per connection.
const KDF_ITERATIONS = 210_000
const KDF_SALT = 'cyberdb/v1/encrypt'
export const TAG_BYTES = 16
const NONCE_BYTES = 12

const masterKeys = new Map<string, Buffer>()

/** The password's master key; computed once per process and password. */
export function masterKey(password: string): Buffer {
  let key = masterKeys.get(password)
  if (key === undefined) {
    key = pbkdf2Sync(password, KDF_SALT, KDF_ITERATIONS, 32, 'sha256')
    masterKeys.set(password, key)
  }
  return key
}

export interface SessionKeys {
  clientToServer: Buffer
  serverToClient: Buffer
}

/** Per-connection keys: the master key stretched with the hello's fresh nonce (HKDF-SHA256). */
export function sessionKeys(master: Uint8Array, nonce: Uint8Array): SessionKeys {
  const derive = (info: string) => Buffer.from(hkdfSync('sha256', master, nonce, info, 32))
  return { clientToServer: derive('cyberdb client->server'), serverToClient: derive('cyberdb server->client') }
}

/** Seals one direction's frames: the nonce is the count of frames sealed before. */
export class Sealer {
  readonly #key: Buffer
  readonly #nonce = Buffer.alloc(NONCE_BYTES)
  #counter = 0n

  constructor(key: Buffer) {
    this.#key = key
  }

  /** Ciphertext followed by the 16-byte tag. */
  seal(plain: Uint8Array): Uint8Array {
    this.#nonce.writeBigUInt64BE(this.#counter++, 4)
    const cipher = createCipheriv('aes-256-gcm', this.#key, this.#nonce)
    const head = cipher.update(plain)
    const tail = cipher.final()
    const sealed = Buffer.allocUnsafe(head.length + tail.length + TAG_BYTES)
    head.copy(sealed, 0)
    tail.copy(sealed, head.length)
    cipher.getAuthTag().copy(sealed, head.length + tail.length)
    return sealed
  }
}

/** Opens the other direction's frames, in order; anything else is PROTOCOL. */
export class Opener {
  readonly #key: Buffer
  readonly #nonce = Buffer.alloc(NONCE_BYTES)
  #counter = 0n

  constructor(key: Buffer) {
    this.#key = key
  }

  open(sealed: Uint8Array): Buffer {
    if (sealed.length < TAG_BYTES) throw new CyberError('PROTOCOL', 'a sealed frame is shorter than its tag')
    this.#nonce.writeBigUInt64BE(this.#counter++, 4)
    const decipher = createDecipheriv('aes-256-gcm', this.#key, this.#nonce)
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES))
    try {
      const head = decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES))
      const tail = decipher.final()
      return tail.length === 0 ? head : Buffer.concat([head, tail])
    } catch (cause) {
      throw new CyberError('PROTOCOL', 'a sealed frame failed authentication (tampered, replayed or reordered)', { cause })
    }
  }
}
