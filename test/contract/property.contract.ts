// Seeded random operation sequences: the same operations go to a table and to a plain reference
// model (a Map with the Python dict extras, an Array with the Python list extras), and every result,
// error code included, must agree; the whole content is compared every few steps. A failure names
// the seed and the step, and the PRNG makes the sequence replayable.

import { describe, expect, test } from 'bun:test'
import { CyberError, manualClock, type Database, type DictHandle, type Key, type ListHandle,
  type ManualClock } from '../../src/index.ts'
import { uniqueName } from './helpers.ts'
import { mulberry32 } from '../fixtures/random.ts'

const SEEDS = [0x5eed, 42, 20240229]
const OPS_PER_SEED = 3000
const CHECK_EVERY = 100


class Rng {
  readonly #next: () => number
  constructor(seed: number) {
    this.#next = mulberry32(seed)
  }
  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.#next() * n)
  }
  /** An integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1)
  }
  chance(p: number): boolean {
    return this.#next() < p
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!
  }
  /** Picks a branch by weight: [[weight, value], ...]. */
  weighted<T>(branches: readonly [number, T][]): T {
    let r = this.#next() * branches.reduce((sum, [w]) => sum + w, 0)
    for (const [w, value] of branches) if ((r -= w) < 0) return value
    return branches.at(-1)![1]
  }
}

// --- outcomes: a value or an error code, the same shape for the table and the model ---

type Outcome = { ok: unknown } | { error: string }

class ModelError extends Error {
  constructor(readonly code: string) {
    super(code)
  }
}

async function actual(call: () => Promise<unknown>): Promise<Outcome> {
  try {
    return { ok: await call() }
  } catch (error) {
    if (error instanceof CyberError) return { error: error.code }
    throw error
  }
}

function modelled(run: () => unknown): Outcome {
  try {
    return { ok: run() }
  } catch (error) {
    if (error instanceof ModelError) return { error: error.code }
    throw error
  }
}

/** Deep equality of the values these tests generate, written independently of the engine's. */
function same(a: unknown, b: unknown): boolean {
  if (typeof a === 'number' && typeof b === 'number') return a === b || (a !== a && b !== b)
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => same(x, b[i]))
  if (typeof a === 'object' && typeof b === 'object' && a !== null && b !== null &&
    !Array.isArray(a) && !Array.isArray(b)) {
    const ka = Object.keys(a)
    const kb = Object.keys(b)
    const rb = b as Record<string, unknown>
    return ka.length === kb.length && ka.every((k) => k in rb && same((a as Record<string, unknown>)[k], rb[k]))
  }
  return a === b
}

// --- the dict model: a Map, whose order is a Python dict's order ---

const KEYS: Key[] = [0, 1, 2, 3, 7, '0', '1', '2', 'a', 'b', 'c', 'longer key', '', -1, 2.5]

function dictValue(rng: Rng): unknown {
  return rng.weighted<() => unknown>([
    [6, () => rng.range(-50, 50)],
    [2, () => `s${rng.int(10)}`],
    [2, () => ({ n: rng.int(5), tags: [rng.int(3)] })],
    [1, () => (rng.chance(0.5) ? null : undefined)],
    [1, () => BigInt(rng.range(-5, 5)) * 10n ** 20n],
  ])()
}

type Step = [string, () => Promise<unknown>, () => unknown]

