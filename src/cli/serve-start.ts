// What `cyberdb serve` says and cleans up around starting: a listen failure told as what to do,
// the files a failed start must not leave behind, and the URL a client pastes.

import { existsSync, unlinkSync } from 'node:fs'
import { CyberError } from '../errors.ts'
import type { Address } from '../listen-options.ts'

/** Remembers which of these paths did not exist yet, to remove exactly those again. */
export class FilesCreated {
  readonly #absent: string[]

  constructor(paths: string[]) {
    this.#absent = paths.filter((path) => !existsSync(path))
  }

  remove(): void {
    for (const path of this.#absent) {
      try {
        unlinkSync(path)
      } catch {
        // never created after all
      }
    }
  }
}

/** The bind errors people hit, as what to do about them; anything else as it came. */
export function listenFailure(error: unknown, host: string, port: number): unknown {
  const code = (error as { cause?: { code?: unknown } })?.cause?.code
  const shown = host.includes(':') ? `[${host}]` : host
  const advice: Record<string, string> = {
    EADDRINUSE: `port ${port} is in use on ${shown} (another cyberdb serve?): stop it, or choose another ` +
      'port with --port PORT (--port 0 takes any free one)',
    EADDRNOTAVAIL: `${shown} is not an address of this machine: use --host 127.0.0.1 (this machine only) ` +
      'or --host 0.0.0.0 (every interface, with a password)',
    EACCES: `port ${port} needs privileges on this machine: choose one above 1023 with --port PORT`,
  }
  const why = typeof code === 'string' ? advice[code] : undefined
  return why === undefined ? error : new CyberError('BAD_ARGUMENT', why, { cause: error })
}

/** The URL a client passes to connect(), without the password (CYBERDB_PASSWORD supplies it). */
export function serverUrl(address: Address, tls: boolean, encrypt: boolean): string {
  const query = encrypt ? '?encrypt=true' : ''
  // On a unix socket alone there is no TCP address: the socket's URL.
  if (address.port === 0 && address.unix !== undefined) return `cyberdb+unix://${address.unix}${query}`
  const host = address.host.includes(':') ? `[${address.host}]` : address.host
  return `cyberdb${tls ? 's' : ''}://${host}:${address.port}${query}`
}
