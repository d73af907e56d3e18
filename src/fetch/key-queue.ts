/**
 * Keys waiting for something to be done to them (the view's meta probes):
 * each key once, taken when ready, dropped when gone.
 */
export class KeyQueue<T> {
  readonly #keys = new Set<string>()

  add (key: string): void { this.#keys.add(key) }
  has (key: string): boolean { return this.#keys.has(key) }

  /** `ready(key)`: the item to take now, undefined to keep it waiting, null to drop it. */
  take (ready: (key: string) => T | undefined | null): T[] {
    const out: T[] = []
    for (const key of this.#keys) {
      const item = ready(key)
      if (item === undefined) continue
      this.#keys.delete(key)
      if (item !== null) out.push(item)
    }
    return out
  }
}
