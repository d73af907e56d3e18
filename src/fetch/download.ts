import type { PeerId } from '@libp2p/interface'
import type { ByteSource, BytesBySource } from '../types.js'
import { Bitfield, choosePieceSize, equalBytes, parseDigest, pieceCount, pieceRange, sha256, type BlobDigest } from '../content/index.js'
import { AbortError, DigestMismatchError, NoSourceError, OriginError } from '../errors.js'
import type { Origin } from '../origin/types.js'
import type { BlobGossip } from '../swarm/index.js'
import type { BlobTopic } from '../swarm/index.js'
import { PeerTable } from './peer-table.js'
import { readOriginRange, readOriginWhole } from './origin-piece.js'
import { Rendezvous } from './rendezvous.js'
import { choosePeer, mayFetchForLocation, orderPieces } from './policy.js'
import { raceSignal, sleepFor } from './signals.js'
import { readVerified } from './reader.js'
import type { DownloadComponents, DownloadInit, ProgressFn, RemotePeer } from './types.js'

export interface DownloadResult {
  digest: string
  size: number
  bytesBySource: BytesBySource
}

/** How long state changes are batched before one gossip message carries them. */
const GOSSIP_BATCH_MS = 500
/** At most this many origin claims per gossip message (about 5 bytes each). */
const MAX_CLAIMS = 256
/** Connected peers asked directly when the DHT knows no provider. */
const MAX_DIRECT_PROBES = 32
/** Longest wait for the DHT before a node that found nobody goes to the origin. */
const MAX_GATHER_MS = 3000

interface Attempt { source: 'origin' | string, ctrl: AbortController, at: number }

/**
 * One download per blob, shared by every reader (single-flight). It finds
 * peers, learns the blob's size and piece digests, picks pieces (the pieces
 * readers need next first, then rarest first, endgame at the tail), picks
 * peers (same location, then RTT, then load), verifies every piece, blames
 * bad peers, and decides with rendezvous hashing which pieces this node
 * fetches from the origin — see docs/no-scheduler.md.
 */
export class Download {
  readonly digest: string
  readonly id: BlobDigest
  readonly #c: DownloadComponents
  readonly #o: Required<DownloadInit>
  readonly #origins: Origin[] = []
  readonly #abort = new AbortController()
  readonly #rv: Rendezvous
  readonly #peers: PeerTable
  readonly #progress = new Set<ProgressFn>()
  readonly #readers = new Set<{ next: number }>()
  readonly #waiters = new Map<number, Array<() => void>>()
  readonly #attempts = new Map<number, Attempt[]>()
  readonly #fromPeer = new Map<number, string>()
  readonly #announce: Array<{ index: number, digest: Uint8Array }> = []
  readonly #bytes: BytesBySource = { origin: 0, 'peer-local': 0, 'peer-remote': 0, cache: 0 }
  readonly #ready: PromiseWithResolvers<void> = Promise.withResolvers()
  readonly #done: PromiseWithResolvers<DownloadResult> = Promise.withResolvers()

  size = -1
  pieceSize = 0
  #n = 0
  #have = new Bitfield(0)
  /** Trusted piece digests: computed from origin bytes or from a verified write. */
  #digests: Array<Uint8Array | undefined> = []
  #acceptsRanges = true
  #originFailed?: Error
  #originInflight = 0
  #wholeRunning = false
  #originOnly = false
  #finishing = false
  #settled = false
  #provided = false
  #discoveryDone = false
  #startedAt = Date.now()
  #topic?: BlobTopic
  #timers: Array<ReturnType<typeof setInterval>> = []
  #dirty?: ReturnType<typeof setTimeout>
  #refs = 0
  /** Smoothed time of one piece from the origin / from a peer (EWMA), for stall and endgame thresholds. */
  #originPieceMs = 0
  #peerPieceMs = 200
  #lastPublish = 0
  /** When each piece first waited on a peer ranked above us (for the unclaimed-piece rule). */
  readonly #waitingSince = new Map<number, number>()
  #failure?: Error
  #sizeOffer?: { size: number, pieceSize: number }
  #sizeOffered?: () => void

