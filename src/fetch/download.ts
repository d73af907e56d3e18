import type { PeerId } from '@libp2p/interface'
import type { ByteSource, BytesBySource } from '../types.js'
import { parseDigest, pieceCount, type BlobDigest } from '../content/index.js'
import { AbortError, StoreFullError } from '../errors.js'
import type { Origin } from '../origin/types.js'
import type { BlobInterest } from '../transfer/types.js'
import * as K from './constants.js'
import { fitInFlight, withDefaults } from './constants.js'
import { Announcer, claimsOnWire, gossipState } from './announce.js'
import { banContradicted } from './finish.js'
import { wireParts, type DownloadParts } from './parts.js'
import type { OriginClaims, PlannerState } from './planner.js'
import { readVerified } from './reader.js'
import type { Action } from './scheduler.js'
import { raceSignal } from './signals.js'
import { checkPeerSize, openRecord, startingSize, type Sizing } from './sizing.js'
import { grantLogFields } from './grant-log.js'
import { stuckError } from './stuck.js'
import type { DownloadComponents, DownloadInit, ProgressFn } from './types.js'

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
 * They are built and wired to each other in parts.ts; this class owns the
 * blob's state and walks the phases.
 */
export class Download {
  readonly digest: string
  readonly id: BlobDigest
  readonly #c: DownloadComponents
  readonly #o: Required<DownloadInit>
  /** The parts this class wires and walks through the phases (parts.ts). */
  readonly #p: DownloadParts
  readonly #progress = new Set<ProgressFn>()
  readonly #ready: PromiseWithResolvers<void> = Promise.withResolvers()
  readonly #done: PromiseWithResolvers<DownloadResult> = Promise.withResolvers()
  readonly #stops: Array<() => void> = []

  phase: Phase = 'sizing'
  size = -1
  pieceSize = 0
  /** Whole-blob mismatches so far (readers that streamed provisional bytes fail when it changes). */
  resets = 0
  /** Where the size came from, and whether the origin takes ranges (sizing.ts). */
  #sized?: Sizing
  #originOnly = false
  #provided = false
  #announcer?: Announcer
  #refs = 0
  #failure?: Error

