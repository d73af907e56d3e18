import type { PeerId } from '@libp2p/interface'
import { Bitfield } from '../content/index.js'
import type { BlobGossip } from '../swarm/index.js'
import type { PieceSession } from '../transfer/types.js'
import type { DownloadComponents, RemotePeer } from './types.js'

/** A peer heard on the topic within this long still counts as interested (five heartbeats). */
const INTEREST_TTL_MS = 15_000
/** At most one meta request per peer this often. */
const META_INTERVAL_MS = 1_000

/**
 * The other peers of one download: their have-sets, the piece digests they
 * vouched for, their location and whether they can reach the origin —
 * learnt from gossip, the meta protocol and the topic's subscriber list.
 */
export class PeerTable {
  readonly #c: DownloadComponents
  readonly #digest: string
  readonly #n: () => number
  readonly #offerSize: (size: number, pieceSize: number) => void
  readonly #changed: () => void
  readonly #peers = new Map<string, RemotePeer>()
  /** Gossip have-sets that arrived before we knew the size. */
  readonly #early = new Map<string, Uint8Array>()
  #size = -1
  #pieceSize = 0
  /** Meta requests not answered yet (the first origin request waits for them). */
  metaInflight = 0
  subscribers: () => PeerId[] = () => []

  constructor (c: DownloadComponents, digest: string, n: () => number, offerSize: (size: number, pieceSize: number) => void, changed: () => void) {
    this.#c = c
    this.#digest = digest
    this.#n = n
    this.#offerSize = offerSize
    this.#changed = changed
  }

