/**
 * An in-memory StarlingNode for daemon and CLI unit tests: blobs in a Map,
 * "fetch" from the origin URL with global fetch, piece events of 1 MiB.
 */
import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import type { BlobInfo, Fetch, FetchOptions, FetchResult, NodeStats, StarlingNode, StarlingNodeOptions } from '../../src/api.js'
import type { ByteSource } from '../../src/types.js'
import { DigestMismatchError, NoSourceError, NotFoundError } from '../../src/errors.js'
import { choosePieceSize, pieceMapCid, PieceMapBuilder } from '../../src/content/index.js'

/** The piece map's CID, as the real node returns it from add(). */
export async function fakePieceMapCid (bytes: Uint8Array): Promise<string> {
  const b = new PieceMapBuilder(choosePieceSize(Math.max(1, bytes.byteLength)))
  b.update(bytes)
  return (await pieceMapCid(b.finish())).toString()
}

const PIECE = 1024 * 1024

export interface FakeNode extends StarlingNode {
  readonly options: StarlingNodeOptions
  started: boolean
  connectedPeers: number
}

export function createFakeNode (options: StarlingNodeOptions): FakeNode {
  const blobs = new Map<string, { bytes: Uint8Array, info: BlobInfo }>()
  const bytesIn: Record<ByteSource, number> = { origin: 0, 'peer-local': 0, 'peer-remote': 0, cache: 0 }
  let evictions = 0
  let originRequests = 0

  function put (bytes: Uint8Array, pin = false): { digest: string, size: number } {
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`
    const now = Date.now()
    blobs.set(digest, {
      bytes,
      info: { digest, size: bytes.byteLength, pieceSize: PIECE, complete: true, piecesHeld: Math.ceil(bytes.byteLength / PIECE), pieceCount: Math.ceil(bytes.byteLength / PIECE), pinned: pin, createdAt: now, lastAccess: now }
    })
    return { digest, size: bytes.byteLength }
  }
  function usedBytes (): number { let n = 0; for (const b of blobs.values()) n += b.info.size; return n }

  const node: FakeNode = {
    options,
    started: false,
    connectedPeers: 0,
    peerId: '12D3KooWFakeFakeFakeFakeFakeFakeFakeFakeFakeFake',
    location: options.location ?? '',
    addresses: () => node.started ? [`/ip4/127.0.0.1/tcp/4001/p2p/${node.peerId}`] : [],
    async start () { node.started = true },
    async stop () { node.started = false },
    fetch (digest: string, opts: FetchOptions = {}): Fetch {
      const result = (async (): Promise<{ bytes: Uint8Array, result: FetchResult }> => {
        const t0 = Date.now()
        const by: Record<ByteSource, number> = { origin: 0, 'peer-local': 0, 'peer-remote': 0, cache: 0 }
        let held = blobs.get(digest)
        let source: ByteSource = 'cache'
        if (held == null) {
          if (opts.origin == null) throw new NoSourceError(`nobody has ${digest} and no origin was given`)
          originRequests++
          const res = await fetch(String(opts.origin), { headers: opts.headers, signal: opts.signal })
          if (!res.ok) throw new NotFoundError(`origin answered ${res.status}`)
          const bytes = new Uint8Array(await res.arrayBuffer())
          const got = `sha256:${createHash('sha256').update(bytes).digest('hex')}`
          if (got !== digest) throw new DigestMismatchError(`origin sent ${got}, expected ${digest}`)
          put(bytes)
          held = blobs.get(digest)!
          source = 'origin'
        }
        const size = held.info.size
        opts.onProgress?.({ type: 'starling:fetch:start', detail: { digest, size, pieceSize: PIECE, pieceCount: Math.ceil(size / PIECE), piecesHeld: 0 } })
        for (let i = 0; i * PIECE < size; i++) {
          const n = Math.min(PIECE, size - i * PIECE)
          by[source] += n
          bytesIn[source] += n
          opts.onProgress?.({ type: 'starling:fetch:piece', detail: { digest, index: i, bytes: n, source } })
        }
        held.info.lastAccess = Date.now()
        const result = { digest, size, bytesBySource: by, durationMs: Date.now() - t0 }
        opts.onProgress?.({ type: 'starling:fetch:done', detail: result })
        return { bytes: held.bytes, result }
      })()
      result.catch(() => {})
      return {
        digest,
        then: (ok, bad) => result.then(r => r.result).then(ok, bad),
        async * [Symbol.asyncIterator] () {
          const { bytes } = await result
          for (let i = 0; i < bytes.byteLength; i += 256 * 1024) yield bytes.subarray(i, i + 256 * 1024)
        }
      }
    },
    async add (source, o = {}) {
      let bytes: Uint8Array
      if (typeof source === 'string') bytes = await readFile(source)
      else if (source instanceof Uint8Array) bytes = source
      else {
        const chunks: Uint8Array[] = []
        for await (const c of source) chunks.push(c)
        bytes = Buffer.concat(chunks)
      }
      const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`
      if (o.expectedDigest != null && o.expectedDigest !== digest) throw new DigestMismatchError(`expected ${o.expectedDigest}, got ${digest}`)
      return { ...put(bytes, o.pin === true), pieceMap: await fakePieceMapCid(bytes) }
    },
    stat: async (d) => blobs.get(d)?.info,
    has: async (d) => blobs.has(d),
    list: async () => [...blobs.values()].map(b => b.info),
    delete: async (d) => blobs.delete(d),
    pin: async (d, p) => { const b = blobs.get(d); if (b != null) b.info.pinned = p },
    async gc () {
      const quota = options.cacheSize ?? Infinity
      const evicted: string[] = []
      let freedBytes = 0
      for (const b of [...blobs.values()].sort((a, z) => a.info.lastAccess - z.info.lastAccess)) {
        if (usedBytes() <= quota) break
        if (b.info.pinned) continue
        blobs.delete(b.info.digest)
        evicted.push(b.info.digest)
        freedBytes += b.info.size
        evictions++
      }
      return { evicted, freedBytes }
    },
    peers: () => [],
    stats (): NodeStats {
      return {
        bytesIn: { ...bytesIn },
        bytesUploaded: 0,
        piecesVerified: 0,
        piecesRejected: 0,
        originRequests,
        originErrors: 0,
        activeDownloads: 0,
        activeUploads: 0,
        connectedPeers: node.connectedPeers,
    gossipPeers: 0,
        cache: { bytes: usedBytes(), blobs: blobs.size, quota: options.cacheSize ?? Infinity },
        evictions
      }
    }
  }
  return node
}
