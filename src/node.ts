/**
 * The one place that wires the layers together (docs/architecture.md):
 * store, origin, swarm, transfer and fetch are built here, in order, from a
 * narrow set of components each; nothing else constructs collaborators.
 */
import { createReadStream } from 'node:fs'
import { peerIdFromString } from '@libp2p/peer-id'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { AddOptions, Fetch, FetchOptions, NodeStats, PeerInfo, StarlingNode, StarlingNodeComponents, StarlingNodeOptions } from './api.js'
import type { ByteSource, Logger } from './types.js'
import { parseDigest, pieceMapCid } from './content/index.js'
import { NotStartedError } from './errors.js'
import { createDownloads, type DownloadEvents } from './fetch/index.js'
import { originFromUrl } from './origin/index.js'
import type { Origin } from './origin/types.js'
import { startAll, stopAll } from './startable.js'
import { createStore } from './store/index.js'
import { createPeerBook, createSwarm, createSwarmLibp2p, loadOrCreateIdentity, parseDnsBootstrap, strikeScore } from './swarm/index.js'
import { createTransferClient, createTransferServer } from './transfer/index.js'
import { createRateLimiter, type RateLimiter } from './utils/rate-limit.js'
import { limitOrigin } from './fetch/limit-origin.js'
import { raceSignal } from './fetch/signals.js'
import { createLocalBlobs } from './local-blobs.js'
import { memoryBudget } from './memory-budget.js'

const silent: Logger = { debug () {}, info () {}, warn () {}, error () {} }

/**
 * The longest `start()` waits for the bootstrap dials. A dial over a LAN or
 * loopback takes well under a second and a refused one fails its three
 * attempts in under 2 s; the daemon's TCP check of the same addresses uses
 * the same 5 s (docs/decisions.md, "Ready means connected").
 */
export const DEFAULT_BOOTSTRAP_TIMEOUT_MS = 5_000

