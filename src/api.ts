/**
 * The public facade: the node, its options and what it answers.
 * `src/index.ts` re-exports these; the daemon, CLI and registry mirror use
 * only these and the shared leaf types of `src/types.ts`. Layers below the
 * node never import this module.
 */
import type { Origin } from './origin/types.js'
import type { BlobInfo, BlobStore, GcResult, StoreInit, StoreUsage } from './store/index.js'
import type { TransferClient } from './transfer/types.js'
import type { ByteSource, BytesBySource, Logger, Startable } from './types.js'

export type { BlobInfo, BlobStore, GcResult, StoreInit, StoreUsage, Origin }

export interface StarlingNodeOptions {
  /** Folder for the store, the index and the identity key. Created if missing. */
  dataDir: string
  /** libp2p listen multiaddrs. Default `['/ip4/0.0.0.0/tcp/0']`. */
  listen?: string[]
  /** Multiaddrs (with /p2p/<id>) of peers to join the swarm through. */
  bootstrap?: string[]
  /**
   * `NAME:PORT` DNS names whose A/AAAA records are swarm nodes all listening
   * on PORT (a Kubernetes headless Service): each address is dialled without
   * a peer id, and the name is resolved again whenever the node has lost
   * every connection. A name that does not resolve is no error (the first
   * node of a swarm may be alone).
   */
  bootstrapDns?: string[]
  /**
   * `start()` resolves once the dials to `bootstrap` have settled (each
   * connected, or failed its retries), or after this long, whichever comes
   * first; dials still running then go on in the background. Default 5 s.
   */
  bootstrapTimeoutMs?: number
  /**
   * Location label, e.g. `eu-west/zone-a/rack-3`: each segment is a group
   * (region, zone, rack). Peers prefer the longest common prefix, and each
   * piece enters each group once (docs/no-scheduler.md).
   */
  location?: string
  /**
   * Each location pulls the origin itself, instead of the whole swarm
   * sharing one copy from the origin and exchanging the rest across
   * locations: for sites where crossing between locations costs more than
   * the origin. Default false.
   */
  originPerLocation?: boolean
  /** Store quota in bytes (LRU eviction of complete blobs). Default: no quota. */
  cacheSize?: number
  /** Bandwidth caps in bytes/s. Default: unlimited. */
  uploadRate?: number
  downloadRate?: number
  originRate?: number
  /** libp2p private-network pre-shared key: a `swarm.key` file's contents (`/key/swarm/psk/1.0.0/`, `/base16/`, 64 hex). */
  psk?: Uint8Array
  /** Only these peer ids may connect, inbound or outbound. Default: any peer (holding `psk`, if set). */
  allowPeers?: string[]
  /** CIDRs (multiaddr form, e.g. `/ip4/10.0.0.0/ipcidr/8`) exempt from every connection limit. Default: loopback only. */
  allowConnectionsFrom?: string[]
  /** Also exempt the private ranges (RFC 1918, fc00::/7) from the connection limits. Default false. */
  exemptPrivateRanges?: boolean
  /** Open inbound connections one remote IP may hold (exempt ranges aside). Default 128. */
  maxInboundConnectionsPerHost?: number
  /**
   * Bytes of memory the node should stay within (at least 64 MiB): sizes
   * upload slots and chunks, pieces in flight, yamux windows and the store's
   * caches to fit (src/memory-budget.ts, docs/memory.md). The V8 heap and
   * malloc settings it implies need a process started with them: the daemon
   * does that; a library user passes them to Node. Default: no limit.
   */
  memoryLimit?: number
  logger?: Logger
}

/**
 * Collaborators a caller may supply instead of the defaults (dependency
 * injection, like libp2p's components). All optional.
 */
export interface StarlingNodeComponents {
  /**
   * Builds the blob store from the node's settings (directory, quota,
   * logger, eviction hook). Default `createStore`: a level index and files
   * under `<dataDir>/store`. Wrap it to instrument or filter what the node
   * reads and serves to peers, or replace it to keep blobs elsewhere. The
   * node starts and stops what it returns.
   */
  store?: (init: StoreInit) => BlobStore
  /**
   * Wraps the client the download engine asks peers through (meta, piece
   * sessions): to instrument piece requests, as the daemon's tracing does
   * (src/tracing/fetch.ts). Default: the client as is.
   */
  wrapTransfer?: (client: TransferClient) => TransferClient
}

