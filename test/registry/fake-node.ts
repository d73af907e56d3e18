/**
 * A small in-process StarlingNode for the mirror tests: fetch() reads from a
 * shared in-memory "swarm" (other fake nodes' blobs) or else straight from
 * the Origin, verifies the sha256, and keeps the bytes. Counts what it did.
 */
import { createHash } from 'node:crypto'
import type { BlobInfo, Fetch, FetchOptions, FetchResult, StarlingNode } from '../../src/api.js'
import { DigestMismatchError, InvalidDigestError, NoSourceError } from '../../src/errors.js'
import type { Origin } from '../../src/origin/types.js'
import { fakePieceMapCid } from '../daemon/fake-node.js'

export type FakeSwarm = Map<string, Uint8Array>

export interface FakeNode extends StarlingNode {
  readonly local: Map<string, Uint8Array>
  readonly counts: { originBytes: number, swarmHits: number, fetches: number }
}

function info (digest: string, bytes: Uint8Array): BlobInfo {
  return { digest, size: bytes.byteLength, pieceSize: 4 << 20, complete: true, piecesHeld: 1, pieceCount: 1, pinned: false, createdAt: 0, lastAccess: 0 }
}

export function createFakeNode (swarm: FakeSwarm = new Map()): FakeNode {
  const local = new Map<string, Uint8Array>()
  const counts = { originBytes: 0, swarmHits: 0, fetches: 0 }
  const running = new Map<string, Promise<Uint8Array>>()

  async function get (digest: string, origin: Origin | undefined, signal?: AbortSignal): Promise<Uint8Array> {
    const have = local.get(digest) ?? swarm.get(digest)
    if (have != null) {
      if (!local.has(digest)) counts.swarmHits++
      local.set(digest, have)
      return have
    }
    if (origin == null) throw new NoSourceError(`no origin for ${digest}`)
    const chunks: Uint8Array[] = []
    for await (const c of origin.read(undefined, { signal })) { chunks.push(c); counts.originBytes += c.byteLength }
    const bytes = Buffer.concat(chunks)
    if (`sha256:${createHash('sha256').update(bytes).digest('hex')}` !== digest) throw new DigestMismatchError(`bad bytes for ${digest}`)
    local.set(digest, bytes)
    swarm.set(digest, bytes)
    return bytes
  }

  const node: FakeNode = {
    local,
    counts,
    peerId: 'fake',
    location: '',
    addresses: () => [],
    async start () {},
    async stop () {},
    fetch (digest: string, opts: FetchOptions = {}): Fetch {
      if (!/^sha256:[a-f0-9]{64}$/.test(digest)) throw new InvalidDigestError(digest)
      counts.fetches++
      let p = running.get(digest)
      if (p == null) {
        p = get(digest, opts.origin as Origin | undefined, opts.signal)
        running.set(digest, p)
        const mine = p
        p.finally(() => { if (running.get(digest) === mine) running.delete(digest) }).catch(() => {})
      }
      const bytesP = p
      const t0 = Date.now()
      const result = bytesP.then((b): FetchResult => ({ digest, size: b.byteLength, bytesBySource: { origin: 0, 'peer-local': 0, 'peer-remote': 0, cache: 0 }, durationMs: Date.now() - t0 }))
      return {
        digest,
        then: (ok, err) => result.then(ok, err),
        async * [Symbol.asyncIterator] () {
          const b = await bytesP
          const start = opts.range?.offset ?? 0
          const end = opts.range?.length != null ? Math.min(b.byteLength, start + opts.range.length) : b.byteLength
          for (let i = start; i < end; i += 1 << 20) yield b.subarray(i, Math.min(end, i + (1 << 20)))
        }
      }
    },
    async add (source) {
      const bytes = source instanceof Uint8Array ? source : Buffer.alloc(0)
      const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`
      local.set(digest, bytes)
      swarm.set(digest, bytes)
      return { digest, size: bytes.byteLength, pieceMap: await fakePieceMapCid(bytes) }
    },
    stat: async (d) => { const b = local.get(d); return b == null ? undefined : info(d, b) },
    has: async (d) => local.has(d),
    list: async () => [...local.entries()].map(([d, b]) => info(d, b)),
    delete: async (d) => local.delete(d),
    pin: async () => {},
    gc: async () => ({ evicted: 0, freedBytes: 0 } as any),
    peers: () => [],
    stats: () => ({ bytesIn: { origin: counts.originBytes, 'peer-local': 0, 'peer-remote': 0, cache: 0 }, bytesUploaded: 0, piecesVerified: 0, piecesRejected: 0, originRequests: 0, originErrors: 0, activeDownloads: running.size, activeUploads: 0, connectedPeers: 0, gossipPeers: 0, cache: { bytes: 0, blobs: local.size } as any, evictions: 0 })
  }
  return node
}
