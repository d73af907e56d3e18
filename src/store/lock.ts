/**
 * A keyed reader/writer lock. Piece writes of one blob share it (positional
 * writes to one file are safe in parallel); complete, delete and eviction
 * take it alone so they never race a write.
 */
interface Entry { readers: number, writer: boolean, queue: Array<{ exclusive: boolean, go: () => void }> }

export class KeyedRwLock {
  readonly #entries = new Map<string, Entry>()

  async shared<T> (key: string, fn: () => Promise<T>): Promise<T> {
    await this.#take(key, false)
    try { return await fn() } finally { this.#release(key, false) }
  }

  async exclusive<T> (key: string, fn: () => Promise<T>): Promise<T> {
    await this.#take(key, true)
    try { return await fn() } finally { this.#release(key, true) }
  }

  async #take (key: string, exclusive: boolean): Promise<void> {
    let e = this.#entries.get(key)
    if (e == null) { e = { readers: 0, writer: false, queue: [] }; this.#entries.set(key, e) }
    // FIFO: a waiting exclusive holder is not starved by a stream of shared ones
    if (e.queue.length === 0 && this.#can(e, exclusive)) { this.#grant(e, exclusive); return }
    await new Promise<void>(resolve => e.queue.push({ exclusive, go: resolve }))
  }

  #can (e: Entry, exclusive: boolean): boolean {
    return exclusive ? !e.writer && e.readers === 0 : !e.writer
  }

  #grant (e: Entry, exclusive: boolean): void {
    if (exclusive) e.writer = true; else e.readers++
  }

  #release (key: string, exclusive: boolean): void {
    const e = this.#entries.get(key)
    if (e == null) return
    if (exclusive) e.writer = false; else e.readers--
    while (e.queue.length > 0 && this.#can(e, e.queue[0].exclusive)) {
      const next = e.queue.shift()
      if (next == null) break
      this.#grant(e, next.exclusive)
      next.go()
    }
    if (!e.writer && e.readers === 0 && e.queue.length === 0) this.#entries.delete(key)
  }
}
