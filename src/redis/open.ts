// redis://, rediss:// and redis://…?cluster=true: parse the URL and open the client. Loaded
// lazily by connect(), so an embedded or cyberdb:// user never loads ioredis.

import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis'
import { CyberError } from '../errors.ts'
import type { Clock, SetTimer } from '../host/clock.ts'
import { DEFAULT_FEED_HISTORY } from '../host/feed.ts'
import { RedisTransport } from './redis-transport.ts'

export const REDIS_FORMS = 'redis://[[USER]:PASSWORD@]HOST[:PORT][/DB][?cluster=true&connectTimeout=SECONDS' +
  '&waitReplicas=N&waitTimeout=MS&feedHistory=N], ' +
  'rediss://... (the same over TLS)'

const DEFAULT_PORT = 6379
const DEFAULT_CONNECT_TIMEOUT_SECONDS = 10

export interface RedisConnectOptions {
  password?: string
  clock?: Clock
  setTimer?: SetTimer
}

interface Parsed {
  host: string
  port: number
  db: number
  username?: string
  password?: string
  tls: boolean
  cluster: boolean
  connectTimeoutMs: number
  waitReplicas: number
  waitTimeoutMs: number
  feedHistory: number | undefined
}

export function parseRedisUrl(url: string, password?: string): Parsed {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw badUrl(url, 'it does not parse as a URL')
  }
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1')
  if (host === '') throw badUrl(url, 'the host is missing')
  const path = parsed.pathname.replace(/^\//, '')
  const db = path === '' ? 0 : Number(path)
  if (!Number.isSafeInteger(db) || db < 0) throw badUrl(url, 'the database number must be a whole number')
  const out: Parsed = {
    host,
    port: parsed.port === '' ? DEFAULT_PORT : Number(parsed.port),
    db,
    tls: parsed.protocol === 'rediss:',
    cluster: false,
    connectTimeoutMs: DEFAULT_CONNECT_TIMEOUT_SECONDS * 1000,
    waitReplicas: 0,
    waitTimeoutMs: 1000,
    feedHistory: undefined,
  }
  if (parsed.username !== '') out.username = decodeURIComponent(parsed.username)
  const pw = password ?? (parsed.password === '' ? undefined : decodeURIComponent(parsed.password))
  if (pw !== undefined) out.password = pw
  for (const [name, value] of parsed.searchParams) {
    if (name === 'cluster' && (value === 'true' || value === '1')) out.cluster = true
    else if (name === 'cluster' && (value === 'false' || value === '0')) out.cluster = false
    else if (name === 'connectTimeout' && Number(value) > 0) out.connectTimeoutMs = Number(value) * 1000
    else if (name === 'waitReplicas' && Number.isSafeInteger(Number(value)) && Number(value) >= 0) out.waitReplicas = Number(value)
    else if (name === 'feedHistory' && Number.isSafeInteger(Number(value)) && Number(value) > 0) out.feedHistory = Number(value)
    else if (name === 'waitTimeout' && Number.isSafeInteger(Number(value)) && Number(value) > 0) out.waitTimeoutMs = Number(value)
    else throw badUrl(url, `unknown parameter or value "${name}=${value}"`)
  }
  if (out.cluster && db !== 0) throw badUrl(url, 'a Redis Cluster has only database 0')
  return out
}

/** Opens the client and checks it answers (a wrong password or no server fails here). */
export async function openRedis(url: string, options: RedisConnectOptions = {}): Promise<RedisTransport> {
  const p = parseRedisUrl(url, options.password)
  const common: RedisOptions = {
    username: p.username,
    password: p.password,
    db: p.db,
    tls: p.tls ? {} : undefined,
    connectTimeout: p.connectTimeoutMs,
    lazyConnect: true,
    // The requests of one tick go in one socket write (and, on a Cluster, one per node).
    enableAutoPipelining: true,
    // A request in flight when its connection dies fails (CONNECTION_CLOSED) rather than being
    // sent again: a resent push or incr would be applied twice. New requests wait for the
    // reconnect, a few times, then fail.
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 3,
    retryStrategy: (times) => Math.min(times * 50, 1000),
  }
  let client: Redis | Cluster
  let duplicate: () => Redis
  if (p.cluster) {
    const clusterOptions: ClusterOptions = {
      redisOptions: common,
      lazyConnect: true,
      maxRedirections: 16,
      retryDelayOnFailover: 100,
      retryDelayOnClusterDown: 100,
      clusterRetryStrategy: (times) => (times > 50 ? null : Math.min(times * 100, 1000)),
    }
    const cluster = new Cluster([{ host: p.host, port: p.port }], clusterOptions)
    client = cluster
    // A blocking take needs the node that holds its list: a Cluster of its own routes it there.
    duplicate = () => cluster.duplicate() as unknown as Redis
  } else {
    const redis = new Redis({ ...common, host: p.host, port: p.port })
    client = redis
    duplicate = () => redis.duplicate({ lazyConnect: false, maxRetriesPerRequest: 0 })
  }
  client.on('error', () => {}) // reported per request; an unhandled 'error' event would crash
  try {
    await client.connect()
    await client.ping()
    // One node's change feed keeps this many commits (the first client sets the default; a URL
    // that names one sets it for every client of that database).
    if (!p.cluster) {
      const [key, value] = ['cdb:{cdb}:fhist', String(p.feedHistory ?? DEFAULT_FEED_HISTORY)]
      if (p.feedHistory === undefined) await client.set(key, value, 'NX')
      else await client.set(key, value)
    }
  } catch (error) {
    client.disconnect()
    const message = error instanceof Error ? error.message : String(error)
    if (/WRONGPASS|NOAUTH|invalid password/i.test(message)) {
      throw new CyberError('AUTH_FAILED', `redis refused the credentials: ${message}`, { cause: error })
    }
    throw new CyberError('CONNECTION_CLOSED', `cannot reach redis at ${p.host}:${p.port}: ${message}`, { cause: error })
  }
  return new RedisTransport(client, {
    clock: options.clock, setTimer: options.setTimer, cluster: p.cluster, duplicate,
    waitReplicas: p.waitReplicas, waitTimeoutMs: p.waitTimeoutMs,
  })
}

function badUrl(url: string, why: string): CyberError {
  const shown = url.replace(/\/\/[^@/]*@/, '//***@')
  return new CyberError('BAD_ARGUMENT', `bad database URL "${shown}": ${why}; accepted forms: ${REDIS_FORMS}`)
}
