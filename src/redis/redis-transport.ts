// The Redis / Valkey transport: the tables of a Database on Redis (one node) or a Redis Cluster,
// through ioredis. Hot single-key ops are one Lua script each (scripts.ts); every other op runs
// on the engine itself in the client, read and committed optimistically (tables.ts), so values,
// errors and edge cases are the engine's. Proxies are cheap views: ioredis multiplexes one
// connection per node, and no op here keeps state on a connection (no WATCH, no MULTI).
// (A little over the 300-line rule: the dispatch keeps every hot op in one switch, on purpose.)

import type { Cluster, Redis } from 'ioredis'
import { CyberError, badArgument } from '../errors.ts'
import { COMMANDS, checkIndex, type Op } from '../engine/commands.ts'
import { checkOp } from '../engine/store.ts'
import { acceptArgs } from '../engine/value-model.ts'
import { checkKey } from '../engine/values.ts'
import { createCodec } from '../protocol/codec.ts'
import type { Clock, SetTimer } from '../host/clock.ts'
import { ProxyTransport } from '../client/proxy-transport.ts'
import { closedError, type Transport } from '../client/transport.ts'
import { encodeKey, keyList, REGISTRY_KEY, REGISTRY_SEQ_KEY, slotTag, tableKeys } from './keys.ts'
import * as lua from './scripts.ts'
import * as tableLua from './table-scripts.ts'
import { diff, parseLoaded, rebuild, type Loaded } from './tables.ts'
import { describeRedis, type TableReply } from './info.ts'
import { batchTables, namedKeys, toCyberError } from './ops.ts'
import { replicated } from './replicated.ts'
import { FEED_KEYS, RedisFeed } from './feed.ts'
import { ChangeStream, type WatchOptions } from '../client/change-stream.ts'
import { Scans } from './scans.ts'
import { Takes } from './takes.ts'

type Client = Redis | Cluster
type Call = (...args: (string | Buffer | number)[]) => Promise<unknown>

// The scripts that write (a replicated write waits for its replicas).
const WRITES: ReadonlySet<string> = new Set(['cdbSet', 'cdbDelete', 'cdbPush', 'cdbShift', 'cdbPop', 'cdbTake', 'cdbCommit'])

// Tables whose key names are kept (a client of more starts the cache again).
const KEY_CACHE_TABLES = 4096

// An optimistic op that keeps losing to other writers gives up after this many rounds (each
// round is a read and a refused commit: someone else's write went through every time).
const MAX_ROUNDS = 200

const SCRIPTS = {
  cdbGet: lua.DICT_GET, cdbHas: lua.DICT_HAS, cdbSize: lua.DICT_SIZE, cdbDelete: lua.DICT_DELETE,
  cdbSet: lua.DICT_SET, cdbPush: lua.LIST_PUSH, cdbLength: lua.LIST_LENGTH, cdbAt: lua.LIST_AT,
  cdbShift: lua.LIST_SHIFT, cdbPop: lua.LIST_POP, cdbLoad: tableLua.LOAD, cdbLoadFields: tableLua.LOAD_FIELDS, cdbCommit: tableLua.COMMIT,
  cdbScan: tableLua.SCAN, cdbTake: tableLua.TAKE, cdbUnwait: tableLua.UNWAIT, cdbInfo: tableLua.INFO, cdbRegister: tableLua.REGISTER,
} as const

export interface RedisTransportOptions {
  clock?: Clock
  setTimer?: SetTimer
  /** A Cluster: a batch over tables on different slots is refused (BAD_ARGUMENT). */
  cluster?: boolean
  /** Writes resolve once this many replicas have them (WAIT); 0: once the master has. */
  waitReplicas?: number
  waitTimeoutMs?: number
  /** Opens another connection like the shared one, for blocking takes. */
  duplicate: () => Redis
}

