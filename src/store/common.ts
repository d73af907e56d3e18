/**
 * Rules both stores share (the level store and the memory fake), so the
 * conformance suite tests one behaviour, not two.
 */
import { Bitfield, parseDigest, pieceCount, piecesForRange, type BlobDigest } from '../content/index.js'
import { InvalidRequestError, NotFoundError } from '../errors.js'
import type { BlobInfo } from './types.js'
import type { BlobRecord } from './index-db.js'

/** Parses a digest argument; InvalidDigestError before anything is touched. */
export function digestArg (digest: string): BlobDigest {
  return parseDigest(digest)
}

/** Checks size and piece size of open(); pieceCount throws on a bad value. */
export function checkShape (size: number, pieceSize: number): number {
  return pieceCount(size, pieceSize)
}

export function checkSameShape (digest: string, rec: BlobRecord, size: number, pieceSize: number): void {
  if (rec.size !== size || rec.pieceSize !== pieceSize) {
    throw new InvalidRequestError(`${digest} is known with size ${rec.size} and piece size ${rec.pieceSize}, not ${size}/${pieceSize}`)
  }
}

/** Resolves a read range against the blob size; InvalidRequestError when out of bounds. */
export function resolveRange (size: number, range: { offset?: number, length?: number } = {}): { start: number, end: number } {
  const start = range.offset ?? 0
  const length = range.length ?? size - start
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(length) || start < 0 || length < 0 || start + length > size) {
    throw new InvalidRequestError(`range offset ${range.offset} length ${range.length} is outside a blob of ${size} bytes`)
  }
  return { start, end: start + length }
}

/** Throws NotFoundError unless every piece the range touches is held. */
export function requireHeld (digest: string, held: Bitfield, size: number, pieceSize: number, start: number, end: number): void {
  const r = piecesForRange(size, pieceSize, start, end)
  if (r == null) return
  for (let i = r.first; i <= r.last; i++) {
    if (!held.get(i)) throw new NotFoundError(`piece ${i} of ${digest} is not held`)
  }
}

export function fullBitfield (n: number): Bitfield {
  const b = new Bitfield(n)
  b.setAll()
  return b
}

export function toInfo (digest: string, rec: BlobRecord, piecesHeld: number): BlobInfo {
  return {
    digest,
    size: rec.size,
    pieceSize: rec.pieceSize,
    complete: rec.complete,
    piecesHeld: rec.complete ? pieceCount(rec.size, rec.pieceSize) : piecesHeld,
    pieceCount: pieceCount(rec.size, rec.pieceSize),
    pinned: rec.pinned,
    createdAt: rec.createdAt,
    lastAccess: rec.lastAccess
  }
}

/** In-memory use counts: acquired blobs are never evicted nor deleted. */
export class RefCounts {
  readonly #refs = new Map<string, number>()

  acquire (hex: string): () => void {
    this.#refs.set(hex, (this.#refs.get(hex) ?? 0) + 1)
    let released = false
    return () => {
      if (released) return
      released = true
      const n = (this.#refs.get(hex) ?? 1) - 1
      if (n <= 0) this.#refs.delete(hex); else this.#refs.set(hex, n)
    }
  }

  inUse (hex: string): boolean { return this.#refs.has(hex) }
}

export function refuseInUse (digest: string): never {
  throw new InvalidRequestError(`cannot delete ${digest}: it is in use (acquired by a reader or a download)`)
}

/** LRU order of what gc may evict: complete, unpinned, not acquired; oldest access first. */
export function evictionOrder (records: Iterable<[string, BlobRecord]>, refs: RefCounts): Array<[string, BlobRecord]> {
  return [...records]
    .filter(([hex, r]) => r.complete && !r.pinned && !refs.inUse(hex))
    .sort((a, b) => a[1].lastAccess - b[1].lastAccess)
}

/** How many bytes gc must bring usage down to. */
export function gcTarget (quota: number, options: { needBytes?: number, targetBytes?: number }): number {
  if (options.targetBytes != null) return options.targetBytes
  return quota - (options.needBytes ?? 0)
}

/** Touch writes at most once a second per blob: reads are hot, LRU needs no finer clock. */
export const TOUCH_INTERVAL_MS = 1000
