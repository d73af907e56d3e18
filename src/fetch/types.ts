import type { PeerId } from '@libp2p/interface'
import type { FetchProgressEvent } from '../api.js'
import type { ByteSource, Logger } from '../types.js'
import type { Bitfield } from '../content/index.js'
import type { Origin } from '../origin/types.js'
import type { BlobStore } from '../store/types.js'
import type { BlobGossip, BlobTopic, PeerBook } from '../swarm/index.js'
import type { PieceSession, TransferClient } from '../transfer/types.js'
import type { Clock } from './clock.js'

/** What the download engine needs from the swarm layer. */
export interface SwarmAccess {
  provide(digest: string, options?: { signal?: AbortSignal }): Promise<void>
  findProviders(digest: string, options?: { signal?: AbortSignal }): AsyncIterable<PeerId>
  join(hex: string, handler: (from: PeerId, msg: BlobGossip) => void): BlobTopic
  connectedPeers(): PeerId[]
}

/** Counters the node turns into stats and Prometheus metrics. */
export interface DownloadEvents {
  bytes(source: ByteSource, n: number): void
  pieceVerified(): void
  pieceRejected(peer: string): void
  originRequest(): void
  originError(): void
}

export interface DownloadComponents {
  store: BlobStore
  transfer: TransferClient
  swarm: SwarmAccess
  peerBook: PeerBook
  selfId: string
  location: string
  /** Each location pulls the origin itself (groups.ts); default false: the origin is shared by every location. */
  originPerLocation?: boolean
  events: DownloadEvents
  logger?: Logger
  /** Wall time unless given (the in-process simulation gives virtual time). */
  clock?: Clock
}

/** Knobs of one download; the defaults are in constants.ts. */
export interface DownloadInit {
  /** Origin range requests in flight per node. Default 4. */
  originConcurrency?: number
  /** Piece requests in flight per peer. Default 4. */
  perPeerPipeline?: number
  /** Piece requests in flight from all peers. Default 24. */
  peerConcurrency?: number
  /**
   * Bytes of pieces in flight (from peers and from the origin, each count
   * on its own) once the piece size is known: the two counts above are cut
   * to fit, one piece each at least. Default Infinity (`--memory-limit`
   * sets it: src/memory-budget.ts).
   */
  inFlightBytes?: number
  /** Shortest wait to learn who else wants the blob before going to the origin. Default 500 ms. */
  gatherMs?: number
  /** A designated peer that shows no progress this long may lose its pieces to the next in rank. Default 4 s. */
  stallMs?: number
  /** Give up finding a source after this long. Default 20 s. */
  discoveryTimeoutMs?: number
  /** Full-state gossip period while active. Default 3 s. */
  heartbeatMs?: number
  /** Stay on the gossip topic this long after completing, to seed the first wave. Default 30 s. */
  lingerMs?: number
}

/**
 * What we know of a peer's interest: `unknown` until it tells us (a topic
 * subscriber we have not heard from counts as wanting), `wants` while it
 * fetches, `not` once it is complete, leaving, or said it does not want it.
 */
export type Interest = 'unknown' | 'wants' | 'not'

/** One other peer as a download sees it. */
export interface RemotePeer {
  id: PeerId
  key: string
  have?: Bitfield
  location?: string
  hasOrigin: boolean
  complete: boolean
  /** Piece digests this peer vouched for. */
  claimed: Map<number, Uint8Array>
  /** Pieces it says it is fetching from the origin now, with when it said so. */
  fetching: Map<number, number>
  /** Since when it has claimed origin pieces without a break (undefined: no claim now). */
  claimingSince?: number
  /** How many of its claims (the first of `fetching`) are origin requests already running. */
  runningClaims?: number
  /** When its claims were found stale (claims.ts): ignored from then until its have-set grows. */
  claimsStaleAt?: number
  /** Last time its have-set grew (claims are honoured only while it makes progress). */
  haveGrewAt?: number
  /** The most pieces its have-set ever held (growth past it is progress). */
  mostHeld?: number
  /** Start of its current run of BUSY answers to us (undefined: it served, or never said BUSY). */
  busySince?: number
  /** BUSY for longer than BUSY_STREAK_MAX_MS with an origin usable: not counted as a holder. */
  demoted?: boolean
  /** Last time it announced a new piece (or first seen). */
  lastProgress: number
  /** Last time it told us anything (gossip or meta). */
  lastSeen: number
  /**
   * Its pace as we hear it: the longest recent gap between two of its
   * messages (each new message decays it, a longer gap raises it at once).
   * On a starved machine an honest owner speaks every 20 s instead of every
   * heartbeat; its claims are judged in these rounds (peer-rounds.ts).
   */
  roundMs?: number
  interest: Interest
  inflight: number
  busyUntil: number
  failures: number
  session?: PieceSession
  metaAt: number
  metaPending: boolean
  /** How many interested, origin-reaching peers it said it knows (meta peer exchange): more than we know means our view is incomplete. */
  interestedHint?: number
  /** When a meta request to it last failed because it is gone: no connection left, or no such protocol (a takeover waits for an answer or its absence; a timeout, BUSY or reset is silence: discovery.ts). */
  metaFailedAt?: number
  /** When it last answered one of our meta requests knowing the blob's size, or not wanting it (an answer is built after the question: a gossip message that arrives after it may have been sent long before). */
  metaAnsweredAt?: number
}

export type ProgressFn = (event: FetchProgressEvent) => void
export type { Origin }
