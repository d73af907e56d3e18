import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { TopicValidatorResult, type Message } from '@libp2p/gossipsub'
import { afterEach, describe, expect, it } from 'vitest'
import { BlobGossip, topicFor } from '../../src/swarm/index.js'
import { BlobTopics, MAX_GOSSIP_CLAIMS, isBlobTopic, validateBlobGossip } from '../../src/swarm/gossip.js'
import { createSwarmLibp2p, strikeScore, STRIKE_SCORE, type SwarmLibp2p } from '../../src/swarm/libp2p.js'
import { createPeerBook } from '../../src/swarm/peer-book.js'

const HEX = 'cd'.repeat(32)
const TOPIC = topicFor(HEX)
const MiB = 1024 * 1024
const from = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))

function message (data: Uint8Array, topic = TOPIC, type: 'signed' | 'unsigned' = 'signed'): Message {
  return (type === 'signed'
    ? { type, topic, data, from, sequenceNumber: 1n, signature: new Uint8Array(64), key: from.publicKey }
    : { type, topic, data }) as unknown as Message
}

function verdict (msg: Partial<BlobGossip>, topic = TOPIC): TopicValidatorResult {
  return validateBlobGossip(from, message(BlobGossip.encode(msg), topic))
}

const digest = (n = 32): Uint8Array<ArrayBuffer> => new Uint8Array(n).fill(7)
// 10 pieces of 1 MiB, the last one short
const SIZED = { size: BigInt(9 * MiB + 5), pieceSize: MiB }

describe('blob gossip validator', () => {
  it('accepts what an honest node sends', () => {
    expect(verdict({ location: 'x', hasOrigin: true })).toBe(TopicValidatorResult.Accept) // size not known yet
    expect(verdict({ ...SIZED, have: new Uint8Array(2), fetching: [0, 9] })).toBe(TopicValidatorResult.Accept)
    expect(verdict({ ...SIZED, have: new Uint8Array([0xff, 0xc0]), complete: true, pieces: [{ index: 9, digest: digest() }] })).toBe(TopicValidatorResult.Accept)
    expect(verdict({ ...SIZED, leaving: true })).toBe(TopicValidatorResult.Accept)
    expect(verdict({})).toBe(TopicValidatorResult.Accept)
  })

  it('rejects bytes that do not decode', () => {
    expect(validateBlobGossip(from, message(new Uint8Array([0xff, 0xff, 0xff])))).toBe(TopicValidatorResult.Reject)
    expect(validateBlobGossip(from, message(new Uint8Array([0x22, 0x10, 1])))).toBe(TopicValidatorResult.Reject) // have: 16 bytes promised, 1 sent
  })

  it('rejects a have-set longer than the piece count', () => {
    expect(verdict({ ...SIZED, have: new Uint8Array(3) })).toBe(TopicValidatorResult.Reject)
    expect(verdict({ have: new Uint8Array(1) })).toBe(TopicValidatorResult.Reject) // no size: no pieces
    expect(verdict({ size: 5n, have: new Uint8Array(1) })).toBe(TopicValidatorResult.Reject) // no piece size
  })

  it('rejects piece indexes out of range, in pieces or in fetching', () => {
    expect(verdict({ ...SIZED, pieces: [{ index: 10, digest: digest() }] })).toBe(TopicValidatorResult.Reject)
    expect(verdict({ ...SIZED, fetching: [10] })).toBe(TopicValidatorResult.Reject)
    expect(verdict({ ...SIZED, fetching: [0xffffffff] })).toBe(TopicValidatorResult.Reject)
    expect(verdict({ fetching: [0] })).toBe(TopicValidatorResult.Reject) // no size: nothing to claim
  })

  it('rejects more claims or digests than the bounds', () => {
    const big = { size: BigInt(1000 * MiB), pieceSize: MiB }
    const claims = Array.from({ length: MAX_GOSSIP_CLAIMS }, (_, i) => i)
    expect(verdict({ ...big, fetching: claims })).toBe(TopicValidatorResult.Accept)
    expect(verdict({ ...big, fetching: [...claims, MAX_GOSSIP_CLAIMS] })).toBe(TopicValidatorResult.Reject)
    const pieces = Array.from({ length: 11 }, () => ({ index: 0, digest: digest() }))
    expect(verdict({ ...SIZED, pieces })).toBe(TopicValidatorResult.Reject) // 11 digests for 10 pieces
  })

  it('rejects digests that are not 32 bytes', () => {
    expect(verdict({ ...SIZED, pieces: [{ index: 0, digest: digest(31) }] })).toBe(TopicValidatorResult.Reject)
    expect(verdict({ ...SIZED, pieces: [{ index: 0, digest: digest(33) }] })).toBe(TopicValidatorResult.Reject)
    expect(verdict({ ...SIZED, pieces: [{ index: 0, digest: digest(0) }] })).toBe(TopicValidatorResult.Reject)
  })

  it('rejects other topics, unsigned messages and oversize locations', () => {
    expect(verdict({}, '/starling/blob/1/' + 'CD'.repeat(32))).toBe(TopicValidatorResult.Reject)
    expect(verdict({}, '/other/topic')).toBe(TopicValidatorResult.Reject)
    expect(validateBlobGossip(from, message(BlobGossip.encode({}), TOPIC, 'unsigned'))).toBe(TopicValidatorResult.Reject)
    expect(verdict({ location: 'x'.repeat(257) })).toBe(TopicValidatorResult.Reject)
    expect(isBlobTopic(TOPIC)).toBe(true)
    expect(isBlobTopic(TOPIC + '0')).toBe(false)
  })
})

