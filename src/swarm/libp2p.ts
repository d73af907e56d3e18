import { createHash } from 'node:crypto'
import { noise } from '@chainsafe/libp2p-noise'
import { gossipsub } from '@libp2p/gossipsub'
import { identify } from '@libp2p/identify'
import { kadDHT, passthroughMapper } from '@libp2p/kad-dht'
import { preSharedKey } from '@libp2p/pnet'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { yamux, type YamuxMuxerInit } from '@libp2p/yamux'
import { createLibp2p, type Libp2p } from 'libp2p'
import type { GossipSub } from '@libp2p/gossipsub'
import type { KadDHT } from '@libp2p/kad-dht'
import type { PrivateKey, PeerId } from '@libp2p/interface'
import type { Identify } from '@libp2p/identify'
import type { Ping } from '@libp2p/ping'
import { createConnectionGater } from './gater.js'
import { parseSwarmKey } from './swarm-key.js'
import { isBlobTopic } from './gossip.js'

const EMPTY = new Uint8Array(0)

/** Our own DHT: never mixes with the public IPFS DHT. */
export const DHT_PROTOCOL = '/starling/kad/1.0.0'

export interface SwarmServices extends Record<string, unknown> {
  dht: KadDHT
  pubsub: GossipSub
  identify: Identify
  ping: Ping
}

export type SwarmLibp2p = Libp2p<SwarmServices>

export interface SwarmLibp2pInit {
  privateKey: PrivateKey
  listen: string[]
  /** The swarm.key file's bytes (src/swarm/swarm-key.ts). */
  psk?: Uint8Array
  /** CIDRs exempt from every connection limit (libp2p's and the gater's caps). Default: loopback. */
  allow?: string[]
  /** Add the private ranges to `allow` (the old default). */
  exemptPrivateRanges?: boolean
  /** Only these peer ids may connect, in or out. Default: any. */
  allowPeers?: string[]
  /** Open inbound connections per remote IP (exempt ranges aside). */
  maxInboundPerHost?: number
  isBanned?: (peer: PeerId) => boolean
  /**
   * The application's part of a peer's gossipsub score (`appSpecificScore`,
   * weight 1): the node gives `strikeScore` over its peer book, so a struck
   * peer loses its mesh place (negative score: pruned at the next
   * heartbeat). Default: 0 for everyone.
   */
  appScore?: (peer: string) => number
  /** Largest receive window a yamux stream may grow to (default DEFAULT_MAX_STREAM_WINDOW; `--memory-limit` lowers it). */
  maxStreamWindow?: number
}

/**
 * Every starling node's initial yamux stream window: part of the wire
 * contract, not a local knob. js-yamux starts its *send* window at its own
 * initial size, assuming the peer's receive window starts there too, so a
 * node configured with another value overruns its peers' windows ("Receive
 * window exceeded", seen with a 256 KiB client against 4 MiB nodes).
 */
export const YAMUX_INITIAL_STREAM_WINDOW = 4 * 1024 * 1024
/** How far a stream's receive window may grow when nothing limits memory. */
export const DEFAULT_MAX_STREAM_WINDOW = 16 * 1024 * 1024
/** Streams per connection, each way. */
export const YAMUX_MAX_STREAMS = 1024

/** The yamux options of a starling node (also for light clients that speak to one: bench/memory-peers.ts). */
export function yamuxOptions (maxStreamWindow = DEFAULT_MAX_STREAM_WINDOW): YamuxMuxerInit {
  return {
    maxInboundStreams: YAMUX_MAX_STREAMS,
    maxOutboundStreams: YAMUX_MAX_STREAMS,
    streamOptions: { initialStreamWindowSize: YAMUX_INITIAL_STREAM_WINDOW, maxStreamWindowSize: Math.max(YAMUX_INITIAL_STREAM_WINDOW, maxStreamWindow) }
  }
}

