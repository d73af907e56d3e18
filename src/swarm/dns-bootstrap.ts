/**
 * Bootstrap from a DNS name that resolves to every node of the swarm — a
 * Kubernetes headless Service, a round-robin record — instead of a fixed
 * list of `/p2p/<id>` multiaddrs. In a DaemonSet nobody knows the other
 * nodes' peer ids up front, but the name's A/AAAA records are the nodes'
 * IPs, and every node listens on the same port. Each record becomes a dial
 * target without a peer id: the Noise handshake tells who answered.
 */
import { lookup as dnsLookup } from 'node:dns/promises'
import { isIP } from 'node:net'
import { ConfigError } from '../errors.js'

export interface DnsBootstrapTarget {
  name: string
  port: number
}

/** Resolves a host name to all of its addresses (the system resolver, as getaddrinfo sees them). */
export type LookupAll = (name: string, options: { signal?: AbortSignal }) => Promise<string[]>

const NAME = /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*\.?$/

/** `NAME:PORT`, e.g. `starling-peers.starling.svc.cluster.local:7480`. */
export function parseDnsBootstrap (s: string): DnsBootstrapTarget {
  const i = s.lastIndexOf(':')
  const name = i > 0 ? s.slice(0, i) : ''
  const port = Number(s.slice(i + 1))
  if (i <= 0 || !NAME.test(name) || isIP(name) !== 0 || !/^\d{1,5}$/.test(s.slice(i + 1)) || port < 1 || port > 65535) {
    throw new ConfigError(`bootstrapDns: expected NAME:PORT with a DNS name and the port every node listens on, e.g. starling-peers.starling.svc.cluster.local:7480; got ${JSON.stringify(s)}`)
  }
  return { name, port }
}

export const systemLookupAll: LookupAll = async (name, options) => {
  options.signal?.throwIfAborted()
  const records = await dnsLookup(name, { all: true })
  return records.map(r => r.address)
}

/**
 * The multiaddrs to dial for these names now: one per address, minus this
 * node's own listen addresses (a headless Service lists the asking pod too).
 * A name that does not resolve yet gives nothing — the first pod of a
 * DaemonSet may start before its own record exists — and the caller tries
 * again on its redial timer.
 */
export async function resolveDnsBootstrap (
  targets: DnsBootstrapTarget[],
  self: string[],
  options: { lookup?: LookupAll, signal?: AbortSignal, onError?: (name: string, err: Error) => void } = {}
): Promise<string[]> {
  const lookup = options.lookup ?? systemLookupAll
  const own = new Set(self.map(a => /^\/ip[46]\/[^/]+\/tcp\/\d+/.exec(a)?.[0]).filter(a => a != null))
  const out = new Set<string>()
  await Promise.all(targets.map(async t => {
    let addrs: string[]
    try {
      addrs = await lookup(t.name, { signal: options.signal })
    } catch (err) {
      options.onError?.(t.name, err as Error)
      return
    }
    for (const ip of addrs) {
      const family = isIP(ip)
      if (family === 0) continue
      const ma = `/ip${family}/${ip}/tcp/${t.port}`
      if (!own.has(ma)) out.add(ma)
    }
  }))
  return [...out]
}
