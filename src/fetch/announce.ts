import type { BlobGossip, BlobTopic } from '../swarm/index.js'
import type { Clock } from './clock.js'
import { GOSSIP_BATCH_MS } from './constants.js'

/**
 * The download's voice on its blob's gossip topic: changes are batched
 * (every message costs each receiver a signature check, and the whole swarm
 * pays it once per message), and a full state goes out every heartbeat for
 * peers that missed one.
 */
export class Announcer {
  readonly #topic: BlobTopic
  readonly #clock: Clock
  readonly #state: (final: boolean) => BlobGossip
  #cancelBatch?: () => void
  #last = 0
  #closed = false

  constructor (topic: BlobTopic, clock: Clock, state: (final: boolean) => BlobGossip) {
    this.#topic = topic
    this.#clock = clock
    this.#state = state
  }

  /** When the last message went out. */
  get lastPublish (): number { return this.#last }

  /** Something changed: publish within GOSSIP_BATCH_MS, with whatever else changes meanwhile. */
  markDirty (): void {
    if (this.#cancelBatch != null || this.#closed) return
    this.#cancelBatch = this.#clock.after(GOSSIP_BATCH_MS, () => { this.#cancelBatch = undefined; void this.publish() })
  }

  async publish (final = false): Promise<void> {
    if (this.#closed && !final) return
    this.#last = this.#clock.now()
    await this.#topic.publish(this.#state(final))
  }

  /** The final state goes out, then nothing more. */
  async close (): Promise<void> {
    this.#closed = true
    this.#cancelBatch?.()
    await this.publish(true)
  }
}
