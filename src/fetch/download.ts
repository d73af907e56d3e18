import { setMaxListeners } from 'node:events'
import type { PeerId } from '@libp2p/interface'
import type { ByteSource, BytesBySource } from '../types.js'
import { equalBytes, parseDigest, pieceCount, type BlobDigest } from '../content/index.js'
import { AbortError, DigestMismatchError, NoSourceError, StoreFullError } from '../errors.js'
import type { Origin } from '../origin/types.js'
import type { BlobGossip } from '../swarm/index.js'
import type { BlobInterest } from '../transfer/types.js'
import { Attempts } from './attempts.js'
import { systemClock, type Clock } from './clock.js'
import * as K from './constants.js'
import { fitInFlight, withDefaults } from './constants.js'
import { Announcer } from './announce.js'
import { Discovery } from './discovery.js'
import { Finisher } from './finish.js'
import { OriginList } from './origins.js'
import { Pace } from './pace.js'
import { PieceMapAuth } from './piece-map-check.js'
import { PieceLedger } from './pieces.js'
import { FetchPaths } from './fetch-paths.js'
import { Seek } from './seek.js'
import { Planner, type PlannerState } from './planner.js'
import { readVerified } from './reader.js'
import { Rendezvous } from './rendezvous.js'
import type { Action } from './scheduler.js'
import { raceSignal } from './signals.js'
import { checkPeerSize, determineSize, openRecord, type Sizing, type SizingComponents } from './sizing.js'
import type { DownloadComponents, DownloadInit, ProgressFn } from './types.js'
import { SwarmView } from './view.js'
import { DownloadReaders } from './waiters.js'
import { Wakeup } from './wakeup.js'


export interface DownloadResult {
  digest: string
  size: number
  bytesBySource: BytesBySource
}

/** sizing: learning size and piece size; fetching: pieces move; finishing: whole-blob check; then done or failed. */
export type Phase = 'sizing' | 'fetching' | 'finishing' | 'done' | 'failed'

/**
 * One download per blob, shared by every reader (single-flight). The parts:
 * the swarm view (who has what, who wants it — view.ts), discovery (who to
 * ask — discovery.ts), the sizing phase (sizing.ts), the planner (who goes
 * to the origin and which piece comes from whom — planner.ts over
 * origin-rule.ts, policy.ts and the pure pass of scheduler.ts), the fetch
 * paths (peer, ranged origin, whole origin — fetch-paths.ts) over shared
 * attempt bookkeeping (attempts.ts), and the whole-blob check (finish.ts).
 * This class owns the blob's state, wires the parts and walks the phases.
 */
export class Download {
  readonly digest: string
  readonly id: BlobDigest
  readonly #c: DownloadComponents
  readonly #o: Required<DownloadInit>
  readonly #clock: Clock
  readonly #origins: OriginList
  readonly #abort = new AbortController()
  readonly #view: SwarmView
  readonly #attempts: Attempts
  readonly #readers = new DownloadReaders()
  readonly #progress = new Set<ProgressFn>()
  readonly #ready: PromiseWithResolvers<void> = Promise.withResolvers()
  readonly #done: PromiseWithResolvers<DownloadResult> = Promise.withResolvers()
  readonly #stops: Array<() => void> = []
  /** The piece map's CID a caller gave, and the map once authenticated. */
  readonly #mapAuth: PieceMapAuth
  /** With no origin: waits for the swarm's answers before NoSourceError, and says what was tried. */
  readonly #seek: Seek
  /** The whole-blob check, and on a mismatch which provisional pieces were wrong and whom to blame. */
  readonly #finisher: Finisher

  phase: Phase = 'sizing'
  size = -1
  pieceSize = 0
  /** Held pieces, trusted digests, provisional pieces (docs/security.md, "Trust rule"). */
  readonly #pieces: PieceLedger
  /** Whole-blob mismatches so far (readers that streamed provisional bytes fail when it changes). */
  resets = 0
  /** The size came from a peer's offer, not from the origin. */
  #sizeFromPeer = false
  #acceptsRanges = true
  #originOnly = false
  #provided = false
  readonly #startedAt: number
  #announcer?: Announcer
  readonly #wakeup: Wakeup
  #refs = 0
  /** Load, piece times and what follows from them: gossip rounds, heartbeat, patience. */
  readonly #pace: Pace
  /** How a piece is fetched from a peer, a ranged origin or a whole-blob stream. */
  readonly #paths: FetchPaths
  /** Who fetches which piece from where. */
  readonly #planner: Planner
  /** Who holds the blob: the DHT, the connected peers, meta requests. */
  readonly #discovery: Discovery
  #failure?: Error

