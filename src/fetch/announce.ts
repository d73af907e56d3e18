import type { BlobGossip, BlobTopic } from '../swarm/index.js'
import type { Clock } from './clock.js'

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
  readonly #batchMs: () => number
  #cancelBatch?: () => void
  #last = 0
  #closed = false

  /** `batchMs`: how long changes wait to go out together (it grows with the swarm). */
  constructor (topic: BlobTopic, clock: Clock, state: (final: boolean) => BlobGossip, batchMs: () => number) {
    this.#topic = topic
    this.#clock = clock
    this.#state = state
    this.#batchMs = batchMs
  }

  /** When the last message went out. */
  get lastPublish (): number { return this.#last }

  /** Something changed: publish within one batch time of the last message, with whatever else changes meanwhile. */
  markDirty (): void {
    if (this.#cancelBatch != null || this.#closed) return
    const wait = Math.max(0, this.#last + this.#batchMs() - this.#clock.now())
    this.#cancelBatch = this.#clock.after(wait, () => { this.#cancelBatch = undefined; void this.publish() })
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
