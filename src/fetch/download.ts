import { setMaxListeners } from 'node:events'
import type { PeerId } from '@libp2p/interface'
import type { ByteSource, BytesBySource } from '../types.js'
import { Bitfield, choosePieceSize, parseDigest, pieceCount, type BlobDigest } from '../content/index.js'
import { AbortError, DigestMismatchError, OriginError, StoreFullError } from '../errors.js'
import type { Origin } from '../origin/types.js'
import type { BlobGossip } from '../swarm/index.js'
import type { BlobInterest } from '../transfer/types.js'
import { Attempts, WHOLE } from './attempts.js'
import { systemClock, type Clock } from './clock.js'
import * as K from './constants.js'
import { OriginRule } from './origin-rule.js'
import { Announcer } from './announce.js'
import { choosePeer, type TakeoverTimes } from './policy.js'
import { Pace } from './pace.js'
import { FetchPaths } from './fetch-paths.js'
import { Seek } from './seek.js'
import { readVerified } from './reader.js'
import { Rendezvous } from './rendezvous.js'
import { plan, type Action } from './scheduler.js'
import { raceSignal } from './signals.js'
import type { DownloadComponents, DownloadInit, ProgressFn, RemotePeer } from './types.js'
import { SwarmView } from './view.js'
import { DownloadReaders } from './waiters.js'

export interface DownloadResult {
  digest: string
  size: number
  bytesBySource: BytesBySource
}

/** sizing: learning size and piece size; fetching: pieces move; finishing: whole-blob check; then done or failed. */
export type Phase = 'sizing' | 'fetching' | 'finishing' | 'done' | 'failed'

/**
 * One download per blob, shared by every reader (single-flight). The parts:
 * the swarm view (who has what, who wants it — view.ts), the origin rule
 * (who goes to the origin — origin-rule.ts, policy.ts), the scheduler (a
 * pure pass from state to actions — scheduler.ts), and the fetch paths
 * below (peer, ranged origin, whole origin) over shared attempt
 * bookkeeping (attempts.ts). This class wires them and walks the phases.
 */
export class Download {
  readonly digest: string
  readonly id: BlobDigest
  readonly #c: DownloadComponents
  readonly #o: Required<DownloadInit>
  readonly #clock: Clock
  readonly #origins: Origin[] = []
  #originIndex = 0
  readonly #abort = new AbortController()
  readonly #rv: Rendezvous
  readonly #view: SwarmView
  readonly #originRule: OriginRule
  readonly #crossRule: OriginRule
  readonly #attempts: Attempts
  readonly #readers = new DownloadReaders()
  readonly #progress = new Set<ProgressFn>()
  readonly #fromPeer = new Map<number, string>()
  readonly #announce: Array<{ index: number, digest: Uint8Array }> = []
  readonly #bytes: BytesBySource = { origin: 0, 'peer-local': 0, 'peer-remote': 0, cache: 0 }
  readonly #ready: PromiseWithResolvers<void> = Promise.withResolvers()
  readonly #done: PromiseWithResolvers<DownloadResult> = Promise.withResolvers()
  readonly #stops: Array<() => void> = []

  phase: Phase = 'sizing'
  size = -1
  pieceSize = 0
  #n = 0
  #have = new Bitfield(0)
  /** Trusted piece digests: computed from origin bytes, or held by the store as trusted. */
  #digests: Array<Uint8Array | undefined> = []
  /**
   * Held pieces checked only against a peer's claim, with the digest and the
   * peer that vouched for it (undefined: held before this download started).
   * Never announced, never recorded as trusted; readers get their last bytes
   * only after the whole-blob check (docs/security.md, "Trust rule").
   */
  readonly #provisional = new Map<number, { digest: Uint8Array, voucher?: string }>()
  /** Whole-blob mismatches so far (readers that streamed provisional bytes fail when it changes). */
  resets = 0
  /** The size came from a peer's offer, not from the origin. */
  #sizeFromPeer = false
  #acceptsRanges = true
  #originFailed?: Error
  #originOnly = false
  #provided = false
  #discoveryDone = false
  #gatherDone = false
  readonly #startedAt: number
  #announcer?: Announcer
  #subscribers?: () => PeerId[]
  #leave?: () => void
  #wakeQueued = false
  #cancelSoon?: () => void
  #refs = 0
  /** Load, piece times and what follows from them: gossip rounds, heartbeat, patience. */
  readonly #pace: Pace
  /** How a piece is fetched from a peer, a ranged origin or a whole-blob stream. */
  readonly #paths: FetchPaths
  /** With no origin: waits for the swarm's answers before NoSourceError, and says what was tried. */
  readonly #seek: Seek
  #failure?: Error

