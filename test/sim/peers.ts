/**
 * What one simulated node's engine talks to: SimSwarm (DHT provider records
 * and gossip topics) and SimTransfer (meta/exchange and piece sessions),
 * both answered by the other nodes' SimStores over the SimNetwork.
 */
import type { PeerId } from '@libp2p/interface'
import { BusyError, NotFoundError } from '../../src/errors.js'

const BUSY = new BusyError('no upload slot free')
import type { SwarmAccess } from '../../src/fetch/types.js'
import type { BlobGossip, BlobTopic, PeerBook } from '../../src/swarm/index.js'
import { topicFor } from '../../src/swarm/index.js'
import { pieceLength } from '../../src/content/index.js'
import type { AbortOptions } from '../../src/types.js'
import type { BlobInterest, BlobMeta, InterestExchange, MetaAnswer, PieceSession, TransferClient } from '../../src/transfer/types.js'
import { UploadSlots } from '../../src/transfer/slots.js'
import { raceSignal as racing } from '../../src/fetch/signals.js'
import type { SimBlob } from './blob.js'
import type { SimNetwork } from './network.js'
import type { SimStore } from './store.js'

/** DHT timings: a provide and a lookup each take a few round trips. */
export const PROVIDE_MS = 400
export const FIND_PROVIDERS_MS = 300
/** A Kademlia lookup returns about k = 20 providers. */
export const MAX_PROVIDERS = 20
/** Pieces a node serves at once, and to one peer (the real defaults are 32 and 8; 8 keeps upload per piece realistic). */
export const UPLOAD_SLOTS = 8
export const UPLOAD_SLOTS_PER_PEER = 4

/** One simulated node as the others see it. */
export interface SimPeer {
  key: string
  id: PeerId
  store: SimStore
  slots: UploadSlots
  /** Its engine's side of the interest exchange (set once the engine offers one). */
  interest?: InterestExchange
  /** Connected peers (symmetric). */
  neighbours: SimPeer[]
  /** Meta requests and pieces served (counters). */
  metaServed: number
  piecesServed: number
}

/** Everything the fakes of all nodes share. */
export class SimWorld {
  readonly net: SimNetwork
  readonly blob: SimBlob
  readonly peers = new Map<string, SimPeer>()
  /** DHT provider records by digest, in the order they were added (deterministic). */
  readonly providers = new Map<string, string[]>()

  constructor (net: SimNetwork, blob: SimBlob) {
    this.net = net
    this.blob = blob
  }

  addPeer (id: PeerId, store: SimStore): SimPeer {
    const p: SimPeer = { key: id.toString(), id, store, slots: new UploadSlots(UPLOAD_SLOTS, UPLOAD_SLOTS_PER_PEER), neighbours: [], metaServed: 0, piecesServed: 0 }
    this.peers.set(p.key, p)
    return p
  }

  peer (key: string): SimPeer {
    const p = this.peers.get(key)
    if (p == null) throw new Error(`unknown sim peer ${key}`)
    return p
  }

  /** What `p` answers to a meta request, computed when the request reaches it. */
  metaOf (p: SimPeer, digest: string): BlobMeta | undefined {
    const b = this.blob
    const have = p.store.haveNow(digest)?.clone() // a snapshot: the answer is on the wire
    if (have == null) return undefined
    return { digest, size: b.size, pieceSize: b.pieceSize, complete: p.store.isComplete, have, pieceDigests: b.pieceDigests.map((d, i) => have.get(i) ? d : undefined), location: this.net.location(p.key) }
  }
}

export class SimSwarm implements SwarmAccess {
  readonly #w: SimWorld
  readonly #self: SimPeer
  readonly #peerBook: PeerBook
  readonly #handlers = new Map<string, Set<(from: PeerId, msg: BlobGossip) => void>>()

  constructor (world: SimWorld, self: SimPeer, peerBook: PeerBook) {
    this.#w = world
    this.#self = self
    this.#peerBook = peerBook
  }

