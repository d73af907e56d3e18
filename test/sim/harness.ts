/**
 * runSwarm: N download engines (the real `createDownloads`) in one process,
 * on virtual time, over the simulated network, all fetching one blob at the
 * same virtual moment from one capped origin. Returns the figures the swarm
 * is judged by: origin bytes ÷ blob, bytes crossing into each location ÷
 * blob, virtual time until all finished, whether every node verified.
 */
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PeerId } from '@libp2p/interface'
import type { Logger } from '../../src/types.js'
import { createDownloads, type DownloadComponents, type DownloadInit, type Downloads } from '../../src/fetch/index.js'
import { createPeerBook } from '../../src/swarm/index.js'
import { SimBlob } from './blob.js'
import { SIM_EPOCH_MS, SimClock, type RunResult } from './clock.js'
import { Rng, SimNetwork } from './network.js'
import { SimOrigin } from './origin.js'
import { SimSwarm, SimTransfer, SimWorld, type SimPeer } from './peers.js'
import { SimStore } from './store.js'

export const Mbit = 1_000_000 / 8
/** How often the harness looks at progress (freezes at a fraction, dying nodes). */
const MONITOR_MS = 100
/** Slow nodes have this much less bandwidth both ways. */
export const SLOW_FACTOR = 10
/** Dying nodes leave once they hold a random share of the blob in this range. */
const DIE_BETWEEN: [number, number] = [0.2, 0.8]
/** Give up after this much virtual time. */
const DEFAULT_DEADLINE_MS = 3_600_000

export type Bps = number | [number, number]

export interface FreezeSpec {
  /** How many nodes (picked at random among those that stay). */
  nodes: number
  /** When the whole swarm holds this share of what it needs… */
  atFraction?: number
  /** …or at this virtual time after the start. */
  atMs?: number
  forMs: number
}

export interface SwarmOptions {
  seed: number
  nodes: number
  blobSize: number
  /** Location labels, or how many (loc-0, loc-1, …); nodes are dealt round-robin. Default 1. */
  locations?: number | string[]
  /** Each location pulls the origin itself (the node setting of the same name). Default false. */
  originPerLocation?: boolean
  /** Per node, bytes/s: fixed or uniform in [min, max]. Default 100 Mbit/s up, 1 Gbit/s down. */
  uploadBps?: Bps
  downloadBps?: Bps
  /** The origin's upload cap, shared by all its requests. Default 1 Gbit/s. */
  originBps?: number
  originNoRange?: boolean
  originFailAfterBytes?: number
  /** Gossip delay per message and recipient, uniform in [min, max] ms. Default [5, 50]. */
  gossipDelayMs?: [number, number]
  gossipLoss?: number
  freeze?: FreezeSpec[]
  /** Share of nodes with SLOW_FACTOR less bandwidth. */
  slowFraction?: number
  /** Share of nodes that leave mid-run (killed: no goodbye). They need not finish. */
  dyingFraction?: number
  /** The last `count` nodes start fetching `atMs` after the others. */
  lateJoiners?: { count: number, atMs: number }
  /** Connections per node (random, symmetric). Default 30. */
  connectedPeers?: number
  init?: DownloadInit
  deadlineMs?: number
  /** Stop after this much wall time (tests). */
  wallMs?: number
  /** A logger for node `node` (its index); `ms()` is virtual time since the start. */
  logger?: (node: number, ms: () => number) => Logger | undefined
  /** Called every `traceEveryMs` of virtual time with a one-line progress report (long runs). */
  trace?: (line: string) => void
  traceEveryMs?: number
}

export interface SwarmResult {
  nodes: number
  pieces: number
  pieceSize: number
  /** Origin body bytes ÷ blob size. */
  originRatio: number
  /** Origin body requests: by node index, at virtual ms since the start, which bytes (undefined: the whole blob). */
  originLog: Array<{ node: number, atMs: number, range?: { start: number, end: number } }>
  /** Peer bytes that crossed into each location from another ÷ blob size. */
  crossInto: Record<string, number>
  /** Virtual ms from the start until the last node that had to finish did; NaN if one did not. */
  virtualMs: number
  /** Nodes that had to finish (not dying) and how many did, verified. */
  expected: number
  verified: number
  allVerified: boolean
  /** Nodes that had to finish and did not: index, pieces held, why (error name or NotFinished). */
  unfinished: Array<{ node: number, held: number, late: boolean, slow: boolean, error: string }>
  /** Error names of nodes that failed, with counts. */
  failures: Record<string, number>
  stop: RunResult
  /** Virtual ms from the start to where the run stopped. */
  endMs: number
  wallMs: number
  /** CPU seconds the run took (the machine may be shared: wall time then says little). */
  cpuS: number
  /** Cost of the simulator itself. */
  timersFired: number
  gossipDelivered: number
  /** Pieces that reached a store already holding them (wasted transfers). */
  duplicateWrites: number
  nodeSpecs: Array<{ location: string, upBps: number, downBps: number, dying: boolean, slow: boolean }>
}