/** Typed progress events, in the style of Helia's `onProgress`. */
export type FetchProgressEvent =
  | { type: 'starling:fetch:start', detail: { digest: string, size: number, pieceSize: number, pieceCount: number, piecesHeld: number } }
  | { type: 'starling:fetch:piece', detail: { digest: string, index: number, bytes: number, source: ByteSource, peer?: string } }
  | { type: 'starling:fetch:done', detail: FetchResult }

export interface FetchOptions {
  /** Where to get bytes the swarm lacks: a URL (HTTP/HTTPS) or an Origin object. */
  origin?: string | URL | Origin
  /**
   * The CID of the blob's piece map (`starling add` and `starling stat`
   * print it): the map is fetched from peers and checked against it, and
   * every piece is checked against its digest on arrival, so no piece is
   * ever taken on a peer's word (docs/security.md).
   */
  pieceMap?: string
  /** Extra request headers for a URL origin (e.g. Authorization). */
  headers?: Record<string, string>
  /** Stream only bytes [offset, offset+length) (the whole blob is still fetched). */
  range?: { offset?: number, length?: number }
  /**
   * Iterating yields chunks that share one buffer, overwritten by the next
   * chunk: each is valid only until you ask for the next. Saves a buffer
   * per chunk (half the garbage of a large fetch) for a consumer that
   * writes each chunk out before pulling the next; never set it when you
   * keep chunks.
   */
  reuseBuffer?: boolean
  signal?: AbortSignal
  onProgress?: (event: FetchProgressEvent) => void
}

export interface FetchResult {
  digest: string
  size: number
  /** Bytes of this blob by source, for this fetch (cache when it was already here). */
  bytesBySource: BytesBySource
  durationMs: number
}

/**
 * A running fetch: iterate it for verified bytes in order while the swarm
 * fetches them, or await it for the final result (the blob is then complete
 * and verified in the store). Either or both.
 */
export interface Fetch extends AsyncIterable<Uint8Array>, PromiseLike<FetchResult> {
  readonly digest: string
}

export interface AddOptions {
  signal?: AbortSignal
  /** Fail with DigestMismatchError (and store nothing) if the content differs. */
  expectedDigest?: string
  pin?: boolean
}

/** A connected peer, or a banned one (then with no addresses: it is cut off). */
export interface PeerInfo {
  id: string
  addresses: string[]
  location?: string
  rttMs?: number
  /** Strikes since its last ban. */
  strikes: number
  /** Its most recent strikes (at most 5, oldest first), across bans: why it was struck or banned. */
  lastStrikes: Array<{ at: number, reason: string }>
  banned: boolean
}

export interface NodeStats {
  bytesIn: BytesBySource
  bytesUploaded: number
  piecesVerified: number
  piecesRejected: number
  originRequests: number
  originErrors: number
  activeDownloads: number
  /** Pieces being served to peers right now (each holds an upload slot). */
  activeUploads: number
  connectedPeers: number
  /** Peers this node exchanges gossip with (have-updates travel only between them). */
  gossipPeers: number
  cache: StoreUsage
  evictions: number
}

export interface StarlingNode extends Startable {
  /**
   * Starts the store, libp2p and the swarm, then waits (at most
   * `bootstrapTimeoutMs`) for the bootstrap dials to settle, so a fetch
   * issued next already has the bootstrap peers to ask.
   */
  start(options?: { signal?: AbortSignal }): Promise<void>
  stop(): Promise<void>
  readonly peerId: string
  readonly location: string
  /** Full listen multiaddrs including `/p2p/<id>`. */
  addresses(): string[]
  fetch(digest: string, options?: FetchOptions): Fetch
  /** Imports a file (path) or bytes into the store and announces it. */
  /** `pieceMap`: the CID of the blob's piece map, for `fetch(digest, { pieceMap })` elsewhere. */
  add(source: string | Uint8Array | AsyncIterable<Uint8Array>, options?: AddOptions): Promise<{ digest: string, size: number, pieceMap: string }>
  /** With `pieceMap` (the piece map's CID) once the blob is complete. */
  stat(digest: string, options?: { signal?: AbortSignal }): Promise<(BlobInfo & { pieceMap?: string }) | undefined>
  has(digest: string, options?: { signal?: AbortSignal }): Promise<boolean>
  list(options?: { signal?: AbortSignal }): Promise<BlobInfo[]>
  delete(digest: string, options?: { signal?: AbortSignal }): Promise<boolean>
  pin(digest: string, pinned: boolean, options?: { signal?: AbortSignal }): Promise<void>
  gc(options?: { signal?: AbortSignal }): Promise<GcResult>
  peers(): PeerInfo[]
  stats(): NodeStats
}
