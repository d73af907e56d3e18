import type { PeerId } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { Bitfield } from '../content/index.js'
import type { BlobGossip, PeerBook } from '../swarm/index.js'
import type { BlobInterest, BlobMeta } from '../transfer/types.js'
import { BUSY_STREAK_MAX_MS, CLAIM_STALE_MS, META_INTERVAL_MS } from './constants.js'
import type { RemotePeer } from './types.js'
import { ClaimBook } from './claims.js'
import { HolderIndex } from './holder-index.js'
import { lacksDigest, Vouchers } from './vouchers.js'
import { commonDepth, segments } from './groups.js'
import { heard } from './peer-rounds.js'
import { KeyQueue } from './key-queue.js'
import { CandidateLists } from './candidates.js'
import { PeerFailures } from './peer-failures.js'

/** Location labels whose depth is remembered (a bound against a peer that sends a new label per message). */
const DEPTH_CACHE_MAX = 1024

/** A size and piece size some peer told us. */
export interface SizeOffer { size: number, pieceSize: number }

/**
 * The swarm as one download sees it: every other peer's have-set, the piece
 * digests it vouched for, its location, its interest and its origin claims,
 * learnt from three channels — gossip, meta answers, and the interest a
 * peer sends with its own meta requests — plus the topic's subscriber list.
 *
 * The view owns this state and nothing else changes it. Its reads send
 * nothing: peers worth a meta request are queued (`takeProbes`) for the
 * download to ask. Who holds each piece is indexed as have-sets change
 * (holder-index.ts).
 */
