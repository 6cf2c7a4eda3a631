// The wire fuzzer: a CyberDB server in its own process, and many connections that authenticate
// (or send a mutated proof), then send valid request frames mutated every way a byte stream can be
// (flipped bytes, truncations, splices, random length prefixes, valid-then-garbage, hostile
// msgpack extensions), and whole requests built to expand or nest on the server (shared-reference
// graphs, Error cause chains, deep nesting). It counts what the server answers and watches for crashes (the process
// exits), hangs (a well-formed probe unanswered for 2 s) and memory (VmRSS). Seeded: the seed is
// printed, and `--seed N` replays a run (modulo timing).
// A second phase damages operation logs (bit flips in record headers, above all their length
// fields, bit flips anywhere, cuts) and checks that recovery either refuses with SNAPSHOT_CORRUPT
// leaving every file byte-identical, or recovers exactly a prefix of the writes that only a cut
// (or damage to the last record) can explain: never a silent loss in the middle.
//   bun bench/fuzz.ts [--seed N] [--frames 100000] [--seconds 170] [--concurrency 32] [--log-trials 500]
// --frames counts mutated frames (about as many valid ones go with them).

import type { Socket, Subprocess } from 'bun'
import { copyFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { connect, type Database } from '../src/index.ts'
import { COMMANDS } from '../src/engine/commands.ts'
import { Packr } from 'msgpackr'
import { CODEC_OPTIONS, createCodec } from '../src/protocol/codec.ts'
import { FrameReader, encodeFrame } from '../src/protocol/frame.ts'
import { authProof, decodeHello } from '../src/protocol/messages.ts'
import { CyberError } from '../src/errors.ts'
import { LOG_HEADER_BYTES, RECORD_HEADER_BYTES, logPath } from '../src/persistence/log-format.ts'
import { masterKey } from '../src/security/seal.ts'

const { values: options } = parseArgs({
  options: {
    seed: { type: 'string' },
    frames: { type: 'string', default: '100000' },
    seconds: { type: 'string', default: '170' },
    concurrency: { type: 'string', default: '32' },
    'log-trials': { type: 'string', default: '500' },
  },
})
const SEED = options.seed === undefined ? (Math.random() * 2 ** 32) >>> 0 : Number(options.seed) >>> 0
const TARGET_FRAMES = Number(options.frames)
const MAX_MS = Number(options.seconds) * 1000
const CONCURRENCY = Number(options.concurrency)
const LOG_TRIALS = Math.min(100_000, Number(options['log-trials']))
const LOG_RECORDS = 100
const PASSWORD = 'fuzz'
const PROBE_EVERY_MS = 1000
const HANG_MS = 2000
// How long a connection waits for its last answer before hanging up itself: a mutated length
// prefix legitimately leaves the server waiting for bytes that never come.
const QUIET_MS = 1000
const STALL_MS = 250
const MUTATION_RATE = 0.5
const HOSTILE_RATE = 0.02

const codec = createCodec()

// --- seeded randomness (mulberry32) ---

let state = SEED
function random(): number {
  state = (state + 0x6d2b79f5) >>> 0
  let t = state
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}
const int = (n: number) => Math.floor(random() * n)
const pick = <T>(items: readonly T[]): T => items[int(items.length)]!
const bytes = (n: number) => Uint8Array.from({ length: n }, () => int(256))

// --- valid requests ---

const KEYS = ['a', 'b', 'c', 'n', 'k1', 'k2', '__proto__', 'constructor', 0, 1, -1, 2 ** 31]

function value(depth = 0): unknown {
  const kinds = depth > 3 ? 6 : 11
  switch (int(kinds)) {
    case 0: return null
    case 1: return int(1000) - 500
    case 2: return random()
    case 3: return 'x'.repeat(int(40))
    case 4: return random() < 0.5
    case 5: return BigInt(int(1e9)) ** 3n
    case 6: return Array.from({ length: int(4) }, () => value(depth + 1))
    case 7: return Object.fromEntries(Array.from({ length: int(4) }, () => [String(pick(KEYS)), value(depth + 1)]))
    case 8: return new Map([[pick(KEYS), value(depth + 1)]])
    case 9: return new Set([value(depth + 1)])
    default: return bytes(int(16))
  }
}

/** Plausible arguments for an operation: mostly right, sometimes of the wrong type. */
function argsFor(name: string): unknown[] {
  const command = COMMANDS.get(name) ?? { minArgs: 0, maxArgs: 2 } // server.save, unknown names
  const max = Number.isFinite(command.maxArgs) ? command.maxArgs : 4
  const count = command.minArgs + int(max - command.minArgs + 1)
  return Array.from({ length: count }, (_, i) => {
    if (random() < 0.1) return value()
    if (name.endsWith('scan')) return i === 0 ? 0 : 1 + int(50)
    if (name === 'db.create') return i === 0 ? pick(['dict', 'list']) : i === 2 ? true : undefined
    if (name === 'list.sort') return { by: pick(['x', 'a.b', undefined]), descending: random() < 0.5 }
    if (name === 'list.extend' || name === 'dict.update') return [[pick(KEYS), value()]]
    if (name.startsWith('list.') && ['insert', 'pop', 'at', 'set', 'slice'].includes(name.slice(5)) && i === 0) {
      return int(10) - 5
    }
    if (name.startsWith('dict.') && i === 0) return pick(KEYS)
    return value()
  })
}

const NAMES = [...COMMANDS.keys(), 'server.save', 'nope', '__proto__']
let nextId = 1

function validRequest(): Uint8Array {
  const name = pick(NAMES)
  const table = name.startsWith('dict.') ? 'fuzz_dict' : name.startsWith('list.') ? 'fuzz_list'
    : name === 'db.create' ? `fuzz_${int(8)}` : name === 'db.drop' ? `fuzz_${int(8)}` : ''
  // Lists only grow by pushes; an occasional clear keeps the server's data (and RSS) bounded.
  if (random() < 0.02) return encodeFrame(codec.pack([nextId++, 'list.clear', 'fuzz_list', []]))
  return encodeFrame(codec.pack([nextId++, name, table, argsFor(name)]))
}

// --- mutations ---

const prefixed = (length: number, body: Uint8Array) => {
  const frame = new Uint8Array(4 + body.length)
  new DataView(frame.buffer).setUint32(0, length >>> 0)
  frame.set(body, 4)
  return frame
}

// msgpack heads a decoder must survive: never-used 0xc1, ext and record definitions, huge str,
// bin, array and map headers, and msgpackr's own extensions (bigint, Set, Map, Date, structures).
const HOSTILE_HEADS = [
  [0xc1], [0xd4, 0x72, 0x40], [0xd5, 0x72, 0x40, 0x41], [0xc7, 0x05, 0x72], [0xdb, 0xff, 0xff, 0xff, 0xff],
  [0xc6, 0x7f, 0xff, 0xff, 0xff], [0xdd, 0xff, 0xff, 0xff, 0xff], [0xdf, 0x7f, 0xff, 0xff, 0xff],
  [0xd4, 0x00, 0x00], [0xd6, 0xff, 0, 0, 0, 0], [0xc7, 0xff, 0x42], [0xc8, 0xff, 0xff, 0x73],
  [0xd4, 0x73, 0x90], [0xd4, 0x62, 0x00], [0x40], [0x7f], [0x91, 0x91, 0x91, 0x91],
  // Structured-clone id and pointer extensions: a shared-reference graph must never be decoded.
  [0xd6, 0x69, 0, 0, 0, 0], [0xd6, 0x70, 0, 0, 0, 0], [0xd4, 0x65, 0x00, 0x93, 0xa1, 0x45, 0xa0],
].map((head) => Uint8Array.from(head))

// --- whole hostile requests: values that would expand or nest on the server ---

// A packer that writes shared references (msgpackr's structured clone): packing the graph is
// linear here, but a server that decoded it would hold a DAG with 2^depth paths.
const graphPacker = new Packr({ ...CODEC_OPTIONS, structuredClone: true })

function sharedGraph(depth: number): unknown {
  let node: unknown = ['leaf']
  for (let i = 0; i < depth; i++) node = [node, node]
  return node
}

/** An Error whose `cause` chain is `depth` long, as msgpackr encodes Errors (ext 0x65, then
 * [name, message, cause]): written by hand, since encoding it with msgpackr recurses. */
function errorChain(depth: number): Uint8Array {
  const level = [0xd4, 0x65, 0x00, 0x93, 0xa5, ...new TextEncoder().encode('Error'), 0xa1, 0x78]
  const body = new Uint8Array(level.length * depth + 1)
  for (let i = 0; i < depth; i++) body.set(level, i * level.length)
  body[body.length - 1] = 0xc0 // the innermost cause: nil
  return body
}

/** A request frame [id, name, table, [key, <raw value bytes>]] around an already packed value. */
function requestAround(name: string, value: Uint8Array): Uint8Array {
  const head = codec.pack([nextId++, name, 'fuzz_dict', ['hostile', null]])
  // The packed request ends with the nil of its last argument: put the value in its place.
  const body = Buffer.concat([head.subarray(0, head.length - 1), value])
  return prefixed(body.length, body)
}

const HOSTILE_REQUESTS: [string, () => Uint8Array][] = [
  ['shared-reference graph', () => {
    const frame = graphPacker.pack([nextId++, pick(['dict.set', 'dict.setdefault']), 'fuzz_dict',
      ['dag', sharedGraph(20 + int(30))]])
    return prefixed(frame.length, frame)
  }],
  ['shared-reference graph in a list push', () => {
    const frame = graphPacker.pack([nextId++, 'list.push', 'fuzz_list', [sharedGraph(20 + int(30))]])
    return prefixed(frame.length, frame)
  }],
  ['Error cause chain', () => requestAround(pick(['dict.set', 'dict.setdefault']), errorChain(pick([101, 1000, 20_000])))],
  ['deep array nesting', () => {
    const depth = pick([101, 5000, 100_000])
    const nested = new Uint8Array(depth + 1).fill(0x91) // fixarray of one, `depth` times, then nil
    nested[depth] = 0xc0
    return requestAround('dict.set', nested)
  }],
]

type Mutation = (frame: Uint8Array) => Uint8Array

const MUTATIONS: [string, Mutation][] = [
  ['flip bytes in the body', (frame) => {
    const out = frame.slice()
    for (let i = 1 + int(4); i > 0 && out.length > 4; i--) out[4 + int(out.length - 4)]! ^= 1 << int(8)
    return out
  }],
  ['flip bytes anywhere', (frame) => {
    const out = frame.slice()
    for (let i = 1 + int(3); i > 0; i--) out[int(out.length)] = int(256)
    return out
  }],
  ['truncate', (frame) => frame.subarray(0, int(frame.length))],
  ['splice two frames', (frame) => {
    const other = validRequest()
    return Buffer.concat([frame.subarray(0, int(frame.length)), other.subarray(int(other.length))])
  }],
  ['random length prefix', (frame) => {
    const body = frame.subarray(4)
    const length = pick([int(16), body.length - 1, body.length + 1 + int(8), int(1 << 20),
      64 * 1024 * 1024 - int(2), 64 * 1024 * 1024 + 1, 0xffffffff])
    return prefixed(length, body)
  }],
  ['valid then garbage', (frame) => Buffer.concat([frame, bytes(1 + int(64))])],
  ['hostile msgpack head in the body', (frame) => {
    const body = frame.subarray(4)
    const at = int(body.length + 1)
    const spliced = Buffer.concat([body.subarray(0, at), pick(HOSTILE_HEADS), body.subarray(at)])
    return prefixed(spliced.length, spliced)
  }],
  ['random body', () => {
    const body = bytes(int(256))
    return prefixed(body.length, body)
  }],
  ['duplicate bytes', (frame) => {
    const at = int(frame.length)
    return Buffer.concat([frame.subarray(0, at), frame.subarray(at - int(8) < 0 ? 0 : at - int(8))])
  }],
]

function mutateProof(proof: Uint8Array): Uint8Array {
  switch (int(5)) {
    case 0: return prefixed(32, Uint8Array.from(proof, (b, i) => (i === int(32) ? b ^ 0xff : b)))
    case 1: return prefixed(31, proof.subarray(0, 31))
    case 2: return prefixed(33, Buffer.concat([proof, new Uint8Array([0])]))
    case 3: return prefixed(int(1 << 24), proof)
    default: return validRequest()
  }
}

// --- figures ---

const stats = {
  framesSent: 0,
  mutatedFrames: 0,
  validFrames: 0,
  connections: 0,
  mutatedProofs: 0,
  hostileRequests: {} as Record<string, number>,
  authenticated: 0,
  okReplies: 0,
  errorReplies: {} as Record<string, number>,
  connectionErrors: {} as Record<string, number>,
  closedByServer: 0,
  hungUpByFuzzer: 0,
  connectFailures: 0,
  crashes: 0,
  probes: 0,
  hangs: 0,
  internalErrorLines: 0,
  internalErrors: {} as Record<string, number>,
  rss: { startKiB: 0, peakKiB: 0, endKiB: 0 },
}
const count = (table: Record<string, number>, key: string) => void (table[key] = (table[key] ?? 0) + 1)

// --- the server process ---

interface Child {
  process: Subprocess<'pipe', 'pipe', 'pipe'>
  port: number
  exited: boolean
}

async function startServer(): Promise<Child> {
  const proc = Bun.spawn([process.execPath, 'bench/fixtures/fuzz-server.ts', PASSWORD], {
    stdin: 'pipe', stdout: 'pipe', stderr: 'pipe',
  })
  const reader = proc.stdout.getReader()
  let text = ''
  while (!text.includes('\n')) {
    const { value, done } = await reader.read()
    if (done) throw new Error('the fuzz server exited before printing its port')
    text += new TextDecoder().decode(value)
  }
  reader.releaseLock()
  const child: Child = { process: proc, port: JSON.parse(text.split('\n')[0]!).port, exited: false }
  void proc.exited.then(() => (child.exited = true))
  void (async () => {
    const decoder = new TextDecoder()
    for await (const chunk of proc.stderr) {
      const lines = decoder.decode(chunk).split('\n')
      stats.internalErrorLines += lines.filter((l) => l.includes('internal error')).length
      // The error line of each stack the server printed, e.g. "TypeError: ...", by count.
      for (const line of lines) {
        const error = /^\s*(\w*Error: .*)$/.exec(line)?.[1]
        if (error) count(stats.internalErrors, error)
      }
    }
  })()
  return child
}

function rssKiB(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0)
  } catch {
    return 0
  }
}