interface SimNode {
  index: number
  peer: SimPeer
  store: SimStore
  downloads?: Downloads
  location: string
  dying: boolean
  dieAt: number
  late: boolean
  doneAt?: number
  ok?: boolean
  error?: string
}

const keyCache = new Map<string, PeerId>()

/** Peer ids from the seed: the rendezvous ranking depends on them, so they must repeat with it. */
async function peerIdFor (seed: number, index: number): Promise<PeerId> {
  const k = `${seed}/${index}`
  let id = keyCache.get(k)
  if (id == null) {
    const rng = new Rng(seed ^ Math.imul(index + 1, 0x27d4eb2d))
    const bytes = Uint8Array.from({ length: 32 }, () => rng.int(256))
    id = peerIdFromPrivateKey(await generateKeyPairFromSeed('Ed25519', bytes))
    keyCache.set(k, id)
  }
  return id
}

function draw (rng: Rng, bps: Bps): number {
  return typeof bps === 'number' ? bps : rng.range(bps[0], bps[1])
}

export async function runSwarm (o: SwarmOptions): Promise<SwarmResult> {
  const wall0 = performance.now()
  const cpu0 = process.cpuUsage()
  const rng = new Rng(o.seed)
  const clock = new SimClock()
  const net = new SimNetwork(clock, rng, { delayMs: o.gossipDelayMs ?? [5, 50], loss: o.gossipLoss ?? 0 })
  const blob = new SimBlob(o.blobSize, o.seed)
  const world = new SimWorld(net, blob)
  const origin = new SimOrigin(net, blob, { bps: o.originBps ?? 1000 * Mbit, noRange: o.originNoRange, failAfterBytes: o.originFailAfterBytes })
  const locations = typeof o.locations === 'object' ? o.locations : Array.from({ length: o.locations ?? 1 }, (_, i) => `loc-${i}`)
  const N = o.nodes

  const order = rng.shuffle(Array.from({ length: N }, (_, i) => i))
  const slow = new Set(order.slice(0, Math.round((o.slowFraction ?? 0) * N)))
  const dying = new Set(rng.shuffle([...order]).slice(0, Math.round((o.dyingFraction ?? 0) * N)))
  const lateFrom = N - (o.lateJoiners?.count ?? 0)

  const nodes: SimNode[] = []
  for (let i = 0; i < N; i++) {
    const id = await peerIdFor(o.seed, i)
    const key = id.toString()
    const location = locations[i % locations.length]
    const factor = slow.has(i) ? SLOW_FACTOR : 1
    net.addNode({ id: key, location, upBps: draw(rng, o.uploadBps ?? 100 * Mbit) / factor, downBps: draw(rng, o.downloadBps ?? 1000 * Mbit) / factor })
    const store = new SimStore(blob, () => clock.now())
    nodes.push({ index: i, peer: world.addPeer(id, store), store, location, dying: dying.has(i), dieAt: rng.range(...DIE_BETWEEN), late: i >= lateFrom })
  }
  connect(nodes.map(n => n.peer), o.connectedPeers ?? 30, rng)

  for (const n of nodes) {
    const key = n.peer.key
    const nodeClock = clock.forNode(key)
    const peerBook = createPeerBook({ now: () => nodeClock.now() })
    const components: DownloadComponents = {
      store: n.store,
      transfer: new SimTransfer(world, n.peer),
      swarm: new SimSwarm(world, n.peer, peerBook),
      peerBook,
      selfId: key,
      location: n.location,
      originPerLocation: o.originPerLocation === true,
      events: { bytes () {}, pieceVerified () {}, pieceRejected () {}, originRequest () {}, originError () {} },
      logger: o.logger?.(n.index, () => clock.now() - SIM_EPOCH_MS),
      clock: nodeClock
    }
    const downloads = n.downloads = createDownloads(components, o.init)
    // the engine's half of the meta exchange, as the transfer server would call it
    n.peer.interest = { exchange: (peer, digest, theirs) => downloads.exchange(peer, digest, theirs) }
  }

  const t0 = SIM_EPOCH_MS
  const expected = nodes.filter(n => !n.dying)
  let settled = 0
  const start = (n: SimNode): void => {
    const f = n.downloads!.fetch(blob.digest, origin.forNode(n.peer.key), {})
    const end = (): void => { n.doneAt = clock.now(); if (!n.dying) settled++ }
    f.then(r => {
      n.ok = r.size === blob.size && n.store.isComplete && n.store.badBytes === 0
      if (!n.ok) n.error = 'NotVerified'
      end()
    }, (err: Error) => { n.ok = false; n.error = err?.name ?? String(err); end() })
  }
  for (const n of nodes) clock.afterFor(n.peer.key, n.late ? o.lateJoiners!.atMs : 0, () => { start(n) })

  // Freezes at a time are set now; those at a fraction of the work wait for the monitor.
  const stayers = rng.shuffle(nodes.filter(n => !n.dying))
  const freezes = (o.freeze ?? []).map((f, k) => ({ ...f, who: stayers.slice((k * f.nodes) % stayers.length).slice(0, f.nodes), done: false }))
  const freezeNow = (f: typeof freezes[number]): void => {
    f.done = true
    for (const n of f.who) net.freeze(n.peer.key, f.forMs)
  }
  for (const f of freezes) if (f.atMs != null) clock.after(f.atMs, () => { freezeNow(f) })
  const need = expected.length * blob.n
  const stopMonitor = clock.every(MONITOR_MS, () => {
    let held = 0
    for (const n of expected) held += n.store.held
    for (const f of freezes) if (!f.done && f.atFraction != null && held >= f.atFraction * need) freezeNow(f)
    for (const n of nodes) {
      if (n.dying && n.doneAt == null && net.isAlive(n.peer.key) && n.store.held >= n.dieAt * blob.n) net.leave(n.peer.key)
    }
  })

  if (o.trace != null) {
    const trace = o.trace
    clock.every(o.traceEveryMs ?? 5000, () => {
      let held = 0
      for (const n of expected) held += n.store.held
      trace(`  t=${((clock.now() - t0) / 1000).toFixed(1)} s: ${(100 * held / need).toFixed(1)} % held, ${settled}/${expected.length} done, origin ${(origin.bytes / blob.size).toFixed(3)}×, wall ${((performance.now() - wall0) / 1000).toFixed(1)} s, cpu ${cpuSeconds(cpu0).toFixed(1)} s, ${clock.fired} timers, ${net.gossipDelivered} gossip deliveries`)
    })
  }

  const stop = await clock.run({ until: t0 + (o.deadlineMs ?? DEFAULT_DEADLINE_MS), idle: () => settled === expected.length, wallMs: o.wallMs })
  stopMonitor()

  const indexOf = new Map(nodes.map(n => [n.peer.key, n.index]))
  const failures: Record<string, number> = {}
  for (const n of expected) if (n.ok !== true) failures[n.error ?? 'NotFinished'] = (failures[n.error ?? 'NotFinished'] ?? 0) + 1
  const verified = expected.filter(n => n.ok === true).length
  const crossInto: Record<string, number> = {}
  for (const l of locations) crossInto[l] = (net.crossInto.get(l) ?? 0) / blob.size
  return {
    nodes: N,
    pieces: blob.n,
    pieceSize: blob.pieceSize,
    originRatio: origin.bytes / blob.size,
    originLog: origin.log.map(e => ({ node: indexOf.get(e.node) ?? -1, atMs: e.at - t0, range: e.range })),
    crossInto,
    virtualMs: verified === expected.length ? Math.max(...expected.map(n => n.doneAt! - t0)) : NaN,
    expected: expected.length,
    verified,
    allVerified: verified === expected.length,
    failures,
    unfinished: expected.filter(n => n.ok !== true).map(n => ({ node: n.index, held: n.store.held, late: n.late, slow: slow.has(n.index), error: n.error ?? 'NotFinished' })),
    stop,
    endMs: clock.now() - t0,
    wallMs: performance.now() - wall0,
    cpuS: cpuSeconds(cpu0),
    timersFired: clock.fired,
    gossipDelivered: net.gossipDelivered,
    duplicateWrites: nodes.reduce((a, n) => a + n.store.duplicateWrites, 0),
    nodeSpecs: nodes.map(n => ({ location: n.location, upBps: net.bandwidth(n.peer.key).up, downBps: net.bandwidth(n.peer.key).down, dying: n.dying, slow: slow.has(n.index) }))
  }
}

/** CPU seconds (user + system) of this process since `since`: on a shared machine, the figure wall time is not. */
function cpuSeconds (since: NodeJS.CpuUsage): number {
  const u = process.cpuUsage(since)
  return (u.user + u.system) / 1e6
}

/** A random symmetric graph: each node dials `degree / 2` others, as a DHT routing table would fill up. */
export function connect (peers: SimPeer[], degree: number, rng: Rng): void {
  const sets = peers.map(() => new Set<number>())
  const dials = Math.min(peers.length - 1, Math.ceil(degree / 2))
  for (let i = 0; i < peers.length; i++) {
    if (peers.length - 1 <= degree) { for (let j = 0; j < peers.length; j++) if (j !== i) sets[i].add(j); continue }
    while (sets[i].size < dials) {
      const j = rng.int(peers.length)
      if (j === i) continue
      sets[i].add(j)
      sets[j].add(i)
    }
  }
  peers.forEach((p, i) => { p.neighbours = [...sets[i]].sort((a, b) => a - b).map(j => peers[j]) })
}