function dictStep(rng: Rng, d: DictHandle<unknown>, m: Map<Key, unknown>): Step {
  const k = rng.pick(KEYS)
  const v = dictValue(rng)
  const kind = rng.weighted<string>([
    [20, 'set'], [10, 'get'], [5, 'has'], [8, 'delete'], [8, 'pop'], [6, 'popitem'], [6, 'setdefault'],
    [10, 'incr'], [4, 'update'], [3, 'size'], [2, 'keys'], [0.3, 'clear'],
  ])
  const show = (...args: unknown[]) => `${kind}(${args.map((a) => describeArg(a)).join(', ')})`
  switch (kind) {
    case 'set':
      return [show(k, v), () => d.set(k, v), () => void m.set(k, v)]
    case 'get': {
      if (rng.chance(0.5)) return [show(k), () => d.get(k), () => m.get(k)]
      return [show(k, 'fb'), () => d.get(k, 'fb'), () => (m.has(k) ? m.get(k) : 'fb')]
    }
    case 'has':
      return [show(k), () => d.has(k), () => m.has(k)]
    case 'delete':
      return [show(k), () => d.delete(k), () => m.delete(k)]
    case 'pop': {
      const withFallback = rng.chance(0.5)
      const model = () => {
        if (!m.has(k)) {
          if (withFallback) return 'fb'
          throw new ModelError('KEY_NOT_FOUND')
        }
        const value = m.get(k)
        m.delete(k)
        return value
      }
      return withFallback ? [show(k, 'fb'), () => d.pop(k, 'fb'), model] : [show(k), () => d.pop(k), model]
    }
    case 'popitem':
      return [show(), () => d.popitem(), () => {
        if (m.size === 0) throw new ModelError('KEY_NOT_FOUND')
        const last = [...m.keys()].at(-1)!
        const entry = [last, m.get(last)]
        m.delete(last)
        return entry
      }]
    case 'setdefault':
      return [show(k, v), () => d.setdefault(k, v), () => {
        if (!m.has(k)) m.set(k, v)
        return m.get(k)
      }]
    case 'incr': {
      const by = rng.chance(0.3) ? undefined : rng.range(-5, 5)
      return [show(k, by), () => (by === undefined ? d.incr(k) : d.incr(k, by)), () => {
        const step = by ?? 1
        const current = m.get(k)
        let next: unknown
        if (!m.has(k)) next = step
        else if (typeof current === 'number') next = current + step
        else if (typeof current === 'bigint') next = current + BigInt(step)
        else throw new ModelError('BAD_ARGUMENT')
        m.set(k, next)
        return next
      }]
    }
    case 'update': {
      const pairs: [Key, unknown][] = Array.from({ length: rng.range(0, 4) }, () => [rng.pick(KEYS), dictValue(rng)])
      if (rng.chance(0.1)) {
        // A bad key anywhere: nothing at all is applied.
        pairs.splice(rng.int(pairs.length + 1), 0, [{ bad: true } as never, 1])
        return [show(pairs), () => d.update(pairs), () => {
          throw new ModelError('BAD_ARGUMENT')
        }]
      }
      if (rng.chance(0.3)) {
        const object = Object.fromEntries(pairs.map(([key, value]) => [String(key), value]))
        return [show(object), () => d.update(object), () => {
          for (const key of Object.keys(object)) m.set(key, object[key])
        }]
      }
      return [show(pairs), () => d.update(pairs), () => {
        for (const [key, value] of pairs) m.set(key, value)
      }]
    }
    case 'size':
      return [show(), () => d.size(), () => m.size]
    case 'keys':
      return [show(), () => d.keys(), () => [...m.keys()]]
    default:
      return [show(), () => d.clear(), () => m.clear()]
  }
}

// --- the list model: an Array, with Python's index rules written out ---

function resolve(items: unknown[], index: number): number {
  const at = index < 0 ? index + items.length : index
  if (at < 0 || at >= items.length) throw new ModelError('INDEX_OUT_OF_RANGE')
  return at
}

function numberValue(rng: Rng): number {
  if (rng.chance(0.02)) return Number.NaN
  return rng.chance(0.7) ? rng.range(-20, 20) : rng.range(-80, 80) / 4
}

function mixedValue(rng: Rng): unknown {
  return rng.weighted<() => unknown>([
    [4, () => rng.range(0, 9)],
    [3, () => `s${rng.int(6)}`],
    [2, () => ({ n: rng.int(3), inner: [rng.int(2)] })],
    [1, () => [rng.int(3), 'x']],
    [1, () => null],
  ])()
}

function sortModel(items: unknown[], descending: boolean): unknown[] {
  if (items.length === 0) return items
  const kinds = new Set(items.map((item) => typeof item))
  if (kinds.size !== 1 || !(kinds.has('number') || kinds.has('string'))) throw new ModelError('BAD_ARGUMENT')
  const compare = (a: any, b: any): number => {
    const an = a !== a
    const bn = b !== b
    if (an || bn) return an === bn ? 0 : an ? 1 : -1 // NaN after every number
    return a < b ? -1 : a > b ? 1 : 0
  }
  return items.toSorted(descending ? (a, b) => compare(b, a) : compare)
}

