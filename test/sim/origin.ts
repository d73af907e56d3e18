/**
 * The origin of a simulated run: one network endpoint (ORIGIN_ID) whose
 * upload cap is shared by all its concurrent requests through the network's
 * bandwidth model, and which counts every byte it sends. Each node gets its
 * own Origin view (`forNode`), because the Origin interface does not say who
 * is asking and the bytes must flow to the right node.
 */
import { InvalidRequestError, OriginError } from '../../src/errors.js'
import type { Origin, OriginInfo } from '../../src/origin/types.js'
import type { SimBlob } from './blob.js'
import { ORIGIN_ID, type SimNetwork } from './network.js'

export interface SimOriginOptions {
  /** Upload cap in bytes/s, shared by every request in flight. */
  bps: number
  /** Ignore Range: every read streams the whole blob (one peer per location should stream it). */
  noRange?: boolean
  /** Start failing (OriginError 503, not retryable) once this many bytes went out. */
  failAfterBytes?: number
}

export class SimOrigin {
  readonly #net: SimNetwork
  readonly #blob: SimBlob
  readonly #opts: SimOriginOptions
  requests = 0
  statRequests = 0
  /** Every body request: who, when (virtual ms), which range (undefined: the whole blob). */
  readonly log: Array<{ node: string, at: number, range?: { start: number, end: number } }> = []

  constructor (net: SimNetwork, blob: SimBlob, opts: SimOriginOptions) {
    this.#net = net
    this.#blob = blob
    this.#opts = opts
    net.addNode({ id: ORIGIN_ID, location: ORIGIN_ID, upBps: opts.bps, downBps: Infinity })
  }

  /** Body bytes sent, including those of requests aborted half way. */
  get bytes (): number { return this.#net.sentBy(ORIGIN_ID) }

  #check (): void {
    const limit = this.#opts.failAfterBytes
    if (limit != null && this.bytes >= limit) throw new OriginError('sim origin: 503 Service Unavailable', { status: 503 })
  }

  forNode (node: string): Origin {
    const net = this.#net
    const blob = this.#blob
    const acceptsRanges = this.#opts.noRange !== true
    return {
      name: 'sim-origin',
      stat: async (): Promise<OriginInfo> => {
        this.statRequests++
        await net.message(node, ORIGIN_ID)
        await net.message(ORIGIN_ID, node)
        this.#check()
        return { size: blob.size, acceptsRanges, digest: blob.digest }
      },
      read: (range, options = {}) => {
        const self = this
        return (async function * () {
          self.requests++
          self.log.push({ node, at: net.clock.now(), range: range == null ? undefined : { ...range } })
          const { signal } = options
          await net.message(node, ORIGIN_ID)
          self.#check()
          if (range != null && acceptsRanges) {
            if (range.start < 0 || range.end > blob.size || range.end < range.start) throw new InvalidRequestError(`bad range ${range.start}-${range.end}`)
            await net.transfer(ORIGIN_ID, node, range.end - range.start, { signal })
            for (const s of blob.slices(range.start, range.end)) { options.onBytes?.(s.byteLength); yield s }
            return
          }
          // The whole body, piece by piece as a stream: only its first bytes pay the latency.
          for (let i = 0; i < blob.n; i++) {
            self.#check()
            const bytes = blob.piece(i)
            await net.transfer(ORIGIN_ID, node, bytes.byteLength, { signal, noLatency: i > 0 })
            options.onBytes?.(bytes.byteLength)
            yield bytes
          }
        })()
      }
    }
  }
}
