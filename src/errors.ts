// The one error class of CyberDB and its stable codes. Callers branch on `code`, never on the
// message: codes are API, messages may change. The server sends [code, message] and the remote
// client rebuilds the same CyberError, so errors look alike on both transports.

export type ErrorCode =
  | 'TABLE_NOT_FOUND' | 'TABLE_EXISTS' | 'WRONG_TABLE_TYPE' // engine: tables
  | 'KEY_NOT_FOUND' | 'INDEX_OUT_OF_RANGE' | 'VALUE_NOT_FOUND' // engine: operations
  | 'AUTH_FAILED' | 'NOT_ALLOWED' // security
  | 'PROTOCOL' | 'FRAME_TOO_LARGE' | 'CONNECTION_CLOSED' | 'TIMEOUT' // wire, transport
  | 'SNAPSHOT_CORRUPT' | 'LOCKED' // persistence
  | 'BAD_ARGUMENT' | 'MEMORY_LIMIT' // input, the server-wide memory limit
  | 'FEED_COMPACTED' // a watch resumed from a seq the change feed no longer holds
  | 'INTERNAL' // a bug: reported, never expected

export const ERROR_CODES: readonly ErrorCode[] = [
  'TABLE_NOT_FOUND', 'TABLE_EXISTS', 'WRONG_TABLE_TYPE',
  'KEY_NOT_FOUND', 'INDEX_OUT_OF_RANGE', 'VALUE_NOT_FOUND',
  'AUTH_FAILED', 'NOT_ALLOWED',
  'PROTOCOL', 'FRAME_TOO_LARGE', 'CONNECTION_CLOSED', 'TIMEOUT',
  'SNAPSHOT_CORRUPT', 'LOCKED',
  'BAD_ARGUMENT', 'MEMORY_LIMIT', 'FEED_COMPACTED', 'INTERNAL',
]

/**
 * Every failure CyberDB reports, in either mode.
 * @example
 * try { await db.dict('users').pop('nobody') } catch (e) {
 *   if (e instanceof CyberError && e.code === 'KEY_NOT_FOUND') console.log('no such user')
 * }
 */
export class CyberError extends Error {
  override readonly name = 'CyberError'
  /** FEED_COMPACTED: the oldest seq the change feed still holds (resume from one before it). */
  readonly oldest?: number
  constructor(readonly code: ErrorCode, message: string, options?: ErrorOptions & { oldest?: number }) {
    super(message, options)
    if (options?.oldest !== undefined) this.oldest = options.oldest
  }
}

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && (ERROR_CODES as readonly string[]).includes(code)
}

/** Shorthand for the commonest failure: input the caller can fix. */
export function badArgument(message: string): CyberError {
  return new CyberError('BAD_ARGUMENT', message)
}
