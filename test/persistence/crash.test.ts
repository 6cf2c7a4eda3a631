// Crash tests of the operation log: a child doing acknowledged writes (ack-writes-fixture.ts) is
// killed with SIGKILL at random moments, and kills itself at every named step of a save and of a
// log rotation (crash-points.ts, at the hooks fixtures/crash-hooks.ts gives the child's data
// file). After each crash the files are recovered read-only (recover()), then the next child
// opens them itself. Under `always` every acknowledged write is there; under
// `everysec` at most the last second's may be missing; under every policy the store opens and holds
// a prefix of the writes (1, 2, ..., N with nothing missing in between).

import { describe, expect, test } from 'bun:test'
import { readdirSync, statSync } from 'node:fs'
import type { ListTable } from '../../src/engine/list-table.ts'
import { CRASH_POINTS } from '../../src/persistence/crash-points.ts'
import { recover } from '../../src/persistence/log-reader.ts'
import { tempDir } from '../contract/helpers.ts'
import { mulberry32 } from '../fixtures/random.ts'
import { CRASHED_AT } from '../fixtures/crash-hooks.ts'
import { spawnFixture, type Child } from '../fixtures/spawn.ts'

const SAVE_EVERY = 40
// Each test spawns tens of children: about 3.5 s on an idle 2-core machine, 5+ s on a loaded one
// (bun's default of 5 s is too short for them; bunfig.toml cannot set another).
const CRASH_TEST_MS = 15_000
const TORN_WARNING = /^cyberdb: .*(dropping a torn last record|ignoring a log with no complete header).*\n/gm

interface Outcome {
  acked: [seq: number, ms: number][]
  killedAt: number
  stderr: string
  /** The point the child said it killed itself at (its hooks print it just before), if any. */
  crashedAt: string | undefined
}

/** What a dead child reported: its start line, then acknowledged sequence numbers with times. */
async function outcome(child: Child, start: number, killedAt: number, trial: string): Promise<Outcome> {
  const { stdout, stderr, exitCode, signal } = await child.finish()
  let crashedAt: string | undefined
  const lines = stdout.split('\n').filter((line) => {
    if (line.startsWith(CRASHED_AT)) crashedAt = line.slice(CRASHED_AT.length)
    return line !== '' && !line.startsWith(CRASHED_AT)
  })
  // No line at all: killed while opening (a crash step reached by createList's own write).
  expect({ trial, first: lines[0] ?? `start ${start}`, exitCode, signal, stderr: stderr.replace(TORN_WARNING, '') })
    .toEqual({ trial, first: `start ${start}`, exitCode: null, signal: 'SIGKILL', stderr: '' })
  const acked = lines.slice(1).map((line) => line.split(' ').map(Number) as [number, number])
  return { acked, killedAt, stderr, crashedAt }
}

/** Recovers the files read-only and checks them against what was acknowledged; returns N. */
async function check(path: string, { acked, killedAt }: Outcome, durability: string, trial: string,
  tally = durability): Promise<number> {
  const recovered = await recover(path, () => {})
  const items = (recovered.tables?.get('acks') as ListTable | undefined)?.slice() ?? []
  const n = items.length
  // A prefix: 1..n, in order, nothing missing or repeated.
  expect({ trial, prefix: items.every((item, i) => item === i + 1) }).toEqual({ trial, prefix: true })
  const missing = acked.filter(([seq]) => seq > n)
  if (durability === 'always') {
    expect({ trial, missing }).toEqual({ trial, missing: [] })
  } else if (durability === 'everysec') {
    expect({ trial, older: missing.filter(([, ms]) => ms < killedAt - 1000) }).toEqual({ trial, older: [] })
  }
  lost[tally] = (lost[tally] ?? 0) + missing.length
  acks[tally] = (acks[tally] ?? 0) + acked.length
  return n
}

const lost: Record<string, number> = {}
const acks: Record<string, number> = {}

