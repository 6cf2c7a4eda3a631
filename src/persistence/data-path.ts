// Checks a data file's path before anything is created for it. A folder would otherwise pass until
// the first save (a raw EISDIR), after the lock and the log had been made beside it, in its parent.

import { statSync } from 'node:fs'
import { badArgument } from '../errors.ts'

/** Throws BAD_ARGUMENT when `path` names a folder (or ends in a separator, as only a folder does). */
export function checkDataPath(path: string): void {
  let folder = path.endsWith('/') || path.endsWith('\\')
  if (!folder) {
    try {
      folder = statSync(path).isDirectory()
    } catch {
      // Missing (a new data file) or unreadable: opening it will say which, as it always has.
    }
  }
  if (folder) {
    const example = `${path.replace(/[/\\]*$/, '')}/data.cdb`
    throw badArgument(`the data file "${path}" is a folder: give the path of a file in it, such as "${example}"`)
  }
}
