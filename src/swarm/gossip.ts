import type { PeerId } from '@libp2p/interface'
import { TopicValidatorResult, type GossipSub, type Message } from '@libp2p/gossipsub'
import { createTopicScoreParams } from '@libp2p/gossipsub/score'
import { BlobGossip } from './pb/gossip.js'
import { MAX_CLAIMS } from '../fetch/constants.js'
import { MAX_LOCATION_LENGTH } from '../transfer/limits.js'
import { NotStartedError } from '../errors.js'
import type { Logger } from '../types.js'

export { BlobGossip }

export function topicFor (hex: string): string {
  return `/starling/blob/1/${hex}`
}

/** The blob-topic pattern: the only topics a node subscribes to or accepts subscriptions and messages for. */
const BLOB_TOPIC = /^\/starling\/blob\/1\/[0-9a-f]{64}$/

export function isBlobTopic (topic: string): boolean {
  return BLOB_TOPIC.test(topic)
}

/** Origin claims (`fetching`) one message may carry; the sender caps them at the same number. */
export const MAX_GOSSIP_CLAIMS = MAX_CLAIMS
/** A piece digest is a sha256. */
const DIGEST_BYTES = 32

/**
 * Gossipsub scores a REJECTed message against its sender only on topics with
 * score parameters, and blob topics are made on the fly, so each joined topic
 * gets these. Only P4 (invalid messages) counts: an honest node never sends
 * one, so -10 x count^2 puts a sender under the gossip threshold (-10) with
 * one, under the publish threshold (-50) with three, and graylisted (-80)
 * with three; it decays by 0.9 a second (half in ~7 s). P1-P3 stay off: the
 * mesh's delivery counts vary with the swarm's pace and must not cut peers.
 */
export const BLOB_TOPIC_SCORE = createTopicScoreParams({
  topicWeight: 1,
  timeInMeshWeight: 0,
  firstMessageDeliveriesWeight: 0,
  meshMessageDeliveriesWeight: 0,
  meshFailurePenaltyWeight: 0,
  invalidMessageDeliveriesWeight: -10,
  invalidMessageDeliveriesDecay: 0.9
})

/** Why a blob-topic message is invalid, or undefined when it is valid. */
export function checkBlobGossip (msg: BlobGossip): string | undefined {
  if (msg.location.length > MAX_LOCATION_LENGTH) return 'location too long'
  if (msg.size > 0n && msg.pieceSize === 0) return 'size without a piece size'
  // 0 while the sender does not know the size: then it holds and claims nothing
  const n = msg.size === 0n ? 0n : (msg.size + BigInt(msg.pieceSize) - 1n) / BigInt(msg.pieceSize)
  if (BigInt(msg.have.byteLength) > (n + 7n) / 8n) return 'have-set longer than the piece count'
  if (BigInt(msg.pieces.length) > n) return 'more piece digests than pieces'
  for (const p of msg.pieces) {
    if (BigInt(p.index) >= n) return 'piece index out of range'
    if (p.digest.byteLength !== DIGEST_BYTES) return 'piece digest not 32 bytes'
  }
  if (msg.fetching.length > MAX_GOSSIP_CLAIMS) return `more than ${MAX_GOSSIP_CLAIMS} claims`
  if (msg.running > msg.fetching.length) return 'more running origin requests than claims'
  for (const i of msg.fetching) {
    if (BigInt(i) >= n) return 'claimed piece index out of range'
  }
  return undefined
}

/** Decoded messages that passed validation, so the app handler does not decode them twice. */
const validated = new WeakMap<Message, BlobGossip>()

/**
 * The topic validator of every blob topic: REJECT (gossipsub then neither
 * delivers nor forwards the message, and scores it against the sender) for
 * a message on another topic, unsigned, undecodable or out of bounds.
 */
export function validateBlobGossip (_from: PeerId, m: Message): TopicValidatorResult {
  if (!isBlobTopic(m.topic) || m.type !== 'signed') return TopicValidatorResult.Reject
  let msg: BlobGossip
  try {
    msg = BlobGossip.decode(m.data)
  } catch {
    return TopicValidatorResult.Reject
  }
  if (checkBlobGossip(msg) != null) return TopicValidatorResult.Reject
  validated.set(m, msg)
  return TopicValidatorResult.Accept
}

/**
 * The decoded message with its own copies of the have-set and the digests:
 * a handler may keep them per peer, and views would pin the whole received
 * buffer for as long.
 */
function detach (msg: BlobGossip): BlobGossip {
  return {
    ...msg,
    have: msg.have.slice(),
    pieces: msg.pieces.map(p => ({ index: p.index, digest: p.digest.slice() })),
    fetching: [...msg.fetching]
  }
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
    let msg = validated.get(m)
    if (msg == null) {
      try {
        msg = BlobGossip.decode(m.data)
      } catch {
        this.#log?.debug({ topic: m.topic, from: m.from.toString() }, 'undecodable gossip dropped')
        return
      }
      const why = checkBlobGossip(msg)
      if (why != null) {
        this.#log?.debug({ topic: m.topic, from: m.from.toString(), why }, 'invalid gossip dropped')
        return
      }
    }
    msg = detach(msg)
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
      this.#unguard(topic)
    }
    this.#handlers.clear()
  }

  /** The topic's validator (while we are subscribed) and its score parameters. */
  #guard (topic: string): void {
    this.#pubsub.topicValidators.set(topic, validateBlobGossip)
    // the GossipSub interface does not show the scorer; the implementation (17.x) has it
    const params = (this.#pubsub as unknown as { score?: { params?: { topics: Record<string, unknown> } } }).score?.params
    if (params != null) params.topics[topic] ??= BLOB_TOPIC_SCORE
  }

  /**
   * The validator goes; the score parameters stay (one shared object per
   * blob topic ever joined): gossipsub keeps per-peer stats for a scored
   * topic and reads its parameters when that peer prunes or disconnects.
   */
  #unguard (topic: string): void {
    this.#pubsub.topicValidators.delete(topic)
  }

  join (hex: string, handler: GossipHandler): BlobTopic {
    if (this.#closed) throw new NotStartedError('gossip topics are closed: the swarm is stopped')
    const topic = topicFor(hex)
    let set = this.#handlers.get(topic)
    if (set == null) {
      set = new Set()
      this.#handlers.set(topic, set)
      this.#guard(topic)
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
          this.#unguard(topic)
        }
      }
    }
  }
}
