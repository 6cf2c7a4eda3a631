// `cyberdb repair`: cuts an operation log at its last good record, so that a data file whose log
// has a bad record in the middle (SNAPSHOT_CORRUPT) opens again, losing what follows the bad
// record. A rotated log cut that way is given its end marker again (recovery refuses a rotated log
// without one). The plan (what each log keeps and drops) is made first, so it can be shown before.

import { closeSync, existsSync, fsyncSync, ftruncateSync, openSync, readFileSync, writeSync } from 'node:fs'
import { CyberError } from '../errors.ts'
import { FileLock } from './lock.ts'
import { LOG_MAGIC, LOG_VERSION, encodeEndMarker } from './log-format.ts'
import { isCurrentLog, listLogFiles, scanLog, type TornTail } from './log-reader.ts'

export interface RepairPlan {
  path: string
  /** Good records kept, and the bytes they end at. */
  records: number
  goodBytes: number
  size: number
  /** What is dropped, when anything is. */
  drop: TornTail | undefined
  /** Whether the cut log needs an end marker after its last good record (a rotated log). */
  endMarker: boolean
}

/** The data file a log belongs to: `data.cdb.log` and `data.cdb.log.3` both belong to `data.cdb`. */
export function dataPathOf(file: string): string {
  const match = /^(.*)\.log(\.\d+)?$/.exec(file)
  return match ? match[1]! : file
}

/** Plans the repair of one log file, or (given a data file) of each of its logs. */
export function planRepair(file: string): RepairPlan[] {
  const exists = existsSync(file)
  const isLog = exists && new TextDecoder().decode(readFileSync(file).subarray(0, LOG_MAGIC.length)) === LOG_MAGIC
  const logs = isLog ? [file] : listLogFiles(file).toSorted()
  // A data file may be only logs yet (no snapshot so far).
  if (!exists && logs.length === 0) throw new CyberError('BAD_ARGUMENT', `no such file: ${file}`)
  return logs.map((path) => {
    const scan = scanLog(readFileSync(path), path, true)
    const endMarker = scan.torn !== undefined && !isCurrentLog(path) && scan.version === LOG_VERSION
    return { path, records: scan.records.length, goodBytes: scan.goodBytes, size: scan.size, drop: scan.torn, endMarker }
  })
}

/** Cuts each planned log at its last good record, holding the data file's lock meanwhile (LOCKED
 * when a process has it open). The cut is fsynced before the lock is released. */
export function applyRepair(plans: RepairPlan[]): void {
  for (const plan of plans) {
    if (plan.drop === undefined) continue
    const lock = FileLock.acquire(dataPathOf(plan.path))
    try {
      const fd = openSync(plan.path, 'r+')
      try {
        ftruncateSync(fd, plan.goodBytes)
        if (plan.endMarker) {
          const marker = encodeEndMarker(plan.records)
          if (writeSync(fd, marker, 0, marker.length, plan.goodBytes) !== marker.length) {
            throw new CyberError('INTERNAL', `could not write the end marker of ${plan.path}`)
          }
        }
        fsyncSync(fd)
      } finally {
        closeSync(fd)
      }
    } finally {
      lock.release()
    }
  }
}

/** One line per log: what it keeps and, when anything, what a repair drops. */
export function describePlan(plan: RepairPlan): string {
  const kept = `${plan.path}: ${plan.records} good records (${plan.goodBytes} bytes)`
  if (plan.drop === undefined) return `${kept}; nothing to drop`
  const marker = plan.endMarker ? ', then ending it with an end marker' : ''
  return `${kept}; dropping ${plan.drop.bytes} bytes from byte ${plan.drop.offset} to the end: ${plan.drop.why}${marker}`
}
