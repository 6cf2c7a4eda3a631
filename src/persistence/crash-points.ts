// Named points in a save, a log rotation and a log write, for the crash tests: the write path
// calls the hooks it was given at each of them, and the crash tests' fixture passes hooks that
// make the process kill itself at one (test/fixtures/crash-hooks.ts), so a test can check that
// every combination of files a crash leaves still recovers. Without hooks (always, outside the
// crash tests) each point costs one comparison, and nothing here reads the environment.

/** The steps a crash test may name, in the order a save goes through them. */
export const CRASH_POINTS = [
  'log:torn-write', // a batch of records written but for the last 3 bytes of its last record (the
  // crash tests' LogIO reaches it: see test/fixtures/crash-hooks.ts)
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

/** What a data file's write path calls at its named steps (DataFileOptions.crash). */
export interface CrashHooks {
  /** The write path reached `point`. */
  reached(point: CrashPoint): void
}