function listStep(rng: Rng, l: ListHandle<unknown>, m: unknown[], value: (rng: Rng) => unknown): Step {
  const n = m.length
  const anyIndex = () => rng.range(-n - 2, n + 2)
  const existing = () => (n > 0 && rng.chance(0.7) ? m[rng.int(n)] : value(rng))
  const kind = rng.weighted<string>([
    [n > 60 ? 2 : 12, 'push'], [n > 60 ? 0 : 3, 'extend'], [8, 'insert'], [n > 60 ? 20 : 8, 'pop'],
    [6, 'set'], [5, 'remove'], [8, 'at'], [4, 'slice'], [5, 'indexOf'], [4, 'count'], [2, 'reverse'],
    [2, 'sort'], [3, 'length'], [0.3, 'clear'],
  ])
  const show = (...args: unknown[]) => `${kind}(${args.map((a) => describeArg(a)).join(', ')})`
  switch (kind) {
    case 'push': {
      const values = Array.from({ length: rng.range(1, 3) }, () => value(rng))
      return [show(...values), () => l.push(...values), () => m.push(...values)]
    }
    case 'extend': {
      const values = Array.from({ length: rng.range(0, 4) }, () => value(rng))
      return [show(values), () => l.extend(values), () => m.push(...values)]
    }
    case 'insert': {
      const index = rng.range(-n - 3, n + 3)
      const v = value(rng)
      return [show(index, v), () => l.insert(index, v), () => {
        const at = index < 0 ? Math.max(0, n + index) : Math.min(index, n)
        m.splice(at, 0, v)
      }]
    }
    case 'pop': {
      if (rng.chance(0.4)) {
        return [show(), () => l.pop(), () => {
          if (m.length === 0) throw new ModelError('INDEX_OUT_OF_RANGE')
          return m.pop()
        }]
      }
      const index = anyIndex()
      return [show(index), () => l.pop(index), () => m.splice(resolve(m, index), 1)[0]]
    }
    case 'set': {
      const index = anyIndex()
      const v = value(rng)
      return [show(index, v), () => l.set(index, v), () => void (m[resolve(m, index)] = v)]
    }
    case 'remove': {
      const v = existing()
      return [show(v), () => l.remove(v), () => {
        const at = m.findIndex((item) => same(item, v))
        if (at < 0) throw new ModelError('VALUE_NOT_FOUND')
        m.splice(at, 1)
      }]
    }
    case 'at': {
      const index = anyIndex()
      return [show(index), () => l.at(index), () => m.at(index)]
    }
    case 'slice': {
      const start = rng.chance(0.2) ? undefined : anyIndex()
      const end = rng.chance(0.4) ? undefined : anyIndex()
      return [show(start, end), () => l.slice(start, end), () => m.slice(start, end)]
    }
    case 'indexOf': {
      const v = existing()
      return [show(v), () => l.indexOf(v), () => m.findIndex((item) => same(item, v))]
    }
    case 'count': {
      const v = existing()
      return [show(v), () => l.count(v), () => m.filter((item) => same(item, v)).length]
    }
    case 'reverse':
      return [show(), () => l.reverse(), () => void m.reverse()]
    case 'sort': {
      const descending = rng.chance(0.5)
      return [show({ descending }), () => l.sort({ descending }), () => {
        const sorted = sortModel(m, descending)
        m.splice(0, m.length, ...sorted)
      }]
    }
    case 'length':
      return [show(), () => l.length(), () => m.length]
    default:
      return [show(), () => l.clear(), () => void (m.length = 0)]
  }
}

function describeArg(value: unknown): string {
  if (typeof value === 'bigint') return `${value}n`
  if (value === undefined) return 'undefined'
  if (typeof value === 'number' && value !== value) return 'NaN'
  return JSON.stringify(value, (_, v) => (typeof v === 'bigint' ? `${v}n` : v))
}

