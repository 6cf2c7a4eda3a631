// connect(url): parse the URL and return a Database on the matching transport.

import { EmbeddedTransport } from './client/embedded.ts'
import { Database } from './client/database.ts'
import { CyberError } from './errors.ts'

const FORMS = 'memory://, file:PATH[?backup=SECONDS], cyberdb://[:PASSWORD@]HOST:PORT[?timeout=S&pool=N]'

/**
 * Opens a database: in process (`memory://`, `file:PATH`) or on a server (`cyberdb://`).
 * @example
 * const db = await connect('file:./data.cdb?backup=300')
 */
export async function connect(url: string): Promise<Database> {
  if (typeof url !== 'string') throw badUrl(String(url), 'it is not a string')
  if (url === 'memory://' || url === 'memory:') return new Database(EmbeddedTransport.memory())
  if (url.startsWith('file:')) return new Database(await EmbeddedTransport.file(parseFileUrl(url)))
  throw badUrl(url, 'unknown scheme')
}

function parseFileUrl(url: string): { path: string; backup?: number } {
  const query = url.indexOf('?')
  let path = decodeURIComponent(url.slice('file:'.length, query < 0 ? undefined : query))
  if (path.startsWith('//')) path = path.slice(2) // file:///abs/path
  if (path === '') throw badUrl(url, 'the file path is empty')
  const params = new URLSearchParams(query < 0 ? '' : url.slice(query + 1))
  const options: { path: string; backup?: number } = { path }
  for (const [name, value] of params) {
    if (name === 'backup') options.backup = positiveNumber(url, name, value)
    else throw badUrl(url, `unknown parameter "${name}"`)
  }
  return options
}

export function positiveNumber(url: string, name: string, value: string): number {
  const n = Number(value)
  if (value === '' || !Number.isFinite(n) || n <= 0) throw badUrl(url, `${name} must be a positive number`)
  return n
}

export function badUrl(url: string, why: string): CyberError {
  const shown = url.replace(/\/\/[^@/]*@/, '//***@') // never echo a password
  return new CyberError('BAD_ARGUMENT', `bad database URL "${shown}": ${why}; accepted forms: ${FORMS}`)
}
