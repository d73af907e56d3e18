/**
 * What the status page lists as transfers: every fetch the daemon starts
 * (API `GET /api/v1/blobs/<digest>`, the registry mirror) as it runs, and
 * the last few that ended. The daemon hands its callers a node whose
 * `fetch()` taps the progress events (`track`), so neither the node nor the
 * download engine learns about the page.
 *
 * Several fetches of one digest share one download, and each of them gets
 * every piece event: a piece is counted once per transfer, by its index.
 */
import type { Fetch, FetchOptions, FetchProgressEvent, StarlingNode } from '../../api.js'
import type { ByteSource, BytesBySource } from '../../types.js'
import { parseDigest } from '../../content/index.js'

/**
 * The rate is the verified bytes of the last few seconds: pieces land whole
 * (1 MiB and up), so a shorter window swings between 0 and bursts; a
 * longer one hides a stall.
 */
export const RATE_WINDOW_MS = 10_000
/** Ended transfers kept for the page: a registry pull of a few layers fits, and memory stays bounded. */
export const RECENT_TRANSFERS = 10

export type TransferState = 'active' | 'done' | 'failed'

export interface TransferSource {
  /** The peer id, or `origin` / `cache` for pieces that came from no peer. */
  id: string
  source: ByteSource
  bytes: number
}

/** One transfer as `GET /api/v1/transfers` answers it (docs/http-api.md). */
export interface TransferView {
  digest: string
  state: TransferState
  /** Null until the download knows the size (its first `start` event). */
  size: number | null
  pieceSize: number | null
  pieceCount: number | null
  /** Pieces held: those already in the store at the start, plus those verified since. */
  piecesHeld: number
  /** Verified bytes this transfer took in, by source. */
  bytesBySource: BytesBySource
  /** Who sent them, most bytes first. */
  sources: TransferSource[]
  /** Bytes per second over the last RATE_WINDOW_MS (0 once ended). */
  rateBytesPerSec: number
  /** Fetches of this digest still running (callers sharing the download). */
  fetches: number
  startedAt: number
  endedAt: number | null
  error: string | null
}

export interface TransferLog {
  /** The node with a `fetch()` that records its transfers here; everything else is the node's own. */
  track(node: StarlingNode): StarlingNode
  /** Active transfers (oldest first), then the ended ones (latest first). */
  list(): TransferView[]
}

interface Entry {
  digest: string
  state: TransferState
  size: number | null
  pieceSize: number | null
  pieceCount: number | null
  heldAtStart: number
  pieces: Set<number>
  bytes: BytesBySource
  sources: Map<string, TransferSource>
  /** [time, bytes] of the pieces verified in the last RATE_WINDOW_MS. */
  samples: Array<[number, number]>
  fetches: number
  startedAt: number
  endedAt: number | null
  error: string | null
}

export function createTransferLog (): TransferLog {
  const active = new Map<string, Entry>()
  const ended: Entry[] = []

  function entryFor (digest: string): Entry {
    let e = active.get(digest)
    if (e == null) {
      e = {
        digest,
        state: 'active',
        size: null,
        pieceSize: null,
        pieceCount: null,
        heldAtStart: 0,
        pieces: new Set(),
        bytes: { origin: 0, 'peer-local': 0, 'peer-remote': 0, cache: 0 },
        sources: new Map(),
        samples: [],
        fetches: 0,
        startedAt: Date.now(),
        endedAt: null,
        error: null
      }
      active.set(digest, e)
    }
    return e
  }

  function onEvent (e: Entry, ev: FetchProgressEvent): void {
    if (ev.type === 'starling:fetch:start') {
      // a second caller joining later gets no start: the first one's numbers stand
      if (e.size != null) return
      e.size = ev.detail.size
      e.pieceSize = ev.detail.pieceSize
      e.pieceCount = ev.detail.pieceCount
      e.heldAtStart = ev.detail.piecesHeld
    } else if (ev.type === 'starling:fetch:piece') {
      const d = ev.detail
      if (e.pieces.has(d.index)) return
      e.pieces.add(d.index)
      e.bytes[d.source] += d.bytes
      const id = d.peer ?? d.source
      const s = e.sources.get(id) ?? { id, source: d.source, bytes: 0 }
      s.bytes += d.bytes
      e.sources.set(id, s)
      e.samples.push([Date.now(), d.bytes])
    } else {
      e.state = 'done'
      e.size ??= ev.detail.size
      // a blob that was already here ends with a done event and no pieces
      if (e.pieces.size === 0) e.bytes = { ...ev.detail.bytesBySource }
    }
  }

  function release (e: Entry, err: unknown): void {
    e.fetches--
    if (err != null && e.state === 'active') e.error = (err as Error)?.message ?? String(err)
    if (e.fetches > 0 || active.get(e.digest) !== e) return
    // the last caller is gone: the download ended, or was aborted with it
    if (e.state === 'active') e.state = e.error == null ? 'done' : 'failed'
    // an early caller's abort is no failure of a download that others saw through
    if (e.state === 'done') e.error = null
    e.endedAt = Date.now()
    e.samples = []
    active.delete(e.digest)
    ended.unshift(e)
    ended.length = Math.min(ended.length, RECENT_TRANSFERS)
  }

  function tapFetch (node: StarlingNode, digest: string, options: FetchOptions = {}): Fetch {
    // before node.fetch: it may send its first events before it returns
    const e = entryFor(parseDigest(digest).digest)
    e.fetches++
    const own = options.onProgress
    let f: Fetch
    try {
      f = node.fetch(digest, { ...options, onProgress: (ev) => { onEvent(e, ev); own?.(ev) } })
    } catch (err) {
      release(e, err)
      throw err
    }
    // Awaiting the handle starts nothing: it settles when the download ends or this caller's signal fires.
    Promise.resolve(f).then(() => { release(e, undefined) }, (err: unknown) => { release(e, err) })
    return f
  }

  function view (e: Entry, now: number): TransferView {
    while (e.samples.length > 0 && now - e.samples[0][0] > RATE_WINDOW_MS) e.samples.shift()
    const recent = e.samples.reduce((n, [, b]) => n + b, 0)
    // a transfer younger than the window is measured over its own age, at least a second
    const span = Math.max(1_000, Math.min(RATE_WINDOW_MS, now - e.startedAt))
    const piecesHeld = e.pieceCount == null ? e.pieces.size : Math.min(e.pieceCount, e.heldAtStart + e.pieces.size)
    return {
      digest: e.digest,
      state: e.state,
      size: e.size,
      pieceSize: e.pieceSize,
      pieceCount: e.pieceCount,
      piecesHeld: e.state === 'done' && e.pieceCount != null ? e.pieceCount : piecesHeld,
      bytesBySource: { ...e.bytes },
      sources: [...e.sources.values()].map(s => ({ ...s })).sort((a, b) => b.bytes - a.bytes),
      rateBytesPerSec: e.state === 'active' ? Math.round(recent * 1000 / span) : 0,
      fetches: e.fetches,
      startedAt: e.startedAt,
      endedAt: e.endedAt,
      error: e.error
    }
  }

  return {
    track (node) {
      const fetch = (digest: string, options?: FetchOptions): Fetch => tapFetch(node, digest, options)
      // A proxy, not a copy: getters (peerId) and every other method stay the node's own.
      return new Proxy(node, {
        get: (target, key) => key === 'fetch' ? fetch : Reflect.get(target, key)
      })
    },
    list () {
      const now = Date.now()
      return [...active.values(), ...ended].map(e => view(e, now))
    }
  }
}
