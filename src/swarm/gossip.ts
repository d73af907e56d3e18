import type { PeerId } from '@libp2p/interface'
import type { GossipSub, Message } from '@libp2p/gossipsub'
import { BlobGossip } from './pb/gossip.js'
import { NotStartedError } from '../errors.js'
import type { Logger } from '../types.js'

export { BlobGossip }

export function topicFor (hex: string): string {
  return `/starling/blob/1/${hex}`
}

export type GossipHandler = (from: PeerId, msg: BlobGossip) => void

/** A blob's gossip topic as one download or seeder sees it. */
export interface BlobTopic {
  publish(msg: BlobGossip): Promise<void>
  /** Connected peers subscribed to the topic. */
  subscribers(): PeerId[]
  leave(): void
}

/**
 * Per-blob gossipsub topics with reference counts: several parts of the node
 * (a download, a seeding linger) may join the same topic; it is left when
 * the last one leaves. Messages are decoded once and fanned out. close()
 * removes the pubsub listener and leaves every topic.
 */
export class BlobTopics {
  readonly #pubsub: GossipSub
  readonly #log?: Logger
  readonly #handlers = new Map<string, Set<GossipHandler>>()
  readonly #onMessage = (evt: CustomEvent<Message>): void => {
    const m = evt.detail
    const handlers = this.#handlers.get(m.topic)
    if (handlers == null || m.type !== 'signed') return
    let msg: BlobGossip
    try {
      msg = BlobGossip.decode(m.data)
    } catch {
      this.#log?.debug({ topic: m.topic, from: m.from.toString() }, 'undecodable gossip dropped')
      return
    }
    for (const h of [...handlers]) {
      try { h(m.from, msg) } catch (err) { this.#log?.warn({ err }, 'gossip handler failed') }
    }
  }

  #closed = false

  constructor (pubsub: GossipSub, log?: Logger) {
    this.#pubsub = pubsub
    this.#log = log
    this.#pubsub.addEventListener('message', this.#onMessage)
  }

  /** Stops listening and leaves every topic; handles joined before stay inert. Idempotent. */
  close (): void {
    if (this.#closed) return
    this.#closed = true
    this.#pubsub.removeEventListener('message', this.#onMessage)
    for (const topic of this.#handlers.keys()) {
      try { this.#pubsub.unsubscribe(topic) } catch {}
    }
    this.#handlers.clear()
  }

  join (hex: string, handler: GossipHandler): BlobTopic {
    if (this.#closed) throw new NotStartedError('gossip topics are closed: the swarm is stopped')
    const topic = topicFor(hex)
    let set = this.#handlers.get(topic)
    if (set == null) {
      set = new Set()
      this.#handlers.set(topic, set)
      this.#pubsub.subscribe(topic)
    }
    set.add(handler)
    let left = false
    return {
      publish: async (msg) => {
        if (left || this.#closed) return
        try {
          await this.#pubsub.publish(topic, BlobGossip.encode(msg))
        } catch (err) {
          // publishing is best effort: peers also learn state through the meta protocol
          this.#log?.debug({ err, topic }, 'gossip publish failed')
        }
      },
      subscribers: () => this.#pubsub.getSubscribers(topic),
      leave: () => {
        if (left) return
        left = true
        if (this.#closed) return
        const s = this.#handlers.get(topic)
        s?.delete(handler)
        if (s != null && s.size === 0) {
          this.#handlers.delete(topic)
          // leaving may run from a linger timer after the node stopped
          try { this.#pubsub.unsubscribe(topic) } catch {}
        }
      }
    }
  }
}
