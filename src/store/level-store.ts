import { mkdir, open, rename, rm } from 'node:fs/promises'
import { Bitfield, equalBytes, pieceLength, pieceRange, sha256, sha256OffLoop, type PieceMap } from '../content/index.js'
import { ConfigError, DigestMismatchError, InvalidRequestError, NotFoundError, throwIfAborted } from '../errors.js'
import type { AbortOptions, Logger } from '../types.js'
import type { BlobInfo, BlobStore, GcResult, PieceReadOptions, ReadOptions, StoreUsage, WritePieceOptions } from './types.js'
import { checkSameShape, checkShape, digestArg, markUsed, pieceSlice, refuseInUse, requireHeld, resolveRange, toInfo } from './common.js'
import { StoreCore } from './core.js'
import { fsyncDir, hashFile, Layout, mapFsError, readAt, READ_CHUNK, writeAt } from './files.js'
import { importToTemp } from './import.js'
import { IndexDb, type BlobRecord, type IndexOp } from './index-db.js'
import { forgetUntrusted, loadEntries, newEntry, type Entry } from './recover.js'
import { lazy, streamFile } from './stream.js'
import { createPrefixHasher, type PrefixHasher } from './prefix-hash.js'

export interface StoreInit {
  dir: string
  /** Bytes; default no quota. */
  quota?: number
  logger?: Logger
  onEvicted?: (digest: string, size: number) => void
  /** Memory the store may hold (src/memory-budget.ts); undefined fields keep the defaults. */
  memory?: StoreMemory
}

export interface StoreMemory {
  /** LevelDB block cache, bytes. */
  indexCache?: number
  /** LevelDB write buffer, bytes. */
  indexWriteBuffer?: number
  /** Chunk of a blob read from disk to stream it (READ_CHUNK by default) and to hash it on the worker. */
  readChunk?: number
  /**
   * Hash each piece on the event loop rather than on the thread pool: the
   * thread pool's WebCrypto digest copies the piece first, a second piece
   * in memory for each one being written (off the loop by default).
   */
  hashOnLoop?: boolean
  /** The hashing worker's V8 heap (Node's defaults when undefined). */
  workerLimits?: { maxOldGenerationSizeMb: number, maxYoungGenerationSizeMb: number }
}

const ADMISSION = '#admission'

export class LevelStore implements BlobStore {
  readonly #c: StoreCore
  readonly #hasher: PrefixHasher
  /** Per partial blob: its job in the prefix hasher and how many pieces from 0 it was handed. */
  readonly #prefix = new Map<string, { job: number, pieces: number }>()
  #nextJob = 1
  readonly #memory: StoreMemory

  constructor (init: StoreInit) {
    if (init.quota != null && !(init.quota >= 0)) throw new ConfigError(`store quota must be a number of bytes >= 0, got ${init.quota}`)
    this.#c = new StoreCore(new Layout(init.dir), init.quota ?? Infinity, init.logger, init.onEvicted)
    this.#memory = init.memory ?? {}
    this.#hasher = createPrefixHasher(init.logger, { chunk: this.#memory.readChunk, resourceLimits: this.#memory.workerLimits })
  }