describe('blob gossip between two real nodes', () => {
  const nodes: SwarmLibp2p[] = []
  afterEach(async () => { await Promise.all(nodes.splice(0).map(async n => { await n.stop() })) })

  async function node (): Promise<SwarmLibp2p> {
    const n = await createSwarmLibp2p({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'] })
    nodes.push(n)
    await n.start()
    return n
  }

  it('a malformed message never reaches the handler, its sender is scored down, other topics are not tracked', async () => {
    const a = await node()
    const b = await node()
    const topics = new BlobTopics(b.services.pubsub)
    const got: BlobGossip[] = []
    topics.join(HEX, (_from, msg) => got.push(msg))
    // a publishes raw bytes, bypassing BlobTopics (a has no validator of its own)
    a.services.pubsub.subscribe(TOPIC)
    a.services.pubsub.subscribe('/not/a/blob/topic')
    await a.dial(b.getMultiaddrs()[0])
    const deadline = Date.now() + 10_000
    while (!b.services.pubsub.getSubscribers(TOPIC).some(p => p.equals(a.peerId)) ||
      !a.services.pubsub.getSubscribers(TOPIC).some(p => p.equals(b.peerId))) {
      if (Date.now() > deadline) throw new Error('the nodes never saw each other subscribe')
      await new Promise(resolve => setTimeout(resolve, 50))
    }
    expect(b.services.pubsub.getSubscribers('/not/a/blob/topic')).toEqual([])

    await a.services.pubsub.publish(TOPIC, BlobGossip.encode({ ...SIZED, fetching: [10] })) // out of range
    await a.services.pubsub.publish(TOPIC, new Uint8Array([0xff, 0xff, 0xff])) // undecodable
    await a.services.pubsub.publish(TOPIC, BlobGossip.encode({ ...SIZED, location: 'good', fetching: [1] }))
    while (got.length === 0) {
      if (Date.now() > deadline) throw new Error('the valid message never arrived')
      await new Promise(resolve => setTimeout(resolve, 50))
    }
    await new Promise(resolve => setTimeout(resolve, 300))
    expect(got.map(m => m.location)).toEqual(['good'])
    expect(got[0].fetching).toEqual([1])
    const score = (b.services.pubsub as unknown as { score: { score: (id: string) => number } }).score
    // gossipsub caches a peer's score for a second
    while (score.score(a.peerId.toString()) >= 0) {
      if (Date.now() > deadline + 5000) throw new Error('the sender was never scored down')
      await new Promise(resolve => setTimeout(resolve, 100))
    }
    topics.close()
  })
})

describe('strikes in the gossipsub score', () => {
  const nodes: SwarmLibp2p[] = []
  afterEach(async () => { await Promise.all(nodes.splice(0).map(async n => { await n.stop() })) })

  it('strikeScore: none 0, each strike STRIKE_SCORE, banned or banned before below zero', () => {
    expect(strikeScore(undefined, false)).toBe(0)
    expect(strikeScore({ strikes: 0, bans: 0 }, false)).toBe(0)
    expect(strikeScore({ strikes: 2, bans: 0 }, false)).toBe(2 * STRIKE_SCORE)
    expect(strikeScore({ strikes: 0, bans: 1 }, false)).toBeLessThan(0)
    expect(strikeScore({ strikes: 0, bans: 1 }, true)).toBeLessThan(-80)
  })

  it('a peer struck in the peer book loses its place in the mesh of a blob topic', async () => {
    const book = createPeerBook()
    const a = await createSwarmLibp2p({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], appScore: id => strikeScore(book.get(id), book.isBanned(id)) })
    const b = await createSwarmLibp2p({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'] })
    nodes.push(a, b)
    await a.start()
    await b.start()
    a.services.pubsub.subscribe(TOPIC)
    b.services.pubsub.subscribe(TOPIC)
    await a.dial(b.getMultiaddrs()[0])
    // getMeshPeers is gossipsub's, not in its published type
    const mesh = a.services.pubsub as unknown as { getMeshPeers: (topic: string) => string[] }
    const inMesh = (): boolean => mesh.getMeshPeers(TOPIC).includes(b.peerId.toString())
    const until = async (pred: () => boolean, ms: number, what: string): Promise<void> => {
      const end = Date.now() + ms
      while (!pred()) {
        if (Date.now() > end) throw new Error(what)
        await new Promise(resolve => setTimeout(resolve, 100))
      }
    }
    // gossipsub grafts within a heartbeat (1 s) or two
    await until(inMesh, 15_000, 'b never joined a\'s mesh')
    book.strike(b.peerId.toString(), 'sent a bad piece')
    // the score is cached for a second; the prune comes at the next heartbeat
    await until(() => !inMesh(), 10_000, 'the struck peer kept its mesh place')
    // and it is not grafted again while struck
    await new Promise(resolve => setTimeout(resolve, 2500))
    expect(inMesh()).toBe(false)
  }, 40_000)
})