// --- one fuzzing connection ---

class Peer {
  readonly #reader = new FrameReader(0xffffffff)
  readonly #frames: Uint8Array[] = []
  #wake: (() => void) | undefined
  socket!: Socket<undefined>
  closed = false
  hungUp = false

  static async open(port: number): Promise<Peer | undefined> {
    const peer = new Peer()
    try {
      peer.socket = await Bun.connect({
        hostname: '127.0.0.1',
        port,
        socket: {
          data: (_socket, chunk) => {
            try {
              peer.#reader.push(chunk, (body) => void peer.#frames.push(body.slice()))
            } catch {
              peer.socket.terminate()
            }
            peer.#wake?.()
          },
          close: () => {
            peer.closed = true
            peer.#wake?.()
          },
          error: () => {
            peer.closed = true
            peer.#wake?.()
          },
        },
      })
    } catch {
      return undefined
    }
    return peer
  }

  /** Waits until a frame is in, the socket closed, or `ms` passed. */
  async wait(ms: number): Promise<void> {
    if (this.#frames.length > 0 || this.closed) return
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms)
      this.#wake = () => {
        clearTimeout(timer)
        resolve()
      }
    })
    this.#wake = undefined
  }

  /** The next frame, or undefined when the socket closed or `ms` passed quietly. */
  async next(ms: number): Promise<Uint8Array | undefined> {
    await this.wait(ms)
    return this.#frames.shift()
  }

  get hasFrames(): boolean {
    return this.#frames.length > 0
  }

  /** Counts every reply received so far; returns whether `id` was among them. */
  drain(id = -1): boolean {
    let seen = false
    for (const frame of this.#frames.splice(0)) {
      let reply: unknown
      try {
        reply = codec.unpack(frame)
      } catch {
        count(stats.errorReplies, 'UNDECODABLE_REPLY')
        continue
      }
      if (countReply(reply, id)) seen = true
    }
    return seen
  }

  write(bytes: Uint8Array): void {
    if (!this.closed) this.socket.write(bytes)
  }

  hangUp(): void {
    if (this.closed) return
    this.hungUp = true
    this.socket.terminate()
  }
}

