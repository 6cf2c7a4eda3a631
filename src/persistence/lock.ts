// One process per data file: `PATH.lock` holds the owner's pid. Two processes snapshotting to one
// file would each overwrite the other's data, so the second one gets LOCKED instead. A lock left
// by a process that died (kill -9) is taken over, since its pid no longer runs.

import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs'
import { CyberError } from '../errors.ts'

export class FileLock {
  #path: string | undefined

  private constructor(path: string) {
    this.#path = path
  }

  static acquire(dataPath: string): FileLock {
    const path = `${dataPath}.lock`
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(path, 'wx')
        writeSync(fd, String(process.pid))
        closeSync(fd)
        return new FileLock(path)
      } catch (error) {
        // A missing folder or a read-only one: the caller's path cannot hold a database. Say so as
        // a CyberError naming the path, not as a bare ENOENT from deep inside connect().
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
          throw new CyberError('BAD_ARGUMENT', `cannot create the lock file ${path}: ${(error as Error).message}`,
            { cause: error })
        }
      }
      const owner = readOwner(path)
      if (owner !== undefined && isRunning(owner)) {
        const who = owner === process.pid ? 'this process' : `process ${owner}`
        throw new CyberError('LOCKED', `"${dataPath}" is already open in ${who} (lock file ${path})`)
      }
      unlinkSync(path) // stale: its owner is gone
    }
    throw new CyberError('LOCKED', `could not take the lock file ${path}`)
  }

  release(): void {
    if (this.#path === undefined) return
    try {
      unlinkSync(this.#path)
    } catch {
      // already gone: nothing to release
    }
    this.#path = undefined
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

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}
