// connect(url): parse the URL and return a Database on the matching transport.

import { EmbeddedTransport, type FileOptions } from './client/embedded.ts'
import { Database } from './client/database.ts'
import { SyncDatabase } from './client/sync-database.ts'
import { RemoteTransport, type RemoteOptions } from './client/remote.ts'
import { ReplicaTransport } from './client/replica.ts'
import { CyberError } from './errors.ts'
import { checkMaxMemory } from './engine/value-model.ts'
import { systemClock, type Clock, type SetTimer } from './host/clock.ts'
import { DURABILITIES, type Durability } from './persistence/log-format.ts'

const FORMS = 'memory://[?maxMemory=BYTES], ' +
  'file:PATH[?backup=SECONDS&durability=always|everysec|no&compact=BYTES&maxMemory=BYTES], ' +
  'cyberdb://[:PASSWORD@]HOST:PORT[?timeout=SECONDS&pool=N&connectTimeout=SECONDS&password=PASSWORD&encrypt=true&replica=TABLE,TABLE], ' +
  'cyberdbs://... (the same over TLS; &ca=PEM_FILE for a private CA), ' +
  'cyberdb+unix:///ABSOLUTE/PATH.sock[?password=PASSWORD&...] or ' +
  'cyberdb+unix://:PASSWORD@localhost/ABSOLUTE/PATH.sock ' +
  '(a unix socket, the same parameters as cyberdb://), ' +
  'redis://[[USER]:PASSWORD@]HOST[:PORT][/DB][?cluster=true], rediss://...'

export const DEFAULT_PORT = 9980
const DEFAULT_POOL = 4
const DEFAULT_IDLE_SECONDS = 300
const DEFAULT_CONNECT_TIMEOUT_SECONDS = 10

export interface ConnectOptions {
  /** The server's password, instead of putting it in the URL. */
  password?: string
  /** cyberdbs://: the certificate authority (PEM) to trust, for a self-signed deployment. */
  ca?: string
  /** memory:// and file: only: the store's memory limit in bytes (see Server's maxMemory); the
   * URL's ?maxMemory= wins. A server has its own (new Server({ maxMemory })). */
  maxMemory?: number
  /** memory:// and file: only: where the database reads the time (default Date.now). A server
   * has its own (new Server({ clock })); a remote database ignores this one. */
  clock?: Clock
  /** memory:// and file: only: schedules the timeouts of waiting takes (default real timers;
   * tests give manual ones). A server has its own (new Server({ setTimer })). */
  setTimer?: SetTimer
  /** memory:// and file: only: changes the change feed keeps for watchers that resume or lag
   * (default 10 000, about 100 bytes each plus their values). A server has its own. */
  feedHistory?: number
  /** cyberdb:// only: tables to keep a replica of in this process (the URL's ?replica=a,b adds to
   * them): their reads answer here, their writes resolve once the replica applied them. The
   * replica reads `clock` (default Date.now) to hide keys past their deadline. */
  replica?: string[]
}

/**
 * Opens a database: in process (`memory://`, `file:PATH`) or on a server (`cyberdb://`, or
 * `cyberdb+unix:///PATH.sock` on this machine). Without a URL it opens `$CYBERDB_URL`, else
 * `memory://` (as Bun's RedisClient reads `REDIS_URL`); a server URL without a password takes
 * `$CYBERDB_PASSWORD`.
 * @example
 * const db = await connect('file:./data.cdb?backup=300')
 * const remote = await connect('cyberdb://:secret@127.0.0.1:9980?pool=4')
 */
export async function connect(): Promise<Database>
export async function connect(url: string, options?: ConnectOptions): Promise<Database>
export async function connect(url?: string, options: ConnectOptions = {}): Promise<Database> {
  // Only a call with no argument at all reads the environment: connect(process.env.TYPO) stays
  // BAD_ARGUMENT instead of quietly opening an empty memory://. Read at call time, not at import.
  if (arguments.length === 0) url = process.env['CYBERDB_URL'] || 'memory://'
  if (typeof url !== 'string') throw badUrl(String(url), 'it is not a string')
  if (options.replica !== undefined && !/^cyberdb(s|\+unix)?:/.test(url)) {
    throw new CyberError('BAD_ARGUMENT', 'replica is for a server URL (cyberdb://): an embedded database is in process already')
  }
  if (/^memory:(\/\/)?(\?|$)/.test(url)) {
    return new Database(limitMemory(EmbeddedTransport.memory({ clock: options.clock, setTimer: options.setTimer, feedHistory: options.feedHistory }), parseMemoryUrl(url) ?? options.maxMemory))
  }
  if (url.startsWith('file:')) {
    const { maxMemory, ...file } = parseFileUrl(url)
    // Set after loading: the limit refuses new writes, never the replay of acknowledged ones.
    return new Database(limitMemory(await EmbeddedTransport.file({ ...file, clock: options.clock, setTimer: options.setTimer, feedHistory: options.feedHistory }), maxMemory ?? options.maxMemory))
  }
  if (options.maxMemory !== undefined) {
    throw new CyberError('BAD_ARGUMENT', 'maxMemory is the server\'s limit: new Server({ maxMemory }) or cyberdb serve --max-memory')
  }
  if (url.startsWith('redis://') || url.startsWith('rediss://')) {
    // Loaded on first use: embedded and cyberdb:// users never load ioredis.
    const { openRedis } = await import('./redis/open.ts')
    return new Database(await openRedis(url, options))
  }
  if (url.startsWith('cyberdb://') || url.startsWith('cyberdbs://') || url.startsWith('cyberdb+unix://')) {
    const remote = await parseRemoteUrl(url, options)
    const replica = replicaTables(url, remote.replica, options.replica)
    if (replica.length === 0) return new Database(await RemoteTransport.open(remote))
    return new Database(await ReplicaTransport.open(remote, replica, options.clock ?? systemClock))
  }
  throw badUrl(url, 'unknown scheme')
}

