/**
 * The connection gater's per-host cap with real libp2p nodes over loopback
 * TCP (loopback is exempt by default, so the test removes the exemption),
 * and the parsers of the swarm key and the allowlist.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import { afterEach, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/daemon/config.js'
import { parseAllowPeers } from '../../src/swarm/allow-peers.js'
import { createSwarmLibp2p, type SwarmLibp2p } from '../../src/swarm/libp2p.js'
import { createSwarmKey, parseSwarmKey } from '../../src/swarm/swarm-key.js'

const nodes: SwarmLibp2p[] = []

async function node (init: { allow?: string[], maxInboundPerHost?: number } = {}): Promise<SwarmLibp2p> {
  const n = await createSwarmLibp2p({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], ...init })
  await n.start()
  nodes.push(n)
  return n
}

afterEach(async () => {
  await Promise.all(nodes.splice(0).map(async n => { await n.stop() }))
})

async function until (cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time')
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}

describe('per-host inbound cap', () => {
  it('refuses the connection beyond the cap from one IP, and counts closed ones out', async () => {
    const server = await node({ allow: [], maxInboundPerHost: 2 })
    const addr = multiaddr(`${server.getMultiaddrs()[0].toString()}`)
    const [c1, c2, c3] = await Promise.all([node(), node(), node()])
    await c1.dial(addr)
    await c2.dial(addr)
    await expect(c3.dial(addr)).rejects.toThrow()
    await until(() => server.getConnections().length === 2)
    // A closed connection no longer counts: the third host's turn.
    await c1.hangUp(server.peerId)
    await until(() => server.getConnections(c1.peerId).length === 0)
    await c3.dial(addr)
    await until(() => server.getConnections(c3.peerId).length > 0)
  })

  it('loopback is exempt by default: 6 nodes past a cap of 2', async () => {
    const server = await node({ maxInboundPerHost: 2 })
    const clients = await Promise.all(Array.from({ length: 6 }, async () => await node()))
    await Promise.all(clients.map(async c => await c.dial(server.getMultiaddrs()[0])))
    await until(() => new Set(server.getConnections().map(c => c.remotePeer.toString())).size === 6)
  })
})

describe('swarm key and allowlist files', () => {
  it('a new key parses; CRLF, uppercase and a final newline are accepted; anything else is a ConfigError', () => {
    const key = createSwarmKey()
    expect(new TextDecoder().decode(parseSwarmKey(new TextEncoder().encode(key)))).toBe(key.trimEnd())
    const crlf = key.trimEnd().split('\n').map((l, i) => i === 2 ? l.toUpperCase() : l).join('\r\n') + '\r\n'
    expect(new TextDecoder().decode(parseSwarmKey(new TextEncoder().encode(crlf)))).toBe(key.trimEnd())
    for (const bad of ['', '/key/swarm/psk/1.0.0/\n/base64/\nAAAA', '/key/swarm/psk/1.0.0/\n/base16/\n' + 'ab'.repeat(31), key + 'extra\n', 'x'.repeat(95)]) {
      expect(() => parseSwarmKey(new TextEncoder().encode(bad), 'k')).toThrow(expect.objectContaining({ name: 'ConfigError' }))
    }
  })

  it('the allowlist takes peer ids with comments and blank lines; a bad line is named', async () => {
    const id = '12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo'
    expect(parseAllowPeers(`# members\n\n${id}   # a\n${id}\n`)).toEqual([id])
    expect(() => parseAllowPeers(`${id}\nnot-a-peer\n`, 'f')).toThrow(/^f line 2: not a peer id/)
    expect(() => parseAllowPeers('# nobody\n', 'f')).toThrow(/no peer ids/)
  })

  it('config: swarmKey/allowPeers/exemptPrivateRanges/allowFileImport from the environment; pskFile is the old name', async () => {
    const c = await loadConfig({
      env: { STARLING_SWARM_KEY: '/k', STARLING_ALLOW_PEERS: '/p', STARLING_EXEMPT_PRIVATE_RANGES: 'true', STARLING_ALLOW_FILE_IMPORT: '0', STARLING_MAX_INBOUND_CONNECTIONS_PER_HOST: '16' }
    })
    expect(c).toMatchObject({ swarmKey: '/k', allowPeers: '/p', exemptPrivateRanges: true, allowFileImport: false, maxInboundConnectionsPerHost: 16 })
    expect((await loadConfig({ env: {}, flags: { pskFile: '/old' } })).swarmKey).toBe('/old')
    await expect(loadConfig({ env: {}, flags: { pskFile: '/old', swarmKey: '/new' } })).rejects.toThrow(/old name pskFile/)
    await expect(loadConfig({ env: { STARLING_MAX_INBOUND_CONNECTIONS_PER_HOST: '0' } })).rejects.toThrow(/maxInboundConnectionsPerHost.*above 0/)
  })
})
