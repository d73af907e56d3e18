/**
 * Upload slots: how many pieces this node serves at once, in total and per
 * peer. A request that finds no slot is answered BUSY at once rather than
 * queued, so the downloader asks another holder instead of waiting here.
 */
export class UploadSlots {
  readonly #max: number
  readonly #maxPerPeer: number
  readonly #perPeer = new Map<string, number>()
  #active = 0

  constructor (max: number, maxPerPeer: number) {
    this.#max = max
    this.#maxPerPeer = maxPerPeer
  }

  get active (): number { return this.#active }

  tryAcquire (peer: string): boolean {
    const mine = this.#perPeer.get(peer) ?? 0
    if (this.#active >= this.#max || mine >= this.#maxPerPeer) return false
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
}
