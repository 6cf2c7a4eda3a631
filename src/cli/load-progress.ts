// The progress line of `cyberdb serve` while a large data file loads: nothing for a load under a
// second, then one line rewritten in place at most every second (a TTY only: a log file would
// collect a line per second).

import type { LoadProgress } from '../persistence/log-reader.ts'

export class ProgressLine {
  readonly #path: string
  readonly #write: (text: string) => void
  readonly #now: () => number
  readonly #everyMs: number
  #last: number
  #shown = false

  constructor(path: string, write: (text: string) => void,
    now: () => number = () => performance.now(), everyMs = 1000) {
    this.#path = path
    this.#write = write
    this.#now = now
    this.#everyMs = everyMs
    this.#last = now()
  }

  readonly report = (loaded: LoadProgress): void => {
    const now = this.#now()
    if (now - this.#last < this.#everyMs) return
    this.#last = now
    this.#shown = true
    const percent = loaded.totalBytes === 0 ? 100 : Math.floor((loaded.bytes / loaded.totalBytes) * 100)
    this.#write(`\rcyberdb: loading ${this.#path}: ${loaded.entries.toLocaleString('en-US')} entries, ` +
      `${percent}% of ${megabytes(loaded.totalBytes)}`)
  }

  /** Ends the line, if one was shown, so the next output starts on its own. */
  end(): void {
    if (this.#shown) this.#write('\n')
  }
}

function megabytes(bytes: number): string {
  return `${(bytes / (1 << 20)).toFixed(1)} MB`
}