/** Gossipsub score per strike: one strike is below 0 (out of the mesh) and at gossipsub's gossip threshold (-10: no IHAVE to it). */
export const STRIKE_SCORE = -10
/** Gossipsub score of a banned peer: under the graylist threshold (-80), so its RPCs are ignored too. */
export const BANNED_SCORE = -100

/** A peer's application score from its peer-book record: each strike costs STRIKE_SCORE; a ban, or a ban before, BANNED_SCORE. */
export function strikeScore (rec: { strikes: number, bans: number } | undefined, banned: boolean): number {
  if (rec == null) return 0
  if (banned) return BANNED_SCORE
  // strikes reset at a ban: a peer banned before starts again below zero
  const marks = rec.strikes + (rec.bans > 0 ? 1 : 0)
  return marks === 0 ? 0 : Math.max(BANNED_SCORE, marks * STRIKE_SCORE)
}

/**
 * Loopback only. Tests and benchmarks run up to 64 nodes on 127.0.0.1, which
 * libp2p's 5-per-second inbound threshold per host would refuse; and a
 * process that can reach loopback is on this machine already.
 */
export const DEFAULT_ALLOW = [
  '/ip4/127.0.0.0/ipcidr/8',
  '/ip6/::1/ipcidr/128'
]

/**
 * The private ranges. Exempting them used to be the default, which left a
 * node inside a datacenter with no connection limits at all; now it takes
 * `exemptPrivateRanges`.
 */
export const PRIVATE_RANGES = [
  '/ip4/10.0.0.0/ipcidr/8',
  '/ip4/172.16.0.0/ipcidr/12',
  '/ip4/192.168.0.0/ipcidr/16',
  '/ip6/fc00::/ipcidr/7'
]

/** Inbound connections per second from one host, beyond which libp2p refuses (its default is 5). */
export const INBOUND_CONNECTIONS_PER_HOST_PER_SECOND = 32
/** Inbound connections still upgrading, all hosts together. */
export const MAX_PENDING_INBOUND = 64
/** Open connections, all peers together. */
export const MAX_CONNECTIONS = 300

/**
 * Builds the libp2p node. The timeouts are raised well above libp2p's
 * defaults because on a saturated 2-core machine the defaults abort
 * handshakes and close busy connections, and nothing redials by itself
 * (docs/decisions.md, "libp2p settings"). The connection monitor is off
 * (see below).
 */