/** Runs `steps` against the table and the model, comparing each outcome and, every CHECK_EVERY
 * steps, the whole content. */
async function agree(next: () => Step, content: () => Promise<[unknown, unknown]>): Promise<void> {
  for (let step = 1; step <= OPS_PER_SEED; step++) {
    const [op, onTable, onModel] = next()
    const got = await actual(onTable)
    const want = modelled(onModel)
    expect({ step, op, ...got }).toEqual({ step, op, ...want })
    if (step % CHECK_EVERY === 0 || step === OPS_PER_SEED) {
      const [table, model] = await content()
      expect({ step, content: table }).toEqual({ step, content: model })
    }
  }
}

export function propertyContract(label: string, open: () => Promise<Database>): void {
  describe(`property contract (${label})`, () => {
    for (const seed of SEEDS) {
      test(`random dict operations agree with a reference Map (seed ${seed})`, async () => {
        await using db = await open()
        const name = uniqueName('prop_dict')
        await db.createDict(name)
        const d = db.dict(name)
        const m = new Map<Key, unknown>()
        const rng = new Rng(seed)
        await agree(() => dictStep(rng, d, m), async () => [await d.entries(), [...m.entries()]])
      })

      test(`random list operations agree with a reference Array (seed ${seed})`, async () => {
        await using db = await open()
        const nums = uniqueName('prop_nums')
        const mixed = uniqueName('prop_mixed')
        await db.createList(nums)
        await db.createList(mixed)
        const lists = [
          { handle: db.list(nums), model: [] as unknown[], value: numberValue },
          { handle: db.list(mixed), model: [] as unknown[], value: mixedValue },
        ]
        const rng = new Rng(seed)
        await agree(() => {
          const { handle, model, value } = rng.pick(lists)
          const [op, onTable, onModel] = listStep(rng, handle, model, value)
          return [`${handle.name === nums ? 'nums' : 'mixed'}.${op}`, onTable, onModel]
        }, async () => [
          [await lists[0]!.handle.toArray(), await lists[1]!.handle.toArray()],
          [lists[0]!.model, lists[1]!.model],
        ])
      })
    }
  })
}

// --- cache tables: the dict model with deadlines and a manual clock ---

interface Timed {
  v: unknown
  deadline: number | null
}

/** The reference for a ttl table: a Map of values with deadlines, purged eagerly at every step
 * (so an expired key is simply absent, and a key set again goes to the end, as in the engine). */
class TtlModel {
  readonly m = new Map<Key, Timed>()
  now: number
  constructor(now: number, readonly ttl: number | undefined) {
    this.now = now
  }
  purge(): void {
    for (const [k, e] of this.m) if (e.deadline !== null && e.deadline <= this.now) this.m.delete(k)
  }
  defaultDeadline(): number | null {
    return this.ttl === undefined ? null : this.now + this.ttl
  }
  /** expiry: 'default' | 'keep' | null | a ttl in ms */
  write(k: Key, v: unknown, expiry: 'default' | 'keep' | null | number): void {
    const old = this.m.get(k)
    const deadline = expiry === 'default' ? this.defaultDeadline()
      : expiry === 'keep' ? (old !== undefined ? old.deadline : this.defaultDeadline())
      : expiry === null ? null : this.now + expiry
    if (deadline !== null && deadline <= this.now) this.m.delete(k)
    else this.m.set(k, { v, deadline })
  }
}

