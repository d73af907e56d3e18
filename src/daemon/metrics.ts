/**
 * Prometheus metrics built from `node.stats()` at scrape time. A Registry per
 * daemon (never prom-client's global one), so tests and embedders can run
 * several daemons in one process.
 */
import { Counter, Gauge, Registry } from 'prom-client'
import type { NodeStats } from '../api.js'
import type { ByteSource } from '../types.js'

export interface DaemonMetrics {
  readonly registry: Registry
  /** Prometheus text exposition. */
  render(): Promise<string>
  readonly contentType: string
}

const SOURCES: ByteSource[] = ['origin', 'peer-local', 'peer-remote', 'cache']

export function createMetrics (stats: () => NodeStats): DaemonMetrics {
  const registry = new Registry()
  // Counters in the node only grow; prom-client counters can only be
  // incremented, so each scrape adds the delta since the previous one.
  const last = new Map<string, number>()
  function sync (c: Counter<string>, key: string, value: number, labels?: Record<string, string>): void {
    const prev = last.get(key) ?? 0
    if (value > prev) {
      if (labels != null) c.inc(labels, value - prev)
      else c.inc(value - prev)
    }
    last.set(key, Math.max(prev, value))
  }
  let snap: NodeStats | undefined
  // One stats() call per scrape, shared by every collect().
  const s = (): NodeStats => (snap ??= stats())

  const counter = (name: string, help: string, pick: (st: NodeStats) => number): void => {
    const c: Counter<string> = new Counter({ name, help, registers: [registry], collect () { sync(c, name, pick(s())) } })
  }
  const gauge = (name: string, help: string, pick: (st: NodeStats) => number): void => {
    const g: Gauge<string> = new Gauge({ name, help, registers: [registry], collect () { g.set(pick(s())) } })
  }

  const bytes: Counter<string> = new Counter({
    name: 'starling_bytes_received_total',
    help: 'Verified blob bytes this node obtained, by source: origin, peer-local (same location), peer-remote (elsewhere), cache (already held)',
    labelNames: ['source'],
    registers: [registry],
    collect () { for (const src of SOURCES) sync(bytes, `bytes:${src}`, s().bytesIn[src], { source: src }) }
  })
  counter('starling_bytes_uploaded_total', 'Blob bytes served to peers', st => st.bytesUploaded)
  counter('starling_pieces_verified_total', 'Pieces whose digest matched', st => st.piecesVerified)
  counter('starling_pieces_rejected_total', 'Pieces that failed verification (the sender is struck)', st => st.piecesRejected)
  counter('starling_origin_requests_total', 'Requests made to origins', st => st.originRequests)
  counter('starling_origin_errors_total', 'Origin requests that failed', st => st.originErrors)
  counter('starling_cache_evictions_total', 'Blobs evicted from the cache by GC', st => st.evictions)
  gauge('starling_active_downloads', 'Downloads in progress', st => st.activeDownloads)
  gauge('starling_active_uploads', 'Pieces being served to peers (upload slots held)', st => st.activeUploads)
  gauge('starling_connected_peers', 'Peers with an open connection', st => st.connectedPeers)
  gauge('starling_cache_bytes', 'Bytes held in the store (counted against the quota)', st => st.cache.bytes)
  gauge('starling_cache_blobs', 'Blobs in the store', st => st.cache.blobs)
  gauge('starling_cache_quota_bytes', 'Store quota in bytes (+Inf when none)', st => st.cache.quota)

  memoryGauges(registry)

  return {
    registry,
    contentType: registry.contentType,
    async render () {
      snap = undefined
      try {
        return await registry.metrics()
      } finally {
        snap = undefined
      }
    }
  }
}

/**
 * The process's memory, read at scrape time: what `--memory-limit` is meant
 * to bound (docs/memory.md). Resident set, the V8 heap, and the bytes
 * outside it (Buffers and ArrayBuffers: piece data lives there).
 */
function memoryGauges (registry: Registry): void {
  let mem: NodeJS.MemoryUsage | undefined
  const parts: Array<[string, string, (m: NodeJS.MemoryUsage) => number]> = [
    ['starling_memory_rss_bytes', 'Resident set size of the daemon process', m => m.rss],
    ['starling_memory_heap_used_bytes', 'V8 heap in use', m => m.heapUsed],
    ['starling_memory_heap_total_bytes', 'V8 heap reserved', m => m.heapTotal],
    ['starling_memory_external_bytes', 'Memory of C++ objects bound to JS objects, ArrayBuffers included', m => m.external],
    ['starling_memory_array_buffers_bytes', 'ArrayBuffers and Buffers (piece bytes live here)', m => m.arrayBuffers]
  ]
  parts.forEach(([name, help, pick], i) => {
    const g: Gauge<string> = new Gauge({
      name,
      help,
      registers: [registry],
      collect () {
        // one process.memoryUsage() per scrape, taken by the first gauge
        if (i === 0 || mem == null) mem = process.memoryUsage()
        g.set(pick(mem))
      }
    })
  })
}
