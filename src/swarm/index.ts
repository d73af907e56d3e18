import { multiaddr } from '@multiformats/multiaddr'
import type { PeerId, PeerInfo } from '@libp2p/interface'
import { digestToCid } from '../content/index.js'
import { NotStartedError } from '../errors.js'
import type { Logger, Startable } from '../types.js'
import { sleep } from '../utils/rate-limit.js'
import { resolveDnsBootstrap, type DnsBootstrapTarget, type LookupAll } from './dns-bootstrap.js'
import { BlobTopics, type BlobTopic, type GossipHandler } from './gossip.js'
import type { PeerBook } from './peer-book.js'
import type { SwarmLibp2p } from './libp2p.js'

export { createSwarmLibp2p, DHT_PROTOCOL, DEFAULT_ALLOW, strikeScore, STRIKE_SCORE, BANNED_SCORE, type SwarmLibp2p, type SwarmLibp2pInit } from './libp2p.js'
export { createPeerBook, STRIKE_HISTORY, type PeerBook, type PeerRecord, type Strike } from './peer-book.js'
export { loadOrCreateIdentity } from './identity.js'
export { parseDnsBootstrap, resolveDnsBootstrap, type DnsBootstrapTarget, type LookupAll } from './dns-bootstrap.js'
export { BlobGossip, topicFor, type BlobTopic, type GossipHandler } from './gossip.js'

/** How many peers a node dials after its self-lookup, at most. */
const MEET_MAX_DIALS = 32
/** Self-lookups tried after the bootstrap dial until one finds peers (delays 500 ms, 1 s, 2 s). */
const MEET_ATTEMPTS = 3
const MEET_FIRST_DELAY_MS = 500
const MEET_TIMEOUT_MS = 20_000

export interface SwarmComponents {
  libp2p: SwarmLibp2p
  peerBook: PeerBook
  logger?: Logger
}

export interface SwarmInit {
  bootstrap?: string[]
  /**
   * DNS names whose addresses are all swarm nodes listening on one port (a
   * Kubernetes headless Service): resolved again at every bootstrap dial.
   */
  bootstrapDns?: DnsBootstrapTarget[]
  /** Resolves those names; default the system resolver (getaddrinfo). */
  lookup?: LookupAll
  /** How often to check the bootstrap peers are still connected. Default 5 s. */
  redialIntervalMs?: number
}

/** Discovery (DHT provider records) and announcement (gossip topics). */
export interface Swarm extends Startable {
  /** Announces in the DHT that this node holds (part of) the blob. Best effort. */
  provide(digest: string, options?: { signal?: AbortSignal }): Promise<void>
  /** Peers the DHT says hold the blob (excluding self and banned peers). */
  findProviders(digest: string, options?: { signal?: AbortSignal }): AsyncIterable<PeerId>
  join(hex: string, handler: GossipHandler): BlobTopic
  connectedPeers(): PeerId[]
  /** Dials the bootstrap list now; resolves with the number reached. */
  dialBootstrap(options?: { signal?: AbortSignal }): Promise<number>
  /**
   * Resolves with the number of bootstrap peers reached once the start-up
   * dials have settled (each connected, or failed its retries: at most
   * about 3 × 10 s per address); 0 at once with no bootstrap list. Never rejects.
   */
  bootstrapped(): Promise<number>
}

