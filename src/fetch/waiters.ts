/**
 * The streaming readers of one download: where each one is (so the
 * scheduler fetches their next pieces first) and who waits for which piece.
 */
export class DownloadReaders {
  readonly #positions = new Set<{ next: number }>()
  readonly #waiters = new Map<number, Array<() => void>>()

  positions (): number[] {
    return [...this.#positions].map(r => r.next)
  }

  at (piece: number, moved: () => void): { moveTo(piece: number): void, close(): void } {
    const reader = { next: piece }
    this.#positions.add(reader)
    return {
      moveTo: (p) => { reader.next = p; moved() },
      close: () => { this.#positions.delete(reader) }
    }
  }

  /** Resolves when `arrived(i)` or `releaseAll()` is called. */
  async wait (i: number): Promise<void> {
    await new Promise<void>(resolve => {
      const list = this.#waiters.get(i) ?? []
      list.push(resolve)
      this.#waiters.set(i, list)
    })
  }

  arrived (i: number): void {
    for (const w of this.#waiters.get(i) ?? []) w()
    this.#waiters.delete(i)
  }

  releaseAll (): void {
    for (const list of this.#waiters.values()) for (const w of list) w()
    this.#waiters.clear()
  }
}