async function fuzzConnection(port: number): Promise<void> {
  const peer = await Peer.open(port)
  if (peer === undefined) {
    stats.connectFailures++
    return
  }
  stats.connections++
  const first = await peer.next(3000)
  const hello = first && decodeHello(first)
  if (!hello) {
    if (first) {
      peer.drain() // not a hello: the refusal frame
      const reply = codec.unpack(first) as [number, number, [string]]
      count(stats.connectionErrors, `${reply[2]?.[0]} (instead of the hello)`)
    }
    peer.hangUp()
    return
  }
  const proof = authProof(masterKey(PASSWORD), hello.nonce)
  let authed = false
  if (random() < 0.08) {
    stats.mutatedProofs++
    peer.write(mutateProof(proof))
    stats.framesSent++
  } else {
    peer.write(encodeFrame(proof))
    const answer = await peer.next(3000)
    if (answer) {
      const [, status, payload] = codec.unpack(answer) as [number, number, [string]]
      authed = status === 0
      if (!authed) count(stats.connectionErrors, String(payload?.[0]))
    }
    if (authed) stats.authenticated++
  }
  // Valid and mutated request frames, in bursts of one socket write each.
  const frames = authed ? 20 + int(80) : int(4)
  for (let sent = 0; sent < frames && !peer.closed; ) {
    const burst: Uint8Array[] = []
    for (let i = 1 + int(8); i > 0 && sent < frames; i--, sent++) {
      const frame = validRequest()
      if (random() < HOSTILE_RATE) {
        const [kind, make] = pick(HOSTILE_REQUESTS)
        count(stats.hostileRequests, kind)
        burst.push(make())
      } else if (random() < MUTATION_RATE) {
        stats.mutatedFrames++
        burst.push(pick(MUTATIONS)[1](frame))
      } else {
        stats.validFrames++
        burst.push(frame)
      }
    }
    peer.write(Buffer.concat(burst))
    stats.framesSent += burst.length
    // Every complete request is answered; no answer at all means a mutated length prefix left
    // the server waiting for bytes, so what we sent after it is part of that frame's body.
    await peer.wait(STALL_MS)
    if (!peer.hasFrames && !peer.closed) break
    peer.drain()
  }
  // A well-formed last request: answered, or the stream was left waiting by a mutation.
  const lastId = nextId++
  peer.write(encodeFrame(codec.pack([lastId, 'dict.get', 'probe', ['probe']])))
  let answered = false
  while (!answered && !peer.closed) {
    await peer.wait(QUIET_MS)
    if (!peer.hasFrames) break
    answered = peer.drain(lastId)
  }
  peer.drain()
  if (peer.closed && !peer.hungUp) stats.closedByServer++
  else {
    stats.hungUpByFuzzer++
    peer.hangUp()
  }
}