// The replica's tables: the URL's and the option's, each a non-empty name, once.
function replicaTables(url: string, fromUrl: string[] | undefined, fromOptions: unknown): string[] {
  if (fromOptions !== undefined && (!Array.isArray(fromOptions) ||
    !fromOptions.every((name) => typeof name === 'string'))) {
    throw new CyberError('BAD_ARGUMENT', 'the replica option is an array of table names')
  }
  const names = [...(fromUrl ?? []), ...((fromOptions as string[] | undefined) ?? [])]
  if (names.some((name) => name === '')) throw badUrl(url, 'a replica table name is empty')
  return [...new Set(names)]
}

/**
 * Opens an embedded database (`memory://`, `file:PATH`) whose handles return values instead of
 * promises: the same URL forms and options as connect(), the same host. `file:` loads before it
 * returns (LOCKED, SNAPSHOT_CORRUPT thrown).
 * @example
 * const db = openSync('file:./data.cdb?durability=always')
 * db.dict('users').set('ada', 'Ada') // durable when it returns
 */
export function openSync(url: string, options: ConnectOptions = {}): SyncDatabase {
  if (typeof url !== 'string') throw badUrl(String(url), 'it is not a string')
  if (options.replica !== undefined) {
    throw new CyberError('BAD_ARGUMENT', 'replica is for a server URL (connect(\'cyberdb://...\', { replica }))')
  }
  const timing = { clock: options.clock, setTimer: options.setTimer, feedHistory: options.feedHistory }
  if (/^memory:(\/\/)?(\?|$)/.test(url)) {
    const maxMemory = parseMemoryUrl(url) ?? options.maxMemory
    return new SyncDatabase(limitMemory(EmbeddedTransport.memory(timing), maxMemory))
  }
  if (url.startsWith('file:')) {
    const { maxMemory, ...file } = parseFileUrl(url)
    const transport = EmbeddedTransport.fileSync({ ...file, ...timing })
    return new SyncDatabase(limitMemory(transport, maxMemory ?? options.maxMemory))
  }
  throw badUrl(url, 'openSync opens memory:// and file: databases only (a server: connect())')
}

function limitMemory(transport: EmbeddedTransport, maxMemory: number | undefined): EmbeddedTransport {
  if (maxMemory !== undefined) {
    try {
      transport.store.maxMemory = checkMaxMemory(maxMemory)
    } catch (error) {
      void transport.close()
      throw error
    }
  }
  return transport
}

function parseMemoryUrl(url: string): number | undefined {
  const query = url.indexOf('?')
  let maxMemory: number | undefined
  for (const [name, value] of new URLSearchParams(query < 0 ? '' : url.slice(query + 1))) {
    if (name === 'maxMemory') maxMemory = positiveInteger(url, name, value)
    else throw badUrl(url, `unknown parameter "${name}"`)
  }
  return maxMemory
}

function parseFileUrl(url: string): FileOptions & { maxMemory?: number } {
  const query = url.indexOf('?')
  let path: string
  try {
    path = decodeURIComponent(url.slice('file:'.length, query < 0 ? undefined : query))
  } catch {
    throw badUrl(url, 'the file path has a malformed %-escape') // a URIError would name no URL form
  }
  if (path.startsWith('//')) path = path.slice(2) // file:///abs/path
  if (path === '') throw badUrl(url, 'the file path is empty')
  const params = new URLSearchParams(query < 0 ? '' : url.slice(query + 1))
  const options: FileOptions & { maxMemory?: number } = { path }
  for (const [name, value] of params) {
    if (name === 'backup') options.backup = positiveNumber(url, name, value)
    else if (name === 'durability') options.durability = durability(url, value)
    else if (name === 'compact') options.compactBytes = positiveInteger(url, name, value)
    else if (name === 'maxMemory') options.maxMemory = positiveInteger(url, name, value)
    else throw badUrl(url, `unknown parameter "${name}"`)
  }
  return options
}

