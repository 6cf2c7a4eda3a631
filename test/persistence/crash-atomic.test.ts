// Crash tests of atomic batches: a child committing batches under durability=always
// (atomic-writes-fixture.ts) is killed with SIGKILL at random moments, and kills itself at the
// steps where a log write is torn or a save rotates the log. After each crash the files are
// recovered read-only: every batch is there whole or not at all (a, b, count and the list agree),
// the batches form a prefix 1..N, and every acknowledged one is there.

import { describe, expect, test } from 'bun:test'
import type { DictTable } from '../../src/engine/dict-table.ts'
import type { ListTable } from '../../src/engine/list-table.ts'
import { recover } from '../../src/persistence/log-reader.ts'
import { tempDir } from '../contract/helpers.ts'
import { mulberry32 } from '../fixtures/random.ts'
import { CRASHED_AT } from '../fixtures/crash-hooks.ts'
import { spawnFixture, type Child } from '../fixtures/spawn.ts'

// As crash.test.ts: tens of children take seconds on a loaded 2-core machine.
const CRASH_TEST_MS = 20_000
const TORN_WARNING = /^cyberdb: .*(dropping a torn last record|ignoring a log with no complete header).*\n/gm

/** What the dead child acknowledged, after checking that it died of SIGKILL and said nothing else. */
async function acknowledged(child: Child, start: number, trial: string): Promise<number[]> {
  const { stdout, stderr, exitCode, signal } = await child.finish()
  const lines = stdout.split('\n').filter((line) => line !== '' && !line.startsWith(CRASHED_AT))
  expect({ trial, first: lines[0] ?? `start ${start}`, exitCode, signal, stderr: stderr.replace(TORN_WARNING, '') })
    .toEqual({ trial, first: `start ${start}`, exitCode: null, signal: 'SIGKILL', stderr: '' })
  return lines.slice(1).map((line) => Number(line.split(' ')[0]))
}

/** Recovers the files and checks that they hold whole batches 1..N and every acknowledged one. */
async function check(path: string, acked: number[], trial: string): Promise<number> {
  const { tables } = await recover(path, () => {})
  const done = (tables?.get('done') as ListTable | undefined)?.slice() ?? []
  const acct = tables?.get('acct') as DictTable | undefined
  const n = done.length
  const whole = n === 0 ? { a: undefined, b: undefined, count: undefined } : { a: n, b: n, count: n }
  expect({ trial, prefix: done.every((item, i) => item === i + 1), a: acct?.get('a'), b: acct?.get('b'),
    count: acct?.get('count'), missing: acked.filter((seq) => seq > n) })
    .toEqual({ trial, prefix: true, ...whole, missing: [] })
  return n
}

describe('atomic batches across crashes (durability=always)', () => {
  test('30 SIGKILLs at random moments: each recovery holds whole batches only, and every acknowledged one', async () => {
    using dir = tempDir()
    const path = dir.file('atomic.cdb')
    const random = mulberry32(0xa7011c)
    let n = 0
    for (let trial = 0; trial < 30; trial++) {
      const name = `kill #${trial}`
      const child = spawnFixture('atomic-writes-fixture.ts', [path, 'always', '40'])
      const wanted = 1 + Math.floor(random() * 100)
      await child.stdout.until((lines) => lines.length > wanted, `${wanted} acknowledged commits in ${name}`)
      for (let turns = Math.floor(random() * 40); turns > 0; turns--) await new Promise(setImmediate)
      child.proc.kill('SIGKILL')
      const next = await check(path, await acknowledged(child, n, name), name)
      expect({ name, grows: next >= n }).toEqual({ name, grows: true })
      n = next
    }
  }, CRASH_TEST_MS)

  test('a kill in the middle of a batch\'s log write, or of a save, recovers whole batches', async () => {
    using dir = tempDir()
    const path = dir.file('steps.cdb')
    let n = 0
    for (const at of ['log:torn-write', 'log:torn-write@5', 'rotate:renamed', 'snapshot:tmp-written',
      'snapshot:renamed', 'log:torn-write@2']) {
      const child = spawnFixture('atomic-writes-fixture.ts', [path, 'always', '40'], { CYBERDB_CRASH_AT: at })
      const timer = setTimeout(() => child.proc.kill('SIGKILL'), 10_000) // a step never reached
      const acked = await acknowledged(child, n, at)
      clearTimeout(timer)
      expect({ at, crashed: child.stdout.text.includes(CRASHED_AT) }).toEqual({ at, crashed: true })
      n = await check(path, acked, at)
    }
  }, CRASH_TEST_MS)
})
