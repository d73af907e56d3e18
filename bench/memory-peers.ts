/**
 * Light upload clients for bench/memory.ts: one process holding PEERS
 * libp2p peers (TCP, Noise, yamux, identify: no DHT, no gossip, no store),
 * each with its own identity and its own connection to the daemon, each
 * asking it for pieces of one blob over starling's piece protocol with
 * PIPELINE requests outstanding, and dropping the bytes. A full node per
 * peer would cost 32 processes; the daemon cannot tell the difference, as
 * it serves each peer by its peer id.
 *   node dist/bench/memory-peers.js '{"addr":"/ip4/…/p2p/…","digest":"sha256:…","pieceSize":2097152,"pieces":512,"peers":8,"pipeline":2,"seconds":30,"seed":0}'
 * Prints one JSON line when every peer is connected ({"event":"connected"}),
 * then one with the totals when the time is up.
 */
import '../src/polyfill.js'
import { noise } from '@chainsafe/libp2p-noise'
import { identify } from '@libp2p/identify'
import { peerIdFromString } from '@libp2p/peer-id'
import { setMaxListeners } from 'node:events'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p, type Libp2p } from 'libp2p'
import { createTransferClient } from '../src/transfer/index.js'
import { yamuxOptions } from '../src/swarm/libp2p.js'

/** `seed`: this process's first peer number, so peers of different processes start at different pieces. */
interface Args { addr: string, digest: string, pieceSize: number, pieces: number, peers: number, pipeline: number, seconds: number, seed: number }
const args = JSON.parse(process.argv[2] ?? '{}') as Args
/** After a BUSY answer a client waits this long before asking again (the engine's BUSY_BACKOFF_MS). */
const BUSY_WAIT_MS = 300
/** After any other failure (a stream cut, a timeout). */
const ERROR_WAIT_MS = 1000
const DIAL_TIMEOUT_MS = 30_000
const DIAL_ATTEMPTS = 3

const target = multiaddr(args.addr)
const daemon = peerIdFromString(target.getComponents().find(c => c.name === 'p2p')?.value ?? '')
const totals = { ok: 0, busy: 0, errors: 0, bytes: 0, errorNames: {} as Record<string, number> }
const nodes: Libp2p[] = []
/** Aborted when the time is up, counted from when every peer is connected. */
const ending = new AbortController()
const stop = ending.signal
// every request of every peer listens to it
setMaxListeners(Infinity, stop)

async function startPeer (): Promise<Libp2p> {
  const node = await createLibp2p({
    addresses: { listen: [] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    // the swarm's initial window, or the daemon overruns ours (libp2p.ts YAMUX_INITIAL_STREAM_WINDOW)
    streamMuxers: [yamux(yamuxOptions())],
    connectionMonitor: { enabled: false },
    // a loaded 2-core host needs the daemon's own patience (swarm/libp2p.ts)
    connectionManager: { dialTimeout: DIAL_TIMEOUT_MS, inboundUpgradeTimeout: DIAL_TIMEOUT_MS, outboundStreamProtocolNegotiationTimeout: DIAL_TIMEOUT_MS, inboundStreamProtocolNegotiationTimeout: DIAL_TIMEOUT_MS },
    services: { identify: identify() }
  })
  for (let attempt = 1; ; attempt++) {
    try {
      await node.dial(target, { signal: AbortSignal.timeout(DIAL_TIMEOUT_MS) })
      return node
    } catch (err) {
      if (attempt >= DIAL_ATTEMPTS) throw err
    }
  }
}

async function ask (node: Libp2p, seed: number): Promise<void> {
  const client = createTransferClient({ dialProtocol: node.dialProtocol.bind(node) })
  const session = client.session(daemon, args.digest, args.pieceSize)
  // each peer walks the blob from its own start, so the daemon reads pieces from all over the file
  let next = (seed * 97) % args.pieces
  const one = async (): Promise<void> => {
    while (!stop.aborted) {
      const index = next
      next = (next + 1) % args.pieces
      try {
        const data = await session.get(index, { signal: stop })
        totals.ok++
        totals.bytes += data.byteLength
      } catch (err) {
        if (stop.aborted) return
        const busy = (err as Error).name === 'BusyError'
        if (busy) totals.busy++
        else {
          totals.errors++
          const name = `${(err as Error).name}: ${(err as Error).message.slice(0, 240)}`
          totals.errorNames[name] = (totals.errorNames[name] ?? 0) + 1
        }
        await new Promise(resolve => setTimeout(resolve, busy ? BUSY_WAIT_MS : ERROR_WAIT_MS))
      }
    }
  }
  await Promise.all(Array.from({ length: args.pipeline }, one))
  session.close()
}

for (let i = 0; i < args.peers; i++) nodes.push(await startPeer())
process.stdout.write(JSON.stringify({ event: 'connected', peers: nodes.length }) + '\n')
setTimeout(() => { ending.abort() }, args.seconds * 1000)
await Promise.all(nodes.map(async (n, i) => { await ask(n, args.seed + i) }))
process.stdout.write(JSON.stringify({ event: 'done', ...totals }) + '\n')
await Promise.all(nodes.map(async n => { await n.stop() }))
process.exit(0)