  constructor (digest: string, components: DownloadComponents, init: DownloadInit = {}) {
    this.id = parseDigest(digest)
    this.digest = this.id.digest
    this.#c = components
    this.#o = {
      originConcurrency: init.originConcurrency ?? 4,
      perPeerPipeline: init.perPeerPipeline ?? 4,
      peerConcurrency: init.peerConcurrency ?? 24,
      gatherMs: init.gatherMs ?? 500,
      stallMs: init.stallMs ?? 4000,
      discoveryTimeoutMs: init.discoveryTimeoutMs ?? 20_000,
      heartbeatMs: init.heartbeatMs ?? 3000,
      lingerMs: init.lingerMs ?? 30_000
    }
    this.#rv = new Rendezvous(this.id.hex)
    this.#peers = new PeerTable(components, this.digest, () => this.#n, (size, pieceSize) => { this.#offerSize(size, pieceSize) }, () => { this.#schedule() })
    this.#done.promise.catch(() => {})
    this.#ready.promise.catch(() => {})
  }

  get done (): Promise<DownloadResult> { return this.#done.promise }
  get settled (): boolean { return this.#settled }
  get signal (): AbortSignal { return this.#abort.signal }
  get bytesBySource (): BytesBySource { return { ...this.#bytes } }

  addOrigin (origin: Origin): void {
    if (this.#origins.some(o => o.name === origin.name)) return
    this.#origins.push(origin)
    this.#schedule()
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
      if (--this.#refs === 0 && !this.#settled) this.abort(new AbortError('every caller of this fetch aborted'))
    }
  }

  abort (reason: Error): void {
    if (this.#settled) return
    this.#fail(reason)
  }

  start (): void {
    this.#run().catch(err => { this.#fail(err) })
  }

  async #run (): Promise<void> {
    const { store } = this.#c
    const info = await store.stat(this.digest, { signal: this.signal })
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
    this.#topic = topic
    this.#peers.subscribers = () => topic.subscribers()
    void this.#discover()
    this.#every(this.#o.heartbeatMs, () => {
      // full state for peers that missed a message; skipped when a change went out recently
      if (Date.now() - this.#lastPublish >= this.#o.heartbeatMs * 0.75) void this.#publish()
    })
    this.#every(200, () => { this.#schedule() })
    void this.#publish()
    // Our first message usually goes out before the gossip mesh exists: say
    // hello again while the others are still deciding who goes to the origin.
    for (const ms of [300, 900]) {
      const t = setTimeout(() => { if (!this.#settled) void this.#publish() }, ms)
      t.unref?.()
    }

    if (info != null) {
      await this.#setSize(info.size, info.pieceSize)
    } else {
      await this.#determineSize()
    }
  }

  async #determineSize (): Promise<void> {
    const origin = this.#origins[0]
    if (origin != null) {
      try {
        const st = await origin.stat({ signal: this.signal })
        this.#acceptsRanges = st.acceptsRanges
        await this.#setSize(st.size, choosePieceSize(st.size))
        return
      } catch (err) {
        if (this.signal.aborted) throw err
        this.#originFailed = err as Error
        this.#c.events.originError()
      }
    }
    // No usable origin: only peers can tell us the size.
    const offered = new Promise<void>(resolve => { this.#sizeOffered = resolve })
    if (this.#sizeOffer == null) {
      const deadline = Date.now() + this.#o.discoveryTimeoutMs
      while (this.#sizeOffer == null && Date.now() < deadline) {
        if (this.#discoveryDone && Date.now() - this.#startedAt > 1500 && this.#peers.metaInflight === 0) break
        await Promise.race([offered, sleepFor(100, this.signal)])
      }
    }
    if (this.#sizeOffer == null) {
      throw this.#originFailed ?? new NoSourceError(`no peer holds ${this.digest} and no origin was given`)
    }
    await this.#setSize(this.#sizeOffer.size, this.#sizeOffer.pieceSize)
  }

  #offerSize (size: number, pieceSize: number): void {
    if (this.size >= 0 || this.#sizeOffer != null) return
    if (pieceSize !== choosePieceSize(size)) return // a peer on another piece-size rule: ignore
    this.#sizeOffer = { size, pieceSize }
    this.#sizeOffered?.()
  }

  async #setSize (size: number, pieceSize: number): Promise<void> {
    const n = pieceCount(size, pieceSize)
    const have = await this.#c.store.open(this.digest, size, pieceSize, { signal: this.signal })
    const known = await this.#c.store.pieceDigests(this.digest, { signal: this.signal })
    // Only now, all at once: the scheduler runs on a timer and must never see
    // a size without the have-set and digests that go with it.
    this.#have = have
    this.#digests = Array.from({ length: n }, (_, i) => known?.[i])
    this.#n = n
    this.pieceSize = pieceSize
    this.size = size
    this.#peers.sizeKnown(size, pieceSize)
    this.#c.logger?.debug({ digest: this.digest, size, pieceSize, held: this.#have.count, afterMs: Date.now() - this.#startedAt }, 'download: size known')
    this.#ready.resolve()
    this.#emit({ type: 'starling:fetch:start', detail: { digest: this.digest, size, pieceSize, pieceCount: this.#n, piecesHeld: this.#have.count } })
    if (this.#have.count > 0) { this.#provideOnce(); this.#markDirty() }
    if (this.#have.full) await this.#finish()
    else this.#schedule()
  }

  async #discover (): Promise<void> {
    const signal = AbortSignal.any([this.signal, AbortSignal.timeout(this.#o.discoveryTimeoutMs)])
    try {
      let found = 0
      for await (const id of this.#c.swarm.findProviders(this.digest, { signal })) {
        // a provider holds pieces; whether it still wants more its gossip will say
        this.#peers.requestMeta(this.#peers.ensure(id))
        found++
      }
      // The DHT may not know yet (a provide still in flight, a tiny swarm):
      // ask the peers we are connected to directly — one small request each.
      if (found === 0) {
        for (const id of this.#c.swarm.connectedPeers().slice(0, MAX_DIRECT_PROBES)) this.#peers.requestMeta(this.#peers.ensure(id))
      }
    } finally {
      this.#discoveryDone = true
    }
  }

  #onGossip (from: PeerId, msg: BlobGossip): void {
    this.#peers.onGossip(from, msg, this.#digests)
  }

  // ---- scheduling -------------------------------------------------------

  #schedule (): void {
    if (this.#settled || this.#finishing || this.size < 0 || this.#n === 0) return
    const now = Date.now()
    const avail = this.#peers.availability(this.#n, this.#digests)
    const order = this.#order(avail)
    let peerInflight = this.#peers.totalInflight()
    let pending = 0
    for (const i of order) {
      if (this.#attempts.has(i)) continue
      pending++
      if (this.#originOnly || avail[i] === 0 || peerInflight >= this.#o.peerConcurrency) continue
      const peer = this.#pickPeer(i, now)
      if (peer != null) { peerInflight++; this.#fetchFromPeer(i, peer) }
    }
    this.#scheduleOrigin(order, avail, now)
    if (pending === 0) this.#endgame(now)
  }

  #order (avail: Uint16Array): number[] {
    const self = this.#c.selfId
    return orderPieces(this.#n, this.#have, avail, [...this.#readers].map(r => r.next), i => this.#rv.score(self, i))
  }

  #pickPeer (i: number, now: number): RemotePeer | undefined {
    const trusted = this.#digests[i] != null
    const { peer, sameLocation } = choosePeer(this.#peers.holders(i, now, this.#o.perPeerPipeline),
      p => trusted || p.claimed.has(i), this.#c.location, k => this.#c.peerBook.rtt(k))
    if (peer == null || sameLocation) return peer
    // Only other locations hold it: let this location's designated peer
    // bring it across, unless that is us or it has stalled.
    return this.#mayFetchForLocation(i, now, this.#peers.sameLocationInterested(this.#c.location, now, false)) ? peer : undefined
  }

  #scheduleOrigin (order: number[], avail: Uint16Array, now: number): void {
    const origin = this.#origins[0]
    if (origin == null || this.#originFailed != null || !this.#gathered(now)) return
    const cands = this.#peers.sameLocationInterested(this.#c.location, now, true)
    if (!this.#acceptsRanges) {
      if (!this.#wholeRunning && this.#have.count === 0 && this.#mayFetchForLocation(0, now, cands)) this.#fetchWhole(origin)
      return
    }
    for (const i of order) {
      if (this.#originInflight >= this.#o.originConcurrency) return
      if (this.#attempts.has(i) || (avail[i] > 0 && !this.#originOnly)) continue
      if (this.#originOnly || this.#mayFetchForLocation(i, now, cands)) {
        this.#c.logger?.debug({ piece: i, candidates: cands.length, peers: this.#peers.size, subscribers: this.#topic?.subscribers().length }, 'download: origin piece is ours')
        this.#fetchFromOrigin(origin, i)
      }
    }
  }

  /**
   * Before the first origin request, learn who else wants the blob (gossip)
   * and who already holds it (DHT): at least `gatherMs`, and until the DHT
   * lookup ended or found a holder — at most 3 s, so a slow DHT cannot hold
   * a lone node back for long.
   */
  #gathered (now: number): boolean {
    const waited = now - this.#startedAt
    if (waited < this.#o.gatherMs) return false
    this.#peers.probeSubscribers()
    if (waited >= MAX_GATHER_MS || this.#peers.anyUsefulHolder(this.#have, this.#n)) return true
    return this.#discoveryDone && this.#peers.metaInflight === 0
  }

  /** A designated peer counts as stalled after this long without progress: scales with how long our own origin pieces take. */
  #stallMs (): number {
    return Math.max(this.#o.stallMs, 4 * this.#originPieceMs)
  }

  #mayFetchForLocation (i: number, now: number, cands: RemotePeer[]): boolean {
    let since = this.#waitingSince.get(i)
    if (since == null) { since = now; this.#waitingSince.set(i, now) }
    const stall = this.#stallMs()
    const ok = mayFetchForLocation(this.#c.selfId, i, cands, this.#rv, now, {
      deadMs: stall + 2 * this.#o.heartbeatMs,
      claimMs: stall + 3 * this.#o.heartbeatMs,
      unclaimedMs: 4 * stall + 3 * this.#o.heartbeatMs
    }, since)
    if (ok) this.#waitingSince.delete(i)
    return ok
  }

  /**
   * Endgame: when every missing piece is already requested, ask a second
   * peer for the ones that have been in flight unusually long. Only the
   * slow ones: a duplicate costs the swarm a whole piece of upload.
   */
  #endgame (now: number): void {
    const missing = this.#n - this.#have.count
    if (missing > Math.max(4, this.#n / 32)) return
    for (const [i, attempts] of this.#attempts) {
      if (attempts.length > 1 || this.#originOnly || i < 0) continue
      if (now - attempts[0].at < Math.max(1000, 3 * this.#peerPieceMs)) continue
      const peer = this.#pickPeer(i, now)
      if (peer != null && attempts[0].source !== peer.key) this.#fetchFromPeer(i, peer)
    }
  }

  #attempt (i: number, source: string): AbortController {
    const ctrl = new AbortController()
    const onAbort = (): void => { ctrl.abort(this.signal.reason) }
    this.signal.addEventListener('abort', onAbort, { once: true })
    ctrl.signal.addEventListener('abort', () => { this.signal.removeEventListener('abort', onAbort) }, { once: true })
    const list = this.#attempts.get(i) ?? []
    list.push({ source, ctrl, at: Date.now() })
    this.#attempts.set(i, list)
    return ctrl
  }

  #endAttempt (i: number, ctrl: AbortController): void {
    const list = (this.#attempts.get(i) ?? []).filter(a => a.ctrl !== ctrl)
    if (list.length === 0) this.#attempts.delete(i)
    else this.#attempts.set(i, list)
    if (!ctrl.signal.aborted) ctrl.abort(new AbortError('attempt over'))
  }

  #fetchFromPeer (i: number, peer: RemotePeer): void {
    const ctrl = this.#attempt(i, peer.key)
    peer.inflight++
    let counted = true
    void (async () => {
      try {
        const t0 = Date.now()
        const bytes = await this.#peers.session(peer, this.pieceSize).get(i, { signal: ctrl.signal })
        this.#peerPieceMs = this.#peerPieceMs * 0.8 + (Date.now() - t0) * 0.2
        // The peer is done with this request: let the next one go out while
        // we verify and store this piece (writes wait on a busy event loop;
        // gating requests on them halved throughput in bench/p2p).
        peer.inflight--
        counted = false
        this.#schedule()
        const want = this.#digests[i] ?? peer.claimed.get(i)
        const same = (peer.location ?? '') === this.#c.location
        try {
          // The store hashes the piece against `want` before it keeps it:
          // that is the verification (one sha256 per piece, not two).
          if (want == null) throw new DigestMismatchError(`no digest known for piece ${i}`)
          await this.#accept(i, bytes, want, same ? 'peer-local' : 'peer-remote', peer.key)
        } catch (err: any) {
          if (err?.name !== 'DigestMismatchError' || this.#have.get(i)) throw err
          this.#c.events.pieceRejected(peer.key)
          this.#c.peerBook.strike(peer.key, `piece ${i} of ${this.digest} failed verification`)
          this.#c.logger?.warn({ peer: peer.key, piece: i, digest: this.digest }, 'peer sent a bad piece: struck')
          peer.have?.unset(i)
          return
        }
        peer.failures = 0
      } catch (err: any) {
        if (this.signal.aborted || ctrl.signal.aborted) return
        if (err?.busy === true || err?.name === 'BusyError') {
          peer.busyUntil = Date.now() + 300
        } else {
          peer.failures++
          peer.busyUntil = Date.now() + Math.min(10_000, 250 * 2 ** peer.failures)
          if (err?.name === 'NotFoundError' || peer.failures >= 3) peer.have?.unset(i)
          this.#c.logger?.debug({ err, peer: peer.key, piece: i }, 'piece request failed')
        }
      } finally {
        if (counted) peer.inflight--
        this.#endAttempt(i, ctrl)
        this.#schedule()
      }
    })()
  }

  #fetchFromOrigin (origin: Origin, i: number): void {
    const ctrl = this.#attempt(i, 'origin')
    this.#originInflight++
    this.#markDirty()
    void (async () => {
      try {
        const { start, end } = pieceRange(this.size, this.pieceSize, i)
        this.#c.events.originRequest()
        this.#c.logger?.debug({ piece: i, afterMs: Date.now() - this.#startedAt }, 'download: origin request')
        const t0 = Date.now()
        const bytes = await readOriginRange(origin, start, end, ctrl.signal)
        this.#originPieceMs = this.#originPieceMs === 0 ? Date.now() - t0 : this.#originPieceMs * 0.8 + (Date.now() - t0) * 0.2
        await this.#acceptFromOrigin(i, bytes)
      } catch (err) {
        if (!this.signal.aborted && !ctrl.signal.aborted) this.#originError(err as Error)
      } finally {
        this.#originInflight--
        this.#endAttempt(i, ctrl)
        this.#markDirty()
        this.#checkStuck()
        this.#schedule()
      }
    })()
  }

  #fetchWhole (origin: Origin): void {
    this.#wholeRunning = true
    const ctrl = this.#attempt(-1, 'origin')
    void (async () => {
      try {
        this.#c.events.originRequest()
        await readOriginWhole(origin, this.size, this.pieceSize, ctrl.signal, async (i, bytes) => {
          if (!this.#have.get(i)) await this.#acceptFromOrigin(i, bytes)
        })
      } catch (err) {
        if (!this.signal.aborted) this.#originError(err as Error)
      } finally {
        this.#wholeRunning = false
        this.#endAttempt(-1, ctrl)
        this.#schedule()
      }
    })()
  }

  async #acceptFromOrigin (i: number, bytes: Uint8Array): Promise<void> {
    const d = sha256(bytes)
    // Origin bytes are the reference: peers that vouched for another digest lied.
    for (const p of this.#peers.all()) {
      const claim = p.claimed.get(i)
      if (claim != null && !equalBytes(claim, d)) {
        p.claimed.delete(i)
        this.#c.peerBook.strike(p.key, `vouched for a wrong digest of piece ${i}`)
      }
    }
    await this.#accept(i, bytes, d, 'origin')
  }

  #originError (err: Error): void {
    this.#c.events.originError()
    this.#c.logger?.warn({ err, digest: this.digest }, 'origin request failed')
    if (err instanceof OriginError && err.retryable) return
    this.#originFailed = err
    this.#markDirty()
    this.#checkStuck()
  }

  /** Fails the download when no source is left for a piece still needed. */
  #checkStuck (): void {
    if (this.#settled || this.#finishing || this.#originFailed == null) return
    if (this.#attempts.size > 0 || this.#peers.anyHolder(Date.now())) return
    this.#fail(this.#originFailed)
  }

  async #accept (i: number, bytes: Uint8Array, d: Uint8Array, source: ByteSource, peer?: string): Promise<void> {
    if (this.#have.get(i) || this.#settled) return
    await this.#c.store.writePiece(this.digest, i, bytes, d, { signal: this.signal })
    if (this.#have.get(i)) return
    this.#have.set(i)
    this.#digests[i] = d
    if (peer != null) this.#fromPeer.set(i, peer)
    for (const a of this.#attempts.get(i) ?? []) a.ctrl.abort(new AbortError('piece arrived elsewhere'))
    this.#bytes[source] += bytes.byteLength
    this.#c.events.bytes(source, bytes.byteLength)
    this.#c.events.pieceVerified()
    this.#emit({ type: 'starling:fetch:piece', detail: { digest: this.digest, index: i, bytes: bytes.byteLength, source, peer } })
    this.#c.logger?.debug({ piece: i, source, peer, afterMs: Date.now() - this.#startedAt }, 'download: piece verified')
    this.#announce.push({ index: i, digest: d })
    this.#markDirty()
    this.#provideOnce()
    for (const w of this.#waiters.get(i) ?? []) w()
    this.#waiters.delete(i)
    if (this.#have.full) await this.#finish()
  }

  #provideOnce (): void {
    if (this.#provided) return
    this.#provided = true
    void this.#c.swarm.provide(this.digest, { signal: AbortSignal.any([this.signal, AbortSignal.timeout(60_000)]) })
  }

  async #finish (): Promise<void> {
    if (this.#finishing || this.#settled) return
    this.#finishing = true
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

  /** The assembled blob failed its sha256: blame every peer that supplied a piece, start over from the origin only. */
  async #quarantine (err: Error): Promise<void> {
    const blamed = new Set(this.#fromPeer.values())
    for (const p of blamed) this.#c.peerBook.strike(p, `supplied pieces of ${this.digest}, whose sha256 did not match`)
    this.#c.logger?.warn({ digest: this.digest, blamed: [...blamed] }, 'blob failed its digest: retrying from the origin only')
    if (this.#origins.length === 0 || this.#originOnly) throw err
    this.#originOnly = true
    this.#fromPeer.clear()
    this.#have = await this.#c.store.open(this.digest, this.size, this.pieceSize, { signal: this.signal })
    this.#digests = new Array(this.#n).fill(undefined)
    this.#finishing = false
    this.#schedule()
  }

  // ---- gossip -----------------------------------------------------------

  #markDirty (): void {
    if (this.#dirty != null || this.#settled) return
    // Batch changes: every gossip message costs each receiver a signature
    // check (~1 ms), and the whole swarm pays it once per message.
    this.#dirty = setTimeout(() => { this.#dirty = undefined; void this.#publish() }, GOSSIP_BATCH_MS)
  }

  async #publish (final = false): Promise<void> {
    if (this.#topic == null) return
    this.#lastPublish = Date.now()
    const fetching = final ? [] : this.#originClaims()
    const pieces = this.#announce.splice(0, this.#announce.length)
    await this.#topic.publish({
      location: this.#c.location,
      size: BigInt(Math.max(0, this.size)),
      pieceSize: this.pieceSize,
      have: new Uint8Array(this.#have.bytes),
      complete: this.#settled && this.#have.full,
      hasOrigin: this.#origins.length > 0 && this.#originFailed == null && !final,
      pieces: pieces.map(p => ({ index: p.index, digest: new Uint8Array(p.digest) })),
      fetching,
      leaving: final && !this.#have.full
    })
  }

  /**
   * The pieces we are fetching from the origin now, plus those we own by the
   * rendezvous rule and will fetch next: a claim tells the others to wait
   * for us rather than take over, however slow a loaded machine makes us.
   */
  #originClaims (): number[] {
    const claims = new Set<number>()
    for (const [i, list] of this.#attempts) if (i >= 0 && list.some(a => a.source === 'origin')) claims.add(i)
    if (this.#origins.length === 0 || this.#originFailed != null || this.size < 0 || this.#originOnly || !this.#acceptsRanges) return [...claims]
    const now = Date.now()
    const avail = this.#peers.availability(this.#n, this.#digests)
    const cands = this.#peers.sameLocationInterested(this.#c.location, now, true).map(p => p.key)
    for (let i = 0; i < this.#n && claims.size < MAX_CLAIMS; i++) {
      if (this.#have.get(i) || avail[i] > 0 || this.#attempts.has(i)) continue
      if (this.#rv.position(this.#c.selfId, cands, i) === 0) claims.add(i)
    }
    return [...claims]
  }

  // ---- readers ----------------------------------------------------------

  async waitReady (signal?: AbortSignal): Promise<void> {
    await raceSignal(this.#ready.promise, signal)
  }

  /** Resolves when piece i is held (verified and durable). */
  async waitPiece (i: number, signal?: AbortSignal): Promise<void> {
    if (this.#have.get(i)) return
    const p = new Promise<void>(resolve => {
      const list = this.#waiters.get(i) ?? []
      list.push(resolve)
      this.#waiters.set(i, list)
    })
    await raceSignal(Promise.race([p, this.#done.promise.then(() => {})]), signal)
    if (!this.#have.get(i)) await this.#done.promise
  }

  /** Streams verified bytes [offset, offset+length) in order while the download runs. */
  read (range: { offset?: number, length?: number } = {}, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
    return readVerified(this, this.#c.store, range, signal)
  }

  readerAt (piece: number): { moveTo(piece: number): void, close(): void } {
    const reader = { next: piece }
    this.#readers.add(reader)
    return {
      moveTo: (p) => { reader.next = p; this.#schedule() },
      close: () => { this.#readers.delete(reader) }
    }
  }

  get failure (): Error | undefined { return this.#failure }

  // ---- lifecycle --------------------------------------------------------

  #settle (): void {
    if (this.#settled) return
    this.#settled = true
    const result = { digest: this.digest, size: this.size, bytesBySource: { ...this.#bytes } }
    this.#cleanup()
    this.#done.resolve(result)
  }

  #fail (err: Error): void {
    if (this.#settled) return
    this.#settled = true
    this.#failure = err
    this.#ready.reject(err)
    if (!this.#abort.signal.aborted) this.#abort.abort(err)
    this.#cleanup()
    this.#done.reject(err)
    // Nothing wrong is kept: a blob that failed its digest leaves no partial behind.
    if (err?.name === 'DigestMismatchError') void this.#c.store.delete(this.digest).catch(() => {})
  }

  #cleanup (): void {
    for (const t of this.#timers) clearInterval(t)
    if (this.#dirty != null) clearTimeout(this.#dirty)
    for (const list of this.#attempts.values()) for (const a of list) a.ctrl.abort(new AbortError('download over'))
    this.#peers.close()
    const topic = this.#topic
    if (topic == null) return
    // Tell the topic our final state, then linger a while as a seeder of the
    // first wave before leaving it (the DHT record stays).
    void this.#publish(true).finally(() => {
      const t = setTimeout(() => { topic.leave() }, this.#have.full ? this.#o.lingerMs : 0)
      t.unref?.()
    })
    for (const w of this.#waiters.values()) for (const f of w) f()
    this.#waiters.clear()
  }

  #every (ms: number, fn: () => void): void {
    const t = setInterval(fn, ms)
    t.unref?.()
    this.#timers.push(t)
  }

  #emit (evt: Parameters<ProgressFn>[0]): void {
    for (const fn of this.#progress) {
      try { fn(evt) } catch {}
    }
  }
}
