import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { GossipSub } from '@libp2p/gossipsub'
import { describe, expect, it } from 'vitest'
import { BlobGossip, createPeerBook, createSwarm, topicFor, type SwarmLibp2p } from '../../src/swarm/index.js'
import { BlobTopics } from '../../src/swarm/gossip.js'

/** Just enough of GossipSub for BlobTopics: events, subscriptions, listener counts. */
class FakePubsub extends EventTarget {
  listeners = 0
  readonly subscribed = new Set<string>()
  readonly topicValidators = new Map<string, unknown>()
  override addEventListener (...args: Parameters<EventTarget['addEventListener']>): void {
    if (args[0] === 'message') this.listeners++
    super.addEventListener(...args)
  }

  override removeEventListener (...args: Parameters<EventTarget['removeEventListener']>): void {
    if (args[0] === 'message') this.listeners--
    super.removeEventListener(...args)
  }

  subscribe (topic: string): void { this.subscribed.add(topic) }
  unsubscribe (topic: string): void { this.subscribed.delete(topic) }
  getSubscribers (): [] { return [] }
  async publish (): Promise<void> {}
  getPeers (): [] { return [] }
}

const HEX = 'ab'.repeat(32)

async function deliver (pubsub: FakePubsub, data: Uint8Array): Promise<void> {
  const from = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
  pubsub.dispatchEvent(new CustomEvent('message', { detail: { type: 'signed', topic: topicFor(HEX), from, data } }))
}

describe('BlobTopics', () => {
  it('close() removes its message listener and leaves its topics', async () => {
    const pubsub = new FakePubsub()
    const topics = new BlobTopics(pubsub as unknown as GossipSub)
    const got: BlobGossip[] = []
    topics.join(HEX, (_from, msg) => got.push(msg))
    expect(pubsub.subscribed.has(topicFor(HEX))).toBe(true)
    const data = BlobGossip.encode({ location: 'x', complete: true })
    await deliver(pubsub, data)
    expect(got.map(m => m.location)).toEqual(['x'])
    topics.close()
    expect(pubsub.listeners).toBe(0)
    expect(pubsub.subscribed.size).toBe(0)
    await deliver(pubsub, data)
    expect(got).toHaveLength(1)
    expect(() => topics.join(HEX, () => {})).toThrow(/closed/)
  })

  it('the swarm adds one listener per start and removes it on stop', async () => {
    const pubsub = new FakePubsub()
    const libp2p = { services: { pubsub }, getConnections: () => [] } as unknown as SwarmLibp2p
    const swarm = createSwarm({ libp2p, peerBook: createPeerBook() })
    for (let i = 0; i < 3; i++) {
      await swarm.start()
      expect(pubsub.listeners).toBe(1)
      await swarm.stop()
      expect(pubsub.listeners).toBe(0)
    }
    expect(() => swarm.join(HEX, () => {})).toThrow(/not started/)
  })
})
