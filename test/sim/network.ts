/**
 * The simulated network: nodes with upload/download bandwidth and a
 * location, per-pair latency, byte flows that share bandwidth, and gossip
 * topics with per-message delay and loss. Everything random comes from one
 * seeded generator, and everything happens on the SimClock, so a run is a
 * pure function of its seed.
 *
 * Bandwidth model (an approximation, on purpose): a flow from A to C runs at
 *   min(up(A) / active uploads of A, down(C) / active downloads of C),
 * recomputed for every flow of A and C whenever one of their flows starts,
 * ends or pauses. It is not max-min fair (capacity a flow cannot use is not
 * handed to the others), so it errs on the slow side when a node's flows
 * are bottlenecked elsewhere. No congestion, no slow start, no queueing:
 * one-way latency is a fixed per-pair delay added to each message or flow.
 */
import type { SimClock } from './clock.js'

/** One-way delay inside a location, between locations, and to the origin. */
export const SAME_LOCATION_MS = 1
export const CROSS_LOCATION_MS = 40
export const ORIGIN_LATENCY_MS = 20
/** The origin's node id in the network (it is no engine). */
export const ORIGIN_ID = 'origin'
/** A flow with fewer bytes left than this is done (floating-point dust). */
const BYTE_EPSILON = 1e-6

/** mulberry32: a tiny, fast, seedable PRNG (32-bit state), plenty for a simulation. */
export class Rng {
  #s: number
  constructor (seed: number) { this.#s = seed >>> 0 }
  /** Uniform in [0, 1). */
  next (): number {
    this.#s = (this.#s + 0x6d2b79f5) >>> 0
    let t = this.#s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }

  range (min: number, max: number): number { return min + (max - min) * this.next() }
  int (n: number): number { return Math.floor(this.next() * n) }
  /** Fisher-Yates in place. */
  shuffle<T> (a: T[]): T[] {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1)
      ;[a[i], a[j]] = [a[j], a[i]]
    }
    return a
  }
}

export interface NodeSpec {
  id: string
  location: string
  /** Bytes per second. */
  upBps: number
  downBps: number
}

interface NetNode extends NodeSpec {
  alive: boolean
  paused: boolean
  uploads: Set<Flow>
  downloads: Set<Flow>
  sent: number
  /** Messages on their way to this node: they bounce if it leaves. */
  inbox: Set<{ bounce: () => void }>
}

interface Flow {
  from: NetNode
  to: NetNode
  remaining: number
  /** Bytes per ms. */
  rate: number
  since: number
  cancelTimer: () => void
  finish: (err?: Error) => void
}

export interface GossipOptions {
  /** Per-recipient delay, uniform in [min, max] ms. */
  delayMs: [number, number]
  /** Probability that one recipient misses one message. */
  loss: number
}

export interface TransferOptions {
  signal?: AbortSignal
  /** Called once the flow is over (last byte sent, or failed): where a sender frees its upload slot. */
  onSent?: () => void
  /** The next chunk of a stream already under way: no new propagation delay. */
  noLatency?: boolean
}

/** Why a flow or request failed: the other end left (a connection reset). */
export class PeerGoneError extends Error {
  override readonly name = 'PeerGoneError'
}

type GossipHandler = (from: string, msg: unknown) => void

export class SimNetwork {
  readonly clock: SimClock
  readonly rng: Rng
  readonly gossip: GossipOptions
  readonly #nodes = new Map<string, NetNode>()
  readonly #topics = new Map<string, Map<string, GossipHandler>>()
  /** Peer bytes that crossed into each location from another one. */
  readonly crossInto = new Map<string, number>()
  gossipSent = 0
  gossipDelivered = 0

  constructor (clock: SimClock, rng: Rng, gossip: GossipOptions = { delayMs: [1, 5], loss: 0 }) {
    this.clock = clock
    this.rng = rng
    this.gossip = gossip
  }

  addNode (spec: NodeSpec): void {
    this.#nodes.set(spec.id, { ...spec, alive: true, paused: false, uploads: new Set(), downloads: new Set(), sent: 0, inbox: new Set() })
  }

