import type { Bitfield } from '../content/index.js'
import type { PeerBook } from '../swarm/index.js'
import { WHOLE, type Attempts } from './attempts.js'
import * as K from './constants.js'
import { OriginRule } from './origin-rule.js'
import { patienceRound } from './peer-rounds.js'
import type { Pace } from './pace.js'
import { takeoverDelay, type TakeoverTimes } from './policy.js'
import { entryDepth, nearest, ORIGIN, segments } from './groups.js'
import { crossClaims, depthOf, groupClaimers } from './crossing.js'
import { dissenter, type Refuted } from './finish.js'
import type { Rendezvous } from './rendezvous.js'
import { plan, type Action } from './scheduler.js'
import type { RemotePeer } from './types.js'
import type { SwarmView } from './view.js'
import type { DownloadReaders } from './waiters.js'

/** The download's state one scheduling pass reads (never writes). */
/** Our origin claims: the pieces, the running requests first (`running` of them), then those we own and fetch next. */
export interface OriginClaims {
  pieces: number[]
  running: number
}

export interface PlannerState {
  n: number
  have: Bitfield
  /** Is piece i's digest trusted? */
  trusted: (i: number) => boolean
  originUsable: boolean
  acceptsRanges: boolean
  originOnly: boolean
  originInflight: number
  discoveryDone: boolean
  /** After a whole-blob mismatch with no origin: the voucher under test (finish.ts). */
  refuted?: Refuted
  /** Only trusted digests count (the caller gave a piece map's CID). */
  trustedOnly: boolean
}

/** What the planner reads from its download: the swarm view, the pace, the attempts and the readers. */
export interface PlannerComponents {
  readonly selfId: string
  readonly location: string
  /** The origin counts as inside our own location: each location pulls it itself (groups.ts). */
  readonly originPerLocation?: boolean
  readonly peerBook: Pick<PeerBook, 'rtt' | 'isBanned'>
  readonly view: SwarmView
  readonly pace: Pace
  readonly attempts: Attempts
  readonly readers: DownloadReaders
  readonly rv: Rendezvous
  readonly startedAt: number
  readonly options: { gatherMs: number, perPeerPipeline: number, peerConcurrency: number, originConcurrency: number }
  /** How many peers the node is connected to at all. */
  connectedPeers: () => number
}

/** One pass's outcome: what to fetch, and whether to ask the connected peers again. */
export interface Pass {
  actions: Action[]
  probeConnected: boolean
}

/**
 * Who fetches which piece from where, as one pass from state to actions:
 * the origin rule, one crossing rule per location group a piece can enter
 * (groups.ts: each piece enters each group once), the gathering wait before
 * the first origin request, and the choice of a peer for a piece. It owns
 * only the rules' memory; the download acts.
 */
export class Planner {
  readonly #c: PlannerComponents
  readonly originRule: OriginRule
  /** Depth d (1 … our label's length) → the rule for bringing a piece into our group of that depth. */
  readonly crossRules = new Map<number, OriginRule>()
  /** Our location's segments, and our group at each depth. */
  readonly #self: string[]
  readonly #prefixes: string[][]
  readonly #originDepth: number
  #gatherDone = false
  /** Pieces nobody holds, counted once per pass (the crossing rule's fair share reads it for every piece). */
  #missing = 0
  /** The last pass's count of pieces nobody holds (fewer now: a first copy arrived). */
  #lastMissing = Infinity
  /** Holders with room for another request, found once per pass (see #freePeers). */
  #free?: Map<string, RemotePeer>
  /** The union of those holders' have-sets: a piece none of them holds is settled with one bit test. */
  #freeHave = new Uint8Array(0)
  /** The same over the free holders of our own location (a piece none of them holds can only come across a group boundary). */
  #freeHaveLocal = new Uint8Array(0)
  /** The takeover times of this pass. */
  #times?: TakeoverTimes
  /** Piece → since when our published claims have named it without a break. */
  #claimedSince = new Map<number, number>()
  /** When the gathering ended: the origin phase began, and takeover delays count from here. */
  #gatheredAt = Infinity
  /** When we gathered, the swarm was already fetching: some peer held a piece or ran an origin request. */
  #behind = false
  /** Pieces some peer in our view has held (1): if none we count holds one now, its holders left, and the swarm still has it. */
  #seenHeld = new Uint8Array(0)

