import type { Fetch, FetchOptions } from '../api.js'
import { parseDigest } from '../content/index.js'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Origin } from '../origin/types.js'
import type { BlobInterest } from '../transfer/types.js'
import { Download } from './download.js'
import { FetchHandle } from './handle.js'
import { parsePieceMapCid } from './piece-map-check.js'
import type { DownloadComponents, DownloadInit } from './types.js'

export { Download, type DownloadResult } from './download.js'
export { Rendezvous } from './rendezvous.js'
export { systemClock, type Clock } from './clock.js'
export type { DownloadComponents, DownloadInit, DownloadEvents, SwarmAccess } from './types.js'

/** Single-flight: one Download per digest, shared by every caller. */
export interface Downloads {
  fetch(digest: string, origin: Origin | undefined, options: FetchOptions): Fetch
  active(): number
  abortAll(reason: Error): void
  /**
   * The meta protocol's interest exchange: records `theirs` with the running
   * download of `digest` and returns its own interest (undefined when this
   * node is not fetching the blob).
   */
  exchange(peer: string, digest: string, theirs: BlobInterest | undefined): BlobInterest | undefined
}

export function createDownloads (components: DownloadComponents, init: DownloadInit = {}): Downloads {
  const running = new Map<string, Download>()
  return {
    fetch (digest, origin, options) {
      const key = parseDigest(digest).digest // throws InvalidDigestError before any work
      if (options.pieceMap != null) parsePieceMapCid(options.pieceMap) // InvalidRequestError, likewise
      let d = running.get(key)
      if (d == null || d.settled) {
        d = new Download(key, components, init)
        running.set(d.digest, d)
        const mine = d
        d.done.finally(() => { if (running.get(mine.digest) === mine) running.delete(mine.digest) }).catch(() => {})
        if (origin != null) d.addOrigin(origin)
        if (options.pieceMap != null) d.addPieceMap(options.pieceMap)
        d.start()
      } else {
        if (origin != null) d.addOrigin(origin)
        if (options.pieceMap != null) d.addPieceMap(options.pieceMap)
      }
      return new FetchHandle(d, options)
    },
    active: () => running.size,
    exchange (peer, digest, theirs) {
      const d = running.get(digest)
      if (d == null || d.settled) return undefined
      if (theirs != null) {
        try { d.noteInterest(peerIdFromString(peer), theirs) } catch {}
      }
      return d.interest()
    },
    abortAll (reason) {
      for (const d of running.values()) d.abort(reason)
    }
  }
}
