import { createHash } from 'node:crypto'

/**
 * Rendezvous (highest-random-weight) hashing: every node that knows the same
 * candidate set computes the same owner for piece i of blob B, with no
 * coordination. score(peer, i) mixes a per-(peer, blob) sha256 with the piece
 * index through a 32-bit finaliser, so ranking N peers for P pieces costs
 * N sha256s, not N×P.
 */
export class Rendezvous {
  readonly #hex: string
  readonly #base = new Map<string, number>()

  constructor (blobHex: string) {
    this.#hex = blobHex
  }

  #baseOf (peer: string): number {
    let b = this.#base.get(peer)
    if (b == null) {
      b = createHash('sha256').update(peer).update('\0').update(this.#hex).digest().readUInt32BE(0)
      this.#base.set(peer, b)
    }
    return b
  }

  score (peer: string, index: number): number {
    return mix32(this.#baseOf(peer) ^ pieceMix(index))
  }

  /** The peers' per-blob hashes, for `countAbove` (one map lookup per peer instead of one per peer and piece). */
  bases (peers: readonly string[]): Uint32Array {
    return Uint32Array.from(peers, p => this.#baseOf(p))
  }

  /**
   * How many of `peers` (with their `bases`) rank above `self` for piece
   * `index`: `position` over a prepared set. Ranking a thousand candidates
   * for every piece was a fifth of a 1,000-engine simulation's start.
   */
  countAbove (peers: readonly string[], bases: Uint32Array, self: string, index: number): number {
    const mine = this.score(self, index)
    const m = pieceMix(index)
    let pos = 0
    for (let k = 0; k < bases.length; k++) {
      const s = mix32(bases[k] ^ m)
      if (s > mine || (s === mine && peers[k] < self)) pos++
    }
    return pos
  }

  /** A number in [0, 1) fixed per (peer, blob, piece): this node's jitter for the piece, the same on every run. */
  unit (peer: string, index: number): number {
    return mix32(this.score(peer, index) ^ 0x5bd1e995) / 2 ** 32
  }

  /** Candidates ordered best first (ties broken by peer id, so every node agrees). */
  rank (peers: Iterable<string>, index: number): string[] {
    return [...peers]
      .map(p => ({ p, s: this.score(p, index) }))
      .sort((a, b) => b.s - a.s || (a.p < b.p ? -1 : 1))
      .map(x => x.p)
  }

  /** Does `peer` rank above `self` for piece `index` (whose score is `mine`)? Ties go to the smaller id. */
  outranks (peer: string, self: string, index: number, mine: number): boolean {
    const s = this.score(peer, index)
    return s > mine || (s === mine && peer < self)
  }

  /** Position of `self` in the ranking (0 = owner). */
  position (self: string, peers: Iterable<string>, index: number): number {
    const mine = this.score(self, index)
    let pos = 0
    for (const p of peers) {
      if (p === self) continue
      const s = this.score(p, index)
      if (s > mine || (s === mine && p < self)) pos++
    }
    return pos
  }
}

/** The piece's half of a score. */
function pieceMix (index: number): number {
  return mix32(Math.imul(index + 1, 0x9e3779b1))
}

/** murmur3's 32-bit finaliser: good avalanche, unsigned result. */
function mix32 (h: number): number {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}