  constructor (c: PlannerComponents) {
    this.#c = c
    // A question before an origin request waits for the asked peers' meta
    // answers (or failures): their claims and have-sets as of after the
    // question. A gossip message that arrives meanwhile may have left its
    // sender tens of seconds earlier on a starved machine: counting it as
    // the answer let takers go ahead of owners whose running claims were
    // still on their way (9 of 10 second copies of a 50-process run).
    const replied = (key: string, since: number): boolean => {
      const p = c.view.get(key)
      return p == null || (p.metaAnsweredAt ?? -Infinity) >= since || (p.metaFailedAt ?? -Infinity) >= since
    }
    this.#self = segments(c.location)
    this.#prefixes = Array.from({ length: this.#self.length + 1 }, (_, d) => this.#self.slice(0, d))
    this.#originDepth = entryDepth(this.#self, ORIGIN, { originPerLocation: c.originPerLocation === true }) ?? 0
    const roundOf = (key: string): number | undefined => patienceRound(c.view.get(key))
    this.originRule = new OriginRule(c.selfId, c.rv, replied, roundOf, { viewHints: true, likelyHolders: () => this.#likelyHolders() })
    for (let d = 1; d <= this.#self.length; d++) this.crossRules.set(d, new OriginRule(c.selfId, c.rv, replied, roundOf))
  }

  get gatherDone (): boolean { return this.#gatherDone }

  /** Piece i is held: neither rule waits for it any more. */
  settled (i: number): void {
    this.originRule.settled(i)
    for (const rule of this.crossRules.values()) rule.settled(i)
  }

  pass (s: PlannerState, now: number): Pass {
    const { view } = this.#c
    this.#free = undefined
    this.#times = undefined
    this.originRule.setCandidates(view.candidates(this.#prefixes[this.#originDepth], now, true), now)
    for (const [d, rule] of this.crossRules) rule.setCandidates(view.candidates(this.#prefixes[d], now, false), now)
    const probeConnected = this.originRule.lookAgain(now, view.metaInflight > 0, view.size === 0 && this.#c.connectedPeers() === 0)
    const gathered = this.#gathered(s, now)
    const times = this.takeoverTimes()
    // Each location to the origin itself: only holders inside it count (while the origin is usable; without one, crossing still serves).
    const avail = this.#c.originPerLocation === true && s.originUsable && this.#self.length > 0 ? view.localAvailability : view.availability
    const missing = this.missingEverywhere(s, avail)
    this.#missing = avail === view.availability ? missing : this.missingEverywhere(s)
    this.#restartWaits(s, avail)
    // the swarm's origin pace for the stale-claim rule: the origin phase
    // starts when the gathering ends, and every first copy restarts the clock
    if (gathered && this.#missing < this.#lastMissing) view.noteFirstCopy(now)
    if (gathered) this.#lastMissing = this.#missing
    const o = this.#c.options
    // An owner that comes late asks the peers ranked just below it before
    // paying the origin (one may be fetching the piece already) if the
    // others may not have known the piece was ours: we had not claimed it
    // for the first takeover delay, or our timers fire late (our claims
    // reached them late too). Late: by our own clock, or — starved — behind
    // a swarm already fetching when we gathered (50 processes learnt the
    // size 8–104 s after the start; owners at 70–100 s fetched pieces their
    // successors had taken over). Idle, claimed from the start: asks nobody.
    const firstTakeover = takeoverDelay(1, 0, times)
    const starved = this.#c.pace.slowness() >= K.OWNER_ASK_SLOWNESS
    const late = gathered && (now - this.#gatheredAt >= firstTakeover || (starved && this.#behind))
    const askSuccessors = (i: number): boolean => late && (starved || !((this.#claimedSince.get(i) ?? now) <= now - firstTakeover))
    const actions = plan({
      now,
      n: s.n,
      have: s.have,
      avail,
      attempts: this.#c.attempts.view,
      readers: this.#c.readers.positions(),
      score: this.#ownScore,
      peerInflight: view.totalInflight(),
      originInflight: s.originInflight,
      peerConcurrency: o.peerConcurrency,
      originConcurrency: o.originConcurrency,
      peerPieceMs: this.#c.pace.peerPieceMs,
      pickPeer: (i, extra) => this.#pickPeer(s, i, now, extra),
      origin: {
        usable: s.originUsable && gathered,
        ranged: s.acceptsRanges,
        wholeRunning: this.#c.attempts.has(WHOLE),
        only: s.originOnly,
        mayFetch: i => this.originRule.mayFetch(i, now, times, missing, view.claimers(i), view.runningClaims(i), { lostHolders: this.#seenHeld[i] === 1, askSuccessors: askSuccessors(i) }),
        mayFetchWhole: () => this.originRule.mayFetch(0, now, times, missing, view.claimers(0))
      }
    })
    for (const rule of [this.originRule, ...this.crossRules.values()]) {
      for (const key of rule.takeAsks()) {
        const p = view.get(key)
        if (p != null) { p.metaAt = 0; view.wantProbe(p) }
      }
    }
    return { actions, probeConnected }
  }

  #pickPeer (s: PlannerState, i: number, now: number, extra: ReadonlyMap<string, number>): RemotePeer | undefined {
    const { view, options: o } = this.#c
    const free = this.#freePeers(now)
    // Every holder busy: nothing to scan. Walking each piece's holders to
    // find that out cost pieces × holders per pass, most of a 100-engine
    // simulation's time once the swarm was saturated.
    if (free.size === 0) return undefined
    // No free peer holds i (most pieces on most passes of a busy swarm): the
    // scan below would find none either. The union only ever over-covers
    // (peers leave the free set during a pass), so a set bit means "look".
    if ((this.#freeHave[i >> 3] & (0x80 >> (i & 7))) === 0) return undefined
    if (this.#crossingWaits(s, i, now)) return undefined
    // the smaller of the two sets: the free peers that hold i, or i's holders that are free
    const holderKeys = view.holderKeys(i)
    if (holderKeys == null || holderKeys.size === 0) return undefined
    const r = s.refuted
    let holders: RemotePeer[] | undefined
    const source = free.size < holderKeys.size ? free.values() : holderKeys
    for (const entry of source) {
      const p = typeof entry === 'string' ? free.get(entry) : entry
      if (p == null || p.have?.get(i) !== true) continue
      if (p.inflight + (extra.get(p.key) ?? 0) >= o.perPeerPipeline || p.key === r?.voucher) continue
      ;(holders ??= []).push(p)
      // the best of a sample: in a swarm of hundreds, scanning every holder of every piece on every pass was most of the engine's time
      if (holders.length >= K.MAX_HOLDERS_CONSIDERED) break
    }
    // No free holder: the common case in a busy swarm, settled before anything is allocated for it.
    if (holders == null) return undefined
    const trusted = s.trusted(i)
    // Checkable: a trusted digest, the holder's own claim, or another peer's claim (a relay of a provisional piece).
    let vouched: boolean | undefined
    const checkable = s.trustedOnly
      ? () => trusted
      : r == null
        ? (p: RemotePeer) => trusted || p.claimed.has(i) || (vouched ??= view.voucher(i) != null)
        : (p: RemotePeer) => trusted || dissenter(view.all(), k => this.#c.peerBook.isBanned(k), r, i, p) != null
    const { peer, depth } = nearest(holders, this.#self, checkable, k => this.#c.peerBook.rtt(k))
    if (peer == null) {
      // Held, but by nobody whose digest we can check: ask them for it.
      for (const p of holders) view.wantProbe(p)
      return undefined
    }
    if (depth >= this.#self.length) return this.#taken(peer, extra)
    // The piece would enter our group at depth + 1. A nearer holder that is
    // only busy now will serve us shortly: crossing again would pay the link twice.
    if (view.nearestDepth(i) > depth) {
      for (const p of view.holders(i, Infinity, Infinity)) {
        if (depthOf(this.#self, p) <= depth) continue
        if (!checkable(p)) view.wantProbe(p)
        break
      }
      return undefined
    }
    // Only holders outside that group: its designated peer brings it in, the others wait for it inside.
    const d = depth + 1
    const claimers = groupClaimers(view, view.claimers(i), this.#prefixes[d])
    return this.crossRules.get(d)!.mayFetch(i, now, this.takeoverTimes(), this.#missing, claimers) ? this.#taken(peer, extra) : undefined
  }

  /**
   * Settles a piece that only a crossing could bring, while every crossing
   * rule still waits out its takeover delay for it: the scan below would end
   * in such a rule's first refusal, with no probe to queue (every holder is
   * checkable). Exactly that answer, without the scan: most pieces on most
   * passes of a swarm spread over locations (millions of scans in a
   * 100-engine simulation's first seconds of pieces).
   */
  #crossingWaits (s: PlannerState, i: number, now: number): boolean {
    if (this.crossRules.size === 0 || s.refuted != null) return false
    if ((this.#freeHaveLocal[i >> 3] & (0x80 >> (i & 7))) !== 0) return false
    const times = this.#times ??= this.takeoverTimes()
    for (const rule of this.crossRules.values()) if (!rule.waitsOutDelay(i, now, times)) return false
    return s.trusted(i) || (!s.trustedOnly && this.#c.view.hasVoucher(i))
  }

  /** The pass gives `peer` a request: a peer now full leaves the free set. */
  #taken (peer: RemotePeer, extra: ReadonlyMap<string, number>): RemotePeer {
    if (peer.inflight + (extra.get(peer.key) ?? 0) + 1 >= this.#c.options.perPeerPipeline) this.#free?.delete(peer.key)
    return peer
  }

  /** Counted holders (not banned, not demoted) with room for another request and not BUSY: once per pass. */
  #freePeers (now: number): Map<string, RemotePeer> {
    if (this.#free != null) return this.#free
    const { view, options: o, peerBook } = this.#c
    const free = new Map<string, RemotePeer>()
    let union = this.#freeHave
    let local = this.#freeHaveLocal
    union.fill(0)
    local.fill(0)
    for (const p of view.all()) {
      if ((p.have?.count ?? 0) === 0 || p.inflight >= o.perPeerPipeline || p.busyUntil > now) continue
      if (!view.isHolder(p.key) || peerBook.isBanned(p.key)) continue
      free.set(p.key, p)
      const bytes = p.have!.bytes
      if (union.length < bytes.length) { const grown = new Uint8Array(bytes.length); grown.set(union); union = this.#freeHave = grown }
      for (let b = 0; b < bytes.length; b++) union[b] |= bytes[b]
      // as nearest() ranks it: an unknown location counts as ours
      if (depthOf(this.#self, p) < this.#self.length) continue
      if (local.length < bytes.length) { const grown = new Uint8Array(bytes.length); grown.set(local); local = this.#freeHaveLocal = grown }
      for (let b = 0; b < bytes.length; b++) local[b] |= bytes[b]
    }
    this.#free = free
    return free
  }

  /**
   * Before the first origin request, learn who else wants the blob and who
   * holds it: at least `gatherMs`; then until the candidates stopped
   * changing for GATHER_STABLE_MS and discovery ended with every meta
   * question answered — or a holder appeared. At most MAX_GATHER_MS, both
   * stretched by our own slowness: a loaded machine hears the others late.
   */
  #gathered (s: PlannerState, now: number): boolean {
    if (this.#gatherDone) return true
    const waited = now - this.#c.startedAt
    const slowness = this.#c.pace.slowness()
    if (waited < this.#c.options.gatherMs) return false
    const stable = now - this.originRule.changedAt >= K.GATHER_STABLE_MS * slowness
    const view = this.#c.view
    this.#gatherDone = waited >= K.MAX_GATHER_MS * slowness || view.anyUsefulHolder(s.have) ||
      (stable && s.discoveryDone && view.metaInflight === 0)
    if (this.#gatherDone) this.#gatheredAt = now
    for (let i = 0; this.#gatherDone && i < s.n && !this.#behind; i++) this.#behind = view.availability[i] > 0 || (view.runningClaims(i)?.size ?? 0) > 0
    return this.#gatherDone
  }

  /** This node's rendezvous score of a piece: one function for the planner's life, so the piece order ranks the pieces by it once. */
  readonly #ownScore = (i: number): number => this.#c.rv.score(this.#c.selfId, i)

  /** The swarm's size: every peer heard from about this blob (a topic's subscriber list names only the peers we are connected to). */
  swarmSize (): number {
    // Until the first wave has gathered, gossip at the small-swarm pace: the
    // origin rule needs every node to see the same candidates (with the
    // rounds stretched from the start, 200 simulated engines disagreed on
    // ranks and the origin sent 2.4 × the blob).
    if (!this.#gatherDone) return 0
    return Math.max(this.#c.view.subscribers.size, this.#c.view.size)
  }

  takeoverTimes (): TakeoverTimes {
    return this.#c.pace.takeoverTimes(this.swarmSize())
  }

  /**
   * A wait on a piece's owner counts only while nobody holds the piece: one
   * that a peer holds stops waiting, and starts again if it goes missing
   * again (its holders forgotten after failed requests, or demoted). At 50
   * processes, pieces whose holders dropped out of a view 150 s after their
   * first copy were taken over at once — they had "waited" 190–280 s — and
   * the origin sent them three and four times.
   */
  #restartWaits (s: Pick<PlannerState, 'n' | 'have'>, avail: Uint16Array): void {
    if (this.#seenHeld.length !== s.n) this.#seenHeld = new Uint8Array(s.n)
    for (let i = 0; i < s.n; i++) {
      if (avail[i] > 0) this.#seenHeld[i] = 1
      if (avail[i] > 0 && !s.have.get(i)) this.originRule.stopWaiting(i)
    }
  }

  /** The peers to ask about a piece whose holders left our view: those that held the most pieces when last heard. */
  #likelyHolders (): string[] {
    const best: RemotePeer[] = []
    for (const p of this.#c.view.all()) {
      if ((p.have?.count ?? 0) === 0 || this.#c.peerBook.isBanned(p.key)) continue
      best.push(p)
    }
    best.sort((a, b) => (b.have?.count ?? 0) - (a.have?.count ?? 0))
    return best.slice(0, K.LOST_HOLDER_ASK_PEERS).map(p => p.key)
  }

  missingEverywhere (s: Pick<PlannerState, 'n' | 'have'>, avail = this.#c.view.availability): number {
    let m = 0
    for (let i = 0; i < s.n; i++) if (!s.have.get(i) && avail[i] === 0) m++
    return m
  }

  /**
   * The pieces we fetch from the origin now, plus those we own by the rule
   * and will fetch next: a claim tells the others to wait for us rather than
   * take over, however slow a loaded machine makes us.
   */
  originClaims (s: Pick<PlannerState, 'n' | 'have' | 'originUsable' | 'originOnly' | 'acceptsRanges'>, sizeKnown: boolean, now: number): OriginClaims {
    const out = this.#claims(s, sizeKnown)
    // since when each piece has been in our claims without a break (a late owner's question, above)
    const since = new Map<number, number>()
    for (const i of out.pieces) since.set(i, this.#claimedSince.get(i) ?? now)
    this.#claimedSince = since
    return out
  }

  #claims (s: Pick<PlannerState, 'n' | 'have' | 'originUsable' | 'originOnly' | 'acceptsRanges'>, sizeKnown: boolean): OriginClaims {
    const { attempts, view } = this.#c
    const claims = new Set<number>(attempts.piecesFrom('origin'))
    const running = claims.size
    // Pieces we bring into one of our groups, in flight or ours by the crossing rule: claimed too, so the others of the group wait for us.
    if (sizeKnown) crossClaims(claims, s, { view, attempts, self: this.#self, rules: this.crossRules })
    if (!s.originUsable || !sizeKnown || s.originOnly || !s.acceptsRanges || this.originRule.alone) return { pieces: [...claims].slice(0, K.MAX_CLAIMS), running: Math.min(running, K.MAX_CLAIMS) }
    const avail = view.availability
    for (let i = 0; i < s.n && claims.size < K.MAX_CLAIMS; i++) {
      if (s.have.get(i) || avail[i] > 0 || attempts.has(i)) continue
      if (this.originRule.owns(i)) claims.add(i)
    }
    return { pieces: [...claims].slice(0, K.MAX_CLAIMS), running: Math.min(running, K.MAX_CLAIMS) }
  }
}