/** Counts one reply by outcome; returns whether it answers request `id`. */
function countReply(reply: unknown, id: number): boolean {
  if (!Array.isArray(reply) || reply.length !== 3) {
    count(stats.errorReplies, 'MALFORMED_REPLY')
    return false
  }
  const [replyId, status, payload] = reply as [number, number, [string]]
  if (status === 0) stats.okReplies++
  else if (replyId === 0) count(stats.connectionErrors, String(payload?.[0]))
  else count(stats.errorReplies, String(payload?.[0]))
  return replyId === id
}

// --- damaged operation logs ---

/** Record offsets of a log file: where each record's header starts, and the end. */
function recordOffsets(log: Uint8Array): number[] {
  const view = new DataView(log.buffer, log.byteOffset, log.byteLength)
  const offsets: number[] = []
  for (let at = LOG_HEADER_BYTES; at + RECORD_HEADER_BYTES <= log.length && offsets.length <= LOG_RECORDS;) {
    offsets.push(at)
    at += RECORD_HEADER_BYTES + view.getUint32(at)
  }
  return offsets
}

function filesOf(dir: string): Map<string, Buffer> {
  return new Map(readdirSync(dir).sort().map((name) => [name, readFileSync(join(dir, name))]))
}

function sameFiles(a: Map<string, Buffer>, b: Map<string, Buffer>): boolean {
  if (a.size !== b.size) return false
  for (const [name, bytes] of a) if (!b.get(name)?.equals(bytes)) return false
  return true
}