  async start (): Promise<void> {
    if (this.#c.db != null) return
    const l = this.#c.layout
    await rm(l.tmp, { recursive: true, force: true })
    for (const d of [l.index, l.partialDir, l.blobsDir, l.tmp]) await mkdir(d, { recursive: true })
    const db = new IndexDb(l.index, { cacheSize: this.#memory.indexCache, writeBufferSize: this.#memory.indexWriteBuffer })
    await db.open()
    try {
      this.#c.entries = await loadEntries(l, db, this.#c.log)
    } catch (err) {
      await db.close()
      throw err
    }
    this.#c.usage = 0
    for (const e of this.#c.entries.values()) this.#c.usage += e.heldBytes
    this.#c.db = db
  }

  async stop (): Promise<void> {
    const db = this.#c.db
    if (db == null) return
    await this.#c.flushTouches()
    this.#c.db = undefined
    await this.#c.writes
    await this.#c.pool.closeAll()
    this.#prefix.clear()
    await this.#hasher.close()
    await db.close()
  }

  usage (): StoreUsage {
    return { bytes: this.#c.usage, blobs: this.#c.entries.size, quota: this.#c.quota }
  }

  async has (digest: string): Promise<boolean> {
    return this.#c.get(digest)?.rec.complete === true
  }

  async stat (digest: string): Promise<BlobInfo | undefined> {
    const e = this.#c.get(digest)
    return e == null ? undefined : toInfo(digestArg(digest).digest, e.rec, e.held.count)
  }

  async list (): Promise<BlobInfo[]> {
    this.#c.started()
    return [...this.#c.entries].map(([hex, e]) => toInfo(`sha256:${hex}`, e.rec, e.held.count))
  }

  async have (digest: string): Promise<Bitfield | undefined> {
    return this.#c.get(digest)?.held.clone()
  }

  async pieceDigests (digest: string): Promise<Array<Uint8Array | undefined> | undefined> {
    const e = this.#c.get(digest)
    if (e == null) return undefined
    if (!e.rec.complete) return [...e.digests]
    return [...(await this.pieceMap(digest))?.pieceDigests ?? []]
  }

  async pieceMap (digest: string): Promise<PieceMap | undefined> {
    const e = this.#c.get(digest)
    if (e == null || !e.rec.complete) return undefined
    return await this.#c.started().pieceMap(digestArg(digest).hex)
  }

  async open (digest: string, size: number, pieceSize: number, options: AbortOptions = {}): Promise<Bitfield> {
    const { hex } = digestArg(digest)
    checkShape(size, pieceSize)
    this.#c.started()
    return await this.#c.lock.exclusive(hex, async () => {
      const known = this.#c.entries.get(hex)
      if (known != null) {
        checkSameShape(digest, known.rec, size, pieceSize)
        return known.held.clone()
      }
      return await this.#c.lock.exclusive(ADMISSION, async () => {
        await this.#c.makeRoom(size, options)
        const now = Date.now()
        const rec: BlobRecord = { size, pieceSize, complete: false, createdAt: now, lastAccess: now, pinned: false }
        // file first, then record: a crash in between leaves a stray file that start() removes
        try {
          const fh = await open(this.#c.layout.partial(hex), 'w')
          try { await fh.truncate(size) } finally { await fh.close() }
        } catch (err) { throw mapFsError(err, `opening ${digest}`) }
        const e = newEntry(rec)
        this.#c.entries.set(hex, e)
        await this.#c.write([IndexDb.putRecord(hex, rec)])
        return e.held.clone()
      })
    })
  }

  async writePiece (digest: string, index: number, bytes: Uint8Array, pieceDigest: Uint8Array, options: WritePieceOptions = {}): Promise<void> {
    const { hex } = digestArg(digest)
    const e0 = this.#c.need(digest)
    const len = pieceLength(e0.rec.size, e0.rec.pieceSize, index)
    if (bytes.byteLength !== len) throw new InvalidRequestError(`piece ${index} of ${digest} must be ${len} bytes, got ${bytes.byteLength}`)
    // This is where a piece from a peer is verified: fetch/ hands over the
    // digest it trusts and does not hash the bytes itself.
    // Off the event loop by default: the loop is busy with the network at full speed
    // (on it under a memory limit: the thread pool needs a copy of the piece).
    const hashed = this.#memory.hashOnLoop === true ? sha256(bytes) : await sha256OffLoop(bytes)
    if (!equalBytes(hashed, pieceDigest)) throw new DigestMismatchError(`piece ${index} of ${digest} does not match its piece digest`)
    await this.#c.lock.shared(hex, async () => {
      const e = this.#c.need(digest)
      if (e.rec.complete || e.held.get(index)) return
      throwIfAborted(options.signal)
      try {
        await this.#c.pool.use(hex, this.#c.layout.partial(hex), async fh => {
          // No fsync per piece: it cut piece throughput to a third (bench/p2p).
          // Durability comes from start(), which re-hashes every recorded
          // piece of a partial blob and drops those whose bytes did not reach
          // the disk (a piece counts as held once fsynced or re-verified on
          // start-up: docs/decisions.md).
          // complete() still fsyncs the whole file before the rename.
          await writeAt(fh, index * e.rec.pieceSize, bytes)
        })
      } catch (err) { throw mapFsError(err, `writing piece ${index} of ${digest}`) }
      // A provisional piece (checked only against a peer's claim) is never
      // recorded: start() does not know it, so a restart drops it.
      if (options.provisional !== true) await this.#c.write([IndexDb.putPiece(hex, index, pieceDigest)])
      if (e.held.set(index)) {
        if (options.provisional !== true) e.digests[index] = Uint8Array.from(pieceDigest)
        e.heldBytes += len
        this.#c.usage += len
        this.#grow(hex, e)
      }
    })
  }

  /** The run of held pieces from piece 0 grew: its new bytes go to the whole-blob hash now, not at complete(). */
  #grow (hex: string, e: Entry): void {
    let p = this.#prefix.get(hex)
    if (p == null) this.#prefix.set(hex, p = { job: this.#nextJob++, pieces: 0 })
    const before = p.pieces
    while (p.pieces < e.held.length && e.held.get(p.pieces)) p.pieces++
    if (p.pieces > before) this.#hasher.advance(p.job, this.#c.layout.partial(hex), e.rec.pieceSize, Math.min(e.rec.size, p.pieces * e.rec.pieceSize))
  }

  /** Held bytes of a partial were dropped or replaced: its prefix hash is void. */
  #dropPrefix (hex: string): void {
    const p = this.#prefix.get(hex)
    if (p == null) return
    this.#prefix.delete(hex)
    this.#hasher.drop(p.job)
  }

  async complete (digest: string, options: AbortOptions = {}): Promise<BlobInfo> {
    const { hex } = digestArg(digest)
    this.#c.need(digest)
    return await this.#c.lock.exclusive(hex, async () => {
      const e = this.#c.need(digest)
      if (e.rec.complete) return toInfo(digest, e.rec, e.held.count)
      if (!e.held.full) throw new InvalidRequestError(`cannot complete ${digest}: ${e.held.count} of ${e.held.length} pieces held`)
      const partial = this.#c.layout.partial(hex)
      // The worker has hashed the held prefix as it grew; it hashes the rest
      // now. Without a worker the file is hashed here, as one pass.
      const job = this.#prefix.get(hex)?.job ?? this.#nextJob++
      this.#prefix.delete(hex)
      const hashed = await this.#hasher.finish(job, partial, e.rec.pieceSize, e.rec.size).catch((err: unknown) => {
        this.#c.log?.warn({ err, digest }, 'store: prefix hash failed; hashing the file again')
        return undefined
      })
      throwIfAborted(options.signal)
      const map = hashed ?? await hashFile(partial, e.rec.pieceSize, options)
      if (map.digest !== digest || map.size !== e.rec.size) {
        // Untrusted pieces are not in the index: forgetting them in memory is enough.
        const dropped = forgetUntrusted(e)
        this.#c.usage -= dropped
        if (dropped > 0) throw new DigestMismatchError(`${digest}: the assembled bytes hash to ${map.digest}; provisional pieces dropped`)
        await this.#c.dropPartial(hex, e)
        throw new DigestMismatchError(`${digest}: the assembled bytes hash to ${map.digest}; all pieces dropped`)
      }
      await this.#c.pool.retire(hex)
      const fh = await open(partial, 'r+')
      try { await fh.sync() } finally { await fh.close() }
      await mkdir(this.#c.layout.blobDir(hex), { recursive: true })
      await rename(partial, this.#c.layout.blob(hex))
      await fsyncDir(this.#c.layout.blobDir(hex))
      const ops: IndexOp[] = [...e.held.indexes()].map(i => IndexDb.delPiece(hex, i))
      // memory first, then the write, so a concurrent touch() cannot persist a stale record
      e.rec = { ...e.rec, complete: true }
      markUsed(e)
      e.digests = new Array(e.held.length).fill(undefined)
      ops.push(IndexDb.putRecord(hex, e.rec), IndexDb.putMap(hex, map))
      await this.#c.write(ops)
      return toInfo(digest, e.rec, e.held.count)
    })
  }

  async readPiece (digest: string, index: number, options: PieceReadOptions = {}): Promise<Uint8Array> {
    const e = this.#c.need(digest)
    const piece = pieceRange(e.rec.size, e.rec.pieceSize, index)
    requireHeld(digest, e.held, e.rec.size, e.rec.pieceSize, piece.start, piece.end)
    const { start, end } = pieceSlice(piece.start, piece.end, options)
    throwIfAborted(options.signal)
    const { fh, release } = await this.#c.openForRead(digestArg(digest).hex)
    try { return await readAt(fh, start, end - start) } finally { await release() }
  }

  read (digest: string, range?: { offset?: number, length?: number }, options: ReadOptions = {}): AsyncIterable<Uint8Array> {
    // checks run on the first pull, so every error reaches the consumer the same way
    return lazy(() => {
      const { hex } = digestArg(digest)
      const e = this.#c.need(digest)
      const { start, end } = resolveRange(e.rec.size, range)
      requireHeld(digest, e.held, e.rec.size, e.rec.pieceSize, start, end)
      if (e.rec.complete) void this.touch(digest).catch(() => {})
      return streamFile(async () => await this.#c.openForRead(hex), () => this.acquire(digest), start, end, this.#memory.readChunk ?? READ_CHUNK, options.signal, options.reuseBuffer === true)
    })
  }

  async import (source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, options: AbortOptions & { expectedDigest?: string } = {}): Promise<{ digest: string, size: number, pieceMap: PieceMap }> {
    const expected = options.expectedDigest == null ? undefined : digestArg(options.expectedDigest).digest
    this.#c.started()
    if (expected != null && this.#c.get(expected)?.rec.complete === true) return await this.#existing(expected)
    const { path, map } = await importToTemp(this.#c.layout.tmp, source, this.#c.quota, { ...options, expectedDigest: expected })
    const { hex } = digestArg(map.digest)
    try {
      return await this.#c.lock.exclusive(hex, async () => {
        const known = this.#c.entries.get(hex)
        if (known?.rec.complete === true) return await this.#existing(map.digest)
        if (known != null) { this.#dropPrefix(hex); await this.#c.dropPartial(hex, known) }
        return await this.#c.lock.exclusive(ADMISSION, async () => {
          await this.#c.makeRoom(map.size, options)
          await mkdir(this.#c.layout.blobDir(hex), { recursive: true })
          await rename(path, this.#c.layout.blob(hex))
          await fsyncDir(this.#c.layout.blobDir(hex))
          const now = Date.now()
          const e = newEntry({ size: map.size, pieceSize: map.pieceSize, complete: true, createdAt: now, lastAccess: now, pinned: false })
          this.#c.entries.set(hex, e)
          this.#c.usage += map.size
          await this.#c.write([IndexDb.putRecord(hex, e.rec), IndexDb.putMap(hex, map)])
          return { digest: map.digest, size: map.size, pieceMap: map }
        })
      })
    } finally {
      await rm(path, { force: true })
    }
  }

  acquire (digest: string): () => void {
    return this.#c.refs.acquire(digestArg(digest).hex)
  }

  async pin (digest: string, pinned: boolean): Promise<void> {
    const e = this.#c.need(digest)
    e.rec = { ...e.rec, pinned }
    await this.#c.write([IndexDb.putRecord(digestArg(digest).hex, e.rec)])
  }

  async touch (digest: string): Promise<void> {
    const e = this.#c.get(digest)
    if (e == null) return
    // the LRU order changes now; only the index write is debounced
    markUsed(e)
    this.#c.touched(digestArg(digest).hex)
  }

  async delete (digest: string): Promise<boolean> {
    const { hex } = digestArg(digest)
    this.#c.started()
    if (this.#c.refs.inUse(hex)) refuseInUse(digest)
    return await this.#c.lock.exclusive(hex, async () => {
      const e = this.#c.entries.get(hex)
      if (e == null) return false
      if (this.#c.refs.inUse(hex)) refuseInUse(digest)
      if (e.rec.complete) await this.#c.dropComplete(hex, e); else { this.#dropPrefix(hex); await this.#c.dropPartial(hex, e) }
      return true
    })
  }

  async gc (options: AbortOptions & { needBytes?: number, targetBytes?: number } = {}): Promise<GcResult> {
    return await this.#c.gc(options)
  }

  async #existing (digest: string): Promise<{ digest: string, size: number, pieceMap: PieceMap }> {
    const map = await this.pieceMap(digest)
    if (map == null) throw new NotFoundError(`${digest} vanished`)
    return { digest, size: map.size, pieceMap: map }
  }

}
