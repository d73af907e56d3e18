import { SLOW_PEER_MAX_UPLOADS, SLOW_PEER_MS, SLOW_PEERS_REMEMBERED } from './limits.js'

/**
 * Upload slots: how many pieces this node serves at once, in total and per
 * peer. A request that finds no slot is answered BUSY at once rather than
 * queued, so the downloader asks another holder instead of waiting here.
 * A peer whose upload was cut for reading too slowly gets at most
 * SLOW_PEER_MAX_UPLOADS slots for SLOW_PEER_MS (deprioritised, not struck).
 */
export class UploadSlots {
  readonly #max: number
  readonly #maxPerPeer: number
  readonly #perPeer = new Map<string, number>()
  /** Peer → until when it counts as slow (insertion order = oldest first). */
  readonly #slow = new Map<string, number>()
  readonly #now: () => number
  #active = 0

  constructor (max: number, maxPerPeer: number, now: () => number = Date.now) {
    this.#max = max
    this.#maxPerPeer = maxPerPeer
    this.#now = now
  }

  get active (): number { return this.#active }

  tryAcquire (peer: string): boolean {
    const mine = this.#perPeer.get(peer) ?? 0
    if (this.#active >= this.#max || mine >= this.#limitFor(peer)) return false
    this.#active++
    this.#perPeer.set(peer, mine + 1)
    return true
  }

  release (peer: string): void {
    const mine = this.#perPeer.get(peer) ?? 0
    if (mine <= 0) return
    this.#active--
    if (mine === 1) this.#perPeer.delete(peer)
    else this.#perPeer.set(peer, mine - 1)
  }

  /** The peer read an upload too slowly: fewer slots for it for a while. */
  markSlow (peer: string): void {
    this.#slow.delete(peer)
    this.#slow.set(peer, this.#now() + SLOW_PEER_MS)
    if (this.#slow.size > SLOW_PEERS_REMEMBERED) {
      const now = this.#now()
      for (const [p, until] of this.#slow) if (until <= now) this.#slow.delete(p)
      while (this.#slow.size > SLOW_PEERS_REMEMBERED) this.#slow.delete(this.#slow.keys().next().value as string)
    }
  }

  isSlow (peer: string): boolean {
    const until = this.#slow.get(peer)
    if (until == null) return false
    if (until > this.#now()) return true
    this.#slow.delete(peer)
    return false
  }

  #limitFor (peer: string): number {
    return this.isSlow(peer) ? Math.min(this.#maxPerPeer, SLOW_PEER_MAX_UPLOADS) : this.#maxPerPeer
  }
}
