import type { Bitfield } from '../content/index.js'

/**
 * Who holds each piece, among the peers whose have-sets count (banned and
 * demoted peers are taken out): a count per piece for the scheduler and a
 * holder set per piece, so a scheduling pass costs O(pieces) and a holder
 * lookup costs its holders, not the swarm — a pass runs on every event,
 * with a thousand peers.
 */
export class HolderIndex {
  /** Peers whose have-set is counted, with the location depth they were counted at. */
  readonly #counted = new Map<string, number>()
  #avail = new Uint16Array(0)
  #holdersOf: Array<Set<string>> = []
  /** Per depth d (0 … levels): how many counted holders of each piece share exactly d leading location segments with us. */
  #byDepth: Uint16Array[] = []
  #n = 0
  readonly #levels: number
  readonly #depthOf: (key: string) => number

  /**
   * `depthOf(key)`: how many leading location segments that peer shares with
   * us (`levels` = all of ours, the same location). Counting holders by depth
   * answers "where is the nearest copy of piece i" in O(levels); scanning
   * each piece's holders for it, on every pass and every claim list, was
   * most of a 100-engine simulation's time.
   */
  constructor (depthOf: (key: string) => number = () => 0, levels = 0) {
    this.#depthOf = depthOf
    this.#levels = levels
  }

  /** How many counted peers hold each piece. Read-only for callers. */
  get availability (): Uint16Array { return this.#avail }

  /** The piece count became known (or changed): everything is counted anew. */
  reset (n: number): void {
    this.#n = n
    this.#avail = new Uint16Array(n)
    this.#holdersOf = Array.from({ length: n }, () => new Set<string>())
    this.#byDepth = Array.from({ length: this.#levels + 1 }, () => new Uint16Array(n))
    this.#counted.clear()
  }

  isCounted (key: string): boolean { return this.#counted.has(key) }
  countedPeers (): IterableIterator<string> { return this.#counted.keys() }

  /** The deepest location group of ours in which a counted peer holds piece i (`levels`: our own location); -1 when nobody does. */
  nearestDepth (i: number): number {
    if (this.#avail[i] === 0) return -1
    for (let d = this.#levels; d >= 0; d--) if (this.#byDepth[d][i] > 0) return d
    return -1
  }

  /** Counted holders of each piece in our own location. Read-only for callers. */
  get localAvailability (): Uint16Array { return this.#byDepth[this.#levels] ?? this.#avail }

  /** Counts (+1) or uncounts (-1) every piece of a have-set. */
  count (key: string, have: Bitfield | undefined, sign: 1 | -1): void {
    if (have == null) return
    if (sign > 0) this.#counted.set(key, Math.max(0, Math.min(this.#levels, this.#depthOf(key))))
    const depth = this.#counted.get(key) ?? 0
    for (const i of have.indexes()) if (i < this.#n) this.#countPiece(key, i, sign, depth)
    if (sign < 0) this.#counted.delete(key)
  }

  /** A counted peer's have-set changed: count only the bits that differ (have-sets mostly grow by a piece or two). */
  countChange (key: string, old: Bitfield, next: Bitfield): void {
    for (let b = 0; b < next.bytes.length; b++) {
      const changed = old.bytes[b] ^ next.bytes[b]
      if (changed === 0) continue
      for (let bit = 0; bit < 8; bit++) {
        if ((changed & (0x80 >> bit)) === 0) continue
        const i = b * 8 + bit
        if (i < this.#n) this.#countPiece(key, i, next.get(i) ? +1 : -1, this.#counted.get(key) ?? 0)
      }
    }
  }

  /** A counted peer lost piece i. */
  uncountPiece (key: string, i: number): void {
    const depth = this.#counted.get(key)
    if (depth != null && this.#avail[i] > 0 && this.#holdersOf[i]?.has(key) === true) this.#countPiece(key, i, -1, depth)
  }

  holdersOf (i: number): ReadonlySet<string> | undefined {
    return this.#holdersOf[i]
  }

  /** Does any counted peer hold a piece we lack? */
  anyUsefulHolder (have: { get(i: number): boolean }): boolean {
    for (let i = 0; i < this.#avail.length; i++) if (this.#avail[i] > 0 && !have.get(i)) return true
    return false
  }

  #countPiece (key: string, i: number, sign: 1 | -1, depth: number): void {
    this.#avail[i] += sign
    this.#byDepth[depth][i] += sign
    if (sign > 0) this.#holdersOf[i].add(key)
    else this.#holdersOf[i].delete(key)
  }
}