/**
 * Writes LOG_RECORDS sets (k0 = 0, k1 = 1, ...) to a file: database under durability=always,
 * copies its files while it is open (so the log holds every write), then damages copies of them.
 */
async function fuzzLogs() {
  const figures = {
    trials: 0, refused: 0, recoveredAll: 0, recoveredPrefix: 0, silentLosses: 0,
    touchedWhenRefused: 0, otherErrors: {} as Record<string, number>,
  }
  if (LOG_TRIALS <= 0) return figures
  const root = mkdtempSync(join(tmpdir(), 'cyberdb-logfuzz-'))
  try {
    const source = join(root, 'source')
    const pristine = join(root, 'pristine')
    for (const dir of [source, pristine]) Bun.spawnSync(['mkdir', '-p', dir])
    const db = await connect(`file:${join(source, 'data.cdb')}?durability=always`)
    await db.createDict('t')
    for (let i = 0; i < LOG_RECORDS; i++) await db.dict('t').set(`k${i}`, i)
    for (const name of readdirSync(source)) if (!name.endsWith('.lock')) copyFileSync(join(source, name), join(pristine, name))
    await db.close()
    const log = readFileSync(logPath(join(pristine, 'data.cdb')))
    const offsets = recordOffsets(log)
    const setOffsets = offsets.slice(-LOG_RECORDS) // the first record is the table's creation
    const quiet = console.warn
    console.warn = () => {} // "dropping a torn last record", once per cut trial
    try {
      for (let trial = 0; trial < LOG_TRIALS; trial++) {
        const dir = join(root, `trial-${trial}`)
        Bun.spawnSync(['cp', '-r', pristine, dir])
        const damaged = Buffer.from(log)
        // What the damage leaves whole: a cut keeps the records before it; a flip may cost the
        // record it hits and (as a torn tail) nothing else, and only if that record is the last.
        let intactSets = LOG_RECORDS
        let damagedRecord = -1
        const kind = int(3)
        if (kind === 0 || kind === 1) {
          const record = int(setOffsets.length)
          const at = kind === 0 ? setOffsets[record]! + int(4) // a length field
            : setOffsets[record]! + int((setOffsets[record + 1] ?? log.length) - setOffsets[record]!)
          damaged[at]! ^= 1 << int(8)
          damagedRecord = record
        } else {
          const cut = LOG_HEADER_BYTES + int(log.length - LOG_HEADER_BYTES)
          intactSets = setOffsets.filter((_, i) => (setOffsets[i + 1] ?? log.length) <= cut).length
          writeFileSync(join(dir, 'data.cdb.log'), damaged.subarray(0, cut))
        }
        if (kind !== 2) writeFileSync(join(dir, 'data.cdb.log'), damaged)
        const before = filesOf(dir)
        figures.trials++
        let keys: unknown[] | undefined
        try {
          const copy = await connect(`file:${join(dir, 'data.cdb')}`)
          // A cut inside the table's own creation record leaves no table: a prefix of nothing.
          const exists = (await copy.tables()).some((table) => table.name === 't')
          keys = exists ? await copy.dict('t').keys() : []
          await copy.close()
        } catch (error) {
          if (error instanceof CyberError && error.code === 'SNAPSHOT_CORRUPT') {
            figures.refused++
            if (!sameFiles(before, filesOf(dir))) figures.touchedWhenRefused++
          } else {
            count(figures.otherErrors, String((error as CyberError).code ?? error))
          }
        }
        if (keys !== undefined) {
          const n = keys.length
          const isPrefix = keys.every((k, i) => k === `k${i}`)
          const explained = kind === 2 ? n === intactSets
            : n === LOG_RECORDS || (damagedRecord === LOG_RECORDS - 1 && n === LOG_RECORDS - 1)
          if (!isPrefix || !explained) {
            figures.silentLosses++
            console.error(`log trial ${trial} (kind ${kind}): recovered ${n} of ${LOG_RECORDS} sets`)
          } else if (n === LOG_RECORDS) figures.recoveredAll++
          else figures.recoveredPrefix++
        }
        rmSync(dir, { recursive: true, force: true })
      }
    } finally {
      console.warn = quiet
    }
  } finally {
    rmSync(root, { recursive: true, force: true })
  }
  return figures
}