function ttlStep(rng: Rng, d: DictHandle<unknown>, model: TtlModel, clock: ManualClock): Step {
  model.purge()
  const m = model.m
  const k = rng.pick(KEYS.slice(0, 8))
  const v = rng.range(-9, 9)
  const kind = rng.weighted<string>([
    [14, 'set'], [8, 'get'], [4, 'has'], [4, 'delete'], [3, 'pop'], [3, 'popitem'], [4, 'setdefault'],
    [6, 'incr'], [3, 'update'], [6, 'expire'], [3, 'persist'], [6, 'ttl'], [3, 'size'], [12, 'advance'],
  ])
  const show = (...args: unknown[]) => `${kind}(${args.map((a) => describeArg(a)).join(', ')})`
  switch (kind) {
    case 'set': {
      const which = rng.weighted<'default' | 'keep' | 'null' | 'ttl'>([[3, 'default'], [2, 'keep'], [1, 'null'], [4, 'ttl']])
      const ttl = rng.range(0, 40)
      const options = which === 'default' ? undefined : which === 'keep' ? { keepTtl: true }
        : which === 'null' ? { ttl: null } : { ttl }
      const expiry = which === 'default' ? 'default' : which === 'keep' ? 'keep' : which === 'null' ? null : ttl
      return [show(k, v, options), () => d.set(k, v, options), () => model.write(k, v, expiry)]
    }
    case 'get':
      return [show(k), () => d.get(k), () => m.get(k)?.v]
    case 'has':
      return [show(k), () => d.has(k), () => m.has(k)]
    case 'delete':
      return [show(k), () => d.delete(k), () => m.delete(k)]
    case 'pop':
      return [show(k, 'fb'), () => d.pop(k, 'fb'), () => {
        const e = m.get(k)
        m.delete(k)
        return e === undefined ? 'fb' : e.v
      }]
    case 'popitem':
      return [show(), () => d.popitem(), () => {
        const last = [...m.keys()].at(-1)
        if (last === undefined) throw new ModelError('KEY_NOT_FOUND')
        const entry = [last, m.get(last)!.v]
        m.delete(last)
        return entry
      }]
    case 'setdefault':
      return [show(k, v), () => d.setdefault(k, v), () => {
        if (!m.has(k)) model.write(k, v, 'default')
        return m.get(k)?.v
      }]
    case 'incr':
      return [show(k, 2), () => d.incr(k, 2), () => {
        const current = m.get(k)?.v
        if (current !== undefined && typeof current !== 'number') throw new ModelError('BAD_ARGUMENT')
        const next = (current ?? 0) + 2
        model.write(k, next, 'keep')
        return next
      }]
    case 'update': {
      const pairs: [Key, unknown][] = [[k, v], [rng.pick(KEYS.slice(0, 8)), v + 1]]
      return [show(pairs), () => d.update(pairs), () => {
        for (const [key, value] of pairs) model.write(key, value, 'keep')
      }]
    }
    case 'expire': {
      const ms = rng.range(0, 30)
      return [show(k, ms), () => d.expire(k, ms), () => {
        const e = m.get(k)
        if (e === undefined) return false
        model.write(k, e.v, ms)
        return true
      }]
    }
    case 'persist':
      return [show(k), () => d.persist(k), () => {
        const e = m.get(k)
        if (e === undefined || e.deadline === null) return false
        e.deadline = null
        return true
      }]
    case 'ttl':
      return [show(k), () => d.ttl(k), () => {
        const e = m.get(k)
        return e === undefined ? undefined : e.deadline === null ? Infinity : e.deadline - model.now
      }]
    case 'size':
      return [show(), () => d.size(), () => m.size]
    default: {
      const ms = rng.range(0, 25)
      return [show(ms), async () => clock.advance(ms), () => {
        model.now += ms
        model.purge()
      }]
    }
  }
}

const TTL_T0 = 1_700_000_000_000

/** Random operations on ttl tables (with and without a default ttl), the clock advanced among
 * them, against TtlModel. `open` gives a database whose host runs on `clock`. */
export function ttlPropertyContract(label: string, open: (clock: ManualClock) => Promise<Database>): void {
  describe(`ttl property contract (${label})`, () => {
    for (const seed of SEEDS) {
      for (const ttl of [undefined, 30]) {
        test(`random ttl operations agree with a reference model (seed ${seed}, table ttl ${ttl})`, async () => {
          const clock = manualClock(TTL_T0)
          await using db = await open(clock)
          const name = uniqueName('prop_ttl')
          await db.createDict(name, undefined, ttl === undefined ? undefined : { ttl })
          const d = db.dict(name)
          const model = new TtlModel(TTL_T0, ttl)
          const rng = new Rng(seed ^ (ttl ?? 0))
          await agree(() => ttlStep(rng, d, model, clock), async () => {
            model.purge()
            return [await d.entries(), [...model.m].map(([k, e]) => [k, e.v])]
          })
        })
      }
    }
  })
}
