import { Bitfield, equalBytes, pieceLength, pieceRange, PieceMapBuilder, choosePieceSize, sha256, type PieceMap } from '../content/index.js'
import { DigestMismatchError, InvalidRequestError, NotFoundError, StoreFullError, throwIfAborted } from '../errors.js'
import type { BlobInfo, BlobStore, GcResult, PieceReadOptions, ReadOptions, StoreUsage, WritePieceOptions } from './types.js'
import type { AbortOptions } from '../types.js'
import { checkSameShape, checkShape, digestArg, evictionOrder, gcTarget, markUsed, pieceSlice, refuseInUse, RefCounts, requireHeld, resolveRange, toInfo } from './common.js'
import { forgetUntrusted, newEntry, type Entry } from './recover.js'
import { lazy } from './stream.js'

interface MemEntry extends Entry { pieces: Array<Uint8Array | undefined>, map?: PieceMap }

/**
 * An in-memory BlobStore with the same rules as the level store (it passes
 * the same conformance suite), for unit tests of the modules above the
 * store. It keeps every byte in memory: tests only.
 */
export class MemoryStore implements BlobStore {
  readonly #entries = new Map<string, MemEntry>()
  readonly #refs = new RefCounts()
  readonly #quota: number
  readonly #onEvicted?: (digest: string, size: number) => void

  constructor (init: { quota?: number, onEvicted?: (digest: string, size: number) => void } = {}) {
    this.#quota = init.quota ?? Infinity
    this.#onEvicted = init.onEvicted
  }

  start (): void {}
  stop (): void {}

