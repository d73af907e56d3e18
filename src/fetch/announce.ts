import type { OriginClaims } from './planner.js'
import type { PeerId } from '@libp2p/interface'
import type { BlobGossip, BlobTopic } from '../swarm/index.js'
import type { Clock } from './clock.js'
import { HEARTBEAT_UNCLAIMED_FACTOR, HELLO_REPEAT_MS } from './constants.js'
import type { PieceLedger } from './pieces.js'
import type { SwarmAccess } from './types.js'

/** What the download's presence on its blob's topic needs: the swarm, time, and the state to publish. */
export interface AnnouncerComponents {
  readonly swarm: Pick<SwarmAccess, 'join'>
  readonly hex: string
  readonly clock: Clock
  /** A message from the topic. */
  onGossip: (from: PeerId, msg: BlobGossip) => void
  /** The state to publish; `final` when leaving. */
  state: (final: boolean) => BlobGossip
  /** How long changes wait to go out together (it grows with the swarm). */
  batchMs: () => number
}

/** What our state on the topic is made of. */
export interface GossipSource {
  readonly location: string
  /** -1 while unknown. */
  readonly size: number
  readonly pieceSize: number
  readonly pieces: Pick<PieceLedger, 'have' | 'takeAnnounced'>
  readonly complete: boolean
  readonly hasOrigin: boolean
  /** Our origin claims (planner.ts), the running requests first. */
  claims: () => OriginClaims
}

/** Claims as both wires carry them: the pieces, the running requests first, and how many run. */
export function claimsOnWire (c: OriginClaims): { fetching: number[], running: number } {
  return { fetching: c.pieces, running: c.running }
}

/** Our state as the topic carries it; `final` when leaving: no origin, no claims. */
export function gossipState (s: GossipSource, final: boolean): BlobGossip {
  return {
    location: s.location,
    size: BigInt(Math.max(0, s.size)),
    pieceSize: s.pieceSize,
    have: new Uint8Array(s.pieces.have.bytes),
    complete: s.complete,
    hasOrigin: s.hasOrigin && !final,
    pieces: s.pieces.takeAnnounced(),
    ...(final ? { fetching: [], running: 0 } : claimsOnWire(s.claims())),
    leaving: final && !s.pieces.have.full
  }
}

/**
 * The download's voice on its blob's gossip topic: it joins the topic,
 * says hello a few times (peers that joined a moment later missed the
 * first), batches changes (every message costs each receiver a signature
 * check, and the whole swarm pays it once per message), sends a full state
 * every heartbeat for peers that missed one, and at the end sends its
 * final state and leaves, after lingering as a seeder when it holds the blob.
 */
export class Announcer {
  readonly #c: AnnouncerComponents
  readonly #topic: BlobTopic
  readonly #stops: Array<() => void> = []
  #cancelBatch?: () => void
  #last = 0
  #closed = false
  /** Our last message claimed origin pieces: its heartbeats keep those claims fresh. */
  #claiming = false

  constructor (c: AnnouncerComponents) {
    this.#c = c
    this.#topic = c.swarm.join(c.hex, c.onGossip)
    void this.publish()
    for (const ms of HELLO_REPEAT_MS) this.#stops.push(c.clock.after(ms, () => { void this.publish() }))
  }

  /** When the last message went out. */
  get lastPublish (): number { return this.#last }

  /** Connected peers subscribed to the topic. */
  subscribers (): PeerId[] { return this.#topic.subscribers() }

  /**
   * A full state when nothing went out for a heartbeat, or for
   * HEARTBEAT_UNCLAIMED_FACTOR heartbeats while we claim no origin piece
   * (nobody's patience then hangs on our liveness; constants.ts).
   */
  heartbeat (heartbeatMs: number): void {
    const every = this.#claiming ? heartbeatMs : heartbeatMs * HEARTBEAT_UNCLAIMED_FACTOR
    if (this.#c.clock.now() - this.#last >= every) void this.publish()
  }

  /** Something changed: publish within one batch time of the last message, with whatever else changes meanwhile. */
  markDirty (): void {
    if (this.#cancelBatch != null || this.#closed) return
    const wait = Math.max(0, this.#last + this.#c.batchMs() - this.#c.clock.now())
    this.#cancelBatch = this.#c.clock.after(wait, () => { this.#cancelBatch = undefined; void this.publish() })
  }

  async publish (final = false): Promise<void> {
    if (this.#closed && !final) return
    this.#last = this.#c.clock.now()
    const state = this.#c.state(final)
    this.#claiming = state.fetching.length > 0
    await this.#topic.publish(state)
  }

  /** The final state goes out, then nothing more; the topic is left after `lingerMs`. */
  close (lingerMs: number): void {
    this.#closed = true
    this.#cancelBatch?.()
    for (const stop of this.#stops) stop()
    void this.publish(true).finally(() => {
      this.#c.clock.after(lingerMs, () => { this.#topic.leave() })
    })
  }
}