export async function createNode (options: StarlingNodeOptions, components: StarlingNodeComponents = {}): Promise<StarlingNode> {
  const log = options.logger ?? silent
  const location = options.location ?? ''
  // parsed first: a bad name is a ConfigError before anything is created
  const bootstrapDns = (options.bootstrapDns ?? []).map(parseDnsBootstrap)
  // what holds memory in proportion to work, sized to the limit (the defaults when none)
  const budget = memoryBudget(options.memoryLimit)
  await mkdir(options.dataDir, { recursive: true })
  const privateKey = await loadOrCreateIdentity(options.dataDir)

  const counters = {
    bytesIn: { origin: 0, 'peer-local': 0, 'peer-remote': 0, cache: 0 } satisfies Record<ByteSource, number>,
    piecesVerified: 0,
    piecesRejected: 0,
    originRequests: 0,
    originErrors: 0,
    evictions: 0
  }

  const peerBook = createPeerBook({
    onBan: (peer, until, strikes) => {
      log.warn({ peer, until: new Date(until).toISOString(), reasons: strikes.map(s => s.reason) }, `peer banned: ${strikes.at(-1)?.reason ?? 'strikes'}`)
      void libp2p.hangUp(peerIdFromString(peer)).catch(() => {})
    }
  })
  const libp2p = await createSwarmLibp2p({
    privateKey,
    listen: options.listen ?? ['/ip4/0.0.0.0/tcp/0'],
    psk: options.psk,
    allow: options.allowConnectionsFrom,
    exemptPrivateRanges: options.exemptPrivateRanges,
    allowPeers: options.allowPeers,
    maxInboundPerHost: options.maxInboundConnectionsPerHost,
    isBanned: (id) => peerBook.isBanned(id.toString()),
    appScore: (id) => strikeScore(peerBook.get(id), peerBook.isBanned(id)),
    maxStreamWindow: budget.maxStreamWindow
  })

  const store = (components.store ?? createStore)({
    dir: join(options.dataDir, 'store'),
    quota: options.cacheSize,
    logger: log,
    onEvicted: () => { counters.evictions++ },
    memory: { indexCache: budget.storeCache, indexWriteBuffer: budget.storeWriteBuffer, readChunk: budget.readChunk, hashOnLoop: budget.hashOnLoop, workerLimits: budget.workerLimits }
  })
  const limits: Record<'upload' | 'download' | 'origin', RateLimiter> = {
    upload: createRateLimiter(options.uploadRate),
    download: createRateLimiter(options.downloadRate),
    origin: createRateLimiter(options.originRate)
  }
  const transferServer = createTransferServer({
    registrar: libp2p,
    localBlobs: createLocalBlobs(store),
    interest: { exchange: (peer, digest, theirs) => downloads.exchange(peer, digest, theirs) },
    location: () => location,
    logger: log
  }, {
    uploadLimiter: limits.upload,
    maxUploads: budget.maxUploads,
    uploadChunk: budget.uploadChunk,
    uploadQueue: budget.uploadQueue
  })
  const baseTransfer = createTransferClient({ dialProtocol: libp2p.dialProtocol.bind(libp2p) }, { downloadLimiter: limits.download })
  const transfer = components.wrapTransfer?.(baseTransfer) ?? baseTransfer
  const swarm = createSwarm({ libp2p, peerBook, logger: log }, {
    bootstrap: options.bootstrap,
    bootstrapDns
  })

  const events: DownloadEvents = {
    bytes: (source, n) => { counters.bytesIn[source] += n },
    pieceVerified: () => { counters.piecesVerified++ },
    pieceRejected: () => { counters.piecesRejected++ },
    originRequest: () => { counters.originRequests++ },
    originError: () => { counters.originErrors++ }
  }
  const downloads = createDownloads({
    store, transfer, swarm, peerBook, selfId: libp2p.peerId.toString(), location, originPerLocation: options.originPerLocation === true, events, logger: log
  }, { inFlightBytes: budget.downloadInFlight })

  let started = false
  const parts = [store, libp2p, transferServer, swarm]

  function needStarted (): void {
    if (!started) throw new NotStartedError('the node is not started: call start() first')
  }

  function toOrigin (opt: FetchOptions): Origin | undefined {
    if (opt.origin == null) return undefined
    const o = typeof opt.origin === 'string' || opt.origin instanceof URL
      ? originFromUrl(opt.origin.toString(), { headers: opt.headers, onError: (err) => { log.debug({ err }, 'origin request failed (retried while tries are left)') } })
      : opt.origin
    return limitOrigin(o, limits.origin)
  }

  /**
   * A fetch issued right after start() must find the bootstrap peers
   * connected: a peer-only fetch asks the peers it is connected to, and
   * before the dials settle there are none. Bounded: a slow or dead
   * bootstrap peer delays the start by at most bootstrapTimeoutMs.
   */
  async function waitBootstrap (signal?: AbortSignal): Promise<void> {
    if ((options.bootstrap ?? []).length === 0 && bootstrapDns.length === 0) return
    const timeoutMs = options.bootstrapTimeoutMs ?? DEFAULT_BOOTSTRAP_TIMEOUT_MS
    const t0 = performance.now()
    const timeout = AbortSignal.timeout(timeoutMs)
    try {
      const reached = await raceSignal(swarm.bootstrapped(), signal == null ? timeout : AbortSignal.any([signal, timeout]))
      log.debug({ reached, ms: Math.round(performance.now() - t0) }, 'bootstrap dials settled')
    } catch (err) {
      if (signal?.aborted === true) throw err
      log.warn({ timeoutMs, connected: swarm.connectedPeers().length }, 'bootstrap dials still running after bootstrapTimeoutMs: started anyway')
    }
  }

  /** Re-announce what we hold: the DHT's records live in memory only. */
  async function provideHeld (): Promise<void> {
    for (const b of await store.list()) {
      if (!started) return
      if (b.complete || b.piecesHeld > 0) await swarm.provide(b.digest, { signal: AbortSignal.timeout(30_000) })
    }
  }

  const node: StarlingNode = {
    get peerId () { return libp2p.peerId.toString() },
    location,
    addresses: () => libp2p.getMultiaddrs().map(a => a.toString()),
    async start (opts = {}) {
      if (started) return
      await startAll(parts)
      started = true
      try {
        await waitBootstrap(opts.signal)
      } catch (err) {
        // the caller gave up on the start: leave nothing running
        await node.stop().catch(() => {})
        throw err
      }
      void provideHeld().catch(err => { log.debug({ err }, 'provide on start failed') })
      log.info({ peerId: libp2p.peerId.toString(), addresses: node.addresses(), location }, 'node started')
    },
    async stop () {
      if (!started) return
      started = false
      downloads.abortAll(new NotStartedError('node stopping'))
      await stopAll(parts)
    },
    fetch (digest: string, opts: FetchOptions = {}): Fetch {
      needStarted()
      return downloads.fetch(digest, toOrigin(opts), opts)
    },
    async add (source, opts: AddOptions = {}) {
      needStarted()
      const input = typeof source === 'string'
        ? createReadStream(source, { highWaterMark: 4 * 1024 * 1024 })
        : source instanceof Uint8Array ? [source] : source
      const { digest, size, pieceMap } = await store.import(input, { signal: opts.signal, expectedDigest: opts.expectedDigest })
      if (opts.pin === true) await store.pin(digest, true)
      void swarm.provide(digest)
      return { digest, size, pieceMap: (await pieceMapCid(pieceMap)).toString() }
    },
    async stat (digest, o = {}) {
      const info = await store.stat(parseDigest(digest).digest, o)
      if (info?.complete !== true) return info
      // the CID a fetch can be given to check every piece on arrival (docs/security.md)
      const map = await store.pieceMap(info.digest, o)
      return map == null ? info : { ...info, pieceMap: (await pieceMapCid(map)).toString() }
    },
    has: async (digest, o = {}) => await store.has(parseDigest(digest).digest, o),
    list: async (o = {}) => await store.list(o),
    delete: async (digest, o = {}) => await store.delete(parseDigest(digest).digest, o),
    pin: async (digest, pinned, o = {}) => { await store.pin(parseDigest(digest).digest, pinned, o) },
    gc: async (o = {}) => await store.gc(o),
    peers (): PeerInfo[] {
      const byId = new Map<string, PeerInfo>()
      const info = (id: string): PeerInfo => {
        const rec = peerBook.get(id)
        return { id, addresses: [], location: rec?.location, rttMs: rec?.rttMs, strikes: rec?.strikes ?? 0, lastStrikes: [...rec?.lastStrikes ?? []], banned: peerBook.isBanned(id) }
      }
      for (const c of libp2p.getConnections()) {
        const id = c.remotePeer.toString()
        const p = byId.get(id) ?? info(id)
        p.addresses.push(c.remoteAddr.toString())
        byId.set(id, p)
      }
      // banned peers are disconnected: list them too, so a ban shows why
      for (const [id] of peerBook.entries()) {
        if (!byId.has(id) && peerBook.isBanned(id)) byId.set(id, info(id))
      }
      return [...byId.values()]
    },
    stats (): NodeStats {
      const t = transferServer.stats()
      return {
        bytesIn: { ...counters.bytesIn },
        bytesUploaded: t.uploadedBytes,
        piecesVerified: counters.piecesVerified,
        piecesRejected: counters.piecesRejected,
        originRequests: counters.originRequests,
        originErrors: counters.originErrors,
        activeDownloads: downloads.active(),
        activeUploads: t.activeUploads,
        connectedPeers: new Set(libp2p.getConnections().map(c => c.remotePeer.toString())).size,
        gossipPeers: libp2p.services.pubsub.getPeers().length,
        cache: store.usage(),
        evictions: counters.evictions
      }
    }
  }
  return node
}
