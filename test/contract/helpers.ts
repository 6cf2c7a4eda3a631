// Small helpers shared by the test suites: error-code assertions, bounded waiting for a condition,
// unique table names and self-removing temp dirs. Only the public API and node built-ins here, so
// the contract suites can run against any transport.

import { expect } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CyberError, type ErrorCode } from '../../src/index.ts'

/** Awaits `action` (a promise or a function that may throw synchronously) and checks that it fails
 * with a CyberError of `code`. Returns the error for further checks on its message. */
export async function expectCode(
  action: Promise<unknown> | (() => unknown),
  code: ErrorCode,
): Promise<CyberError> {
  let caught: unknown
  let settled = false
  try {
    await (typeof action === 'function' ? action() : action)
    settled = true
  } catch (error) {
    caught = error
  }
  expect({ resolved: settled, isCyberError: caught instanceof CyberError })
    .toEqual({ resolved: false, isCyberError: true })
  expect((caught as CyberError).code).toBe(code)
  return caught as CyberError
}

/** Polls `condition` until it holds, failing after `timeoutMs`. For events that have no
 * notification of their own (a timer writing a file): never a fixed sleep. */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await Bun.sleep(5)
  }
}

let tableSeq = 0
const RUN = Math.random().toString(36).slice(2, 8)

/** A table name no other test uses, so suites can share one remote server. */
export function uniqueName(prefix = 't'): string {
  return `${prefix}_${RUN}_${++tableSeq}`
}

export interface TempDir extends Disposable {
  readonly path: string
  file(name: string): string
}

/** A fresh temp dir, removed with everything in it on dispose (`using dir = tempDir()`). */
export function tempDir(prefix = 'cyberdb-test-'): TempDir {
  const path = mkdtempSync(join(tmpdir(), prefix))
  return {
    path,
    file: (name) => join(path, name),
    [Symbol.dispose]: () => rmSync(path, { recursive: true, force: true }),
  }
}
