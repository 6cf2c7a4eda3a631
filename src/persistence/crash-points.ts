// Named points in a save, a log rotation and a log write at which the crash tests make the process
// kill itself: CYBERDB_CRASH_AT=NAME (or NAME@N, the Nth time the point is reached) sends SIGKILL
// there, so a test can check that every combination of files a crash leaves still recovers.
// Unset (always, outside the crash tests), each point costs one comparison.

const [CRASH_AT, CRASH_NTH] = parse(process.env.CYBERDB_CRASH_AT)
let reached = 0

function parse(spec: string | undefined): [string | undefined, number] {
  if (spec === undefined || spec === '') return [undefined, 1]
  const at = spec.lastIndexOf('@')
  return at < 0 ? [spec, 1] : [spec.slice(0, at), Number(spec.slice(at + 1)) || 1]
}

/** The steps a crash test may name, in the order a save goes through them. */
export const CRASH_POINTS = [
  'log:torn-write', // a batch of records written but for the last 3 bytes of its last record
  'rotate:old-synced', // the old log written and fsynced, still under its name
  'rotate:renamed', // the old log renamed aside, no new log yet
  'rotate:created', // the new log created, its header not yet written
  'rotate:header-written', // the new log ready, the snapshot not yet encoded
  'snapshot:tmp-written', // PATH.tmp written, not fsynced
  'snapshot:tmp-synced', // PATH.tmp fsynced, not renamed
  'snapshot:renamed', // PATH.tmp renamed over PATH, the folder not fsynced
  'snapshot:dir-synced', // the new snapshot durable, the old logs not yet deleted
  'snapshot:logs-deleted', // the old logs deleted
] as const

export type CrashPoint = (typeof CRASH_POINTS)[number]

/** Whether the crash tests armed this point (to set up a torn write, say). */
export function isArmed(name: CrashPoint): boolean {
  return CRASH_AT === name
}

export function crashPoint(name: CrashPoint): void {
  if (CRASH_AT !== name) return
  if (++reached < CRASH_NTH) return
  process.kill(process.pid, 'SIGKILL')
}
