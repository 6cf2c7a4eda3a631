// The load progress line, on a clock the test moves: silent under a second, then at most once a
// second, rewritten in place, ended with a newline only if it was shown.

import { expect, test } from 'bun:test'
import { ProgressLine } from '../../src/cli/load-progress.ts'

function line() {
  let now = 0
  const written: string[] = []
  const progress = new ProgressLine('big.cdb', (text) => written.push(text), () => now)
  return { progress, written, advance: (ms: number) => (now += ms) }
}

test('a load under a second shows nothing', () => {
  const { progress, written, advance } = line()
  progress.report({ entries: 10, bytes: 5, totalBytes: 10 })
  advance(999)
  progress.report({ entries: 20, bytes: 10, totalBytes: 10 })
  progress.end()
  expect(written).toEqual([])
})

test('a longer load shows entries and % of bytes at most once a second, then ends the line', () => {
  const { progress, written, advance } = line()
  advance(1000)
  progress.report({ entries: 1_234_567, bytes: 3 << 20, totalBytes: 12 << 20 })
  advance(500)
  progress.report({ entries: 1_300_000, bytes: 4 << 20, totalBytes: 12 << 20 })
  advance(500)
  progress.report({ entries: 2_000_000, bytes: 12 << 20, totalBytes: 12 << 20 })
  progress.end()
  expect(written).toEqual([
    '\rcyberdb: loading big.cdb: 1,234,567 entries, 25% of 12.0 MB',
    '\rcyberdb: loading big.cdb: 2,000,000 entries, 100% of 12.0 MB',
    '\n',
  ])
})
