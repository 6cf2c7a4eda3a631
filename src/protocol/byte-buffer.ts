// A growable byte buffer for encoders that append: frames bound for a socket, records bound for
// the operation log. It grows by doubling and is reused, so appending allocates nothing in the
// steady state.

export class ByteBuffer {
  protected bytes: Uint8Array
  protected view: DataView
  #length = 0

  constructor(initialBytes = 16 * 1024) {
    this.bytes = new Uint8Array(initialBytes)
    this.view = new DataView(this.bytes.buffer)
  }

  get length(): number {
    return this.#length
  }

  /** The bytes appended so far, as a view valid until the next append; empties the buffer. */
  take(): Uint8Array {
    const bytes = this.bytes.subarray(0, this.#length)
    this.#length = 0
    return bytes
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
