// Recency of a bounded dict table's keys, for exact LRU eviction: a doubly linked list of nodes
// (least recently used at the head) with a Map from key to node. A use moves a node to the tail
// with a few pointer writes: cheaper than re-inserting the key in an ordered Map (a delete and a
// set, whose tombstones the Map must later rehash away), which cost a get 3-5x more.

import type { Key } from './values.ts'

interface Node {
  readonly key: Key
  prev: Node | undefined
  next: Node | undefined
}

export class Lru {
  readonly #nodes = new Map<Key, Node>()
  #head: Node | undefined
  #tail: Node | undefined

  get size(): number {
    return this.#nodes.size
  }

  /** Marks `key` as the most recently used, adding it when new. */
  touch(key: Key): void {
    const node = this.#nodes.get(key)
    if (node === undefined) {
      const added: Node = { key, prev: this.#tail, next: undefined }
      if (this.#tail === undefined) this.#head = added
      else this.#tail.next = added
      this.#tail = added
      this.#nodes.set(key, added)
      return
    }
    if (node === this.#tail) return
    this.#unlink(node)
    node.prev = this.#tail
    node.next = undefined
    this.#tail!.next = node
    this.#tail = node
  }

  delete(key: Key): void {
    const node = this.#nodes.get(key)
    if (node === undefined) return
    this.#nodes.delete(key)
    this.#unlink(node)
  }

  clear(): void {
    this.#nodes.clear()
    this.#head = undefined
    this.#tail = undefined
  }

  /** Keys from least to most recently used. */
  *keys(): Generator<Key> {
    for (let node = this.#head; node !== undefined; node = node.next) yield node.key
  }

  #unlink(node: Node): void {
    if (node.prev === undefined) this.#head = node.next
    else node.prev.next = node.next
    if (node.next === undefined) this.#tail = node.prev
    else node.next.prev = node.prev
  }
}
