// A session's watches (issue 12): the push path. `db.watch` [options] registers a watcher of the
// host's feed and is answered on its own id, first with the seq it starts after, then with arrays
// of changes (packed: see pack()), whole commits each, until `watch.cancel` [id] (answered with null on the watch's id,
// the end) or an error (FEED_COMPACTED) ends it. Flow is by credit: a watch sends at most WINDOW
// changes the client has not asked again for (`watch.more` [id, n]), so a client that does not read
// costs the server at most WINDOW changes of output per watch; the rest stay in the host's history,
// where the watcher is caught up from when credit comes back, or ends with FEED_COMPACTED.

import { CyberError, badArgument } from '../errors.ts'
import type { Change, WatchOptions, Watcher } from '../host/feed.ts'
import { createCodec } from '../protocol/codec.ts'
import { WATCH_WINDOW } from '../protocol/messages.ts'

// Changes go out packed once, as one msgpack bin, for every watch that reads the same run of them
// (watchers of one table on many connections read the same objects from history): the second and
// later watches copy bytes instead of packing objects again. Keyed by the run's first change.
const codec = createCodec()
const packed = new WeakMap<Change, { last: Change; count: number; bytes: Uint8Array }>()

function pack(changes: Change[]): Uint8Array {
  const first = changes[0]!
  const last = changes.at(-1)!
  const known = packed.get(first)
  if (known !== undefined && known.last === last && known.count === changes.length) return known.bytes
  const bytes = codec.pack(changes)
  packed.set(first, { last, count: changes.length, bytes })
  return bytes
}

// Changes per pushed frame at most (a commit is never split, so a frame may hold more).
const FRAME_CHANGES = 128

/** Watches one connection may hold: each costs the server a watcher and up to a window of output. */
export const MAX_WATCHES = 1024

export const WATCH_OPS: ReadonlySet<string> = new Set(['db.watch', 'watch.more', 'watch.cancel'])

/** What the watches need of the session and the host. */
export interface WatchSink {
  watch(options: WatchOptions | undefined, wake: () => void): Watcher
  /** Sends a frame on `id` (ok: a result, else an error). */
  push(id: number, ok: boolean, payload: unknown): void
  /** The frames pushed since the last flush can leave. */
  flush(): void
}

interface Watch {
  readonly id: number
  readonly watcher: Watcher
  credit: number
}

export class Watches {
  readonly #sink: WatchSink
  readonly #watches = new Map<number, Watch>()

  constructor(sink: WatchSink) {
    this.#sink = sink
  }

  get size(): number {
    return this.#watches.size
  }

  /** Runs one watch request; answers on `id`. */
  request(id: number, name: string, args: unknown[]): void {
    try {
      if (name === 'db.watch') this.#start(id, args)
      else if (name === 'watch.more') this.#more(id, args)
      else this.#cancel(id, args)
    } catch (error) {
      const known = error instanceof CyberError ? error : badArgument(String((error as Error)?.message))
      this.#sink.push(id, false, known)
    }
    this.#sink.flush()
  }

  /** The session closed: every watch lets go, saying nothing (the client resumes elsewhere). */
  closeAll(): void {
    for (const watch of this.#watches.values()) watch.watcher.close()
    this.#watches.clear()
  }

  #start(id: number, args: unknown[]): void {
    if (args.length > 1) throw badArgument(`db.watch takes 0 or 1 arguments, not ${args.length}`)
    if (this.#watches.has(id)) throw badArgument(`watch ${id} exists already`)
    if (this.#watches.size >= MAX_WATCHES) {
      throw badArgument(`a connection holds at most ${MAX_WATCHES} watches: end one, or use another connection`)
    }
    let watch: Watch | undefined
    const watcher = this.#sink.watch(args[0] as WatchOptions | undefined, () => {
      if (watch !== undefined && this.#pump(watch)) this.#sink.flush()
    })
    watch = { id, watcher, credit: WATCH_WINDOW }
    this.#watches.set(id, watch)
    this.#sink.push(id, true, watcher.position)
    this.#pump(watch)
  }

  #more(id: number, args: unknown[]): void {
    const [watchId, n] = args
    const watch = this.#watches.get(watchId as number)
    this.#sink.push(id, true, null)
    if (watch === undefined) return // ended already: its end is on its way
    if (!Number.isSafeInteger(n) || (n as number) < 1) throw badArgument('watch.more takes a watch id and a count')
    watch.credit = Math.min(WATCH_WINDOW, watch.credit + (n as number))
    this.#pump(watch)
  }

  #cancel(id: number, args: unknown[]): void {
    const watch = this.#watches.get(args[0] as number)
    if (watch !== undefined) {
      this.#watches.delete(watch.id)
      watch.watcher.close()
      this.#sink.push(watch.id, true, null)
    }
    this.#sink.push(id, true, null)
  }

  // Sends what the watcher has, within its credit; true when it pushed something.
  #pump(watch: Watch): boolean {
    let pushed = false
    while (watch.credit > 0 && watch.watcher.hasMore) {
      let changes: Change[]
      try {
        changes = watch.watcher.read(Math.min(watch.credit, FRAME_CHANGES))
      } catch (error) {
        this.#watches.delete(watch.id)
        this.#sink.push(watch.id, false, error)
        return true
      }
      if (changes.length === 0) continue // commits its filter leaves out: read on
      watch.credit -= changes.length
      this.#sink.push(watch.id, true, pack(changes))
      pushed = true
    }
    return pushed
  }
}