export async function parseRemoteUrl(url: string, options: ConnectOptions = {}): Promise<RemoteOptions> {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw badUrl(url, 'it does not parse as a URL')
  }
  const unix = parsed.protocol === 'cyberdb+unix:' ? unixPath(url, parsed) : undefined
  const host = unix === undefined ? parsed.hostname.replace(/^\[(.*)\]$/, '$1') : 'localhost' // [::1] -> ::1
  if (host === '') throw badUrl(url, 'the host is missing')
  const remote: RemoteOptions = {
    host,
    port: parsed.port === '' ? DEFAULT_PORT : Number(parsed.port),
    ...(unix === undefined ? {} : { unix }),
    password: options.password ?? decodeURIComponent(parsed.password),
    pool: DEFAULT_POOL,
    idleTimeout: DEFAULT_IDLE_SECONDS,
    connectTimeoutMs: DEFAULT_CONNECT_TIMEOUT_SECONDS * 1000,
    encrypt: false,
  }
  let caFile: string | undefined
  for (const [name, value] of parsed.searchParams) {
    if (name === 'timeout') remote.idleTimeout = positiveNumber(url, name, value)
    else if (name === 'pool') remote.pool = positiveInteger(url, name, value)
    else if (name === 'connectTimeout') remote.connectTimeoutMs = positiveNumber(url, name, value) * 1000
    else if (name === 'password') remote.password = options.password ?? value
    else if (name === 'encrypt') remote.encrypt = flag(url, name, value)
    else if (name === 'ca' && parsed.protocol === 'cyberdbs:') caFile = value
    else if (name === 'replica') (remote.replica ??= []).push(...value.split(','))
    else throw badUrl(url, `unknown parameter "${name}"`)
  }
  // The password stays out of URLs kept in config and shell history: the environment supplies it.
  if (remote.password === '') remote.password = process.env['CYBERDB_PASSWORD'] ?? ''
  if (parsed.protocol === 'cyberdbs:') {
    let ca = options.ca
    if (ca === undefined && caFile !== undefined) {
      const file = Bun.file(caFile)
      if (!(await file.exists())) throw badUrl(url, `the ca file "${caFile}" does not exist`)
      ca = await file.text()
    }
    remote.tls = ca === undefined ? {} : { ca }
  }
  return remote
}

// cyberdb+unix:///run/cyberdb.sock: the path is the URL's (absolute); a host, needed only to
// carry a password (cyberdb+unix://:pw@localhost/run/cyberdb.sock), can only be localhost.
function unixPath(url: string, parsed: URL): string {
  if (parsed.hostname !== '' && parsed.hostname !== 'localhost') {
    throw badUrl(url, `a unix socket is on this machine: the host is empty or localhost, not "${parsed.hostname}"`)
  }
  if (parsed.port !== '') throw badUrl(url, 'a unix socket has no port')
  let path: string
  try {
    path = decodeURIComponent(parsed.pathname)
  } catch {
    throw badUrl(url, 'the socket path has a malformed %-escape')
  }
  if (!path.startsWith('/') || path === '/') {
    throw badUrl(url, 'the socket path is missing (an absolute path: cyberdb+unix:///run/cyberdb.sock)')
  }
  return path
}

function durability(url: string, value: string): Durability {
  if ((DURABILITIES as string[]).includes(value)) return value as Durability
  throw badUrl(url, `durability must be one of ${DURABILITIES.join(', ')}`)
}

function flag(url: string, name: string, value: string): boolean {
  if (value === 'true' || value === '1') return true
  if (value === 'false' || value === '0') return false
  throw badUrl(url, `${name} must be true or false`)
}

function positiveNumber(url: string, name: string, value: string): number {
  const n = Number(value)
  if (value === '' || !Number.isFinite(n) || n <= 0) throw badUrl(url, `${name} must be a positive number`)
  return n
}

function positiveInteger(url: string, name: string, value: string): number {
  const n = positiveNumber(url, name, value)
  if (!Number.isSafeInteger(n)) throw badUrl(url, `${name} must be a whole number`)
  return n
}

function badUrl(url: string, why: string): CyberError {
  const shown = url.replace(/\/\/[^@/]*@/, '//***@').replace(/([?&]password=)[^&]*/, '$1***') // never echo a password
  return new CyberError('BAD_ARGUMENT', `bad database URL "${shown}": ${why}; accepted forms: ${FORMS}`)
}
