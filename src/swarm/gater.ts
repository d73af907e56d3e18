/**
 * The connection gater (docs/security.md, "Private swarms"): libp2p asks it
 * before and during every connection upgrade. It refuses banned peers
 * (peer book), peers missing from the allowlist when one is configured — on
 * every dial and on every inbound and outbound connection once the remote's
 * peer id is proven by Noise — and connections beyond the per-host and
 * per-peer inbound caps.
 */
import { BlockList, isIP } from 'node:net'
import type { ConnectionGater, MultiaddrConnection, PeerId } from '@libp2p/interface'
import { getNetConfig, isNetworkAddress } from '@libp2p/utils'
import type { Multiaddr } from '@multiformats/multiaddr'
import { ConfigError } from '../errors.js'

/** Open inbound connections one remote IP may hold (a host running many nodes holds one or two per node). */
export const DEFAULT_MAX_INBOUND_PER_HOST = 128
/** Open inbound connections one peer id may hold: one, two during a simultaneous dial; more is abuse. */
export const DEFAULT_MAX_INBOUND_PER_PEER = 8

export interface GaterInit {
  isBanned: (peer: PeerId) => boolean
  /** Peer ids allowed to connect; undefined = any peer (that holds the swarm key, if any). */
  allowPeers?: Iterable<string>
  /** CIDRs (multiaddr form) exempt from the per-host and per-peer caps. */
  exempt: string[]
  maxInboundPerHost?: number
  maxInboundPerPeer?: number
}

export function createConnectionGater (init: GaterInit): ConnectionGater {
  const allowed = init.allowPeers == null ? undefined : new Set(init.allowPeers)
  const exempt = blockListOf(init.exempt)
  const perHost = createCounter(init.maxInboundPerHost ?? DEFAULT_MAX_INBOUND_PER_HOST)
  const perPeer = createCounter(init.maxInboundPerPeer ?? DEFAULT_MAX_INBOUND_PER_PEER)

  const refused = (peer: PeerId): boolean => init.isBanned(peer) || (allowed != null && !allowed.has(peer.toString()))
  const isExempt = (maConn: MultiaddrConnection): string | true => {
    const host = hostOf(maConn.remoteAddr)
    if (host == null) return true
    const family = isIP(host) === 6 ? 'ipv6' : 'ipv4'
    return exempt.check(host, family) ? true : host
  }

  return {
    denyDialPeer: (peer) => refused(peer),
    denyOutboundConnection: (peer) => refused(peer),
    denyInboundConnection (maConn) {
      const host = isExempt(maConn)
      return host !== true && !perHost.take(host, maConn)
    },
    denyInboundEncryptedConnection (peer, maConn) {
      if (refused(peer)) return true
      return isExempt(maConn) !== true && !perPeer.take(peer.toString(), maConn)
    },
    denyOutboundEncryptedConnection: (peer) => refused(peer)
  }
}

interface Counter {
  /** Counts `maConn` against `key` until it closes; false (and not counted) when `key` is at the cap. */
  take(key: string, maConn: MultiaddrConnection): boolean
}

function createCounter (max: number): Counter {
  const open = new Map<string, number>()
  return {
    take (key, maConn) {
      const n = open.get(key) ?? 0
      if (n >= max) return false
      open.set(key, n + 1)
      // Every way a connection ends (close, abort, reset) is a 'close' event.
      maConn.addEventListener('close', () => {
        const left = (open.get(key) ?? 1) - 1
        if (left <= 0) open.delete(key)
        else open.set(key, left)
      }, { once: true })
      return true
    }
  }
}

function hostOf (ma: Multiaddr): string | undefined {
  if (!isNetworkAddress(ma)) return undefined
  const c = getNetConfig(ma)
  return c.type === 'ip4' || c.type === 'ip6' ? c.host : undefined
}

/** `/ip4/10.0.0.0/ipcidr/8`, `/ip6/::1/ipcidr/128` (or a bare `/ip4/x` for one address) into a BlockList. */
function blockListOf (cidrs: string[]): BlockList {
  const list = new BlockList()
  for (const c of cidrs) {
    const m = /^\/(ip4|ip6)\/([^/]+)(?:\/ipcidr\/(\d{1,3}))?\/?$/.exec(c)
    const family = m?.[1] === 'ip6' ? 'ipv6' : 'ipv4'
    const max = family === 'ipv6' ? 128 : 32
    const prefix = m?.[3] == null ? max : Number(m[3])
    if (m == null || isIP(m[2]) !== (family === 'ipv6' ? 6 : 4) || prefix > max) {
      throw new ConfigError(`allowConnectionsFrom: expected /ip4/<addr>/ipcidr/<bits> or /ip6/<addr>/ipcidr/<bits>, got ${c}`)
    }
    list.addSubnet(m[2], prefix, family)
  }
  return list
}
