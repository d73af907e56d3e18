import { multiaddr } from '@multiformats/multiaddr'
import type { PeerId } from '@libp2p/interface'
import { digestToCid } from '../content/index.js'
import { NotStartedError } from '../errors.js'
import type { Logger, Startable } from '../types.js'
import { sleep } from '../utils/rate-limit.js'
import { BlobTopics, type BlobTopic, type GossipHandler } from './gossip.js'
import type { PeerBook } from './peer-book.js'
import type { SwarmLibp2p } from './libp2p.js'

export { createSwarmLibp2p, DHT_PROTOCOL, DEFAULT_ALLOW, type SwarmLibp2p, type SwarmLibp2pInit } from './libp2p.js'
export { createPeerBook, STRIKE_HISTORY, type PeerBook, type PeerRecord, type Strike } from './peer-book.js'
export { loadOrCreateIdentity } from './identity.js'
export { BlobGossip, topicFor, type BlobTopic, type GossipHandler } from './gossip.js'

export interface SwarmComponents {
  libp2p: SwarmLibp2p
  peerBook: PeerBook
  logger?: Logger
}

export interface SwarmInit {
  bootstrap?: string[]
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
}

export function createSwarm (components: SwarmComponents, init: SwarmInit = {}): Swarm {
  const { libp2p, peerBook } = components
  const log = components.logger
  const bootstrap = (init.bootstrap ?? []).map(a => multiaddr(a))
  let topics: BlobTopics | undefined
  let timer: ReturnType<typeof setInterval> | undefined
  let redialing = false

  async function dialBootstrap (options: { signal?: AbortSignal } = {}): Promise<number> {
    let ok = 0
    await Promise.all(bootstrap.map(async (ma) => {
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

  return {
    async start () {
      if (topics != null) return
      topics = new BlobTopics(libp2p.services.pubsub, log)
      // libp2p does not redial lost peers by itself: keep the bootstrap
      // connections up so the node never drifts out of the swarm.
      if (bootstrap.length > 0) {
        void dialBootstrap()
        timer = setInterval(() => {
          if (redialing || libp2p.getConnections().length > 0) return
          redialing = true
          dialBootstrap().finally(() => { redialing = false })
        }, init.redialIntervalMs ?? 5_000)
        timer.unref?.()
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
    dialBootstrap
  }
}
