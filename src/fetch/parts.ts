import { setMaxListeners } from 'node:events'
import type { BlobDigest } from '../content/index.js'
import type { BlobInterest } from '../transfer/types.js'
import { Attempts } from './attempts.js'
import { systemClock, type Clock } from './clock.js'
import { Discovery } from './discovery.js'
import { FetchPaths, type FetchHost } from './fetch-paths.js'
import { PieceBuffers } from './piece-buffers.js'
import { Finisher } from './finish.js'
import { OriginList } from './origins.js'
import { Pace } from './pace.js'
import { PieceMapAuth } from './piece-map-check.js'
import { PieceLedger } from './pieces.js'
import { Planner } from './planner.js'
import { Rendezvous } from './rendezvous.js'
import { Seek } from './seek.js'
import type { SizingComponents } from './sizing.js'
import type { StuckFacts } from './stuck.js'
import type { DownloadComponents, DownloadInit } from './types.js'
import { SwarmView, type SizeOffer } from './view.js'
import { DownloadReaders } from './waiters.js'
import { Wakeup } from './wakeup.js'

/** What the parts call back into their download for: its state, and the steps only it takes. */
export interface DownloadHooks {
  size: () => number
  pieceSize: () => number
  settled: () => boolean
  /** Is the download in its fetching phase? */
  fetching: () => boolean
  /** After a whole-blob mismatch with an origin, the dropped pieces come from it alone. */
  originOnly: () => boolean
  interest: () => BlobInterest | undefined
  accept: FetchHost['accept']
  /** A scheduling pass (the wakeup's). */
  schedule: () => void
  wake: () => void
  wakeSoon: () => void
  fail: (err: Error) => void
  checkStuck: () => void
  /** Our state changed: gossip soon. */
  markDirty: () => void
}

/** The parts of one download (see the Download class comment for what each does). */
export interface DownloadParts {
  readonly clock: Clock
  readonly startedAt: number
  readonly abort: AbortController
  readonly readers: DownloadReaders
  /** Load, piece times and what follows from them: gossip rounds, heartbeat, patience. */
  readonly pace: Pace
  readonly origins: OriginList
  readonly wakeup: Wakeup
  readonly view: SwarmView
  readonly attempts: Attempts
  /** Held pieces, trusted digests, provisional pieces (docs/security.md, "Trust rule"). */
  readonly pieces: PieceLedger
  /** Who fetches which piece from where. */
  readonly planner: Planner
  /** Who holds the blob: the DHT, the connected peers, meta requests. */
  readonly discovery: Discovery
  /** How a piece is fetched from a peer, a ranged origin or a whole-blob stream. */
  readonly paths: FetchPaths
  /** The piece map's CID a caller gave, and the map once authenticated. */
  readonly mapAuth: PieceMapAuth
  /** The whole-blob check, and on a mismatch which provisional pieces were wrong and whom to blame. */
  readonly finisher: Finisher
  /** With no origin: waits for the swarm's answers before NoSourceError, and says what was tried. */
  readonly seek: Seek
  /** What the sizing phase reads (sizing.ts). */
  readonly sizing: SizingComponents
  /** What the stuck check reads (stuck.ts). */
  readonly stuck: StuckFacts
}

/**
 * Builds the parts of one download and wires them to each other; what only
 * the download knows or does (its phase, size, accepting a piece, failing)
 * they reach through `h`.
 */
export function wireParts (id: BlobDigest, c: DownloadComponents, o: Required<DownloadInit>, h: DownloadHooks): DownloadParts {
  const digest = id.digest
  const clock = c.clock ?? systemClock
  const startedAt = clock.now()
  const abort = new AbortController()
  const signal = abort.signal
  const readers = new DownloadReaders()
  const pace = new Pace(startedAt, o)
  const origins = new OriginList({
    ...c,
    digest,
    switched: () => { paths.originChanged() },
    failedForGood: () => { h.markDirty(); h.checkStuck() }
  })
  const wakeup = new Wakeup(clock, h.schedule)
  const view = new SwarmView(c.selfId, c.peerBook, () => { h.wakeSoon() }, c.location)
  // every request in flight and every meta question listens on the download's signal
  setMaxListeners(Infinity, signal)
  const attempts = new Attempts(signal)
  const pieces = new PieceLedger({ digest, store: c.store, events: c.events, signal, logger: c.logger })
  const parts = { view, clock, pace, attempts, signal }
  const planner = new Planner({ ...c, ...parts, readers, rv: new Rendezvous(id.hex), startedAt, options: o, connectedPeers: () => c.swarm.connectedPeers().length })
  const discovery = new Discovery({ ...c, ...parts, digest, timeoutMs: o.discoveryTimeoutMs, interest: h.interest, wake: h.wake, answered: (p, meta) => { mapAuth.answered(p.key, meta); seek.poke() } })
  const paths = new FetchPaths({
    digest,
    size: h.size,
    pieceSize: h.pieceSize,
    signal,
    has: i => pieces.have.get(i),
    trusted: i => pieces.digests[i],
    // After a mismatch with an origin, the dropped pieces come from it alone:
    // a peer piece still in flight is not taken on its sender's word (the
    // liar's late piece made the blob fail again, and with the origin
    // already tried alone the download failed).
    trustedOnly: () => mapAuth.given || h.originOnly(),
    accept: h.accept,
    originFailed: (origin, err) => { origins.requestFailed(origin, err) },
    originEnded: i => { planner.originRule.settled(i); h.markDirty() },
    markDirty: h.markDirty,
    wake: h.wake,
    wakeSoon: h.wakeSoon
  }, { components: c, ...parts, originBuffers: new PieceBuffers(o.originConcurrency) })
  const mapAuth = new PieceMapAuth({
    ...c,
    digest,
    pieces,
    size: h.size,
    pieceSize: h.pieceSize,
    settled: h.settled,
    // peers that answered already are asked again: their answer may be the map
    reprobe: () => { for (const p of view.all()) { p.metaAt = 0; view.wantProbe(p) } },
    fail: h.fail,
    wake: h.wake
  })
  const finisher = new Finisher({ ...c, digest, signal, pieces, paths, peers: () => view.all() })
  // with a piece map's CID, only the authenticated map tells the size
  const sizeOffer = (): SizeOffer | undefined => mapAuth.given ? mapAuth.map : view.sizeOffer
  const seek = new Seek({
    digest,
    swarm: c.swarm,
    view,
    clock,
    signal,
    wake: h.wake,
    hasOrigin: () => origins.current != null,
    firstLookupDone: () => discovery.done,
    sizeKnown: () => sizeOffer() != null
  })
  const sizing: SizingComponents = {
    digest,
    store: c.store,
    clock,
    logger: c.logger,
    signal,
    startedAt,
    discoveryTimeoutMs: o.discoveryTimeoutMs,
    origin: () => origins.current,
    originFailed: () => origins.failed,
    originError: err => { c.events.originError(); origins.next(err) },
    sizeOffer,
    seek
  }
  const stuck: StuckFacts = { digest, clock, startedAt, discoveryTimeoutMs: o.discoveryTimeoutMs, fetching: h.fetching, origins, finisher, mapAuth, attempts, view, discovery, seek }
  return { clock, startedAt, abort, readers, pace, origins, wakeup, view, attempts, pieces, planner, discovery, paths, mapAuth, finisher, seek, sizing, stuck }
}
