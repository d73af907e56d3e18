import type { RemotePeer } from './types.js'

/** What the vouchers need from the view: its peers and the ban list. */
export interface VoucherPeers {
  get(key: string): RemotePeer | undefined
  all(): Iterable<RemotePeer>
  isBanned(key: string): boolean
}

/** Does the peer hold a piece whose digest is neither trusted here nor vouched for by it? Then it is worth asking (a meta request). */
export function lacksDigest (p: RemotePeer, trusted: Array<Uint8Array | undefined>): boolean {
  const have = p.have!
  for (let b = 0; b < have.bytes.length; b++) {
    if (have.bytes[b] === 0) continue
    for (let i = b * 8; i < Math.min(have.length, b * 8 + 8); i++) {
      if (have.get(i) && trusted[i] == null && !p.claimed.has(i)) return true
    }
  }
  return false
}

/**
 * The piece digests peers vouched for (`RemotePeer.claimed`), with a hint
 * per piece — the first peer heard vouching for it — so finding some
 * voucher is O(1) on the scheduling path.
 */
export class Vouchers {
  readonly #peers: VoucherPeers
  /** Piece → a peer that vouched for its digest (a hint, checked on use). */
  readonly #some = new Map<number, string>()

  constructor (peers: VoucherPeers) {
    this.#peers = peers
  }

  vouch (p: RemotePeer, i: number, digest: Uint8Array): void {
    p.claimed.set(i, digest)
    if (!this.#some.has(i)) this.#some.set(i, p.key)
  }

  /** Origin bytes are the reference: drops (and returns) the peers that vouched for another digest of piece i. */
  contradicted (i: number, digest: Uint8Array, equal: (a: Uint8Array, b: Uint8Array) => boolean): RemotePeer[] {
    const liars: RemotePeer[] = []
    for (const p of this.#peers.all()) {
      const claim = p.claimed.get(i)
      if (claim != null && !equal(claim, digest)) {
        p.claimed.delete(i)
        liars.push(p)
      }
    }
    return liars
  }

  /** Would `voucher(i)` find one? The same answer, with nothing repaired (a scheduling pass asks it for pieces it then leaves alone). */
  has (i: number): boolean {
    const known = this.#some.get(i)
    if (known == null) return false
    const kp = this.#peers.get(known)
    if (kp?.claimed.get(i) != null && !this.#peers.isBanned(kp.key)) return true
    for (const p of this.#peers.all()) if (p.claimed.get(i) != null && !this.#peers.isBanned(p.key)) return true
    return false
  }

  /**
   * A peer that vouched for a digest of piece i, preferring `first`: a piece
   * relayed by a peer that did not vouch for it is checked against the claim
   * of one that did, and attributed to it (docs/security.md, "Trust rule").
   */
  voucher (i: number, first?: RemotePeer): { key: string, digest: Uint8Array } | undefined {
    const own = first?.claimed.get(i)
    if (first != null && own != null) return { key: first.key, digest: own }
    // the first peer heard vouching for it, while it still does
    const known = this.#some.get(i)
    const kp = known == null ? undefined : this.#peers.get(known)
    const kd = kp?.claimed.get(i)
    if (kp != null && kd != null && !this.#peers.isBanned(kp.key)) return { key: kp.key, digest: kd }
    this.#some.delete(i)
    if (known == null) return undefined
    for (const p of this.#peers.all()) {
      const d = p.claimed.get(i)
      if (d != null && !this.#peers.isBanned(p.key)) { this.#some.set(i, p.key); return { key: p.key, digest: d } }
    }
    return undefined
  }
}