  get size (): number { return this.#peers.size }
  get (key: string): RemotePeer | undefined { return this.#peers.get(key) }
  all (): IterableIterator<RemotePeer> { return this.#peers.values() }

  ensure (id: PeerId): RemotePeer {
    const key = id.toString()
    let p = this.#peers.get(key)
    if (p == null) {
      const now = Date.now()
      p = { id, key, hasOrigin: false, complete: false, claimed: new Map(), fetching: new Map(), lastProgress: now, lastSeen: now, interested: false, inflight: 0, busyUntil: 0, failures: 0, metaAt: 0, metaPending: false }
      this.#peers.set(key, p)
    }
    return p
  }

  sizeKnown (size: number, pieceSize: number): void {
    this.#size = size
    this.#pieceSize = pieceSize
    for (const [key, bytes] of this.#early) {
      const p = this.#peers.get(key)
      if (p != null && p.have == null) p.have = new Bitfield(this.#n(), bytes)
    }
    this.#early.clear()
    for (const p of this.#peers.values()) if (p.have == null && p.metaAt > 0) p.metaAt = 0
    for (const p of this.#peers.values()) if (p.have == null && !p.interested) this.requestMeta(p)
  }

  onGossip (from: PeerId, msg: BlobGossip, trusted: Array<Uint8Array | undefined>): void {
    const key = from.toString()
    if (key === this.#c.selfId) return
    const p = this.ensure(from)
    const now = Date.now()
    p.lastSeen = now
    p.location = msg.location
    this.#c.peerBook.setLocation(key, msg.location)
    p.hasOrigin = msg.hasOrigin
    p.complete = msg.complete
    p.interested = !msg.leaving && !msg.complete
    const size = Number(msg.size)
    if (size > 0 || msg.pieceSize > 0) this.#offerSize(size, msg.pieceSize)
    if (this.#size >= 0) {
      if (size === this.#size && msg.pieceSize === this.#pieceSize) p.have = new Bitfield(this.#n(), msg.have)
    } else if (size > 0) {
      this.#early.set(key, msg.have)
    }
    for (const pd of msg.pieces) {
      if (pd.digest.byteLength === 32) p.claimed.set(pd.index, pd.digest)
    }
    if (msg.pieces.length > 0 || msg.fetching.length > 0) p.lastProgress = now
    p.fetching.clear()
    for (const i of msg.fetching) p.fetching.set(i, now)
    // Pieces it holds whose digest nobody vouched for yet: ask it.
    if (p.have != null) {
      for (const i of p.have.indexes()) {
        if (trusted[i] == null && !p.claimed.has(i)) { this.requestMeta(p); break }
      }
    }
    this.#changed()
  }

  requestMeta (p: RemotePeer): void {
    const now = Date.now()
    if (p.metaPending || now - p.metaAt < META_INTERVAL_MS || this.#c.peerBook.isBanned(p.key)) return
    p.metaPending = true
    p.metaAt = now
    this.metaInflight++
    void (async () => {
      try {
        const meta = await this.#c.transfer.meta(p.id, this.#digest, { signal: AbortSignal.timeout(15_000) })
        this.#c.peerBook.recordRtt(p.key, Date.now() - now)
        if (meta == null) return
        p.location = meta.location
        this.#c.peerBook.setLocation(p.key, meta.location)
        p.complete = meta.complete
        this.#offerSize(meta.size, meta.pieceSize)
        if (meta.size !== this.#size || meta.pieceSize !== this.#pieceSize) return
        p.have = meta.have
        meta.pieceDigests.forEach((d, i) => { if (d != null) p.claimed.set(i, d) })
        this.#changed()
      } catch (err) {
        this.#c.logger?.debug({ err, peer: p.key }, 'meta request failed')
      } finally {
        p.metaPending = false
        this.metaInflight--
      }
    })()
  }

  #usable (p: RemotePeer): boolean {
    return !this.#c.peerBook.isBanned(p.key)
  }

  /**
   * How many usable peers hold each piece *and* can be checked: a piece whose
   * digest neither we nor that peer vouched for cannot be verified, so it
   * does not count (and we ask the peer for its meta to learn it).
   */
  availability (n: number, trusted: Array<Uint8Array | undefined>): Uint16Array {
    const a = new Uint16Array(n)
    for (const p of this.#peers.values()) {
      if (p.have == null || p.have.count === 0 || !this.#usable(p)) continue
      let unknown = false
      for (let i = 0; i < n; i++) {
        if (!p.have.get(i)) continue
        if (trusted[i] != null || p.claimed.has(i)) a[i]++
        else unknown = true
      }
      if (unknown) this.requestMeta(p)
    }
    return a
  }

  /** Peers that hold pieces we could fetch right now. */
  anyUsefulHolder (have: { get(i: number): boolean }, n: number): boolean {
    for (const p of this.#peers.values()) {
      if (p.have == null || !this.#usable(p)) continue
      for (const i of p.have.indexes()) if (i < n && !have.get(i)) return true
    }
    return false
  }

  * holders (i: number, now: number, pipeline: number): Generator<RemotePeer> {
    for (const p of this.#peers.values()) {
      if (p.have?.get(i) === true && p.inflight < pipeline && p.busyUntil <= now && this.#usable(p)) yield p
    }
  }

  anyHolder (_now: number): boolean {
    for (const p of this.#peers.values()) if ((p.have?.count ?? 0) > 0 && this.#usable(p)) return true
    return false
  }

  totalInflight (): number {
    let t = 0
    for (const p of this.#peers.values()) t += p.inflight
    return t
  }

  /**
   * Peers of this location that want the blob now (optionally: that can
   * reach the origin). Connected topic subscribers we have not heard from
   * yet count too, as same-location and origin-capable, so the first wave
   * shares the origin work from its very first request.
   */
  sameLocationInterested (location: string, now: number, needOrigin: boolean): RemotePeer[] {
    this.probeSubscribers()
    const subs = new Set(this.subscribers().map(id => id.toString()))
    const out: RemotePeer[] = []
    for (const p of this.#peers.values()) {
      if (!p.interested || !this.#usable(p)) continue
      if (!subs.has(p.key) && now - p.lastSeen > INTEREST_TTL_MS) continue
      if (p.location != null && p.location !== location) continue
      if (needOrigin && !p.hasOrigin) continue
      out.push(p)
    }
    return out
  }

  /** Adds topic subscribers we have not heard from, and asks each what it holds (a seeder may linger on the topic). */
  probeSubscribers (): void {
    for (const id of this.subscribers()) {
      if (this.#peers.has(id.toString())) continue
      const p = this.ensure(id)
      p.interested = true
      p.hasOrigin = true
      this.requestMeta(p)
    }
  }

  session (p: RemotePeer, pieceSize: number): PieceSession {
    p.session ??= this.#c.transfer.session(p.id, this.#digest, pieceSize)
    return p.session
  }

  close (): void {
    for (const p of this.#peers.values()) {
      p.session?.close()
      p.session = undefined
    }
  }
}
