import { describe, expect, test } from 'bun:test'
import { CyberError as PublicCyberError } from '../src/index.ts'
import { CyberError, ERROR_CODES, badArgument, isErrorCode, type ErrorCode } from '../src/errors.ts'

describe('CyberError', () => {
  test('is an Error with a name, a code, a message and an optional cause', () => {
    const cause = new Error('disk full')
    const error = new CyberError('SNAPSHOT_CORRUPT', 'snapshot "x" fails its checksum', { cause })
    expect(error).toBeInstanceOf(Error)
    expect({ name: error.name, code: error.code, message: error.message, cause: error.cause }).toEqual({
      name: 'CyberError', code: 'SNAPSHOT_CORRUPT', message: 'snapshot "x" fails its checksum', cause,
    })
    expect(error.stack).toContain('CyberError')
    expect(String(error)).toBe('CyberError: snapshot "x" fails its checksum')
  })

  test('is the class the public API exports', () => {
    expect(PublicCyberError).toBe(CyberError)
  })

  test('badArgument makes a BAD_ARGUMENT error', () => {
    const error = badArgument('a key must be a string or a number, not null')
    expect([error instanceof CyberError, error.code, error.message])
      .toEqual([true, 'BAD_ARGUMENT', 'a key must be a string or a number, not null'])
  })
})

describe('error codes', () => {
  // The codes DESIGN.md promises, plus LOCKED (a data file open in another process) and INTERNAL
  // (a bug on the server, reported rather than hidden).
  const documented: ErrorCode[] = [
    'TABLE_NOT_FOUND', 'TABLE_EXISTS', 'WRONG_TABLE_TYPE', 'KEY_NOT_FOUND', 'INDEX_OUT_OF_RANGE',
    'VALUE_NOT_FOUND', 'AUTH_FAILED', 'NOT_ALLOWED', 'FRAME_TOO_LARGE', 'PROTOCOL', 'CONNECTION_CLOSED',
    'TIMEOUT', 'SNAPSHOT_CORRUPT', 'BAD_ARGUMENT', 'LOCKED', 'INTERNAL', 'MEMORY_LIMIT', 'FEED_COMPACTED',
  ]

  test('ERROR_CODES lists every documented code once', () => {
    expect(ERROR_CODES.toSorted()).toEqual(documented.toSorted())
    expect(new Set(ERROR_CODES).size).toBe(ERROR_CODES.length)
  })

  test('isErrorCode accepts exactly the listed codes', () => {
    for (const code of ERROR_CODES) expect(isErrorCode(code)).toBe(true)
    for (const other of ['', 'bad_argument', 'NOPE', 'toString', '__proto__', 1, null, undefined]) {
      expect(isErrorCode(other)).toBe(false)
    }
  })
})
