import type { Bitfield } from '../content/index.js'

/**
 * Who holds each piece, among the peers whose have-sets count (banned and
 * demoted peers are taken out): a count per piece for the scheduler and a
 * holder set per piece, so a scheduling pass costs O(pieces) and a holder
 * lookup costs its holders, not the swarm — a pass runs on every event,
 * with a thousand peers.
 */
export class HolderIndex {
  /** Peers whose have-set is counted. */
  readonly #counted = new Set<string>()
  #avail = new Uint16Array(0)
  #holdersOf: Array<Set<string>> = []
  #n = 0

  /** How many counted peers hold each piece. Read-only for callers. */
  get availability (): Uint16Array { return this.#avail }

  /** The piece count became known (or changed): everything is counted anew. */
  reset (n: number): void {
    this.#n = n
    this.#avail = new Uint16Array(n)
    this.#holdersOf = Array.from({ length: n }, () => new Set<string>())
    this.#counted.clear()
  }

  isCounted (key: string): boolean { return this.#counted.has(key) }
  countedPeers (): IterableIterator<string> { return this.#counted.values() }

  /** Counts (+1) or uncounts (-1) every piece of a have-set. */
  count (key: string, have: Bitfield | undefined, sign: 1 | -1): void {
    if (have == null) return
    for (const i of have.indexes()) if (i < this.#n) this.#countPiece(key, i, sign)
    if (sign > 0) this.#counted.add(key)
    else this.#counted.delete(key)
  }

  /** A counted peer's have-set changed: count only the bits that differ (have-sets mostly grow by a piece or two). */
  countChange (key: string, old: Bitfield, next: Bitfield): void {
    for (let b = 0; b < next.bytes.length; b++) {
      const changed = old.bytes[b] ^ next.bytes[b]
      if (changed === 0) continue
      for (let bit = 0; bit < 8; bit++) {
        if ((changed & (0x80 >> bit)) === 0) continue
        const i = b * 8 + bit
        if (i < this.#n) this.#countPiece(key, i, next.get(i) ? +1 : -1)
      }
    }
  }

  /** A counted peer lost piece i. */
  uncountPiece (key: string, i: number): void {
    if (this.#counted.has(key) && this.#avail[i] > 0 && this.#holdersOf[i]?.has(key) === true) this.#countPiece(key, i, -1)
  }

  holdersOf (i: number): ReadonlySet<string> | undefined {
    return this.#holdersOf[i]
  }

  /** Does any counted peer hold a piece we lack? */
  anyUsefulHolder (have: { get(i: number): boolean }): boolean {
    for (let i = 0; i < this.#avail.length; i++) if (this.#avail[i] > 0 && !have.get(i)) return true
    return false
  }

  #countPiece (key: string, i: number, sign: 1 | -1): void {
    this.#avail[i] += sign
    if (sign > 0) this.#holdersOf[i].add(key)
    else this.#holdersOf[i].delete(key)
  }
}