  constructor (digest: string, components: DownloadComponents, init: DownloadInit = {}) {
    this.id = parseDigest(digest)
    this.digest = this.id.digest
    this.#c = components
    this.#clock = components.clock ?? systemClock
    this.#startedAt = this.#clock.now()
    this.#o = {
      originConcurrency: init.originConcurrency ?? K.DEFAULT_ORIGIN_CONCURRENCY,
      perPeerPipeline: init.perPeerPipeline ?? K.DEFAULT_PER_PEER_PIPELINE,
      peerConcurrency: init.peerConcurrency ?? K.DEFAULT_PEER_CONCURRENCY,
      gatherMs: init.gatherMs ?? K.DEFAULT_GATHER_MS,
      stallMs: init.stallMs ?? K.DEFAULT_STALL_MS,
      discoveryTimeoutMs: init.discoveryTimeoutMs ?? K.DEFAULT_DISCOVERY_TIMEOUT_MS,
      heartbeatMs: init.heartbeatMs ?? K.DEFAULT_HEARTBEAT_MS,
      lingerMs: init.lingerMs ?? K.DEFAULT_LINGER_MS
    }
    this.#pace = new Pace(this.#startedAt, this.#o)
    this.#rv = new Rendezvous(this.id.hex)
    this.#view = new SwarmView(components.selfId, components.peerBook, () => { this.#wakeSoon() })
    const replied = (key: string, since: number): boolean => {
      const p = this.#view.get(key)
      return p == null || p.lastSeen >= since || (p.metaFailedAt ?? -Infinity) >= since
    }
    this.#originRule = new OriginRule(components.selfId, this.#rv, replied)
    this.#crossRule = new OriginRule(components.selfId, this.#rv, replied)
    // every request in flight and every meta question listens on the download's signal
    setMaxListeners(Infinity, this.#abort.signal)
    this.#attempts = new Attempts(this.#abort.signal)
    this.#paths = new FetchPaths({
      digest: this.digest,
      size: () => this.size,
      pieceSize: () => this.pieceSize,
      signal: this.#abort.signal,
      has: i => this.#have.get(i),
      trusted: i => this.#digests[i],
      accept: async (i, bytes, d, source, peer, provisional) => { await this.#accept(i, bytes, d, source, peer, provisional) },
      originFailed: (origin, err) => { this.#originError(origin, err) },
      originEnded: i => { this.#originRule.settled(i); this.#announcer?.markDirty() },
      markDirty: () => { this.#announcer?.markDirty() },
      wake: () => { this.#wake() },
      wakeSoon: () => { this.#wakeSoon() }
    }, { components, clock: this.#clock, view: this.#view, attempts: this.#attempts, pace: this.#pace })
    this.#seek = new Seek({ digest: this.digest, swarm: components.swarm, view: this.#view, clock: this.#clock, signal: this.#abort.signal, wake: () => { this.#wake() }, hasOrigin: () => this.#origin != null, firstLookupDone: () => this.#discoveryDone })
    this.#done.promise.catch(() => {})
    this.#ready.promise.catch(() => {})
  }

  get done (): Promise<DownloadResult> { return this.#done.promise }
  get settled (): boolean { return this.phase === 'done' || this.phase === 'failed' }
  get signal (): AbortSignal { return this.#abort.signal }
  get bytesBySource (): BytesBySource { return { ...this.#bytes } }
  get failure (): Error | undefined { return this.#failure }

  /** Origins are tried in the order callers gave them; the next takes over when one fails for good. */
  addOrigin (origin: Origin): void {
    if (this.#origins.some(o => o.name === origin.name)) return
    this.#origins.push(origin)
    if (this.#originFailed != null) { this.#originFailed = undefined; this.#originIndex = this.#origins.length - 1 }
    if (this.#sizeFromPeer && this.phase === 'fetching') void this.#checkPeerSize(origin)
    this.#wake()
  }

  /** A size taken from a peer meets an origin: if the origin says otherwise, the peer lied and the record goes. */
  async #checkPeerSize (origin: Origin): Promise<void> {
    try {
      const st = await origin.stat({ signal: this.signal })
      if (st.size === this.size || this.settled) return
      this.#c.logger?.warn({ digest: this.digest, offered: this.size, origin: st.size }, 'a peer offered a wrong size: failing the download')
      this.#fail(new DigestMismatchError(`${this.digest}: a peer offered size ${this.size}, the origin says ${st.size}; record dropped, fetch again`))
    } catch {}
  }

  get #origin (): Origin | undefined { return this.#originFailed == null ? this.#origins[this.#originIndex] : undefined }

  onProgress (fn: ProgressFn): () => void {
    this.#progress.add(fn)
    return () => this.#progress.delete(fn)
  }

  /** Reference counting: the download is aborted when its last user leaves before it ends. */
  ref (): () => void {
    this.#refs++
    let released = false
    return () => {
      if (released) return
      released = true
      if (--this.#refs === 0 && !this.settled) this.abort(new AbortError('every caller of this fetch aborted'))
    }
  }

  abort (reason: Error): void {
    this.#fail(reason)
  }

  start (): void {
    this.#run().catch(err => { this.#fail(err) })
  }

  /** Our interest, as the meta protocol carries it (undefined once the download ended). */
  interest (): BlobInterest | undefined {
    if (this.settled) return undefined
    return { wants: true, hasOrigin: this.#origin != null, location: this.#c.location, fetching: this.#originClaims() }
  }

  /** A peer told us its interest with its own meta request. */
  noteInterest (peer: PeerId, interest: BlobInterest): void {
    if (!this.settled) this.#view.onInterest(peer, interest, this.#clock.now())
  }

  // ---- phases --------------------------------------------------------------

  async #run (): Promise<void> {
    const info = await this.#c.store.stat(this.digest, { signal: this.signal })
    if (info?.complete === true) {
      this.size = info.size
      this.pieceSize = info.pieceSize
      this.#n = info.pieceCount
      this.#have = new Bitfield(this.#n)
      this.#have.setAll()
      this.#ready.resolve()
      this.#bytes.cache = info.size
      this.#c.events.bytes('cache', info.size)
      this.#settle()
      return
    }
    const topic = this.#c.swarm.join(this.id.hex, (from, msg) => { this.#onGossip(from, msg) })
    const announcer = this.#announcer = new Announcer(topic, this.#clock, final => this.#gossipState(final), () => this.#pace.gossipBatchMs(this.#swarmSize()))
    this.#subscribers = () => topic.subscribers()
    this.#leave = () => { topic.leave() }
    void this.#discover()
    this.#stops.push(this.#clock.every(K.SCHEDULE_TICK_MS, () => { this.#tick() }))
    void announcer.publish()
    for (const ms of K.HELLO_REPEAT_MS) this.#stops.push(this.#clock.after(ms, () => { if (!this.settled) void announcer.publish() }))
    // A partial record's size may have come from a peer: with an origin, the origin's size wins.
    if (info != null && this.#origin == null) await this.#setSize(info.size, info.pieceSize)
    else await this.#determineSize()
  }

  async #determineSize (): Promise<void> {
    while (this.#origin != null) {
      const origin = this.#origin
      try {
        const t0 = this.#clock.now()
        const st = await origin.stat({ signal: this.signal })
        this.#c.logger?.debug({ digest: this.digest, origin: origin.name, ms: this.#clock.now() - t0, afterMs: this.#clock.now() - this.#startedAt }, 'download: origin stat')
        this.#acceptsRanges = st.acceptsRanges
        await this.#setSize(st.size, choosePieceSize(st.size))
        return
      } catch (err) {
        if (this.signal.aborted) throw err
        this.#c.events.originError()
        this.#nextOrigin(err as Error)
      }
    }
    // No usable origin: only peers can tell us the size (seek.ts waits for the swarm to answer).
    await this.#seek.waitForSize(this.#startedAt + this.#o.discoveryTimeoutMs)
    if (this.#origin != null) { await this.#determineSize(); return }
    const offer = this.#view.sizeOffer
    if (offer == null || offer.pieceSize !== choosePieceSize(offer.size)) {
      throw this.#originFailed ?? this.#seek.noSource(`no peer holds ${this.digest} and no origin was given`)
    }
    this.#sizeFromPeer = true
    await this.#setSize(offer.size, offer.pieceSize)
  }

  async #setSize (size: number, pieceSize: number): Promise<void> {
    const n = pieceCount(size, pieceSize)
    const held = await this.#c.store.stat(this.digest, { signal: this.signal })
    if (held != null && !held.complete && (held.size !== size || held.pieceSize !== pieceSize) && !this.#sizeFromPeer) {
      // A record sized by a peer that the origin contradicts: drop it and start over.
      this.#c.logger?.warn({ digest: this.digest, recorded: held.size, origin: size }, 'partial record has a wrong size: dropped')
      await this.#c.store.delete(this.digest)
    }
    const have = await this.#c.store.open(this.digest, size, pieceSize, { signal: this.signal })
    const known = await this.#c.store.pieceDigests(this.digest, { signal: this.signal })
    // Held pieces with no trusted digest were taken on a peer's word by an earlier download in this process.
    this.#provisional.clear()
    for (const i of have.indexes()) if (known?.[i] == null) this.#provisional.set(i, { digest: new Uint8Array(0) })
    // All at once: the scheduler must never see a size without its have-set and digests.
    this.#have = have
    this.#digests = Array.from({ length: n }, (_, i) => known?.[i])
    this.#n = n
    this.pieceSize = pieceSize
    this.size = size
    this.#view.sizeKnown(size, pieceSize, n)
    this.phase = 'fetching'
    this.#c.logger?.debug({ digest: this.digest, size, pieceSize, held: have.count, afterMs: this.#clock.now() - this.#startedAt }, 'download: size known')
    this.#ready.resolve()
    this.#emit({ type: 'starling:fetch:start', detail: { digest: this.digest, size, pieceSize, pieceCount: n, piecesHeld: have.count } })
    if (have.count > 0) { this.#provideOnce(); this.#announcer?.markDirty() }
    if (have.full) await this.#finish()
    else this.#wake()
  }

  async #discover (): Promise<void> {
    // Ask the connected peers at once, in parallel with the DHT: the meta
    // exchange tells each of them our interest and brings back theirs, so
    // interest never hangs on gossip alone.
    this.#probeConnected()
    const signal = AbortSignal.any([this.signal, this.#clock.timeout(this.#o.discoveryTimeoutMs)])
    try {
      for await (const id of this.#c.swarm.findProviders(this.digest, { signal })) {
        this.#view.wantProbe(this.#view.ensure(id, this.#clock.now()))
        this.#wake()
      }
    } finally {
      this.#discoveryDone = true
      this.#wake()
    }
  }

  #probeConnected (): void {
    const now = this.#clock.now()
    for (const id of this.#c.swarm.connectedPeers().slice(0, K.MAX_DIRECT_PROBES)) this.#view.wantProbe(this.#view.ensure(id, now))
  }

  #onGossip (from: PeerId, msg: BlobGossip): void {
    this.#view.onGossip(from, msg, this.#digests, this.#clock.now())
  }

  // ---- scheduling ------------------------------------------------------------

  /** Runs one scheduling pass soon (coalesced: many events, one pass). */
  #wake (): void {
    if (this.#wakeQueued) return
    this.#wakeQueued = true
    queueMicrotask(() => { this.#wakeQueued = false; this.#schedule() })
  }

  /**
   * What peers tell us (gossip, meta answers) is acted on within
   * WAKE_COALESCE_MS, in one pass: a swarm of hundreds sends a node a
   * message every few milliseconds, and a pass per message was most of
   * the engine's time in the 200-node simulation.
   */
  #wakeSoon (): void {
    if (this.#cancelSoon != null || this.settled) return
    this.#cancelSoon = this.#clock.after(K.WAKE_COALESCE_MS, () => { this.#cancelSoon = undefined; this.#schedule() })
  }

  #tick (): void {
    const now = this.#clock.now()
    this.#pace.tick(now)
    if (this.#subscribers != null) this.#view.noteSubscribers(this.#subscribers(), now)
    this.#view.refreshBans()
    this.#view.originUsable = this.#origin != null
    // full state for peers that missed a message, when no change went out for a heartbeat
    const swarm = this.#swarmSize()
    const heartbeat = this.#pace.heartbeatMs(swarm)
    this.#view.interestTtlMs = K.INTEREST_TTL_HEARTBEATS * heartbeat
    this.#view.claimStaleMs = this.#pace.claimStaleMs(swarm)
    this.#view.busyStreakMs = this.#pace.busyStreakMs()
    if (this.#announcer != null && now - this.#announcer.lastPublish >= heartbeat) void this.#announcer.publish()
    this.#schedule()
    this.#checkStuck()
  }

  #schedule (): void {
    if (this.settled) return
    const now = this.#clock.now()
    for (const p of this.#view.takeProbes(now)) this.#probe(p)
    if (this.phase !== 'fetching' || this.#n === 0) return
    this.#originRule.setCandidates(this.#view.candidates(this.#c.location, now, true), now)
    this.#crossRule.setCandidates(this.#view.candidates(this.#c.location, now, false), now)
    if (this.#originRule.lookAgain(now, this.#view.metaInflight > 0, this.#view.size === 0 && this.#c.swarm.connectedPeers().length === 0)) this.#probeConnected()
    const gathered = this.#gathered(now)
    const times = this.#takeoverTimes()
    const missing = this.#missingEverywhere()
    const actions = plan({
      now,
      n: this.#n,
      have: this.#have,
      avail: this.#view.availability,
      attempts: this.#attempts.view,
      readers: this.#readers.positions(),
      score: this.#ownScore,
      peerInflight: this.#view.totalInflight(),
      originInflight: this.#paths.originInflight,
      peerConcurrency: this.#o.peerConcurrency,
      originConcurrency: this.#o.originConcurrency,
      peerPieceMs: this.#pace.peerPieceMs,
      pickPeer: (i, extra) => this.#pickPeer(i, now, extra),
      origin: {
        usable: this.#origin != null && gathered,
        ranged: this.#acceptsRanges,
        wholeRunning: this.#attempts.has(WHOLE),
        only: this.#originOnly,
        mayFetch: i => this.#originRule.mayFetch(i, now, times, missing, this.#view.claimers(i)),
        mayFetchWhole: () => this.#originRule.mayFetch(0, now, times, missing, this.#view.claimers(0))
      }
    })
    for (const a of actions) this.#act(a)
    for (const rule of [this.#originRule, this.#crossRule]) {
      for (const key of rule.takeAsks()) {
        const p = this.#view.get(key)
        if (p != null) { p.metaAt = 0; this.#view.wantProbe(p) }
      }
    }
  }

  #act (a: Action): void {
    const origin = this.#origin
    if (a.type === 'peer') this.#paths.fromPeer(a.piece, a.peer)
    else if (origin == null) return
    else if (a.type === 'origin') {
      this.#c.logger?.debug({ piece: a.piece, candidates: this.#originRule.candidates.length, peers: this.#view.size, subscribers: this.#view.subscribers.size }, 'download: origin piece is ours')
      this.#paths.fromOrigin(origin, a.piece)
    } else this.#paths.whole(origin)
  }

  #pickPeer (i: number, now: number, extra: ReadonlyMap<string, number>): RemotePeer | undefined {
    const trusted = this.#digests[i] != null
    const holders: RemotePeer[] = []
    for (const p of this.#view.holders(i, now, this.#o.perPeerPipeline)) {
      if (p.inflight + (extra.get(p.key) ?? 0) >= this.#o.perPeerPipeline) continue
      holders.push(p)
      // the best of a sample: in a swarm of hundreds, scanning every holder of every piece on every pass was most of the engine's time
      if (holders.length >= K.MAX_HOLDERS_CONSIDERED) break
    }
    // Checkable: a trusted digest, the holder's own claim, or another peer's claim (a relay of a provisional piece).
    let vouched: boolean | undefined
    const { peer, sameLocation } = choosePeer(holders, p => trusted || p.claimed.has(i) || (vouched ??= this.#view.voucher(i) != null), this.#c.location, k => this.#c.peerBook.rtt(k))
    if (peer == null) {
      // Held, but by nobody whose digest we can check: ask them for it.
      if (holders.length > 0) for (const p of holders) this.#view.wantProbe(p)
      return undefined
    }
    if (sameLocation) return peer
    // Only other locations hold it: this location's designated peer brings it across.
    return this.#crossRule.mayFetch(i, now, this.#takeoverTimes(), this.#missingEverywhere()) ? peer : undefined
  }

  /**
   * Before the first origin request, learn who else wants the blob and who
   * holds it: at least `gatherMs`; then until the candidates stopped
   * changing for GATHER_STABLE_MS and discovery ended with every meta
   * question answered — or a holder appeared. At most MAX_GATHER_MS, both
   * stretched by our own slowness: a loaded machine hears the others late.
   */
  #gathered (now: number): boolean {
    if (this.#gatherDone) return true
    const waited = now - this.#startedAt
    const slowness = this.#pace.slowness()
    if (waited < this.#o.gatherMs) return false
    const stable = now - this.#originRule.changedAt >= K.GATHER_STABLE_MS * slowness
    this.#gatherDone = waited >= K.MAX_GATHER_MS * slowness || this.#view.anyUsefulHolder(this.#have) ||
      (stable && this.#discoveryDone && this.#view.metaInflight === 0)
    return this.#gatherDone
  }

  /** This node's rendezvous score of a piece: one function for the download's life, so the piece order ranks the pieces by it once. */
  readonly #ownScore = (i: number): number => this.#rv.score(this.#c.selfId, i)

  /** The swarm's size: every peer heard from about this blob (a topic's subscriber list names only the peers we are connected to). */
  #swarmSize (): number {
    // Until the first wave has gathered, gossip at the small-swarm pace: the
    // origin rule needs every node to see the same candidates (with the
    // rounds stretched from the start, 200 simulated engines disagreed on
    // ranks and the origin sent 2.4 × the blob).
    if (!this.#gatherDone) return 0
    return Math.max(this.#view.subscribers.size, this.#view.size)
  }

  #takeoverTimes (): TakeoverTimes {
    return this.#pace.takeoverTimes(this.#swarmSize())
  }

  #missingEverywhere (): number {
    let m = 0
    const avail = this.#view.availability
    for (let i = 0; i < this.#n; i++) if (!this.#have.get(i) && avail[i] === 0) m++
    return m
  }

  #probe (p: RemotePeer): void {
    const now = this.#clock.now()
    p.metaPending = true
    p.metaAt = now
    this.#view.metaInflight++
    void (async () => {
      try {
        const signal = AbortSignal.any([this.signal, this.#clock.timeout(K.META_TIMEOUT_MS)])
        const { meta, interest } = await this.#c.transfer.exchange(p.id, this.digest, this.interest(), { signal })
        this.#c.peerBook.recordRtt(p.key, this.#clock.now() - now)
        this.#view.onMetaAnswer(p, meta, interest, this.#clock.now())
      } catch (err) {
        p.metaFailedAt = this.#clock.now()
        this.#c.logger?.debug({ err, peer: p.key }, 'meta request failed')
      } finally {
        p.metaPending = false
        this.#view.metaInflight--
        this.#wake()
      }
    })()
  }

  // ---- origins ------------------------------------------------------------

  #originError (origin: Origin, err: Error): void {
    this.#c.events.originError()
    this.#c.logger?.warn({ err, digest: this.digest, origin: origin.name }, 'origin request failed')
    if (err instanceof OriginError && err.retryable) return
    if (this.#origin === origin) this.#nextOrigin(err)
    this.#announcer?.markDirty()
    this.#checkStuck()
  }

  /** The current origin failed for good: the next one given takes over, or there is none. */
  #nextOrigin (err: Error): void {
    if (this.#originIndex + 1 < this.#origins.length) {
      this.#originIndex++
      this.#paths.originChanged()
    } else {
      this.#originFailed = err
    }
  }

  /** Fails the download when no source is left for a piece still needed. */
  #checkStuck (): void {
    if (this.phase !== 'fetching' || this.#origin != null) return
    if (this.#attempts.size > 0 || this.#view.anyHolder()) return
    const now = this.#clock.now()
    if (this.#originFailed == null && (!this.#discoveryDone || this.#view.metaInflight > 0 || now - this.#startedAt < this.#o.discoveryTimeoutMs)) return
    this.#fail(this.#originFailed ?? this.#seek.noSource(`no peer holds the missing pieces of ${this.digest} and no origin was given`))
  }

  async #accept (i: number, bytes: Uint8Array, d: Uint8Array, source: ByteSource, peer?: string, provisional?: { voucher: string }): Promise<void> {
    if (this.#have.get(i) || this.settled) return
    try {
      await this.#c.store.writePiece(this.digest, i, bytes, d, { signal: this.signal, provisional: provisional != null })
    } catch (err) {
      // A full disk is ours, not the sender's: fail the fetch at once, typed, and strike nobody.
      if (!(err instanceof StoreFullError) && (err as Error)?.name !== 'StoreFullError') throw err
      this.#c.logger?.warn({ digest: this.digest, piece: i, err: (err as Error).message }, 'store full: download failed')
      this.#fail(err as Error)
      return
    }
    if (this.#have.get(i)) return
    this.#have.set(i)
    if (provisional != null) this.#provisional.set(i, { digest: d, voucher: provisional.voucher })
    else this.#digests[i] = d
    if (peer != null) this.#fromPeer.set(i, peer)
    this.#originRule.settled(i)
    this.#crossRule.settled(i)
    this.#attempts.abortPiece(i, 'piece arrived elsewhere')
    this.#bytes[source] += bytes.byteLength
    this.#c.events.bytes(source, bytes.byteLength)
    this.#c.events.pieceVerified()
    this.#emit({ type: 'starling:fetch:piece', detail: { digest: this.digest, index: i, bytes: bytes.byteLength, source, peer } })
    // We vouch only for digests we trust: a provisional piece is relayed (it is in our have-set) but never announced.
    if (provisional == null) this.#announce.push({ index: i, digest: d })
    this.#announcer?.markDirty()
    this.#provideOnce()
    this.#readers.arrived(i)
    if (this.#have.full) await this.#finish()
  }

  #provideOnce (): void {
    if (this.#provided) return
    this.#provided = true
    void this.#c.swarm.provide(this.digest, { signal: AbortSignal.any([this.signal, this.#clock.timeout(K.PROVIDE_TIMEOUT_MS)]) })
  }

  async #finish (): Promise<void> {
    if (this.phase !== 'fetching') return
    this.phase = 'finishing'
    try {
      await this.#c.store.complete(this.digest, { signal: this.signal })
    } catch (err) {
      if ((err as Error)?.name !== 'DigestMismatchError') { this.#fail(err as Error); return }
      try {
        await this.#quarantine(err as Error)
      } catch (final) {
        this.#fail(final as Error)
      }
      return
    }
    this.#settle()
  }

  /**
   * The assembled blob failed its sha256. Only provisional pieces can be
   * wrong (trusted ones matched origin bytes): with an origin, fetch again
   * from it alone and strike the voucher of each provisional piece whose
   * digest the origin's bytes contradict (FetchPaths); honest peers
   * are not struck. With no origin, strike the voucher only when one peer
   * vouched for every provisional piece (then it is the liar).
   */
  async #quarantine (err: Error): Promise<void> {
    const suspects = new Map(this.#provisional)
    this.#provisional.clear()
    this.resets++
    const vouchers = new Set([...suspects.values()].map(s => s.voucher))
    this.#c.logger?.warn({ digest: this.digest, provisional: suspects.size, vouchers: [...vouchers] }, 'blob failed its digest: retrying from the origin only')
    if (this.#origin == null || this.#originOnly) {
      const [only] = vouchers
      if (vouchers.size === 1 && only != null) this.#c.peerBook.strike(only, `vouched for pieces of ${this.digest}, whose sha256 did not match`)
      throw err
    }
    this.#paths.suspects = suspects
    this.#originOnly = true
    this.#fromPeer.clear()
    this.#have = await this.#c.store.open(this.digest, this.size, this.pieceSize, { signal: this.signal })
    this.#digests = new Array(this.#n).fill(undefined)
    this.phase = 'fetching'
    this.#wake()
  }

  // ---- gossip ------------------------------------------------------------------

  #gossipState (final: boolean): BlobGossip {
    return {
      location: this.#c.location,
      size: BigInt(Math.max(0, this.size)),
      pieceSize: this.pieceSize,
      have: new Uint8Array(this.#have.bytes),
      complete: this.phase === 'done',
      hasOrigin: this.#origin != null && !final,
      pieces: this.#announce.splice(0, this.#announce.length).map(p => ({ index: p.index, digest: new Uint8Array(p.digest) })),
      fetching: final ? [] : this.#originClaims(),
      leaving: final && !this.#have.full
    }
  }

  /**
   * The pieces we fetch from the origin now, plus those we own by the rule
   * and will fetch next: a claim tells the others to wait for us rather than
   * take over, however slow a loaded machine makes us.
   */
  #originClaims (): number[] {
    const claims = new Set<number>(this.#attempts.piecesFrom('origin'))
    if (this.#origin == null || this.size < 0 || this.#originOnly || !this.#acceptsRanges || this.#originRule.alone) return [...claims]
    const avail = this.#view.availability
    for (let i = 0; i < this.#n && claims.size < K.MAX_CLAIMS; i++) {
      if (this.#have.get(i) || avail[i] > 0 || this.#attempts.has(i)) continue
      if (this.#originRule.position(i) === 0) claims.add(i)
    }
    return [...claims]
  }

  // ---- readers -------------------------------------------------------------------

  async waitReady (signal?: AbortSignal): Promise<void> {
    await raceSignal(this.#ready.promise, signal)
  }

  /** Resolves when piece i is held (verified and durable). */
  async waitPiece (i: number, signal?: AbortSignal): Promise<void> {
    if (this.#have.get(i)) return
    await raceSignal(Promise.race([this.#readers.wait(i), this.#done.promise.then(() => {})]), signal)
    if (!this.#have.get(i)) await this.#done.promise
  }

  /** Streams verified bytes [offset, offset+length) in order while the download runs. */
  read (range: { offset?: number, length?: number } = {}, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
    return readVerified(this, this.#c.store, range, signal)
  }

  isProvisional (i: number): boolean {
    return this.#provisional.has(i)
  }

  readerAt (piece: number): { moveTo(piece: number): void, close(): void } {
    return this.#readers.at(piece, () => { this.#wake() })
  }

  // ---- end -------------------------------------------------------------------------

  #settle (): void {
    if (this.settled) return
    this.phase = 'done'
    // The whole blob matched its digest: nothing is provisional any more.
    this.#provisional.clear()
    const result = { digest: this.digest, size: this.size, bytesBySource: { ...this.#bytes } }
    this.#cleanup()
    this.#done.resolve(result)
  }

  #fail (err: Error): void {
    if (this.settled) return
    this.phase = 'failed'
    this.#failure = err
    this.#ready.reject(err)
    if (!this.#abort.signal.aborted) this.#abort.abort(err)
    this.#cleanup()
    this.#done.reject(err)
    // Nothing wrong is kept: a blob that failed its digest leaves no partial behind.
    if (err?.name === 'DigestMismatchError') void this.#c.store.delete(this.digest).catch(() => {})
  }

  #cleanup (): void {
    for (const stop of this.#stops) stop()
    this.#cancelSoon?.()
    this.#attempts.abortAll('download over')
    for (const p of this.#view.all()) { p.session?.close(); p.session = undefined }
    this.#readers.releaseAll()
    const leave = this.#leave
    if (this.#announcer == null || leave == null) return
    // Tell the topic our final state, then linger as a seeder of the first wave (the DHT record stays).
    void this.#announcer.close().finally(() => {
      this.#clock.after(this.#have.full ? this.#o.lingerMs : 0, leave)
    })
  }

  #emit (evt: Parameters<ProgressFn>[0]): void {
    for (const fn of this.#progress) {
      try { fn(evt) } catch {}
    }
  }
}