  location (id: string): string { return this.#node(id).location }
  bandwidth (id: string): { up: number, down: number } { const n = this.#node(id); return { up: n.upBps, down: n.downBps } }
  isAlive (id: string): boolean { return this.#nodes.get(id)?.alive === true }
  /** Bytes node `id` has put on the wire so far (the origin's counter is the origin-bytes figure). */
  sentBy (id: string): number { return this.#node(id).sent }

  latency (a: string, b: string): number {
    if (a === ORIGIN_ID || b === ORIGIN_ID) return ORIGIN_LATENCY_MS
    return this.#node(a).location === this.#node(b).location ? SAME_LOCATION_MS : CROSS_LOCATION_MS
  }

  /**
   * Moves `bytes` from `from` to `to`; resolves in `to`'s context once the
   * last byte arrived (transfer time plus one-way latency). Rejects with
   * PeerGoneError when either end leaves, or the signal's reason on abort.
   */
  async transfer (from: string, to: string, bytes: number, opts: TransferOptions = {}): Promise<void> {
    const a = this.#node(from)
    const c = this.#node(to)
    const { signal } = opts
    const latency = opts.noLatency === true ? 0 : this.latency(from, to)
    if (signal?.aborted === true) throw signal.reason
    if (!a.alive || !c.alive) {
      opts.onSent?.()
      await this.#after(to, this.latency(from, to))
      throw new PeerGoneError(`${from} → ${to}: peer gone`)
    }
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => { flow.finish(signal?.reason) }
      const flow: Flow = {
        from: a,
        to: c,
        remaining: bytes,
        rate: 0,
        since: this.clock.now(),
        cancelTimer: () => {},
        finish: (err) => {
          if (!a.uploads.delete(flow)) return // already over
          c.downloads.delete(flow)
          flow.cancelTimer()
          signal?.removeEventListener('abort', onAbort)
          this.#progress(flow)
          this.#count(flow, err == null ? bytes : bytes - Math.max(0, flow.remaining))
          this.#reshare([a, c])
          opts.onSent?.()
          if (err != null) {
            // an abort is our own decision: no delay; a gone peer is noticed one latency later
            if (err instanceof PeerGoneError) this.clock.afterFor(to, this.latency(from, to), () => { reject(err) })
            else reject(err)
            return
          }
          this.clock.afterFor(to, latency, resolve)
        }
      }
      a.uploads.add(flow)
      c.downloads.add(flow)
      signal?.addEventListener('abort', onAbort, { once: true })
      this.#reshare([a, c])
    })
  }

  /**
   * One message from `from` to `to` (a request or an answer): resolves in
   * `to`'s context after the latency (later if `to` is frozen). If `to` is
   * gone, or leaves before it arrives, the sender gets a reset one latency
   * after that (PeerGoneError) — never a hang.
   */
  async message (from: string, to: string): Promise<void> {
    const lat = this.latency(from, to)
    await new Promise<void>((resolve, reject) => {
      const bounce = (afterMs: number): void => {
        this.clock.afterFor(from === ORIGIN_ID ? undefined : from, afterMs, () => { reject(new PeerGoneError(`${to} is gone`)) })
      }
      const dest = this.#node(to)
      if (!dest.alive) { bounce(2 * lat); return }
      const pending = { bounce: () => { bounce(lat) } }
      dest.inbox.add(pending)
      this.clock.afterFor(to === ORIGIN_ID ? undefined : to, lat, () => { dest.inbox.delete(pending); resolve() })
    })
  }

  async #after (node: string, ms: number): Promise<void> {
    await new Promise<void>(resolve => { this.clock.afterFor(node === ORIGIN_ID ? undefined : node, ms, resolve) })
  }

  /**
   * SIGSTOP/SIGCONT of one node for `ms`: its timers and deliveries wait for
   * the thaw, and its flows stop moving bytes (TCP windows fill up).
   */
  freeze (id: string, ms: number): void {
    const n = this.#node(id)
    this.clock.freeze(id, ms)
    n.paused = true
    this.#reshare(this.#neighbours(n))
    this.clock.after(ms, () => {
      if (this.clock.isFrozen(id) || !n.alive) return // frozen again meanwhile: that thaw will do it
      n.paused = false
      this.#reshare(this.#neighbours(n))
    })
  }

  /** The node leaves (process killed): its flows fail, it gets no more gossip, its timers never fire. */
  leave (id: string): void {
    const n = this.#node(id)
    if (!n.alive) return
    n.alive = false
    this.clock.stop(id)
    for (const subs of this.#topics.values()) subs.delete(id)
    for (const f of [...n.uploads, ...n.downloads]) f.finish(new PeerGoneError(`${id} left`))
    for (const m of n.inbox) m.bounce()
    n.inbox.clear()
  }

  // ---- gossip ----------------------------------------------------------

  subscribe (topic: string, id: string, handler: GossipHandler): void {
    let subs = this.#topics.get(topic)
    if (subs == null) { subs = new Map(); this.#topics.set(topic, subs) }
    subs.set(id, handler)
  }

  unsubscribe (topic: string, id: string): void { this.#topics.get(topic)?.delete(id) }
  isSubscribed (topic: string, id: string): boolean { return this.#topics.get(topic)?.has(id) === true }

  /**
   * Floods one message to every other subscriber, as gossipsub's mesh does
   * (each receives it once, after its own delay, unless lost). Handlers run
   * in the receiver's context: a frozen receiver gets it at the thaw.
   */
  publish (topic: string, from: string, msg: unknown): void {
    const subs = this.#topics.get(topic)
    if (subs == null || !this.isAlive(from)) return
    this.gossipSent++
    const [min, max] = this.gossip.delayMs
    for (const [id, handler] of subs) {
      if (id === from) continue
      if (this.gossip.loss > 0 && this.rng.next() < this.gossip.loss) continue
      this.clock.afterFor(id, this.rng.range(min, max), () => {
        if (subs.get(id) !== handler || !this.isAlive(id)) return // left the topic meanwhile
        this.gossipDelivered++
        handler(from, msg)
      })
    }
  }

  // ---- bandwidth sharing -------------------------------------------------

  #node (id: string): NetNode {
    const n = this.#nodes.get(id)
    if (n == null) throw new Error(`unknown sim node ${id}`)
    return n
  }

  #neighbours (n: NetNode): NetNode[] {
    const out = new Set<NetNode>([n])
    for (const f of n.uploads) out.add(f.to)
    for (const f of n.downloads) out.add(f.from)
    return [...out]
  }

  /** Bytes moved since the flow's rate was last set. */
  #progress (f: Flow): void {
    const now = this.clock.now()
    f.remaining -= f.rate * (now - f.since)
    f.since = now
  }

  #count (f: Flow, bytes: number): void {
    f.from.sent += bytes
    if (f.from.id !== ORIGIN_ID && f.to.id !== ORIGIN_ID && f.from.location !== f.to.location) {
      this.crossInto.set(f.to.location, (this.crossInto.get(f.to.location) ?? 0) + bytes)
    }
  }

  /** New rates (and completion timers) for every flow of these nodes. */
  #reshare (nodes: NetNode[]): void {
    const flows = new Set<Flow>()
    for (const n of nodes) {
      for (const f of n.uploads) flows.add(f)
      for (const f of n.downloads) flows.add(f)
    }
    for (const f of flows) {
      this.#progress(f)
      const rate = this.#rateOf(f)
      if (rate === f.rate && rate > 0) continue // its timer is still right
      f.rate = rate
      f.cancelTimer()
      f.cancelTimer = () => {}
      if (f.remaining <= BYTE_EPSILON) { const done = f; f.cancelTimer = this.clock.after(0, () => { done.finish() }); continue }
      if (rate > 0) f.cancelTimer = this.clock.after(f.remaining / rate, () => { f.finish() })
    }
  }

  /** Bytes per ms: the sender's upload and the receiver's download, each split evenly among its moving flows. */
  #rateOf (f: Flow): number {
    if (f.from.paused || f.to.paused) return 0
    const ups = countMoving(f.from.uploads)
    const downs = countMoving(f.to.downloads)
    return Math.min(f.from.upBps / ups, f.to.downBps / downs) / 1000
  }
}

function countMoving (flows: Set<Flow>): number {
  let n = 0
  for (const f of flows) if (!f.from.paused && !f.to.paused) n++
  return Math.max(1, n)
}