// --- the run ---

console.log(`fuzz: seed ${SEED} (replay with --seed ${SEED}), ${TARGET_FRAMES} mutated frames, at most ${MAX_MS / 1000} s, ` +
  `${CONCURRENCY} connections at once`)
let child = await startServer()
const startedAt = performance.now()
stats.rss.startKiB = rssKiB(child.process.pid)
stats.rss.peakKiB = stats.rss.startKiB

const sampler = setInterval(() => {
  const rss = rssKiB(child.process.pid)
  if (rss > stats.rss.peakKiB) stats.rss.peakKiB = rss
}, 200)

let probeDb: Database | undefined
let probing = false
const prober = setInterval(async () => {
  if (probing) return
  probing = true
  stats.probes++
  const url = `cyberdb://:${PASSWORD}@127.0.0.1:${child.port}?pool=1&connectTimeout=2`
  let timer: Timer | undefined
  const timeout = new Promise<'hang'>((resolve) => (timer = setTimeout(() => resolve('hang'), HANG_MS)))
  const probe = (async () => {
    probeDb ??= await connect(url)
    return probeDb.dict('probe').get('probe')
  })().catch((error) => `error: ${error.code ?? error}`)
  const outcome = await Promise.race([probe, timeout])
  clearTimeout(timer)
  if (outcome !== 'still here') {
    stats.hangs++
    console.error(`probe ${stats.probes}: ${outcome} after ${((performance.now() - startedAt) / 1000).toFixed(1)} s`)
    void probeDb?.close().catch(() => {})
    probeDb = undefined
  }
  probing = false
}, PROBE_EVERY_MS)