export class RedisTransport implements Transport {
  readonly #client: Client
  readonly #clock: Clock
  readonly #codec = createCodec()
  readonly #cluster: boolean
  readonly #scans = new Scans()
  readonly #takes: Takes
  readonly #run: Record<keyof typeof SCRIPTS, Call>
  readonly #waitReplicas: number
  readonly #keyCache = new Map<string, string[]>()
  // The last op of the optimistic path (or one queued behind it) per table, while it runs.
  readonly #tails = new Map<string, Promise<void>>()
  readonly #feed: RedisFeed | undefined
  readonly #feedKeys: readonly string[]
  // What db.info reports of this client: its successful ops by name, its get hits and misses.
  readonly #ops = new Map<string, number>()
  readonly #since: number
  #hits = 0
  #misses = 0
  readonly #waitTimeoutMs: number
  #closed = false
  #seq = 0

  constructor(client: Client, options: RedisTransportOptions) {
    this.#client = client
    this.#clock = options.clock ?? Date
    this.#cluster = options.cluster === true
    this.#since = this.#clock.now()
    this.#feed = this.#cluster ? undefined : new RedisFeed(client as Redis, options.duplicate, this.#codec)
    this.#feedKeys = this.#cluster ? [] : FEED_KEYS
    this.#waitReplicas = options.waitReplicas ?? 0
    this.#waitTimeoutMs = options.waitTimeoutMs ?? 1000
    const run = {} as Record<keyof typeof SCRIPTS, Call>
    for (const [name, source] of Object.entries(SCRIPTS)) {
      client.defineCommand(name, { lua: source })
      const method = (client as unknown as Record<string, Call>)[`${name}Buffer`]!.bind(client)
      run[name as keyof typeof SCRIPTS] = method
    }
    this.#run = run
    this.#takes = new Takes({
      duplicate: options.duplicate,
      setTimer: options.setTimer,
      take: (table, id, mode) => this.#single(table, 'cdbTake', [id, mode]).catch((error) => {
        throw this.#error(error, { table, name: 'list.take', args: [] })
      }),
      unwait: (table, id) => this.#single(table, 'cdbUnwait', [id]),
      decode: (bytes) => this.#codec.unpack(bytes),
      handOverKey: (table, id) => `${tableKeys(table).meta.slice(0, -1)}w:${id}`,
    })
  }

  get isClosed(): boolean {
    return this.#closed
  }

  call(op: Op): Promise<unknown> {
    if (this.#closed) return Promise.reject(closedError('database'))
    try {
      checkOp(op)
      acceptArgs(op.args) // the one value model
      return this.#ordered(op).then((result) => {
        this.#ops.set(op.name, (this.#ops.get(op.name) ?? 0) + 1)
        return result
      }, (error) => { throw this.#error(error, op) })
    } catch (error) {
      return Promise.reject(this.#error(error, op))
    }
  }

  /** db.watch(): the feed of one Redis node (feed.ts); a Cluster has none (BAD_ARGUMENT). */
  watch(options: WatchOptions | undefined): ChangeStream {
    if (this.#feed !== undefined && !this.#closed) return this.#feed.watch(options)
    const stream = new ChangeStream()
    stream.fail(this.#closed ? closedError('database') : badArgument('a Redis Cluster has no change feed: one stream in ' +
      'commit order for every table needs one node (README, Scaling out)'))
    return stream
  }

  /** Watches open on this database (tests: closing frees them). */
  get watching(): number {
    return this.#feed?.watching ?? 0
  }

  pin(): Transport {
    if (this.#closed) throw closedError('database')
    return new ProxyTransport(this, (op) => this.call(op), (options) => this.watch(options))
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await this.#takes.close()
    this.#feed?.close()
    this.#client.disconnect()
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }

  // --- dispatch: one script for the hot ops, the engine for the rest ---

  // Program order per table. A hot op is one script, sent at once: Redis runs a connection's
  // commands in order. An op of the optimistic path takes round trips (read, then commit), so an
  // op sent after it on the same table waits for it (as it would on a server), and this client's
  // ops on one table never race each other's commits (no retries among themselves).
  #ordered(op: Op): Promise<unknown> {
    // A waiting take is never a table's tail: the push it waits for would wait for it.
    if (op.name === 'list.take' || op.name === 'take.cancel') return this.#dispatch(op)
    const tables = op.name === 'db.atomic' ? batchTables(op.args) : [op.table]
    const before = tables.map((table) => this.#tails.get(table)).filter((tail) => tail !== undefined)
    if (before.length === 0 && !this.#slow(op)) return this.#dispatch(op)
    const run = before.length === 0 ? this.#dispatch(op)
      : Promise.all(before).then(() => this.#dispatch(op))
    const tail = run.then(() => undefined, () => undefined)
    for (const table of tables) this.#tails.set(table, tail)
    void tail.then(() => {
      for (const table of tables) if (this.#tails.get(table) === tail) this.#tails.delete(table)
    })
    return run
  }

  /** Whether an op takes the optimistic path (more than one round trip). */
  #slow(op: Op): boolean {
    const n = op.args.length
    switch (op.name) {
      case 'dict.get': return n !== 1 && n !== 2
      case 'dict.set': return n !== 2
      case 'dict.has': case 'dict.delete': case 'list.at': return n !== 1
      case 'dict.size': case 'list.length': case 'list.shift': case 'list.pop': case 'db.tables': return n !== 0
      case 'list.push': case 'dict.scan': case 'list.scan': case 'cursor.close': case 'db.info': case 'db.save':
      case 'list.take': case 'take.cancel': return false
    }
    return true
  }

  #dispatch(op: Op): Promise<unknown> {
    const { table, name, args } = op
    const n = args.length
    switch (name) {
      case 'dict.get':
        if (n !== 1 && n !== 2) break
        return this.#single(table, 'cdbGet', [encodeKey(checkKey(args[0]))]).then((v) => {
          if (v === null) {
            this.#misses++
            return args[1]
          }
          this.#hits++
          return this.#codec.unpack(v as Buffer)
        })
      case 'dict.set':
        if (n !== 2) break
        return this.#single(table, 'cdbSet', [encodeKey(checkKey(args[0])), this.#pack(args[1])])
          .then(() => undefined)
      case 'dict.has':
        if (n !== 1) break
        return this.#single(table, 'cdbHas', [encodeKey(checkKey(args[0]))]).then((v) => v === 1)
      case 'dict.delete':
        if (n !== 1) break
        return this.#single(table, 'cdbDelete', [encodeKey(checkKey(args[0]))]).then((v) => v === 1)
      case 'dict.size':
        if (n !== 0) break
        return this.#single(table, 'cdbSize', [])
      case 'list.push':
        return this.#single(table, 'cdbPush', ['', ...args.map((v) => this.#pack(v))])
      case 'list.length':
        if (n !== 0) break
        return this.#single(table, 'cdbLength', [])
      case 'list.at':
        if (n !== 1) break
        return this.#single(table, 'cdbAt', [String(checkIndex(args[0]))]).then((v) => this.#value(v))
      case 'list.shift':
        if (n !== 0) break
        return this.#single(table, 'cdbShift', []).then((v) => this.#value(v))
      case 'list.pop':
        if (n !== 0) break
        return this.#single(table, 'cdbPop', []).then((v) => this.#value(v))
      case 'dict.scan': case 'list.scan':
        return this.#scan(op)
      case 'cursor.close':
        if (n !== 1) break
        return Promise.resolve(this.#scans.close(checkIndex(args[0], 'a cursor')))
      case 'db.tables':
        if (n !== 0) break
        return this.#tables()
      case 'db.info':
        if (n !== 0) break
        return this.#info()
      case 'db.save':
        // Every write is on Redis when it resolves; how Redis keeps it (RDB, AOF) is its own
        // configuration: there is no CyberDB file to write, and no path to write one to.
        if (n > 0) return Promise.reject(badArgument('a Redis database has no file to save to: call save() without a path'))
        return Promise.resolve({ tables: 0, entries: 0, bytes: 0 })
      case 'list.take':
        if (table === '') break
        return this.#takes.take(table, args)
      case 'take.cancel':
        return this.#takes.cancel()
    }
    return this.#optimistic(op)
  }

  #pack(value: unknown): Buffer {
    return this.#codec.pack(value) as Buffer
  }

  #value(bytes: unknown): unknown {
    return bytes === null ? undefined : this.#codec.unpack(bytes as Buffer)
  }

  /** One script on one table's keys; `on` names the table type for its error messages. */
  #single(table: string, script: keyof typeof SCRIPTS, argv: (string | Buffer)[]): Promise<unknown> {
    if (table === '') return Promise.reject(badArgument('a table name must not be empty'))
    const keys = this.#keys(table)
    const n = keys.length
    if (this.#waitReplicas > 0 && WRITES.has(script)) return this.#replicated(script, [n, ...keys, String(this.#clock.now()), ...argv])
    return this.#run[script](n, ...keys, String(this.#clock.now()), ...argv)
  }

  // The key names of a table are built once (escaping, seven concatenations), not per call.
  #keys(table: string): string[] {
    let keys = this.#keyCache.get(table)
    if (keys === undefined) {
      if (this.#keyCache.size >= KEY_CACHE_TABLES) this.#keyCache.clear()
      // (one node: the feed's keys last, which every write script appends to)
      this.#keyCache.set(table, keys = [...keyList(tableKeys(table)), ...this.#feedKeys])
    }
    return keys
  }

  // ?waitReplicas=N: a write resolves once N replicas have it (replicated.ts).
  #replicated(script: keyof typeof SCRIPTS, args: (string | Buffer | number)[]): Promise<unknown> {
    return replicated(this.#client, `${script}Buffer`, args, this.#waitReplicas, this.#waitTimeoutMs)
  }

  // --- the optimistic path (tables.ts) ---

  async #optimistic(op: Op): Promise<unknown> {
    const command = COMMANDS.get(op.name)
    const names = op.name === 'db.atomic' ? batchTables(op.args) : command?.on === 'db' && op.table === '' ? [] : [op.table]
    if (this.#cluster && new Set(names.map(slotTag)).size > 1) {
      throw badArgument(`db.atomic over tables ${names.map((n) => JSON.stringify(n)).join(', ')}: on a Redis ` +
        'Cluster a batch is all or nothing only within one table (one hash slot)')
    }
    const keys = [...names.flatMap((name) => keyList(tableKeys(name))), ...this.#feedKeys]
    const touched = command?.on === 'dict' && (typeof op.args[0] === 'string' || typeof op.args[0] === 'number')
      ? op.args[0] : undefined
    // An op that names its keys reads only those (and never needs the rest of the table).
    const fields = names.length === 1 ? namedKeys(op) : undefined
    for (let round = 0; round < MAX_ROUNDS; round++) {
      let now = this.#clock.now()
      const loaded = names.length === 0 ? [] : await this.#load(names, keys, now, fields)
      for (const table of loaded) if (table.now > now) now = table.now // time never goes back
      const store = rebuild(loaded, this.#codec, now)
      // Throws the engine's own error (nothing has been written).
      const result = store.apply(op, undefined, now)
      const changes = diff(loaded, store, this.#codec, touched, now, this.#record(op, command, now))
      if (changes.argv.length === 0) return this.#result(op, result, loaded)
      const commit = [keys.length, ...keys, String(now), String(names.length), ...loaded.map((t) => t.version), ...changes.argv]
      const ok = this.#waitReplicas > 0 ? await this.#replicated('cdbCommit', commit) : await this.#run.cdbCommit(...commit)
      if (ok === 0) continue
      for (const name of changes.created) await this.#run.cdbRegister(2, REGISTRY_KEY, REGISTRY_SEQ_KEY, '0', name, '0')
      for (const name of changes.dropped) await this.#run.cdbRegister(2, REGISTRY_KEY, REGISTRY_SEQ_KEY, '0', name, '1')
      return this.#result(op, result, loaded, 1, this.#feed === undefined ? undefined : ok as number)
    }
    throw new CyberError('TIMEOUT', `${op.name} on "${op.table}" lost to other writers ${MAX_ROUNDS} times in a row`)
  }

  /** The op's record for the feed: its logged form, as the host logs it (one node only). */
  #record(op: Op, command: ReturnType<typeof COMMANDS.get>, now: number): Buffer | undefined {
    if (this.#feed === undefined || command?.writes !== true) return undefined
    const args = command.logged?.(op.args, { now: () => now }) ?? op.args
    return this.#codec.pack([op.table, op.name, args]) as Buffer
  }

  async #load(names: string[], keys: string[], now: number, fields?: string[]): Promise<Loaded[]> {
    const reply = (fields === undefined
      ? await this.#run.cdbLoad(keys.length, ...keys, String(now))
      : await this.#run.cdbLoadFields(keys.length, ...keys, String(now), ...fields)) as Buffer[][][]
    return names.map((name, i) => parseLoaded(name, reply[i]!, this.#codec))
  }

  /** An atomic batch's seq: on Redis there is no database-wide commit counter (a Cluster has no
   * one place for it), so it is the first table's version, never below this client's last. */
  #result(op: Op, result: unknown, loaded: Loaded[], bumped = 0, feedSeq?: number): unknown {
    if (op.name !== 'db.atomic' || typeof result !== 'object' || result === null || !(result as { ok?: boolean }).ok) {
      return result
    }
    if (feedSeq !== undefined) return { ok: true, seq: feedSeq, results: (result as { results: unknown[] }).results }
    const version = Number(loaded[0]?.version ?? 0) + bumped
    this.#seq = Math.max(this.#seq + 1, version)
    return { ok: true, seq: this.#seq, results: (result as { results: unknown[] }).results }
  }

  // --- tables() and scans ---

  /** Every registered table's INFO reply (tables that are gone answer an empty type). */
  async #tableReplies(now: number): Promise<TableReply[]> {
    const names = (await (this.#client as Redis).zrange(REGISTRY_KEY, '0', '-1')) as string[]
    const replies = await Promise.all(names.map((name) =>
      this.#run.cdbInfo(this.#keys(name).length, ...this.#keys(name), String(now)) as Promise<TableReply['reply']>))
    return names.map((name, i) => ({ name, reply: replies[i]! }))
  }

  async #tables(): Promise<unknown> {
    const out: { name: string; type: string; size: number }[] = []
    for (const { name, reply: [type, size] } of await this.#tableReplies(this.#clock.now())) {
      if (type.length > 0) out.push({ name, type: type.toString(), size })
    }
    return out
  }

  async #info(): Promise<unknown> {
    const now = this.#clock.now()
    const ops = new Map(this.#ops)
    ops.set('db.info', (ops.get('db.info') ?? 0) + 1) // this one, as the host counts it
    const info = describeRedis(now, await this.#tableReplies(now),
      { since: this.#since, ops, hits: this.#hits, misses: this.#misses })
    if (this.#feed !== undefined) info.feed.seq = await this.#feed.seq()
    return info
  }

  async #scan(op: Op): Promise<unknown> {
    const command = COMMANDS.get(op.name)!
    const { args } = op
    if (args.length < command.minArgs || args.length > command.maxArgs) return this.#optimistic(op)
    const on = op.name === 'dict.scan' ? 'dict' : 'list'
    const cursor = this.#scans.open(op, on)
    const count = cursor.count
    const reply = await this.#single(op.table, 'cdbScan', [String(cursor.after), String(count)]) as Buffer[]
    const type = reply[0]!.toString()
    if (type !== on) throw new CyberError('WRONG_TABLE_TYPE', `table "${op.table}" is a ${type}, not a ${on}`)
    return this.#scans.next(cursor, reply, this.#codec)
  }
  #error(error: unknown, op: Op): unknown {
    return toCyberError(error, op)
  }

}