  constructor (digest: string, components: DownloadComponents, init: DownloadInit = {}) {
    this.id = parseDigest(digest)
    this.digest = this.id.digest
    this.#c = components
    this.#o = withDefaults(init)
    this.#p = wireParts(this.id, components, this.#o, {
      size: () => this.size,
      pieceSize: () => this.pieceSize,
      settled: () => this.settled,
      fetching: () => this.phase === 'fetching',
      originOnly: () => this.#originOnly,
      interest: () => this.interest(),
      accept: async (i, bytes, d, source, peer, provisional) => { await this.#accept(i, bytes, d, source, peer, provisional) },
      schedule: () => { this.#schedule() },
      wake: () => { this.#wake() },
      wakeSoon: () => { this.#wakeSoon() },
      fail: err => { this.#fail(err) },
      checkStuck: () => { this.#checkStuck() },
      markDirty: () => { this.#announcer?.markDirty() }
    })
    this.#done.promise.catch(() => {})
    this.#ready.promise.catch(() => {})
  }

  get done (): Promise<DownloadResult> { return this.#done.promise }
  get settled (): boolean { return this.phase === 'done' || this.phase === 'failed' }
  get signal (): AbortSignal { return this.#p.abort.signal }
  get bytesBySource (): BytesBySource { return { ...this.#p.pieces.bytes } }
  get failure (): Error | undefined { return this.#failure }

  /** The CID of the blob's piece map (a caller gave it): pieces are then taken only against its digests (piece-map-check.ts). */
  addPieceMap (cid: string): void { this.#p.mapAuth.add(cid) }

  /** Origins are tried in the order callers gave them; the next takes over when one fails for good. */
  addOrigin (origin: Origin): void {
    if (!this.#p.origins.add(origin)) return
    // A size taken from a peer meets an origin: if the origin says otherwise, the peer lied and the record goes.
    if (this.#sized?.fromPeer === true && this.phase === 'fetching') {
      const size = this.size
      void checkPeerSize(this.#p.sizing, origin, size).then(err => { if (err != null && !this.settled) this.#fail(err) })
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
    const cands = this.#p.planner.originRule.candidates
    return { wants: true, hasOrigin: this.#p.origins.current != null, location: this.#c.location, ...claimsOnWire(this.#originClaims()), peers: cands.slice(0, K.MAX_EXCHANGED_PEERS + 1).map(p => p.key), interested: cands.length }
  }

  /** A peer told us its interest with its own meta request. */
  noteInterest (peer: PeerId, interest: BlobInterest): void {
    if (!this.settled) this.#p.view.onInterest(peer, interest, this.#p.clock.now())
  }

  // ---- phases --------------------------------------------------------------

  async #run (): Promise<void> {
    const info = await this.#c.store.stat(this.digest, { signal: this.signal })
    if (info?.complete === true) {
      this.size = info.size
      this.pieceSize = info.pieceSize
      this.#p.pieces.holdAll(info.pieceCount)
      this.#ready.resolve()
      this.#p.pieces.bytes.cache = info.size
      this.#c.events.bytes('cache', info.size)
      this.#settle()
      return
    }
    this.#announcer = new Announcer({
      swarm: this.#c.swarm,
      hex: this.id.hex,
      clock: this.#p.clock,
      onGossip: (from, msg) => { this.#p.view.onGossip(from, msg, this.#p.pieces.digests, this.#p.clock.now()) },
      state: final => gossipState({
        location: this.#c.location, size: this.size, pieceSize: this.pieceSize, pieces: this.#p.pieces,
        complete: this.phase === 'done', hasOrigin: this.#p.origins.current != null, claims: () => this.#originClaims()
      }, final),
      batchMs: () => this.#p.pace.gossipBatchMs(this.#p.planner.swarmSize())
    })
    void this.#p.discovery.run()
    this.#stops.push(this.#p.clock.every(K.SCHEDULE_TICK_MS, () => { this.#tick() }))
    await this.#setSize(await startingSize(this.#p.sizing, info))
  }

  async #setSize (s: Sizing): Promise<void> {
    this.#sized = s
    const { size, pieceSize } = s
    const n = pieceCount(size, pieceSize)
    const record = await openRecord(this.#p.sizing, s, n)
    this.#p.pieces.reset(n, record)
    const have = record.have
    this.pieceSize = pieceSize
    this.size = size
    // The planner reads these options: from now on it sends only what fits the in-flight bytes.
    Object.assign(this.#o, fitInFlight(this.#o, pieceSize))
    // a piece map that came before the size (with an origin, the origin gave the size)
    this.#p.mapAuth.apply()
    if (this.settled) return
    this.#p.view.sizeKnown(size, pieceSize, n)
    this.phase = 'fetching'
    this.#c.logger?.debug({ digest: this.digest, size, pieceSize, held: have.count, afterMs: this.#p.clock.now() - this.#p.startedAt }, 'download: size known')
    this.#ready.resolve()
    this.#emit({ type: 'starling:fetch:start', detail: { digest: this.digest, size, pieceSize, pieceCount: n, piecesHeld: have.count } })
    if (have.count > 0) { this.#provideOnce(); this.#announcer?.markDirty() }
    if (have.full) await this.#finish()
    else this.#wake()
  }

  // ---- scheduling ------------------------------------------------------------

  /** Runs one scheduling pass soon (coalesced: many events, one pass). */
  #wake (): void { this.#p.wakeup.now() }
  /** A pass within WAKE_COALESCE_MS, for what peers tell us (wakeup.ts). */
  #wakeSoon (): void { if (!this.settled) this.#p.wakeup.soon() }

  #tick (): void {
    const now = this.#p.clock.now()
    this.#p.pace.tick(now, this.#p.attempts.oldestFrom('origin'))
    if (this.#announcer != null) this.#p.view.noteSubscribers(this.#announcer.subscribers(), now)
    this.#p.view.refreshBans()
    this.#p.view.originUsable = this.#p.origins.current != null
    // full state for peers that missed a message, when no change went out for a heartbeat
    const swarm = this.#p.planner.swarmSize()
    const heartbeat = this.#p.pace.heartbeatMs(swarm)
    // a peer that claims nothing heartbeats HEARTBEAT_UNCLAIMED_FACTOR times less often
    this.#p.view.interestTtlMs = K.INTEREST_TTL_HEARTBEATS * K.HEARTBEAT_UNCLAIMED_FACTOR * heartbeat
    this.#p.view.claimStaleMs = this.#p.pace.claimStaleMs(swarm)
    this.#p.view.busyStreakMs = this.#p.pace.busyStreakMs()
    this.#announcer?.heartbeat(heartbeat)
    this.#schedule()
    this.#checkStuck()
  }

  #planState (): PlannerState {
    return {
      n: this.#p.pieces.n,
      have: this.#p.pieces.have,
      trusted: i => this.#p.pieces.digests[i] != null,
      originUsable: this.#p.origins.current != null,
      acceptsRanges: this.#sized?.acceptsRanges ?? true,
      originOnly: this.#originOnly,
      originInflight: this.#p.paths.originInflight,
      discoveryDone: this.#p.discovery.done,
      refuted: this.#p.finisher.refuted,
      trustedOnly: this.#p.mapAuth.given
    }
  }

  /** The pieces we claim for the origin, as gossip and our interest carry them. */
  #originClaims (): OriginClaims {
    return this.#p.planner.originClaims(this.#planState(), this.size >= 0, this.#p.clock.now())
  }

  #schedule (): void {
    if (this.settled) return
    const now = this.#p.clock.now()
    this.#p.discovery.probeQueued(now)
    if (this.phase !== 'fetching' || this.#p.pieces.n === 0) return
    const { actions, probeConnected } = this.#p.planner.pass(this.#planState(), now)
    if (probeConnected) this.#p.discovery.probeConnected()
    for (const a of actions) this.#act(a)
  }

  #act (a: Action): void {
    const origin = this.#p.origins.current
    if (a.type === 'peer') this.#p.paths.fromPeer(a.piece, a.peer)
    else if (origin == null) return
    else if (a.type === 'origin') {
      const rule = this.#p.planner.originRule
      this.#c.logger?.debug({ ...grantLogFields(a.piece, this.#c.selfId, rule, this.#p.view, k => this.#c.peerBook.isBanned(k), this.#p.clock.now()), slowness: this.#p.pace.slowness() }, 'download: origin piece is ours')
      this.#p.paths.fromOrigin(origin, a.piece)
    } else this.#p.paths.whole(origin)
  }

  // ---- origins ------------------------------------------------------------

  /** Fails the download when no source is left for a piece still needed (stuck.ts). */
  #checkStuck (): void {
    const err = stuckError(this.#p.stuck)
    if (err != null) this.#fail(err)
  }

  async #accept (i: number, bytes: Uint8Array, d: Uint8Array, source: ByteSource, peer?: string, provisional?: { voucher: string }): Promise<void> {
    if (this.settled) return
    try {
      if (!await this.#p.pieces.accept(i, bytes, d, source, provisional)) return
    } catch (err) {
      // A full disk is ours, not the sender's: fail the fetch at once, typed, and strike nobody.
      if (!(err instanceof StoreFullError) && (err as Error)?.name !== 'StoreFullError') throw err
      this.#fail(err as Error)
      return
    }
    this.#p.planner.settled(i)
    this.#p.attempts.abortPiece(i, 'piece arrived elsewhere')
    this.#emit({ type: 'starling:fetch:piece', detail: { digest: this.digest, index: i, bytes: bytes.byteLength, source, peer } })
    this.#announcer?.markDirty()
    this.#provideOnce()
    this.#p.readers.arrived(i)
    if (this.#p.pieces.have.full) await this.#finish()
  }

  #provideOnce (): void {
    if (this.#provided) return
    this.#provided = true
    void this.#c.swarm.provide(this.digest, { signal: AbortSignal.any([this.signal, this.#p.clock.timeout(K.PROVIDE_TIMEOUT_MS)]) })
  }

  async #finish (): Promise<void> {
    if (this.phase !== 'fetching') return
    this.phase = 'finishing'
    try {
      const again = await this.#p.finisher.run(this.size, this.pieceSize, this.#p.origins.current != null && !this.#originOnly)
      if (again == null) { this.#settle(); return }
      // The blob failed its sha256: the provisional pieces come again (finish.ts).
      this.resets++
      if (again === 'origin') {
        this.#originOnly = true
        this.#p.attempts.abortPeers('whole-blob mismatch: the dropped pieces come from the origin')
      }
      this.phase = 'fetching'
      this.#wake()
    } catch (err) {
      this.#fail(err as Error)
    }
  }

  // ---- readers -------------------------------------------------------------------

  async waitReady (signal?: AbortSignal): Promise<void> { await raceSignal(this.#ready.promise, signal) }

  /** Resolves when piece i is held (verified and durable). */
  async waitPiece (i: number, signal?: AbortSignal): Promise<void> {
    if (this.#p.pieces.have.get(i)) return
    await raceSignal(Promise.race([this.#p.readers.wait(i), this.#done.promise.then(() => {})]), signal)
    if (!this.#p.pieces.have.get(i)) await this.#done.promise
  }

  /** Streams verified bytes [offset, offset+length) in order while the download runs. */
  read (range: { offset?: number, length?: number } = {}, signal?: AbortSignal, reuseBuffer = false): AsyncGenerator<Uint8Array> {
    return readVerified(this, this.#c.store, range, signal, reuseBuffer)
  }

  isProvisional (i: number): boolean { return this.#p.pieces.provisional.has(i) }

  readerAt (piece: number): { moveTo(piece: number): void, close(): void } { return this.#p.readers.at(piece, () => { this.#wake() }) }

  // ---- end -------------------------------------------------------------------------

  #settle (): void {
    if (this.settled) return
    this.phase = 'done'
    // every piece digest is proven now: a peer that vouched for another is a liar (finish.ts)
    banContradicted(this.digest, this.#p.view.all(), i => this.#p.pieces.proven(i), this.#c.peerBook)
    // The whole blob matched its digest: nothing is provisional any more.
    this.#p.pieces.provisional.clear()
    const result = { digest: this.digest, size: this.size, bytesBySource: { ...this.#p.pieces.bytes } }
    this.#cleanup()
    this.#done.resolve(result)
  }

  #fail (err: Error): void {
    if (this.settled) return
    this.phase = 'failed'
    this.#failure = err
    this.#ready.reject(err)
    if (!this.#p.abort.signal.aborted) this.#p.abort.abort(err)
    this.#cleanup()
    this.#done.reject(err)
    // Nothing wrong is kept: a blob that failed its digest leaves no partial behind.
    if (err?.name === 'DigestMismatchError') void this.#c.store.delete(this.digest).catch(() => {})
  }

  #cleanup (): void {
    for (const stop of this.#stops) stop()
    this.#p.wakeup.stop()
    this.#p.attempts.abortAll('download over')
    for (const p of this.#p.view.all()) { p.session?.close(); p.session = undefined }
    this.#p.readers.releaseAll()
    // Tell the topic our final state, then linger as a seeder of the first wave (the DHT record stays).
    this.#announcer?.close(this.#p.pieces.have.full ? this.#o.lingerMs : 0)
  }

  #emit (evt: Parameters<ProgressFn>[0]): void {
    for (const fn of this.#progress) {
      try { fn(evt) } catch {}
    }
  }
}
