// db.watch() on one Redis node: every write script appends its logged op to one stream (the
// last three keys it is given: the stream, its seq counter, its length bound), at the next seq,
// so the stream is the feed in commit order for every table. A watch reads it from its own
// position with XREAD on a connection of its own, a batch per read of the caller (a watcher that
// stops reading stops reading Redis, and finds its place trimmed: FEED_COMPACTED, never a gap),
// and expands each commit into changes as the host does (changesOf). A Cluster has no one
// stream every table could write to in its own script: there, watch() is BAD_ARGUMENT.

import type { Packr } from 'msgpackr'
import type { Redis } from 'ioredis'
import { badArgument, CyberError } from '../errors.ts'
import type { Op } from '../engine/commands.ts'
import { ChangeStream, type Change, type WatchOptions } from '../client/change-stream.ts'
import { changesOf, checkWatch, feedCompacted } from '../host/feed.ts'

export const FEED_KEYS = ['cdb:{cdb}:feed', 'cdb:{cdb}:fseq', 'cdb:{cdb}:fhist'] as const
const [STREAM, SEQ] = FEED_KEYS

// Commits read per XREAD: what one read of a slow caller may hold in this client.
const BATCH = 64

type Filter = (change: Change) => boolean

export class RedisFeed {
  readonly #client: Redis
  readonly #duplicate: () => Redis
  readonly #codec: Packr
  readonly #streams = new Set<ChangeStream>()

  constructor(client: Redis, duplicate: () => Redis, codec: Packr) {
    this.#client = client
    this.#duplicate = duplicate
    this.#codec = codec
  }

  /** Watches open now. */
  get watching(): number {
    return this.#streams.size
  }

  /** The latest seq (what info() reports). */
  async seq(): Promise<number> {
    return Number(await this.#client.get(SEQ) ?? 0)
  }

  watch(options: WatchOptions | undefined): ChangeStream {
    const stream = new ChangeStream()
    let filter: Filter
    try {
      filter = checkWatch(options)
    } catch (error) {
      stream.fail(error as CyberError)
      return stream
    }
    // Read now, on the shared connection: ordered before every request this client sends after
    // watch(), so "from the next commit" means the next one after this call.
    const latest = this.#client.get(SEQ)
    const oldest = this.#client.xrange(STREAM, '-', '+', 'COUNT', 1)
    const connection = this.#duplicate()
    connection.on('error', () => {})
    let pulled = Promise.withResolvers<void>()
    let ended = false
    this.#streams.add(stream)
    stream.attach({
      pull: () => pulled.resolve(),
      end: () => {
        ended = true
        this.#streams.delete(stream)
        connection.disconnect()
        pulled.resolve()
      },
    })
    const run = async (): Promise<void> => {
      const seq = Number(await latest ?? 0)
      const first = await oldest
      const since = options?.since ?? seq
      if (since > seq) throw badArgument(`since ${since} is past the latest seq (${seq})`)
      const held = first.length > 0 ? seqOf(first[0]![0]) : seq + 1
      if (since < held - 1) throw feedCompacted(since, held)
      let position = since
      while (!ended) {
        await pulled.promise
        if (ended) return
        const reply = await connection.xreadBuffer('COUNT', BATCH, 'BLOCK', 0, 'STREAMS', STREAM, `0-${position}`)
        if (ended) return
        const changes: Change[] = []
        for (const [, entries] of reply ?? []) {
          for (const [id, fields] of entries) {
            const at = seqOf(id.toString())
            // History moved past this watcher's place: never a silent gap.
            if (at > position + 1) throw feedCompacted(position, at)
            const [table, name, args] = this.#codec.unpack(fields[1]!) as [string, string, unknown[]]
            const all: Change[] = []
            changesOf(at, { table, name, args } as Op, all)
            for (const change of all) if (filter(change)) changes.push(change)
            position = at
          }
        }
        if (changes.length > 0) {
          pulled = Promise.withResolvers()
          stream.push(changes)
        }
      }
    }
    run().catch((error) => {
      if (ended) return
      stream.fail(error instanceof CyberError ? error
        : new CyberError('CONNECTION_CLOSED', `redis: the watch's connection failed: ${String(error)}`, { cause: error }))
      this.#streams.delete(stream)
      connection.disconnect()
    })
    return stream
  }

  /** Ends every watch (the database closed). */
  close(): void {
    for (const stream of [...this.#streams]) stream.finish()
  }
}

function seqOf(id: string): number {
  return Number(id.slice(id.indexOf('-') + 1))
}