export class SwarmView {
  readonly #selfId: string
  readonly #peerBook: PeerBook
  /** Something a candidate list depends on changed; tell the download. */
  readonly #changed: () => void
  /** Tell the download, with the candidate lists still valid. */
  readonly #notify: () => void
  readonly #peers = new Map<string, RemotePeer>()
  /** Gossip have-sets that arrived before we knew the size. */
  readonly #early = new Map<string, Uint8Array>()
  /** Meta answers that arrived before we knew the size. */
  readonly #earlyMeta = new Map<string, BlobMeta>()
  readonly #probes = new KeyQueue<RemotePeer>()
  readonly #vouchers = new Vouchers({ get: key => this.#peers.get(key), all: () => this.#peers.values(), isBanned: key => this.#peerBook.isBanned(key) })
  /** Bumped by every change a candidate list depends on (interest, location, origin access, bans). */
  #version = 0
  readonly #candidates = new CandidateLists({
    peers: () => this.#peers.values(),
    version: () => this.#version,
    subscribed: key => this.subscribers.has(key),
    isBanned: key => this.#peerBook.isBanned(key),
    interestTtlMs: () => this.interestTtlMs
  })
  readonly #claims = new ClaimBook()
  readonly #failures = new PeerFailures({
    originUsable: () => this.originUsable,
    busyStreakMs: () => this.busyStreakMs,
    demoted: p => { if (this.#holders.isCounted(p.key)) { this.#holders.count(p.key, p.have, -1); this.#version++ } },
    forgetPiece: (p, i) => { this.forgetPiece(p, i) }
  })
  readonly #holders: HolderIndex
  #n = 0
  #size = -1
  #pieceSize = 0
  /** The first size any peer offered (used only when no origin can tell). */
  sizeOffer?: SizeOffer
  /** Subscribers of the blob's topic, as the gossip layer last said. */
  subscribers = new Set<string>()
  /** A peer heard from within this long still counts as interested (the download sets it from its heartbeat). */
  interestTtlMs = 15_000
  /** Meta requests not answered yet (the first origin request waits for them). */
  metaInflight = 0

  /** `location`: ours, so holders are counted by how near they are (holder-index.ts). */
  constructor (selfId: string, peerBook: PeerBook, changed: () => void, location?: string) {
    this.#selfId = selfId
    this.#peerBook = peerBook
    const self = segments(location)
    const depths = new Map<string, number>()
    const depthOf = (key: string): number => {
      const loc = this.#peers.get(key)?.location
      if (loc == null) return self.length // unknown counts as ours, as in inGroup
      let d = depths.get(loc)
      if (d == null) { d = commonDepth(self, segments(loc)); if (depths.size >= DEPTH_CACHE_MAX) depths.clear(); depths.set(loc, d) }
      return d
    }
    this.#holders = new HolderIndex(depthOf, self.length)
    this.#changed = () => { this.#version++; changed() }
    this.#notify = changed
  }

  get size (): number { return this.#peers.size }
  get (key: string): RemotePeer | undefined { return this.#peers.get(key) }
  all (): IterableIterator<RemotePeer> { return this.#peers.values() }
  /** How many usable peers hold each piece. Read-only for callers. */
  get availability (): Uint16Array { return this.#holders.availability }

  ensure (id: PeerId, now: number): RemotePeer {
    const key = id.toString()
    let p = this.#peers.get(key)
    if (p == null) {
      p = { id, key, hasOrigin: false, complete: false, claimed: new Map(), fetching: new Map(), lastProgress: now, lastSeen: 0, interest: 'unknown', inflight: 0, busyUntil: 0, failures: 0, metaAt: 0, metaPending: false }
      this.#peers.set(key, p)
      this.#version++
    }
    return p
  }

  sizeKnown (size: number, pieceSize: number, n: number): void {
    this.#size = size
    this.#pieceSize = pieceSize
    this.#n = n
    this.#holders.reset(n)
    for (const [key, bytes] of this.#early) {
      const p = this.#peers.get(key)
      if (p != null && p.have == null) p.have = new Bitfield(n, bytes)
    }
    this.#early.clear()
    for (const [key, meta] of this.#earlyMeta) {
      const p = this.#peers.get(key)
      if (p != null && meta.size === size && meta.pieceSize === pieceSize) this.#takeMeta(p, meta)
    }
    this.#earlyMeta.clear()
    for (const p of this.#peers.values()) {
      if (p.have != null && p.have.length !== n) p.have = undefined
      if (p.have != null && !this.#holders.isCounted(p.key) && !this.#peerBook.isBanned(p.key)) this.#holders.count(p.key, p.have, +1)
      if (p.have == null && (p.interest !== 'not' || p.complete)) { p.metaAt = 0; this.#probes.add(p.key) }
    }
  }

  /** Marks topic subscribers we have not heard from for a meta exchange (a seeder may linger on the topic). */
  noteSubscribers (ids: PeerId[], now: number): void {
    const next = new Set(ids.map(id => id.toString()))
    if (next.size !== this.subscribers.size || ids.some(id => !this.subscribers.has(id.toString()))) this.#version++
    this.subscribers = next
    for (const id of ids) {
      const key = id.toString()
      if (this.#peers.has(key)) continue
      this.ensure(id, now)
      this.#probes.add(key)
    }
  }

  onGossip (from: PeerId, msg: BlobGossip, trusted: Array<Uint8Array | undefined>, now: number): void {
    const key = from.toString()
    if (key === this.#selfId) return
    const p = this.ensure(from, now)
    heard(p, now)
    const interest = msg.leaving || msg.complete ? 'not' : 'wants'
    // Only what a candidate list depends on invalidates it: in a swarm of
    // hundreds a message arrives every few milliseconds, most say nothing new.
    if (p.location !== msg.location || p.hasOrigin !== msg.hasOrigin || p.interest !== interest) {
      this.#version++
      if (p.location !== msg.location) this.#peerBook.setLocation(key, msg.location)
    }
    this.#locate(p, msg.location)
    p.hasOrigin = msg.hasOrigin
    p.complete = msg.complete
    p.interest = interest
    const size = Number(msg.size)
    if (size > 0 || msg.pieceSize > 0) this.#offer(size, msg.pieceSize)
    if (this.#size >= 0) {
      // An unchanged have-set (most messages) changes nothing: no copy, no count.
      if (size === this.#size && msg.pieceSize === this.#pieceSize && !this.#unchanged(p, msg.have)) this.#setHave(p, new Bitfield(this.#n, msg.have), now)
    } else if (size > 0) {
      this.#early.set(key, msg.have)
    }
    for (const pd of msg.pieces) {
      if (pd.digest.byteLength === 32 && pd.index < Math.max(this.#n, 1 << 24)) this.#vouchers.vouch(p, pd.index, pd.digest)
    }
    if (msg.pieces.length > 0 || msg.fetching.length > 0) p.lastProgress = now
    this.#claims.set(p, msg.fetching, now, this.claimStaleMs, msg.running)
    // Pieces it holds whose digest nobody vouched for yet: ask it.
    if (p.have != null && !this.#probes.has(key) && p.claimed.size < p.have.count && lacksDigest(p, trusted)) this.#probes.add(key)
    this.#notify()
  }

  /** What a peer told us with its own meta request (its interest in our blob). */
  onInterest (id: PeerId, interest: BlobInterest, now: number): void {
    if (id.toString() === this.#selfId) return
    const p = this.ensure(id, now)
    this.#applyInterest(p, interest, now)
    this.#changed()
  }

  /** What a peer answered to our meta request. */
  onMetaAnswer (p: RemotePeer, meta: BlobMeta | undefined, interest: BlobInterest | undefined, now: number): void {
    if (interest != null) this.#applyInterest(p, interest, now)
    if (meta != null) {
      heard(p, now)
      this.#locate(p, meta.location)
      this.#peerBook.setLocation(p.key, meta.location)
      p.complete = meta.complete
      if (meta.complete && interest == null) p.interest = 'not'
      this.#offer(meta.size, meta.pieceSize)
      if (this.#size < 0) this.#earlyMeta.set(p.key, meta)
      else if (meta.size === this.#size && meta.pieceSize === this.#pieceSize) this.#takeMeta(p, meta, now)
    } else if (interest == null && p.interest === 'unknown' && !this.subscribers.has(p.key)) {
      // It knows nothing of the blob and said nothing of interest (an older
      // peer, or one that does not want it): not a candidate.
      p.interest = 'not'
    }
    this.#changed()
  }

  #takeMeta (p: RemotePeer, meta: BlobMeta, now?: number): void {
    this.#setHave(p, meta.have, now)
    meta.pieceDigests.forEach((d, i) => { if (d != null) this.#vouchers.vouch(p, i, d) })
  }

  #applyInterest (p: RemotePeer, interest: BlobInterest, now: number): void {
    heard(p, now)
    this.#locate(p, interest.location)
    p.hasOrigin = interest.hasOrigin
    p.interest = interest.wants ? 'wants' : 'not'
    if (interest.fetching != null) this.#claims.set(p, interest.fetching, now, this.claimStaleMs, interest.running ?? 0)
    if (interest.interested != null) p.interestedHint = interest.interested
    // Peer exchange: peers it knows want the blob, which we have not heard
    // of, are asked directly (a meta exchange dials them). Their interest
    // counts once they tell us themselves, never on another's word.
    for (const key of interest.peers ?? []) {
      if (key === this.#selfId || this.#peers.has(key)) continue
      try { this.#probes.add(this.ensure(peerIdFromString(key), now).key) } catch {}
    }
  }

  /** Peers claiming piece i for the origin, with when we heard the claim. */
  claimers (i: number): ReadonlyMap<string, number> | undefined {
    return this.#claims.claimers(i)
  }

  /** Peers whose origin request for piece i already runs (claims.ts). */
  runningClaims (i: number): ReadonlyMap<string, number> | undefined {
    return this.#claims.running(i)
  }

  #offer (size: number, pieceSize: number): void {
    if (this.sizeOffer == null && size >= 0 && pieceSize > 0) this.sizeOffer = { size, pieceSize }
  }

  /** Would #setHave with these bytes leave everything as it is? Then it is skipped (only the high-water mark is kept up, as it would). */
  #unchanged (p: RemotePeer, bytes: Uint8Array): boolean {
    if (p.have == null || !p.have.sameAs(this.#n, bytes)) return false
    if (this.#holders.isCounted(p.key) !== (!this.#peerBook.isBanned(p.key) && p.demoted !== true)) return false
    p.mostHeld = Math.max(p.mostHeld ?? 0, p.have!.count)
    return true
  }

  #setHave (p: RemotePeer, have: Bitfield, now?: number): void {
    const old = p.have
    const wasCounted = this.#holders.isCounted(p.key)
    if (now != null && (old == null || have.count > old.count)) p.haveGrewAt = now
    // The swarm moves when a peer holds more than it ever did (a high-water
    // mark: a peer cannot fake progress by dropping and re-adding pieces).
    if (now != null && old != null && have.count > (p.mostHeld ?? old.count)) this.#failures.progressed(now)
    p.mostHeld = Math.max(p.mostHeld ?? 0, have.count)
    p.have = have
    const counts = !this.#peerBook.isBanned(p.key) && p.demoted !== true
    if (wasCounted && counts && old != null && old.length === have.length) { this.#holders.countChange(p.key, old, have); return }
    if (wasCounted && old != null) this.#holders.count(p.key, old, -1)
    if (counts) this.#holders.count(p.key, have, +1)
  }

  /** A peer served a piece: its failure streak ends. */
  peerServed (p: RemotePeer, now: number): void {
    this.#failures.progressed(now)
    p.failures = 0
    p.busySince = undefined
    if (p.demoted === true) {
      p.demoted = false
      if (p.have != null && !this.#holders.isCounted(p.key) && !this.#peerBook.isBanned(p.key)) { this.#holders.count(p.key, p.have, +1); this.#version++ }
    }
  }

  /** Set by the download: BUSY streaks demote holders only while an origin can take their pieces. */
  originUsable = false
  /**
   * How long a BUSY streak, and claims with no growing have-set, are
   * believed. The download stretches both with how slow pieces are and how
   * loaded this node is (an honest seeder of a swarm on a saturated machine
   * is BUSY for long stretches, an honest owner's origin piece can take
   * longer than CLAIM_STALE_MS), never past MAX_LIAR_PATIENCE_MS.
   */
  busyStreakMs = BUSY_STREAK_MAX_MS
  claimStaleMs = CLAIM_STALE_MS
  /** The swarm got a first copy of some piece (claims.ts: the stale-claim rule waits while first copies keep coming). */
  noteFirstCopy (now: number): void { this.#claims.firstCopyAt = now }

  /** A request to a peer failed: BUSY backs off briefly; anything else backs off exponentially and, repeated, forgets the piece (peer-failures.ts). */
  peerFailed (p: RemotePeer, i: number, err: any, now: number): void { this.#failures.failed(p, i, err, now) }

  /** Piece → how often a peer's claim to hold it was dropped (the grant log reads it). */
  readonly forgotten = new Map<number, number>()

  /** A peer lost a piece (it said NOT_FOUND, or failed too often). */
  forgetPiece (p: RemotePeer, i: number): void {
    if (p.have?.get(i) !== true) return
    this.forgotten.set(i, (this.forgotten.get(i) ?? 0) + 1)
    p.have.unset(i)
    this.#holders.uncountPiece(p.key, i)
  }

  /** Takes banned peers out of the availability counts (run once per tick, not per read). */
  refreshBans (): void {
    for (const key of [...this.#holders.countedPeers()]) {
      const p = this.#peers.get(key)
      if (p != null && this.#peerBook.isBanned(key)) { this.#holders.count(key, p.have, -1); this.#version++ }
    }
  }

  /** Peers worth a meta request now, each at most once per META_INTERVAL_MS. */
  takeProbes (now: number): RemotePeer[] {
    return this.#probes.take(key => {
      const p = this.#peers.get(key)
      if (p == null || this.#peerBook.isBanned(key)) return null
      return p.metaPending || now - p.metaAt < META_INTERVAL_MS ? undefined : p
    })
  }

  /** Asks for a meta exchange with this peer at the next chance. */
  wantProbe (p: RemotePeer): void { this.#probes.add(p.key) }

  /** Is this peer one that wants the blob now? Heard within `interestTtlMs`, or on the topic. */
  isInterested (p: RemotePeer, now: number): boolean { return this.#candidates.isInterested(p, now) }

  /** The candidates of the group `prefix` (candidates.ts). */
  candidates (prefix: readonly string[], now: number, needOrigin: boolean): RemotePeer[] {
    return this.#candidates.get(prefix, now, needOrigin)
  }

  * holders (i: number, now: number, pipeline: number): Generator<RemotePeer> {
    const holders = this.#holders.holdersOf(i)
    if (holders == null) return
    for (const key of holders) {
      const p = this.#peers.get(key)
      if (p?.have?.get(i) === true && p.inflight < pipeline && p.busyUntil <= now && !this.#peerBook.isBanned(key)) yield p
    }
  }

  /** A peer's location; its pieces are counted again at their new distance. */
  #locate (p: RemotePeer, location: string | undefined): void {
    if (p.location === location) return
    p.location = location
    if (this.#holders.isCounted(p.key)) { this.#holders.count(p.key, p.have, -1); this.#holders.count(p.key, p.have, +1) }
  }

  /** The deepest of our location groups in which a usable peer holds piece i (our depth: our own location); -1 when nobody does. */
  nearestDepth (i: number): number { return this.#holders.nearestDepth(i) }
  /** Usable holders of each piece in our own location. Read-only for callers. */
  get localAvailability (): Uint16Array { return this.#holders.localAvailability }

  /** The counted holders of piece i, by key (the planner filters them itself). */
  holderKeys (i: number): ReadonlySet<string> | undefined { return this.#holders.holdersOf(i) }

  /** Are this peer's pieces counted (not banned, not demoted)? */
  isHolder (key: string): boolean { return this.#holders.isCounted(key) }

  /** Does any usable peer hold a piece we lack? */
  anyUsefulHolder (have: { get(i: number): boolean }): boolean {
    return this.#holders.anyUsefulHolder(have)
  }

  anyHolder (): boolean {
    for (const key of this.#holders.countedPeers()) if ((this.#peers.get(key)?.have?.count ?? 0) > 0) return true
    return false
  }

  totalInflight (): number {
    let t = 0
    for (const p of this.#peers.values()) t += p.inflight
    return t
  }

  /** Origin bytes are the reference: drops (and returns) the peers that vouched for another digest of piece i. */
  contradicted (i: number, digest: Uint8Array, equal: (a: Uint8Array, b: Uint8Array) => boolean): RemotePeer[] {
    return this.#vouchers.contradicted(i, digest, equal)
  }

  /** Would `voucher(i)` find one? Nothing changes (vouchers.ts). */
  hasVoucher (i: number): boolean { return this.#vouchers.has(i) }

  /** A peer that vouched for a digest of piece i, preferring `first` (vouchers.ts). */
  voucher (i: number, first?: RemotePeer): { key: string, digest: Uint8Array } | undefined {
    return this.#vouchers.voucher(i, first)
  }
}
