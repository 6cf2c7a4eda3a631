// The Keyv store adapter (cyberdb/keyv): one dict table holds a Keyv's entries, Keyv's ttl becomes
// the table's own expiry (so expired entries go without a read, and count in db.info), and a
// namespace is a key prefix `namespace:` that clear() and iterator() keep to. It depends on no
// Keyv package: Keyv finds the methods by their names.
//
// Keyv 5 and Keyv 6 ask different things of one adapter, and it must tell them apart:
// - keyv 5 prefixes keys with `namespace:` itself, passes a relative ttl, wants deleteMany to be
//   falsy when nothing was deleted, reads `store.opts`, and iterates only a store whose
//   `opts.dialect` is on its list, calling iterator(namespace) for prefixed keys;
// - keyv 6 reads `store.capabilities` first: a store declaring `expires: true` gets unprefixed
//   keys (it sets `store.namespace` and leaves prefixing to the store), an absolute `expires`,
//   and wants boolean[] from deleteMany and unprefixed keys from iterator().
// Reading `capabilities` is what only keyv 6 does: from then on this adapter speaks its contract.
// Both contracts store the same keys (`namespace:key`), so either Keyv reads what the other wrote.

import { connect } from '../connect.ts'
import type { Database } from '../client/database.ts'
import type { DictHandle } from '../client/dict-handle.ts'

export interface KeyvCyberDBOptions {
  /** The dict table the entries live in (created when missing). Default "keyv". */
  table?: string
}

/** A keyv 6 setMany entry: `expires` is absolute (ms since the epoch). */
interface ExpiringEntry {
  key: string
  value: unknown
  expires?: number
}

const STORAGE_METHODS = ['get', 'getMany', 'has', 'hasMany', 'set', 'setMany', 'delete', 'deleteMany', 'clear',
  'disconnect', 'iterator'] as const

/**
 * A Keyv store on a CyberDB dict table.
 * @example
 * const keyv = new Keyv({ store: new KeyvCyberDB('cyberdb://:pw@127.0.0.1:9980', { table: 'cache' }) })
 */
export class KeyvCyberDB {
  /** Set by Keyv: the namespace this store's keys are kept under. */
  namespace: string | undefined
  /** What keyv 5 reads. `dialect` is on keyv 5's list of iterable stores: this adapter iterates
   * one namespace as its redis adapter does (iterator(namespace) yields `namespace:key` keys). */
  readonly opts: Record<string, unknown>
  readonly #table: string
  readonly #db: Promise<Database>
  // A url opens a database this adapter owns, and disconnect() closes; a Database is the caller's.
  readonly #owns: boolean
  #ready: Promise<DictHandle<unknown>> | undefined
  // Whether keyv 6 is calling (it read `capabilities`): unprefixed keys, absolute expiry.
  #v6 = false

  constructor(target: string | Database, options: KeyvCyberDBOptions = {}) {
    this.#table = options.table ?? 'keyv'
    this.#owns = typeof target === 'string'
    this.#db = typeof target === 'string' ? connect(target) : Promise.resolve(target)
    this.#db.catch(() => {}) // reported by the first call that needs it
    this.opts = { dialect: 'redis', url: typeof target === 'string' ? target : 'cyberdb', table: this.#table }
  }

  /** What keyv 6 asks before anything else: every storage method, and absolute `expires`. */
  get capabilities(): { compatible: true; store: 'keyvStorage'; expires: true;
    methods: Record<string, { exists: true; methodType: 'async' }> } {
    this.#v6 = true
    const methods = Object.fromEntries(STORAGE_METHODS.map((name) => [name, { exists: true, methodType: 'async' }]))
    return { compatible: true, store: 'keyvStorage', expires: true, methods } as never
  }

  async get(key: string): Promise<unknown> {
    return (await this.#dict()).get(this.#key(key))
  }

  async getMany(keys: string[]): Promise<unknown[]> {
    return (await this.#dict()).getMany(keys.map((key) => this.#key(key)))
  }

  /** keyv 5 passes a ttl in ms; keyv 6 the absolute time the entry expires. */
  async set(key: string, value: unknown, ttlOrExpires?: number): Promise<boolean> {
    const dict = await this.#dict()
    const ttl = this.#ttl(ttlOrExpires)
    if (ttl === 0) return dict.delete(this.#key(key)).then(() => true) // already past its time
    await dict.set(this.#key(key), value, ttl === undefined ? undefined : { ttl })
    return true
  }

  async setMany(entries: ExpiringEntry[]): Promise<boolean[]> {
    return Promise.all(entries.map((entry) => this.set(entry.key, entry.value, entry.expires)))
  }

  async delete(key: string): Promise<boolean> {
    return (await this.#dict()).delete(this.#key(key))
  }

  /** keyv 6: whether each key was there. keyv 5: whether any was (false when none). */
  async deleteMany(keys: string[]): Promise<boolean[] | boolean> {
    const dict = await this.#dict()
    if (this.#v6) return Promise.all(keys.map((key) => dict.delete(this.#key(key))))
    return (await dict.deleteMany(keys.map((key) => this.#key(key)))) > 0
  }

  async has(key: string): Promise<boolean> {
    return (await this.#dict()).has(this.#key(key))
  }

  async hasMany(keys: string[]): Promise<boolean[]> {
    const dict = await this.#dict()
    return Promise.all(keys.map((key) => dict.has(this.#key(key))))
  }

  /** Deletes this namespace's entries (every entry of the table without a namespace). */
  async clear(): Promise<void> {
    const dict = await this.#dict()
    if (this.namespace) await dict.clear({ prefix: `${this.namespace}:` })
    else await dict.clear()
  }

  /** This namespace's entries, in chunks. keyv 5 passes its namespace and wants the stored keys;
   * keyv 6 wants them without the prefix. */
  async *iterator(namespace: string | undefined = this.namespace): AsyncGenerator<[string, unknown], void> {
    const dict = await this.#dict()
    const prefix = namespace ? `${namespace}:` : ''
    for await (const [key, value] of dict.scan(prefix === '' ? {} : { prefix })) {
      if (typeof key !== 'string') continue // not a Keyv entry
      yield [this.#v6 ? key.slice(prefix.length) : key, value]
    }
  }

  /** Closes the database when this adapter opened it (from a url). */
  async disconnect(): Promise<void> {
    if (this.#owns) await (await this.#db).close()
  }

  // keyv 6 leaves the namespace to the store; keyv 5 sends keys prefixed already.
  #key(key: string): string {
    return this.#v6 && this.namespace ? `${this.namespace}:${key}` : key
  }

  // A relative ttl for the table: undefined for none, 0 for a time already past.
  #ttl(ttlOrExpires: number | undefined): number | undefined {
    if (typeof ttlOrExpires !== 'number' || !Number.isFinite(ttlOrExpires) || ttlOrExpires <= 0) return undefined
    if (!this.#v6) return ttlOrExpires
    return Math.max(0, Math.ceil(ttlOrExpires - Date.now()))
  }

  #dict(): Promise<DictHandle<unknown>> {
    this.#ready ??= this.#db.then(async (db) => {
      await db.createDict(this.#table, undefined, { ifNotExists: true })
      return db.dict(this.#table)
    })
    // A failed start (connect, or a table of the other type) is tried again on the next call.
    this.#ready.catch(() => (this.#ready = undefined))
    return this.#ready
  }
}
