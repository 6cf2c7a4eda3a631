// One process per data file: two processes snapshotting to one file would each overwrite the
// other's data, so the second one gets LOCKED instead. The lock is an flock(2) on `PATH.lock`,
// held on an open descriptor for as long as the database is open: the kernel takes it atomically
// (two openers racing cannot both win) and drops it when its process dies, however it dies. So
// there is no stale lock to take over and no pid to trust: a pid left in the file by a process
// killed with -9, and reused by a live one (PID 1 in a container, restarted), blocks nothing. The
// file holds the owner's pid only to name it in the LOCKED message. Bun has no flock of its own:
// it is libc's, through bun:ffi.

import { dlopen } from 'bun:ffi'
import {
  closeSync, constants, fstatSync, ftruncateSync, openSync, readFileSync, statSync, unlinkSync, writeSync,
} from 'node:fs'
import { CyberError } from '../errors.ts'

const LOCK_EX = 2
const LOCK_NB = 4
// Opening, locking and finding the path pointing at another file (its holder unlinked it as it
// released) is retried; each round needs a release in between, so a few always suffice.
const ATTEMPTS = 8

const libc = dlopen(process.platform === 'darwin' ? 'libc.dylib' : 'libc.so.6', {
  flock: { args: ['i32', 'i32'], returns: 'i32' },
})

export class FileLock {
  #path: string | undefined
  #fd: number

  private constructor(path: string, fd: number) {
    this.#path = path
    this.#fd = fd
  }

  static acquire(dataPath: string): FileLock {
    const path = `${dataPath}.lock`
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      let fd: number
      try {
        // Never through a symlink planted at the lock's name; owner-only like every data file.
        fd = openSync(path, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW, 0o600)
      } catch (error) {
        // A missing folder or a read-only one: the caller's path cannot hold a database. Say so as
        // a CyberError naming the path, not as a bare ENOENT from deep inside connect().
        throw new CyberError('BAD_ARGUMENT', `cannot create the lock file ${path}: ${(error as Error).message}`,
          { cause: error })
      }
      if (libc.symbols.flock(fd, LOCK_EX | LOCK_NB) !== 0) {
        closeSync(fd)
        const owner = readOwner(path)
        const who = owner === undefined ? 'another process' : owner === process.pid ? 'this process' : `process ${owner}`
        throw new CyberError('LOCKED', `"${dataPath}" is already open in ${who} (lock file ${path})`)
      }
      // Locked; but a holder that released meanwhile unlinked the file this descriptor opened:
      // the lock is only ours if the path still names this very file.
      if (!sameFile(fd, path)) {
        closeSync(fd)
        continue
      }
      ftruncateSync(fd, 0)
      writeSync(fd, String(process.pid), 0)
      return new FileLock(path, fd)
    }
    throw new CyberError('LOCKED', `could not take the lock file ${path}: it kept being replaced`)
  }

  release(): void {
    if (this.#path === undefined) return
    // Unlinked while still locked, then closed (which unlocks): see the check in acquire().
    try {
      unlinkSync(this.#path)
    } catch {
      // already gone: nothing to remove
    }
    closeSync(this.#fd)
    this.#path = undefined
  }
}

function sameFile(fd: number, path: string): boolean {
  try {
    const open = fstatSync(fd)
    const named = statSync(path)
    return open.ino === named.ino && open.dev === named.dev
  } catch {
    return false
  }
}

function readOwner(path: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(path, 'utf8'), 10)
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined
  } catch {
    return undefined
  }
}