export async function createSwarmLibp2p (init: SwarmLibp2pInit): Promise<SwarmLibp2p> {
  const allow = [...init.allow ?? DEFAULT_ALLOW, ...init.exemptPrivateRanges === true ? PRIVATE_RANGES : []]
  const connectionGater = createConnectionGater({
    isBanned: init.isBanned ?? (() => false),
    allowPeers: init.allowPeers,
    exempt: allow,
    maxInboundPerHost: init.maxInboundPerHost
  })
  const node = await createLibp2p({
    privateKey: init.privateKey,
    start: false,
    addresses: { listen: init.listen },
    transports: [tcp({ inboundSocketInactivityTimeout: 5 * 60_000, outboundSocketInactivityTimeout: 5 * 60_000 })],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux(yamuxOptions(init.maxStreamWindow))],
    ...(init.psk != null ? { connectionProtector: preSharedKey({ psk: parseSwarmKey(init.psk, 'psk'), timeout: 10_000 }) } : {}),
    connectionManager: {
      allow,
      maxConnections: MAX_CONNECTIONS,
      inboundConnectionThreshold: INBOUND_CONNECTIONS_PER_HOST_PER_SECOND,
      dialTimeout: 20_000,
      inboundUpgradeTimeout: 20_000,
      inboundStreamProtocolNegotiationTimeout: 20_000,
      outboundStreamProtocolNegotiationTimeout: 20_000,
      maxIncomingPendingConnections: MAX_PENDING_INBOUND
    },
    // Off: it opened a ping stream on every connection every 10 s, and each
    // stream open costs a protocol negotiation and a peer-store write — in an
    // idle 30-node swarm that was most of a node's CPU besides gossip
    // (bench/idle, --cpu-prof). It never closed a connection here (a loaded
    // machine fails pings), and the RTT the fetch ranks peers by comes from
    // meta exchanges (fetch/discovery.ts). Dead connections are still found
    // by yamux's own keep-alive ping (every 30 s, no stream).
    connectionMonitor: { enabled: false },
    connectionGater,
    services: {
      identify: identify({ timeout: 20_000 }),
      ping: ping({ timeout: 20_000 }),
      dht: kadDHT({
        protocol: DHT_PROTOCOL,
        peerInfoMapper: passthroughMapper,
        clientMode: false,
        allowQueryWithZeroPeers: true,
        initialQuerySelfInterval: 500
      }),
      pubsub: gossipsub({
        // Each message reaches a peer from several mesh peers; without a fast
        // id gossipsub verifies the ed25519 signature of every copy before it
        // notices the duplicate — that was a fifth of a node's CPU in an
        // 8-node swarm (bench/swarm). Hash the raw bytes instead.
        fastMsgIdFn: (msg) => createHash('sha1').update(msg.from ?? EMPTY).update(msg.seqno ?? EMPTY).update(msg.data ?? EMPTY).digest('base64'),
        allowPublishToZeroTopicPeers: true,
        emitSelf: false,
        floodPublish: true,
        // A smaller mesh than gossipsub's 6 (4–12): every mesh peer forwards
        // every message, so a node receives each one about D times, and in a
        // 24-node swarm receiving and forwarding those copies was 40 % of a
        // node's CPU during a fetch (bench/swarm, --cpu-prof). Four still
        // reaches 50 nodes in three hops, and lazy gossip (IHAVE) repairs gaps.
        D: 4,
        Dlo: 3,
        Dhi: 6,
        Dout: 1,
        Dscore: 2,
        // gossipsub's P6 penalty (IP colocation) scores every peer beyond the
        // 10th that shares an address at -5 x surplus^2. With 15 nodes on one
        // host (or behind one NAT, or pods sharing a node IP) each peer sits
        // at -80, under the publish threshold (-50): no message reaches
        // anyone, every node believes it is alone and pulls the whole blob
        // from the origin (the 15-node cliff in docs/no-scheduler.md). P6
        // guards open networks against Sybils; a starling swarm is private
        // (its own DHT protocol, a pre-shared key where configured) and
        // misbehaviour is punished by strikes and bans, so the penalty is off.
        // Strikes (bad pieces, lying piece maps, wrong sizes) reach the mesh:
        // the application score comes from the peer book (strikeScore).
        scoreParams: { IPColocationFactorWeight: 0, appSpecificWeight: 1, appSpecificScore: init.appScore ?? (() => 0) },
        // have-updates are small; anything bigger is a bug or an attack
        maxInboundDataLength: 1024 * 1024
      })
    }
  })
  limitTopics(node.services.pubsub)
  return node
}

/**
 * Subscriptions and messages limited to the blob-topic pattern. Gossipsub's
 * `allowedTopics` is an exact set, and blob topics are made per blob, so the
 * set it builds from the option is replaced by the pattern: a peer's
 * subscription to any other topic is ignored (no state kept for it) and a
 * message on one is dropped before validation. The field is gossipsub's own
 * (17.x reads it in handleReceivedRpc); if a new version renames it this
 * throws rather than silently accepting every topic, and
 * test/swarm/gossip-guard.test.ts checks the effect.
 */
export function limitTopics (pubsub: GossipSub): void {
  const g = pubsub as unknown as { allowedTopics?: { has: (t: string) => boolean } | null }
  if (!('allowedTopics' in g)) throw new Error('@libp2p/gossipsub has no allowedTopics field: the blob-topic filter cannot be installed')
  g.allowedTopics = { has: isBlobTopic }
}