  constructor (digest: string, components: DownloadComponents, init: DownloadInit = {}) {
    this.id = parseDigest(digest)
    this.digest = this.id.digest
    this.#c = components
    this.#clock = components.clock ?? systemClock
    this.#startedAt = this.#clock.now()
    this.#o = withDefaults(init)
    this.#pace = new Pace(this.#startedAt, this.#o)
    this.#origins = new OriginList({
      ...components,
      digest: this.digest,
      switched: () => { this.#paths.originChanged() },
      failedForGood: () => { this.#announcer?.markDirty(); this.#checkStuck() }
    })
    this.#wakeup = new Wakeup(this.#clock, () => { this.#schedule() })
    this.#view = new SwarmView(components.selfId, components.peerBook, () => { this.#wakeSoon() }, components.location)
    // every request in flight and every meta question listens on the download's signal
    setMaxListeners(Infinity, this.#abort.signal)
    this.#attempts = new Attempts(this.#abort.signal)
    const c = components
    this.#pieces = new PieceLedger({ digest: this.digest, store: c.store, events: c.events, signal: this.#abort.signal, logger: c.logger })
    const parts = { view: this.#view, clock: this.#clock, pace: this.#pace, attempts: this.#attempts, signal: this.#abort.signal }
    this.#planner = new Planner({ ...c, ...parts, readers: this.#readers, rv: new Rendezvous(this.id.hex), startedAt: this.#startedAt, options: this.#o, connectedPeers: () => c.swarm.connectedPeers().length })
    this.#discovery = new Discovery({ ...c, ...parts, digest: this.digest, timeoutMs: this.#o.discoveryTimeoutMs, interest: () => this.interest(), wake: () => { this.#wake() }, answered: (p, meta) => { this.#mapAuth.answered(p.key, meta); this.#seek.poke() } })
    this.#paths = new FetchPaths({
      digest: this.digest,
      size: () => this.size,
      pieceSize: () => this.pieceSize,
      signal: this.#abort.signal,
      has: i => this.#pieces.have.get(i),
      trusted: i => this.#pieces.digests[i],
      trustedOnly: () => this.#mapAuth.given,
      accept: async (i, bytes, d, source, peer, provisional) => { await this.#accept(i, bytes, d, source, peer, provisional) },
      originFailed: (origin, err) => { this.#origins.requestFailed(origin, err) },
      originEnded: i => { this.#planner.originRule.settled(i); this.#announcer?.markDirty() },
      markDirty: () => { this.#announcer?.markDirty() },
      wake: () => { this.#wake() },
      wakeSoon: () => { this.#wakeSoon() }
    }, { components, ...parts })
    this.#mapAuth = new PieceMapAuth({
      ...c,
      digest: this.digest,
      pieces: this.#pieces,
      size: () => this.size,
      pieceSize: () => this.pieceSize,
      settled: () => this.settled,
      // peers that answered already are asked again: their answer may be the map
      reprobe: () => { for (const p of this.#view.all()) { p.metaAt = 0; this.#view.wantProbe(p) } },
      fail: err => { this.#fail(err) },
      wake: () => { this.#wake() }
    })
    this.#finisher = new Finisher({ ...c, digest: this.digest, signal: this.#abort.signal, pieces: this.#pieces, paths: this.#paths, peers: () => this.#view.all() })
    this.#seek = new Seek({
      digest: this.digest,
      swarm: c.swarm,
      view: this.#view,
      clock: this.#clock,
      signal: this.#abort.signal,
      wake: () => { this.#wake() },
      hasOrigin: () => this.#origins.current != null,
      firstLookupDone: () => this.#discovery.done,
      // with a piece map's CID, only the authenticated map tells the size
      sizeKnown: () => (this.#mapAuth.given ? this.#mapAuth.map : this.#view.sizeOffer) != null
    })
    this.#done.promise.catch(() => {})
    this.#ready.promise.catch(() => {})
  }

  get done (): Promise<DownloadResult> { return this.#done.promise }
  get settled (): boolean { return this.phase === 'done' || this.phase === 'failed' }
  get signal (): AbortSignal { return this.#abort.signal }
  get bytesBySource (): BytesBySource { return { ...this.#pieces.bytes } }
  get failure (): Error | undefined { return this.#failure }

  /** The CID of the blob's piece map (a caller gave it): pieces are then taken only against its digests (piece-map-check.ts). */
  addPieceMap (cid: string): void { this.#mapAuth.add(cid) }

  /** Origins are tried in the order callers gave them; the next takes over when one fails for good. */
  addOrigin (origin: Origin): void {
    if (!this.#origins.add(origin)) return
    // A size taken from a peer meets an origin: if the origin says otherwise, the peer lied and the record goes.
    if (this.#sizeFromPeer && this.phase === 'fetching') {
      const size = this.size
      void checkPeerSize(this.#sizing(), origin, size).then(err => { if (err != null && !this.settled) this.#fail(err) })
    }
    this.#wake()
  }

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
    // peer exchange: the peers the origin rule ranks us among, so a node that
    // met the swarm through one peer learns the swarm's interest at once
    const cands = this.#planner.originRule.candidates
    return { wants: true, hasOrigin: this.#origins.current != null, location: this.#c.location, fetching: this.#originClaims(), peers: cands.slice(0, K.MAX_EXCHANGED_PEERS + 1).map(p => p.key), interested: cands.length }
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
      this.#pieces.holdAll(info.pieceCount)
      this.#ready.resolve()
      this.#pieces.bytes.cache = info.size
      this.#c.events.bytes('cache', info.size)
      this.#settle()
      return
    }
    this.#announcer = new Announcer({
      swarm: this.#c.swarm,
      hex: this.id.hex,
      clock: this.#clock,
      onGossip: (from, msg) => { this.#view.onGossip(from, msg, this.#pieces.digests, this.#clock.now()) },
      state: final => this.#gossipState(final),
      batchMs: () => this.#pace.gossipBatchMs(this.#planner.swarmSize())
    })
    void this.#discovery.run()
    this.#stops.push(this.#clock.every(K.SCHEDULE_TICK_MS, () => { this.#tick() }))
    // A partial record's size may have come from a peer: with an origin, the origin's size wins.
    const sizing = info != null && this.#origins.current == null
      ? { size: info.size, pieceSize: info.pieceSize, fromPeer: false }
      : await determineSize(this.#sizing())
    await this.#setSize(sizing)
  }

  #sizing (): SizingComponents {
    return {
      digest: this.digest,
      store: this.#c.store,
      clock: this.#clock,
      logger: this.#c.logger,
      signal: this.signal,
      startedAt: this.#startedAt,
      discoveryTimeoutMs: this.#o.discoveryTimeoutMs,
      origin: () => this.#origins.current,
      originFailed: () => this.#origins.failed,
      originError: err => { this.#c.events.originError(); this.#origins.next(err) },
      // with a piece map's CID, only the authenticated map tells the size
      sizeOffer: () => this.#mapAuth.given ? this.#mapAuth.map : this.#view.sizeOffer,
      seek: this.#seek
    }
  }

  async #setSize (s: Sizing): Promise<void> {
    if (s.acceptsRanges != null) this.#acceptsRanges = s.acceptsRanges
    if (s.fromPeer) this.#sizeFromPeer = true
    const { size, pieceSize } = s
    const n = pieceCount(size, pieceSize)
    const record = await openRecord(this.#sizing(), s, n)
    this.#pieces.reset(n, record)
    const have = record.have
    this.pieceSize = pieceSize
    this.size = size
    // The planner reads these options: from now on it sends only what fits the in-flight bytes.
    Object.assign(this.#o, fitInFlight(this.#o, pieceSize))
    // a piece map that came before the size (with an origin, the origin gave the size)
    this.#mapAuth.apply()
    if (this.settled) return
    this.#view.sizeKnown(size, pieceSize, n)
    this.phase = 'fetching'
    this.#c.logger?.debug({ digest: this.digest, size, pieceSize, held: have.count, afterMs: this.#clock.now() - this.#startedAt }, 'download: size known')
    this.#ready.resolve()
    this.#emit({ type: 'starling:fetch:start', detail: { digest: this.digest, size, pieceSize, pieceCount: n, piecesHeld: have.count } })
    if (have.count > 0) { this.#provideOnce(); this.#announcer?.markDirty() }
    if (have.full) await this.#finish()
    else this.#wake()
  }

  // ---- scheduling ------------------------------------------------------------

  /** Runs one scheduling pass soon (coalesced: many events, one pass). */
  #wake (): void { this.#wakeup.now() }
  /** A pass within WAKE_COALESCE_MS, for what peers tell us (wakeup.ts). */
  #wakeSoon (): void { if (!this.settled) this.#wakeup.soon() }

  #tick (): void {
    const now = this.#clock.now()
    this.#pace.tick(now)
    if (this.#announcer != null) this.#view.noteSubscribers(this.#announcer.subscribers(), now)
    this.#view.refreshBans()
    this.#view.originUsable = this.#origins.current != null
    // full state for peers that missed a message, when no change went out for a heartbeat
    const swarm = this.#planner.swarmSize()
    const heartbeat = this.#pace.heartbeatMs(swarm)
    this.#view.interestTtlMs = K.INTEREST_TTL_HEARTBEATS * heartbeat
    this.#view.claimStaleMs = this.#pace.claimStaleMs(swarm)
    this.#view.busyStreakMs = this.#pace.busyStreakMs()
    this.#announcer?.heartbeat(heartbeat)
    this.#schedule()
    this.#checkStuck()
  }

  #planState (): PlannerState {
    return {
      n: this.#pieces.n,
      have: this.#pieces.have,
      trusted: i => this.#pieces.digests[i] != null,
      originUsable: this.#origins.current != null,
      acceptsRanges: this.#acceptsRanges,
      originOnly: this.#originOnly,
      originInflight: this.#paths.originInflight,
      discoveryDone: this.#discovery.done,
      refuted: this.#finisher.refuted,
      trustedOnly: this.#mapAuth.given
    }
  }

  #schedule (): void {
    if (this.settled) return
    const now = this.#clock.now()
    this.#discovery.probeQueued(now)
    if (this.phase !== 'fetching' || this.#pieces.n === 0) return
    const { actions, probeConnected } = this.#planner.pass(this.#planState(), now)
    if (probeConnected) this.#discovery.probeConnected()
    for (const a of actions) this.#act(a)
  }

  #act (a: Action): void {
    const origin = this.#origins.current
    if (a.type === 'peer') this.#paths.fromPeer(a.piece, a.peer)
    else if (origin == null) return
    else if (a.type === 'origin') {
      const rule = this.#planner.originRule
      this.#c.logger?.debug({ piece: a.piece, ...rule.lastGrant, candidates: rule.candidates.length, peers: this.#view.size, subscribers: this.#view.subscribers.size }, 'download: origin piece is ours')
      this.#paths.fromOrigin(origin, a.piece)
    } else this.#paths.whole(origin)
  }

  // ---- origins ------------------------------------------------------------

  /** Fails the download when no source is left for a piece still needed. */
  #checkStuck (): void {
    if (this.phase !== 'fetching' || this.#origins.current != null) return
    if (this.#finisher.stuck()) {
      this.#fail(new DigestMismatchError(`${this.digest}: the blob failed its digest and no peer is left to fetch its suspect pieces from`))
      return
    }
    // with a piece map's CID, peers are of no use until one gave the map
    if (this.#mapAuth.given && this.#mapAuth.map == null && this.#clock.now() - this.#startedAt >= this.#o.discoveryTimeoutMs) {
      this.#fail(new NoSourceError(`no peer gave the piece map ${this.#mapAuth.cid?.toString() ?? ''} of ${this.digest} and no origin was given`))
      return
    }
    if (this.#attempts.size > 0 || this.#view.anyHolder()) return
    const now = this.#clock.now()
    if (this.#origins.failed == null && (!this.#discovery.done || this.#view.metaInflight > 0 || now - this.#startedAt < this.#o.discoveryTimeoutMs)) return
    this.#fail(this.#origins.failed ?? this.#seek.noSource(`no peer holds the missing pieces of ${this.digest} and no origin was given`))
  }

  async #accept (i: number, bytes: Uint8Array, d: Uint8Array, source: ByteSource, peer?: string, provisional?: { voucher: string }): Promise<void> {
    if (this.settled) return
    try {
      if (!await this.#pieces.accept(i, bytes, d, source, provisional)) return
    } catch (err) {
      // A full disk is ours, not the sender's: fail the fetch at once, typed, and strike nobody.
      if (!(err instanceof StoreFullError) && (err as Error)?.name !== 'StoreFullError') throw err
      this.#fail(err as Error)
      return
    }
    this.#planner.settled(i)
    this.#attempts.abortPiece(i, 'piece arrived elsewhere')
    this.#emit({ type: 'starling:fetch:piece', detail: { digest: this.digest, index: i, bytes: bytes.byteLength, source, peer } })
    this.#announcer?.markDirty()
    this.#provideOnce()
    this.#readers.arrived(i)
    if (this.#pieces.have.full) await this.#finish()
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
      const again = await this.#finisher.run(this.size, this.pieceSize, this.#origins.current != null && !this.#originOnly)
      if (again == null) { this.#settle(); return }
      // The blob failed its sha256: the provisional pieces come again (finish.ts).
      this.resets++
      if (again === 'origin') this.#originOnly = true
      this.phase = 'fetching'
      this.#wake()
    } catch (err) {
      this.#fail(err as Error)
    }
  }

  // ---- gossip ------------------------------------------------------------------

  #gossipState (final: boolean): BlobGossip {
    return {
      location: this.#c.location,
      size: BigInt(Math.max(0, this.size)),
      pieceSize: this.pieceSize,
      have: new Uint8Array(this.#pieces.have.bytes),
      complete: this.phase === 'done',
      hasOrigin: this.#origins.current != null && !final,
      pieces: this.#pieces.takeAnnounced(),
      fetching: final ? [] : this.#originClaims(),
      leaving: final && !this.#pieces.have.full
    }
  }

  #originClaims (): number[] {
    return this.#planner.originClaims(this.#planState(), this.size >= 0)
  }

  // ---- readers -------------------------------------------------------------------

  async waitReady (signal?: AbortSignal): Promise<void> {
    await raceSignal(this.#ready.promise, signal)
  }

  /** Resolves when piece i is held (verified and durable). */
  async waitPiece (i: number, signal?: AbortSignal): Promise<void> {
    if (this.#pieces.have.get(i)) return
    await raceSignal(Promise.race([this.#readers.wait(i), this.#done.promise.then(() => {})]), signal)
    if (!this.#pieces.have.get(i)) await this.#done.promise
  }

  /** Streams verified bytes [offset, offset+length) in order while the download runs. */
  read (range: { offset?: number, length?: number } = {}, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
    return readVerified(this, this.#c.store, range, signal)
  }

  isProvisional (i: number): boolean {
    return this.#pieces.provisional.has(i)
  }

  readerAt (piece: number): { moveTo(piece: number): void, close(): void } {
    return this.#readers.at(piece, () => { this.#wake() })
  }

  // ---- end -------------------------------------------------------------------------

  #settle (): void {
    if (this.settled) return
    this.phase = 'done'
    // The blob matched its sha256, so every piece digest is proven: a peer
    // vouching for another digest of any piece is a liar, banned whatever
    // number of pieces it managed to send (strikes count per piece) — and
    // also when none of its pieces was used (its lie would cost the next
    // node that trusts it; under load the honest peers can win every race).
    for (const p of this.#view.all()) {
      for (const [i, d] of p.claimed) {
        const t = this.#pieces.digests[i]
        if (t != null && !equalBytes(t, d)) { this.#c.peerBook.ban(p.key, `vouched for a wrong digest of piece ${i} of ${this.digest}, which matched its sha256 without it`); break }
      }
    }
    // The whole blob matched its digest: nothing is provisional any more.
    this.#pieces.provisional.clear()
    const result = { digest: this.digest, size: this.size, bytesBySource: { ...this.#pieces.bytes } }
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
    this.#wakeup.stop()
    this.#attempts.abortAll('download over')
    for (const p of this.#view.all()) { p.session?.close(); p.session = undefined }
    this.#readers.releaseAll()
    // Tell the topic our final state, then linger as a seeder of the first wave (the DHT record stays).
    this.#announcer?.close(this.#pieces.have.full ? this.#o.lingerMs : 0)
  }

  #emit (evt: Parameters<ProgressFn>[0]): void {
    for (const fn of this.#progress) {
      try { fn(evt) } catch {}
    }
  }
}
