// The socket file of a unix listener: who may connect is decided by its permissions (there is no
// address for an allow-list to check), so it is created owner-only, with no moment where it is
// wider; a file left by a crashed server is replaced, a live server's never.

import { chmodSync, lstatSync, unlinkSync } from 'node:fs'
import { CyberError, badArgument } from '../errors.ts'

/** What a session on a unix socket reports as its address (Bun gives none): the throttle and the
 * per-address caps count all of them as one peer, as they count all of 127.0.0.1 as one. */
export const UNIX_PEER = 'unix'

// sun_path is 108 bytes on Linux (104 on macOS), with its terminating NUL.
const MAX_PATH_BYTES = 107

/** Where a bound socket file is, and which file it is (so that close removes ours only). */
export interface BoundSocket {
  path: string
  ino: number
}

/** Checks `path` can be bound: a file there that is a socket nobody listens on (a crashed
 * server's) is removed; a live one, or a file that is no socket, fails with BAD_ARGUMENT. */
export async function clearStaleSocket(path: string): Promise<void> {
  if (typeof path !== 'string' || path === '') {
    throw badArgument(`unix is a socket file path, not ${JSON.stringify(path)}`)
  }
  if (Buffer.byteLength(path) > MAX_PATH_BYTES) {
    throw badArgument(`the unix socket path ${path} is longer than ${MAX_PATH_BYTES} bytes (the system's limit)`)
  }
  const found = statOrUndefined(path)
  if (found === undefined) return
  if (!found.isSocket()) throw badArgument(`cannot listen on ${path}: it exists and is not a socket`)
  if (await isListening(path)) throw badArgument(`another server is listening on ${path}`)
  // Refused: the server that bound it is gone and the file is all that is left of it.
  unlinkSync(path)
}

/** Runs `bind` with a umask that makes the socket file owner-only (0600) from its creation, then
 * checks it is (a system that ignores the umask for sockets gets a chmod before any accept). */
export function bindOwnerOnly<T>(path: string, bind: () => T): { listener: T; bound: BoundSocket } {
  // process.umask is process-wide, but bind is synchronous: no other code of ours runs between.
  const previous = process.umask(0o177)
  let listener: T
  try {
    listener = bind()
  } catch (error) {
    const why = (error as { code?: string }).code ?? (error as Error)?.message ?? String(error)
    throw new CyberError('BAD_ARGUMENT', `cannot listen on ${path}: ${why} (does its directory exist, ` +
      'and may this user write there?)', { cause: error })
  } finally {
    process.umask(previous)
  }
  const stats = lstatSync(path)
  if ((stats.mode & 0o777) !== 0o600) chmodSync(path, 0o600)
  return { listener, bound: { path, ino: stats.ino } }
}

/** Removes the socket file if it is still the one bound (Bun may have removed it already; another
 * server may have replaced it since). */
export function removeSocket(bound: BoundSocket): void {
  const stats = statOrUndefined(bound.path)
  if (stats?.isSocket() && stats.ino === bound.ino) unlinkSync(bound.path)
}

function statOrUndefined(path: string): ReturnType<typeof lstatSync> | undefined {
  try {
    return lstatSync(path)
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') return undefined
    throw error
  }
}

// Connecting tells a live socket (accepted) from a stale one (ECONNREFUSED). Another failure
// (EACCES: somebody else's socket) is no proof it is stale: the file is kept, and listen fails saying why.
async function isListening(path: string): Promise<boolean> {
  try {
    const socket = await Bun.connect({ unix: path, socket: { data() {} } })
    socket.terminate()
    return true
  } catch (error) {
    const code = (error as { code?: string }).code
    if (code === 'ECONNREFUSED' || code === 'ENOENT') return false
    throw new CyberError('BAD_ARGUMENT', `cannot listen on ${path}: a socket is there and connecting to it ` +
      `failed with ${code ?? String(error)}`, { cause: error })
  }
}
