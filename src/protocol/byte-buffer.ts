// A growable byte buffer for encoders that append: frames bound for a socket, records bound for
// the operation log. It grows by doubling and is reused, so appending allocates nothing in the
// steady state; after a large batch its owner calls shrink(), so one big reply does not pin its
// size for the life of a connection.

// A buffer emptied while larger than this goes back to its first size: ordinary batches fit in
// it, and 10,000 idle connections that once sent 30 MiB keep 10,000 small buffers, not 300 GB.
export const KEEP_BYTES = 256 * 1024

export class ByteBuffer {
  protected bytes: Uint8Array
  protected view: DataView
  readonly #initialBytes: number
  #length = 0

  constructor(initialBytes = 16 * 1024) {
    this.#initialBytes = initialBytes
    this.bytes = new Uint8Array(initialBytes)
    this.view = new DataView(this.bytes.buffer)
  }

  get length(): number {
    return this.#length
  }

  /** Bytes of memory the buffer holds, used or not. */
  get capacity(): number {
    return this.bytes.length
  }

  /** The bytes appended so far, as a view valid until the next append; empties the buffer. */
  take(): Uint8Array {
    const bytes = this.bytes.subarray(0, this.#length)
    this.#length = 0
    return bytes
  }

  /** Once empty, gives back memory past KEEP_BYTES. Call it when the last take() is no longer
   * read. */
  shrink(): void {
    if (this.#length === 0 && this.bytes.length > KEEP_BYTES) this.release()
  }

  /** Hands the memory behind the last take() to its caller (who keeps that view as it is) and
   * starts afresh: what the socket did not take is then held without a copy. */
  release(): void {
    if (this.#length !== 0) throw new Error('release() of a buffer that is not empty')
    this.bytes = new Uint8Array(this.#initialBytes)
    this.view = new DataView(this.bytes.buffer)
  }

  /** Drops what was appended past `length` (a reserve() that was not all used). */
  protected truncate(length: number): void {
    if (length > this.#length) throw new Error('truncate() past the end')
    this.#length = length
  }

  /** Makes room for `count` more bytes and returns where they start. It may replace `bytes` and
   * `view`, so read them after calling it. */
  protected reserve(count: number): number {
    const at = this.#length
    const needed = at + count
    if (needed > this.bytes.length) {
      const grown = new Uint8Array(Math.max(needed, this.bytes.length * 2))
      grown.set(this.bytes.subarray(0, at))
      this.bytes = grown
      this.view = new DataView(grown.buffer)
    }
    this.#length = needed
    return at
  }
}