let lastReport = performance.now()
async function worker(): Promise<void> {
  while (stats.mutatedFrames < TARGET_FRAMES && performance.now() - startedAt < MAX_MS) {
    if (child.exited) {
      stats.crashes++
      console.error(`the server exited (code ${child.process.exitCode}) after ${stats.framesSent} frames: restarting`)
      probeDb = undefined
      child = await startServer()
    }
    await fuzzConnection(child.port)
    if (performance.now() - lastReport > 10_000) {
      lastReport = performance.now()
      console.log(`  ${((lastReport - startedAt) / 1000).toFixed(0)} s: ${stats.mutatedFrames} mutated frames ` +
        `of ${stats.framesSent}, ` +
        `${stats.connections} connections, RSS ${(rssKiB(child.process.pid) / 1024).toFixed(1)} MiB`)
    }
  }
}
await Promise.all(Array.from({ length: CONCURRENCY }, worker))
clearInterval(prober)
clearInterval(sampler)
// Let the server settle (closed sockets freed, a GC) before the last memory reading.
await probeDb?.close().catch(() => {})
await Bun.sleep(2000)
stats.rss.endKiB = rssKiB(child.process.pid)
if (child.exited) stats.crashes++
const seconds = (performance.now() - startedAt) / 1000
child.process.kill('SIGTERM')
await child.process.exited

const logs = await fuzzLogs()
console.log(JSON.stringify({ seed: SEED, seconds: Number(seconds.toFixed(1)), ...stats, logs }, null, 2))
const ok = stats.crashes === 0 && stats.hangs === 0 && stats.internalErrorLines === 0 &&
  stats.mutatedFrames >= TARGET_FRAMES && logs.silentLosses === 0 && logs.touchedWhenRefused === 0
console.log(ok ? 'fuzz: no crash, no hang, no internal error' : 'fuzz: FAILED (see the figures above)')
process.exit(ok ? 0 : 1)
