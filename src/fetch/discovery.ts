import type { PeerBook } from '../swarm/index.js'
import type { BlobInterest, BlobMeta, TransferClient } from '../transfer/types.js'
import type { Logger } from '../types.js'
import type { Clock } from './clock.js'
import { MAX_DIRECT_PROBES, META_TIMEOUT_MS } from './constants.js'
import type { RemotePeer, SwarmAccess } from './types.js'
import type { SwarmView } from './view.js'

/** What finding peers needs: the swarm, the meta protocol, the view it fills, and a way to say something changed. */
export interface DiscoveryComponents {
  readonly digest: string
  readonly swarm: Pick<SwarmAccess, 'findProviders' | 'connectedPeers'>
  readonly transfer: Pick<TransferClient, 'exchange'>
  readonly peerBook: Pick<PeerBook, 'recordRtt'>
  readonly view: SwarmView
  readonly clock: Clock
  readonly signal: AbortSignal
  readonly timeoutMs: number
  readonly logger?: Logger
  /** Our interest, sent with each meta request. */
  interest: () => BlobInterest | undefined
  /** Something was learnt: run a scheduling pass. */
  wake: () => void
  /** A peer's meta answer, after the view took it. */
  answered: (p: RemotePeer, meta: BlobMeta) => void
}

/**
 * Finding the peers of a blob: the connected ones at once, the DHT's
 * providers as they come, and a meta request to each peer the view queues
 * (its answer and its interest go to the view).
 */
export class Discovery {
  readonly #c: DiscoveryComponents
  #done = false

  constructor (c: DiscoveryComponents) {
    this.#c = c
  }

  /** The DHT search ended (or timed out). */
  get done (): boolean { return this.#done }

  async run (): Promise<void> {
    const { view, clock } = this.#c
    // Ask the connected peers at once, in parallel with the DHT: the meta
    // exchange tells each of them our interest and brings back theirs, so
    // interest never hangs on gossip alone.
    this.probeConnected()
    const signal = AbortSignal.any([this.#c.signal, clock.timeout(this.#c.timeoutMs)])
    try {
      for await (const id of this.#c.swarm.findProviders(this.#c.digest, { signal })) {
        view.wantProbe(view.ensure(id, clock.now()))
        this.#c.wake()
      }
    } finally {
      this.#done = true
      this.#c.wake()
    }
  }

  probeConnected (): void {
    const { view, clock } = this.#c
    const now = clock.now()
    for (const id of this.#c.swarm.connectedPeers().slice(0, MAX_DIRECT_PROBES)) view.wantProbe(view.ensure(id, now))
  }

  /** Sends the meta requests the view queued. */
  probeQueued (now: number): void {
    for (const p of this.#c.view.takeProbes(now)) this.#probe(p)
  }

  /**
   * Is this failure the peer's absence — its address refuses connections, or
   * it does not speak the protocol — rather than its silence? Not being
   * connected is not absence: at 50 processes most meta requests that
   * failed went to peers we had no connection with and whose dial timed
   * out (960 of 3,100 in one run), all of them alive and fetching.
   */
  #gone (err: unknown): boolean {
    const seen = new Set<unknown>()
    const visit = (e: any, depth: number): boolean => {
      if (e == null || typeof e !== 'object' || depth > 4 || seen.has(e)) return false
      seen.add(e)
      if (e.name === 'UnsupportedProtocolError' || e.code === 'ECONNREFUSED' || /\bECONNREFUSED\b/.test(String(e.message))) return true
      if (Array.isArray(e.errors) && e.errors.some((x: unknown) => visit(x, depth + 1))) return true
      return visit(e.cause, depth + 1)
    }
    return visit(err, 0)
  }

  #probe (p: RemotePeer): void {
    const { view, clock } = this.#c
    const now = clock.now()
    p.metaPending = true
    p.metaAt = now
    view.metaInflight++
    const timeout = clock.timeout(META_TIMEOUT_MS)
    void (async () => {
      try {
        const signal = AbortSignal.any([this.#c.signal, timeout])
        const { meta, interest } = await this.#c.transfer.exchange(p.id, this.#c.digest, this.#c.interest(), { signal })
        this.#c.peerBook.recordRtt(p.key, clock.now() - now)
        this.#c.logger?.debug({ peer: p.key, ms: clock.now() - now, size: meta?.size, wants: interest?.wants, claims: interest?.fetching?.length, running: interest?.running }, 'meta answer')
        // What a takeover waits for (origin-rule.ts): an answer that says
        // what the peer claims. A peer still learning the blob's size (no
        // meta, but it wants the blob) claims nothing yet and may own the
        // piece a moment later: at 50 processes such answers, read up to
        // 30 s after they were made, let 4 takers go ahead of owners that
        // were already fetching.
        if (meta != null || interest?.wants !== true) p.metaAnsweredAt = clock.now()
        view.onMetaAnswer(p, meta, interest, clock.now())
        if (meta != null) this.#c.answered(p, meta)
      } catch (err) {
        // Only a peer that is gone (connection refused, no such protocol)
        // has answered by failing. A timeout (ours, the dial's or the
        // stream's), a BUSY or a reset stream is silence: the peer lives and
        // may be fetching the piece; a takeover waits on it up to its
        // silence bound.
        const gone = !timeout.aborted && this.#gone(err)
        if (gone) p.metaFailedAt = clock.now()
        this.#c.logger?.debug({ err, peer: p.key, gone }, 'meta request failed')
      } finally {
        p.metaPending = false
        view.metaInflight--
        this.#c.wake()
      }
    })()
  }
}