describe('SIGKILL at random moments', () => {
  const trials: [string, number][] = [['always', 60], ['everysec', 30], ['no', 20]]
  for (const [durability, count] of trials) {
    test(`${durability}: ${count} kills, each recovering a prefix holding what the policy promises`, async () => {
      using dir = tempDir()
      const path = dir.file('acks.cdb')
      const random = mulberry32(0xd00d + count)
      let n = 0
      for (let trial = 0; trial < count; trial++) {
        const name = `${durability} #${trial}`
        const child = spawnFixture('ack-writes-fixture.ts', [path, durability, String(SAVE_EVERY)])
        // Kill after 1 to 150 acknowledged writes, then a random number of event-loop turns later:
        // the kill lands anywhere in the cycle of pushes, log writes, fsyncs, saves and rotations.
        const wanted = 1 + Math.floor(random() * 150)
        await child.stdout.until((lines) => lines.length > wanted, `${wanted} acknowledged writes in ${name}`)
        for (let turns = Math.floor(random() * 40); turns > 0; turns--) await new Promise(setImmediate)
        const killedAt = Date.now()
        child.proc.kill('SIGKILL')
        const result = await outcome(child, n, killedAt, name)
        const next = await check(path, result, durability, name)
        expect({ name, grows: next >= n }).toEqual({ name, grows: true })
        n = next
      }
      console.log(`crash trials, ${durability}: ${count} SIGKILLs, ${acks[durability]} acknowledged writes, ` +
        `${lost[durability]} of them lost`)
    }, CRASH_TEST_MS)
  }
})

describe('SIGKILL at each step of a save and a log rotation', () => {
  // What each step leaves beside the snapshot: PATH.log (its size when telling), rotated logs, .tmp.
  const LEFT: Record<string, string> = {
    'log:torn-write': 'log',
    'rotate:old-synced': 'log',
    'rotate:renamed': 'rotated',
    'rotate:created': 'log(0) rotated',
    'rotate:header-written': 'log(16) rotated',
    'snapshot:tmp-written': 'log rotated tmp',
    'snapshot:tmp-synced': 'log rotated tmp',
    'snapshot:renamed': 'log rotated',
    'snapshot:dir-synced': 'log rotated',
    'snapshot:logs-deleted': 'log',
  }
  function left(path: string, point: string): string {
    const names = readdirSync(path.slice(0, path.lastIndexOf('/')))
    const log = names.includes('steps.cdb.log')
    const size = log && /created|header/.test(point) ? `(${statSync(`${path}.log`).size})` : ''
    return [log && `log${size}`, names.some((n) => /^steps\.cdb\.log\.\d+$/.test(n)) && 'rotated',
      names.includes('steps.cdb.tmp') && 'tmp'].filter(Boolean).join(' ')
  }

  const runs: [string, string][] = []
  for (const point of CRASH_POINTS) runs.push(['always', point], ['always', `${point}@3`], ['everysec', point])
  test(`${runs.length} self-inflicted kills, one per step and policy, each recovering every acknowledged write`, async () => {
    using dir = tempDir()
    const path = dir.file('steps.cdb')
    let n = 0
    let previous = ''
    for (const [durability, at] of runs) {
      const name = `${durability} at ${at}`
      const child = spawnFixture('ack-writes-fixture.ts', [path, durability, String(SAVE_EVERY)], { CYBERDB_CRASH_AT: at })
      // Bounded: a step that is never reached would leave the child writing forever.
      const timer = setTimeout(() => child.proc.kill('SIGKILL'), 10_000)
      const result = await outcome(child, n, Date.now(), name)
      clearTimeout(timer)
      // The kill came from the step itself (its Nth arrival), not from the safety timer.
      const point = at.includes('@') ? at : `${at}@1`
      expect({ name, crashedAt: result.crashedAt }).toEqual({ name, crashedAt: point })
      // Half a batch of records was written before the kill: this child found the torn record.
      if (previous.startsWith('log:torn-write')) {
        expect({ name, warned: result.stderr.includes('dropping a torn last record') }).toEqual({ name, warned: true })
      }
      previous = at
      if (!at.includes('@')) expect({ name, left: left(path, at) }).toEqual({ name, left: LEFT[at]! })
      // The kill came from the child itself, so every write it printed was acknowledged before.
      const next = await check(path, { ...result, killedAt: Infinity }, 'always', name, 'steps')
      expect({ name, grows: next >= n }).toEqual({ name, grows: true })
      n = next
    }
    console.log(`crash trials at named steps: ${runs.length} kills, ${acks.steps} acknowledged writes, ` +
      `${lost.steps} lost`)
  }, CRASH_TEST_MS)
})
