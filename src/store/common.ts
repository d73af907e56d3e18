/**
 * Rules both stores share (the level store and the memory fake), so the
 * conformance suite tests one behaviour, not two.
 */
import { Bitfield, parseDigest, pieceCount, piecesForRange, type BlobDigest } from '../content/index.js'
import { InvalidRequestError, NotFoundError } from '../errors.js'
import type { BlobInfo } from './types.js'
import type { BlobRecord } from './index-db.js'
import type { Entry } from './recover.js'

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

/**
 * The LRU clock. Eviction orders by this counter, not by the wall clock
 * (`lastAccess`): two accesses in the same millisecond, or a clock stepped
 * back, still order right, and nothing about it is debounced.
 */
let useClock = 0
export function nextUse (): number { return ++useClock }

/** Marks a blob as used now: the most recent in the LRU order, `lastAccess` the current time. */
export function markUsed (e: Entry, now = Date.now()): void {
  e.rec = { ...e.rec, lastAccess: now }
  e.recency = nextUse()
}

/** After a restart: the LRU order from the persisted `lastAccess` times (ties keep index order). */
export function seedRecency (entries: Iterable<Entry>): void {
  for (const e of [...entries].sort((a, b) => a.rec.lastAccess - b.rec.lastAccess)) e.recency = nextUse()
}

/** LRU order of what gc may evict: complete, unpinned, not acquired; least recently used first. */
export function evictionOrder<E extends Entry> (entries: Iterable<[string, E]>, refs: RefCounts): Array<[string, E]> {
  return [...entries]
    .filter(([hex, e]) => e.rec.complete && !e.rec.pinned && !refs.inUse(hex))
    .sort((a, b) => a[1].recency - b[1].recency)
}

/** How many bytes gc must bring usage down to. */
export function gcTarget (quota: number, options: { needBytes?: number, targetBytes?: number }): number {
  if (options.targetBytes != null) return options.targetBytes
  return quota - (options.needBytes ?? 0)
}

/**
 * How often the level store writes touched `lastAccess` times to its index.
 * Reads are hot and the persisted time only seeds the LRU order after a
 * restart, so touches are coalesced and written at most once per interval
 * (and on stop); the in-memory order is always exact.
 */
export const TOUCH_FLUSH_MS = 1000

/** The bytes [start, end) of the blob that `readPiece` reads for a piece spanning [pieceStart, pieceEnd). */
export function pieceSlice (pieceStart: number, pieceEnd: number, options: { offset?: number, length?: number }): { start: number, end: number } {
  const offset = options.offset ?? 0
  const length = options.length ?? pieceEnd - pieceStart
  if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
    throw new InvalidRequestError(`invalid part of a piece: offset ${offset}, length ${length}`)
  }
  const start = Math.min(pieceEnd, pieceStart + offset)
  return { start, end: Math.min(pieceEnd, start + length) }
}