  async provide (digest: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    try {
      await this.#w.net.clock.forNode(this.#self.key).sleep(PROVIDE_MS, options.signal)
    } catch { return } // best effort, as the real one
    const list = this.#w.providers.get(digest) ?? []
    if (!list.includes(this.#self.key)) list.push(this.#self.key)
    this.#w.providers.set(digest, list)
  }

  async * findProviders (digest: string, options: { signal?: AbortSignal } = {}): AsyncIterable<PeerId> {
    try {
      await this.#w.net.clock.forNode(this.#self.key).sleep(FIND_PROVIDERS_MS, options.signal)
    } catch { return }
    // Stale records of nodes that left stay in the DHT, as in the real one.
    const found = (this.#w.providers.get(digest) ?? []).filter(k => k !== this.#self.key && !this.#peerBook.isBanned(k))
    for (const k of this.#w.net.rng.shuffle(found).slice(0, MAX_PROVIDERS)) yield this.#w.peer(k).id
  }

  join (hex: string, handler: (from: PeerId, msg: BlobGossip) => void): BlobTopic {
    const topic = topicFor(hex)
    const net = this.#w.net
    const me = this.#self.key
    let set = this.#handlers.get(topic)
    if (set == null) {
      const handlers = set = new Set()
      this.#handlers.set(topic, handlers)
      net.subscribe(topic, me, (from, msg) => {
        const id = this.#w.peer(from).id
        for (const h of [...handlers]) h(id, msg as BlobGossip)
      })
    }
    set.add(handler)
    let left = false
    return {
      publish: async (msg) => { if (!left) net.publish(topic, me, msg) },
      subscribers: () => this.#self.neighbours.filter(p => net.isAlive(p.key) && net.isSubscribed(topic, p.key)).map(p => p.id),
      leave: () => {
        if (left) return
        left = true
        const s = this.#handlers.get(topic)
        s?.delete(handler)
        if (s != null && s.size === 0) { this.#handlers.delete(topic); net.unsubscribe(topic, me) }
      }
    }
  }

  connectedPeers (): PeerId[] {
    return this.#self.neighbours.filter(p => this.#w.net.isAlive(p.key)).map(p => p.id)
  }
}

export class SimTransfer implements TransferClient {
  readonly #w: SimWorld
  readonly #self: SimPeer

  constructor (world: SimWorld, self: SimPeer) {
    this.#w = world
    this.#self = self
  }

  async meta (peer: PeerId, digest: string, options: AbortOptions = {}): Promise<BlobMeta | undefined> {
    return (await this.exchange(peer, digest, undefined, options)).meta
  }

  /** Request travels to the peer, which answers from its store and its engine's interest (in its own context), answer travels back. */
  async exchange (peer: PeerId, digest: string, mine: BlobInterest | undefined, options: AbortOptions = {}): Promise<MetaAnswer> {
    const net = this.#w.net
    const remote = this.#w.peer(peer.toString())
    const me = this.#self.key
    return await racing((async () => {
      await net.message(me, remote.key)
      remote.metaServed++
      const answer: MetaAnswer = { meta: this.#w.metaOf(remote, digest), interest: remote.interest?.exchange(me, digest, mine) }
      await net.message(remote.key, me)
      return answer
    })(), options.signal)
  }

  session (peer: PeerId, digest: string, pieceSize: number): PieceSession {
    const w = this.#w
    const remote = w.peer(peer.toString())
    const me = this.#self.key
    let closed = false
    return {
      get: async (index, options = {}) => {
        if (closed) throw new Error('session closed')
        const { signal } = options
        return await racing((async () => {
          await w.net.message(me, remote.key)
          if (signal?.aborted === true) throw signal.reason
          if (digest !== w.blob.digest || pieceSize !== w.blob.pieceSize || remote.store.haveNow(digest)?.get(index) !== true) {
            await w.net.message(remote.key, me)
            throw new NotFoundError(`piece ${index} not held by ${remote.key}`)
          }
          if (!remote.slots.tryAcquire(me)) {
            await w.net.message(remote.key, me)
            throw BUSY // one shared error: a stack trace per BUSY was a tenth of a 200-node run
          }
          let held = true
          const release = (): void => { if (held) { held = false; remote.slots.release(me) } }
          try {
            remote.piecesServed++
            await w.net.transfer(remote.key, me, pieceLength(w.blob.size, pieceSize, index), { signal, onSent: release })
          } finally {
            release()
          }
          return w.blob.piece(index)
        })(), signal)
      },
      close: () => { closed = true }
    }
  }
}