export function createSwarm (components: SwarmComponents, init: SwarmInit = {}): Swarm {
  const { libp2p, peerBook } = components
  const log = components.logger
  const bootstrap = (init.bootstrap ?? []).map(a => multiaddr(a))
  const bootstrapDns = init.bootstrapDns ?? []
  const hasBootstrap = bootstrap.length > 0 || bootstrapDns.length > 0
  let topics: BlobTopics | undefined
  let timer: ReturnType<typeof setInterval> | undefined
  let redialing = false
  let startDials: Promise<number> = Promise.resolve(0)

  async function dialBootstrap (options: { signal?: AbortSignal } = {}): Promise<number> {
    let ok = 0
    const resolved = bootstrapDns.length === 0
      ? []
      : await resolveDnsBootstrap(bootstrapDns, libp2p.getMultiaddrs().map(a => a.toString()), {
        lookup: init.lookup,
        signal: options.signal,
        onError: (name, err) => { log?.debug({ name, err: err.message }, 'bootstrap name did not resolve') }
      })
    await Promise.all([...bootstrap, ...resolved.map(a => multiaddr(a))].map(async (ma) => {
      const id = ma.getComponents().find(c => c.name === 'p2p')?.value
      if (id != null && id === libp2p.peerId.toString()) return
      for (let attempt = 0; attempt < 3; attempt++) {
        try {
          await libp2p.dial(ma, { signal: options.signal ?? AbortSignal.timeout(10_000) })
          ok++
          return
        } catch (err) {
          log?.debug({ err, addr: ma.toString(), attempt }, 'bootstrap dial failed')
          if (options.signal?.aborted === true) return
          await sleep(250 * 2 ** attempt, options.signal).catch(() => {})
        }
      }
      log?.warn({ addr: ma.toString() }, 'bootstrap peer unreachable')
    }))
    return ok
  }

  /**
   * Meets the swarm beyond the bootstrap peers: a DHT lookup of our own id
   * (the closest peers to us), dialling each peer it names. kad-dht runs
   * its first self-query 500 ms after start — usually before the bootstrap
   * connection exists — and then only every 5 minutes, so without this a
   * node stayed connected to its bootstrap peer alone: every byte and every
   * gossip message of a 16-node swarm went through one node, and pieces of
   * peers heard of only through gossip could not be dialled.
   */
  async function meetPeers (signal: AbortSignal): Promise<number> {
    const self = libp2p.peerId.toString()
    const seen = new Map<string, PeerInfo>()
    try {
      for await (const ev of libp2p.services.dht.getClosestPeers(libp2p.peerId.toMultihash().bytes, { signal })) {
        const peers = ev.name === 'FINAL_PEER' ? [ev.peer] : ev.name === 'PEER_RESPONSE' ? ev.closer : []
        for (const p of peers) if (p.id.toString() !== self && !peerBook.isBanned(p.id.toString())) seen.set(p.id.toString(), p)
      }
    } catch (err) {
      if (!signal.aborted) log?.debug({ err }, 'meeting peers: lookup failed')
    }
    const connected = new Set(libp2p.getConnections().map(c => c.remotePeer.toString()))
    const toDial = [...seen.values()].filter(p => !connected.has(p.id.toString())).slice(0, MEET_MAX_DIALS)
    await Promise.all(toDial.map(async p => {
      try {
        if (p.multiaddrs.length > 0) await libp2p.peerStore.merge(p.id, { multiaddrs: p.multiaddrs })
        await libp2p.dial(p.id, { signal })
      } catch (err) {
        log?.debug({ err, peer: p.id.toString() }, 'meeting peers: dial failed')
      }
    }))
    return seen.size
  }

  async function joinSwarm (dials: Promise<number>): Promise<void> {
    if (await dials === 0) return
    for (let attempt = 0; attempt < MEET_ATTEMPTS && timer != null; attempt++) {
      // the bootstrap peer enters the routing table once identify ran: give it a moment
      await sleep(MEET_FIRST_DELAY_MS * 2 ** attempt).catch(() => {})
      if (timer == null) return
      if (await meetPeers(AbortSignal.timeout(MEET_TIMEOUT_MS)) > 0) return
    }
  }

  return {
    async start () {
      if (topics != null) return
      topics = new BlobTopics(libp2p.services.pubsub, log)
      // libp2p does not redial lost peers by itself: keep the bootstrap
      // connections up so the node never drifts out of the swarm.
      if (hasBootstrap) {
        timer = setInterval(() => {
          if (redialing || libp2p.getConnections().length > 0) return
          redialing = true
          dialBootstrap().finally(() => { redialing = false })
        }, init.redialIntervalMs ?? 5_000)
        timer.unref?.()
        startDials = dialBootstrap()
        void joinSwarm(startDials)
      }
    },
    async stop () {
      if (timer != null) clearInterval(timer)
      timer = undefined
      topics?.close()
      topics = undefined
    },
    async provide (digest, options = {}) {
      const signal = options.signal ?? AbortSignal.timeout(60_000)
      try {
        await libp2p.contentRouting.provide(digestToCid(digest), { signal })
      } catch (err) {
        log?.debug({ err, digest }, 'provide failed')
      }
    },
    async * findProviders (digest, options = {}) {
      const self = libp2p.peerId.toString()
      const seen = new Set<string>()
      try {
        for await (const p of libp2p.contentRouting.findProviders(digestToCid(digest), { signal: options.signal })) {
          const id = p.id.toString()
          if (id === self || seen.has(id) || peerBook.isBanned(id)) continue
          seen.add(id)
          if (p.multiaddrs.length > 0) {
            await libp2p.peerStore.merge(p.id, { multiaddrs: p.multiaddrs }).catch(() => {})
          }
          yield p.id
        }
      } catch (err) {
        if (options.signal?.aborted !== true) log?.debug({ err, digest }, 'findProviders failed')
      }
    },
    join (hex, handler) {
      if (topics == null) throw new NotStartedError('swarm not started')
      return topics.join(hex, handler)
    },
    connectedPeers () {
      const ids = new Map<string, PeerId>()
      for (const c of libp2p.getConnections()) ids.set(c.remotePeer.toString(), c.remotePeer)
      return [...ids.values()]
    },
    dialBootstrap,
    async bootstrapped () {
      return await startDials
    }
  }
}