  usage (): StoreUsage {
    let bytes = 0
    for (const e of this.#entries.values()) bytes += e.heldBytes
    return { bytes, blobs: this.#entries.size, quota: this.#quota }
  }

  async has (digest: string): Promise<boolean> { return this.#get(digest)?.rec.complete === true }
  async stat (digest: string): Promise<BlobInfo | undefined> {
    const e = this.#get(digest)
    return e == null ? undefined : toInfo(digestArg(digest).digest, e.rec, e.held.count)
  }

  async list (): Promise<BlobInfo[]> {
    return [...this.#entries].map(([hex, e]) => toInfo(`sha256:${hex}`, e.rec, e.held.count))
  }

  async have (digest: string): Promise<Bitfield | undefined> { return this.#get(digest)?.held.clone() }
  async pieceDigests (digest: string): Promise<Array<Uint8Array | undefined> | undefined> {
    const e = this.#get(digest)
    if (e == null) return undefined
    return e.map != null ? [...e.map.pieceDigests] : [...e.digests]
  }

  async pieceMap (digest: string): Promise<PieceMap | undefined> { return this.#get(digest)?.map }

  async open (digest: string, size: number, pieceSize: number, options: AbortOptions = {}): Promise<Bitfield> {
    const { hex } = digestArg(digest)
    const n = checkShape(size, pieceSize)
    const known = this.#entries.get(hex)
    if (known != null) {
      checkSameShape(digest, known.rec, size, pieceSize)
      return known.held.clone()
    }
    await this.#makeRoom(size, options)
    const now = Date.now()
    const e = newEntry({ size, pieceSize, complete: false, createdAt: now, lastAccess: now, pinned: false })
    this.#entries.set(hex, { ...e, pieces: new Array(n).fill(undefined) })
    return e.held.clone()
  }

  async writePiece (digest: string, index: number, bytes: Uint8Array, pieceDigest: Uint8Array, options: WritePieceOptions = {}): Promise<void> {
    const e = this.#need(digest)
    const len = pieceLength(e.rec.size, e.rec.pieceSize, index)
    if (bytes.byteLength !== len) throw new InvalidRequestError(`piece ${index} of ${digest} must be ${len} bytes, got ${bytes.byteLength}`)
    if (!equalBytes(sha256(bytes), pieceDigest)) throw new DigestMismatchError(`piece ${index} of ${digest} does not match its piece digest`)
    throwIfAborted(options.signal)
    if (e.rec.complete || !e.held.set(index)) return
    e.pieces[index] = Uint8Array.from(bytes)
    if (options.provisional !== true) e.digests[index] = Uint8Array.from(pieceDigest)
    e.heldBytes += len
  }

  async complete (digest: string, options: AbortOptions = {}): Promise<BlobInfo> {
    const { hex } = digestArg(digest)
    const e = this.#need(digest)
    throwIfAborted(options.signal)
    if (e.rec.complete) return toInfo(digest, e.rec, e.held.count)
    if (!e.held.full) throw new InvalidRequestError(`cannot complete ${digest}: ${e.held.count} of ${e.held.length} pieces held`)
    const b = new PieceMapBuilder(e.rec.pieceSize)
    for (const p of e.pieces) if (p != null) b.update(p)
    const map = b.finish()
    if (map.digest !== digest) {
      const held = [...e.held.indexes()]
      if (forgetUntrusted(e) > 0) {
        for (const i of held) if (!e.held.get(i)) e.pieces[i] = undefined
        throw new DigestMismatchError(`${digest}: the assembled bytes hash to ${map.digest}; provisional pieces dropped`)
      }
      this.#entries.delete(hex)
      throw new DigestMismatchError(`${digest}: the assembled bytes hash to ${map.digest}; all pieces dropped`)
    }
    e.map = map
    e.rec = { ...e.rec, complete: true }
    markUsed(e)
    e.digests = new Array(e.held.length).fill(undefined)
    return toInfo(digest, e.rec, e.held.count)
  }

  async readPiece (digest: string, index: number, options: PieceReadOptions = {}): Promise<Uint8Array> {
    const e = this.#need(digest)
    const piece = pieceRange(e.rec.size, e.rec.pieceSize, index)
    requireHeld(digest, e.held, e.rec.size, e.rec.pieceSize, piece.start, piece.end)
    const { start, end } = pieceSlice(piece.start, piece.end, options)
    throwIfAborted(options.signal)
    return Uint8Array.from((e.pieces[index] ?? new Uint8Array(0)).subarray(start - piece.start, end - piece.start))
  }

  read (digest: string, range?: { offset?: number, length?: number }, options: ReadOptions = {}): AsyncIterable<Uint8Array> {
    return lazy(() => {
      const e = this.#need(digest)
      const { start, end } = resolveRange(e.rec.size, range)
      requireHeld(digest, e.held, e.rec.size, e.rec.pieceSize, start, end)
      if (e.rec.complete) void this.touch(digest)
      return this.#pieces(digest, e, start, end, options)
    })
  }

  #pieces (digest: string, e: MemEntry, start: number, end: number, options: AbortOptions): AsyncIterable<Uint8Array> {
    const P = e.rec.pieceSize
    const release = (): () => void => this.acquire(digest)
    return {
      async * [Symbol.asyncIterator] () {
        const unuse = release()
        try {
          for (let off = start; off < end;) {
            throwIfAborted(options.signal)
            const i = Math.floor(off / P)
            const piece = e.pieces[i]
            if (piece == null) throw new NotFoundError(`piece ${i} of ${digest} is gone`)
            const take = Math.min(end, (i + 1) * P) - off
            yield piece.slice(off - i * P, off - i * P + take)
            off += take
          }
        } finally { unuse() }
      }
    }
  }

  async import (source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, options: AbortOptions & { expectedDigest?: string } = {}): Promise<{ digest: string, size: number, pieceMap: PieceMap }> {
    const expected = options.expectedDigest == null ? undefined : digestArg(options.expectedDigest).digest
    const chunks: Uint8Array[] = []
    let size = 0
    for await (const c of source) {
      throwIfAborted(options.signal)
      size += c.byteLength
      if (size > this.#quota) throw new StoreFullError(`import is larger than the store quota of ${this.#quota} bytes`)
      chunks.push(Uint8Array.from(c))
    }
    const all = Buffer.concat(chunks)
    const b = PieceMapBuilder.forSize(size)
    b.update(all)
    const map = b.finish(expected)
    const { hex } = digestArg(map.digest)
    const known = this.#entries.get(hex)
    if (known?.map != null) return { digest: map.digest, size, pieceMap: known.map }
    this.#entries.delete(hex)
    await this.#makeRoom(size, options)
    const now = Date.now()
    const pieceSize = choosePieceSize(size)
    const e = newEntry({ size, pieceSize, complete: true, createdAt: now, lastAccess: now, pinned: false })
    const pieces = map.pieceDigests.map((_, i) => Uint8Array.from(all.subarray(i * pieceSize, (i + 1) * pieceSize)))
    this.#entries.set(hex, { ...e, pieces, map })
    return { digest: map.digest, size, pieceMap: map }
  }

  acquire (digest: string): () => void { return this.#refs.acquire(digestArg(digest).hex) }

  async pin (digest: string, pinned: boolean): Promise<void> {
    const e = this.#need(digest)
    e.rec = { ...e.rec, pinned }
  }

  async touch (digest: string): Promise<void> {
    const e = this.#get(digest)
    if (e != null) markUsed(e)
  }

  async delete (digest: string): Promise<boolean> {
    const { hex } = digestArg(digest)
    if (this.#refs.inUse(hex)) refuseInUse(digest)
    return this.#entries.delete(hex)
  }

  async gc (options: AbortOptions & { needBytes?: number, targetBytes?: number } = {}): Promise<GcResult> {
    const target = gcTarget(this.#quota, options)
    const result: GcResult = { evicted: [], freedBytes: 0 }
    if (!Number.isFinite(target)) return result
    for (const [hex, { rec }] of evictionOrder(this.#entries, this.#refs)) {
      if (this.usage().bytes <= target) break
      this.#entries.delete(hex)
      result.evicted.push(`sha256:${hex}`)
      result.freedBytes += rec.size
      this.#onEvicted?.(`sha256:${hex}`, rec.size)
    }
    return result
  }

  async #makeRoom (size: number, options: AbortOptions): Promise<void> {
    if (!Number.isFinite(this.#quota)) return
    const reserved = (): number => { let r = 0; for (const e of this.#entries.values()) r += e.rec.size - e.heldBytes; return r }
    const fits = (): boolean => this.usage().bytes + reserved() + size <= this.#quota
    if (size <= this.#quota && !fits()) await this.gc({ ...options, needBytes: reserved() + size })
    if (size > this.#quota || !fits()) throw new StoreFullError(`no room for ${size} bytes under a quota of ${this.#quota}`)
  }

  #get (digest: string): MemEntry | undefined { return this.#entries.get(digestArg(digest).hex) }
  #need (digest: string): MemEntry {
    const e = this.#get(digest)
    if (e == null) throw new NotFoundError(`${digest} is not in the store`)
    return e
  }
}
