import { mkdir, open, rename, rm, unlink } from 'node:fs/promises'
import { Bitfield, equalBytes, pieceLength, pieceRange, sha256, type PieceMap } from '../content/index.js'
import { DigestMismatchError, InvalidRequestError, NotFoundError, NotStartedError, StoreFullError, throwIfAborted } from '../errors.js'
import type { Logger } from '../api.js'
import type { AbortOptions, BlobInfo, BlobStore, GcResult, StoreUsage } from './types.js'
import { checkSameShape, checkShape, digestArg, evictionOrder, gcTarget, refuseInUse, RefCounts, requireHeld, resolveRange, toInfo, TOUCH_INTERVAL_MS } from './common.js'
import { FdPool } from './fd-pool.js'
import { fsyncDir, hashFile, isMissing, Layout, mapFsError, readAt, READ_CHUNK, writeAt } from './files.js'
import { importToTemp } from './import.js'
import { IndexDb, type BlobRecord, type IndexOp } from './index-db.js'
import { KeyedRwLock } from './lock.js'
import { loadEntries, newEntry, type Entry } from './recover.js'
import { lazy, streamFile } from './stream.js'

export interface StoreInit {
  dir: string
  /** Bytes; default no quota. */
  quota?: number
  logger?: Logger
  onEvicted?: (digest: string, size: number) => void
}

const ADMISSION = '#admission'

export class LevelStore implements BlobStore {
  readonly #layout: Layout
  readonly #quota: number
  readonly #log?: Logger
  readonly #onEvicted?: (digest: string, size: number) => void
  readonly #lock = new KeyedRwLock()
  readonly #pool = new FdPool()
  readonly #refs = new RefCounts()
  #db?: IndexDb
  #entries = new Map<string, Entry>()
  #usage = 0
  /** Level writes go out one at a time, so a record written later never lands before an older one. */
  #writes: Promise<void> = Promise.resolve()

  constructor (init: StoreInit) {
    this.#layout = new Layout(init.dir)
    this.#quota = init.quota ?? Infinity
    this.#log = init.logger
    this.#onEvicted = init.onEvicted
  }

  async start (): Promise<void> {
    if (this.#db != null) return
    const l = this.#layout
    await rm(l.tmp, { recursive: true, force: true })
    for (const d of [l.index, l.partialDir, l.blobsDir, l.tmp]) await mkdir(d, { recursive: true })
    const db = new IndexDb(l.index)
    await db.open()
    try {
      this.#entries = await loadEntries(l, db, this.#log)
    } catch (err) {
      await db.close()
      throw err
    }
    this.#usage = 0
    for (const e of this.#entries.values()) this.#usage += e.heldBytes
    this.#db = db
  }

  async stop (): Promise<void> {
    const db = this.#db
    if (db == null) return
    this.#db = undefined
    await this.#writes
    await this.#pool.closeAll()
    await db.close()
  }

  usage (): StoreUsage {
    return { bytes: this.#usage, blobs: this.#entries.size, quota: this.#quota }
  }

  async has (digest: string): Promise<boolean> {
    return this.#get(digest)?.rec.complete === true
  }

  async stat (digest: string): Promise<BlobInfo | undefined> {
    const e = this.#get(digest)
    return e == null ? undefined : toInfo(digestArg(digest).digest, e.rec, e.held.count)
  }

  async list (): Promise<BlobInfo[]> {
    this.#started()
    return [...this.#entries].map(([hex, e]) => toInfo(`sha256:${hex}`, e.rec, e.held.count))
  }

  async have (digest: string): Promise<Bitfield | undefined> {
    return this.#get(digest)?.held.clone()
  }

  async pieceDigests (digest: string): Promise<Array<Uint8Array | undefined> | undefined> {
    const e = this.#get(digest)
    if (e == null) return undefined
    if (!e.rec.complete) return [...e.digests]
    return [...(await this.pieceMap(digest))?.pieceDigests ?? []]
  }

  async pieceMap (digest: string): Promise<PieceMap | undefined> {
    const e = this.#get(digest)
    if (e == null || !e.rec.complete) return undefined
    return await this.#started().pieceMap(digestArg(digest).hex)
  }

  async open (digest: string, size: number, pieceSize: number, options: AbortOptions = {}): Promise<Bitfield> {
    const { hex } = digestArg(digest)
    checkShape(size, pieceSize)
    this.#started()
    return await this.#lock.exclusive(hex, async () => {
      const known = this.#entries.get(hex)
      if (known != null) {
        checkSameShape(digest, known.rec, size, pieceSize)
        return known.held.clone()
      }
      return await this.#lock.exclusive(ADMISSION, async () => {
        await this.#makeRoom(size, options)
        const now = Date.now()
        const rec: BlobRecord = { size, pieceSize, complete: false, createdAt: now, lastAccess: now, pinned: false }
        // file first, then record: a crash in between leaves a stray file that start() removes
        try {
          const fh = await open(this.#layout.partial(hex), 'w')
          try { await fh.truncate(size) } finally { await fh.close() }
        } catch (err) { throw mapFsError(err, `opening ${digest}`) }
        const e = newEntry(rec)
        this.#entries.set(hex, e)
        await this.#write([IndexDb.putRecord(hex, rec)])
        return e.held.clone()
      })
    })
  }

  async writePiece (digest: string, index: number, bytes: Uint8Array, pieceDigest: Uint8Array, options: AbortOptions = {}): Promise<void> {
    const { hex } = digestArg(digest)
    const e0 = this.#need(digest)
    const len = pieceLength(e0.rec.size, e0.rec.pieceSize, index)
    if (bytes.byteLength !== len) throw new InvalidRequestError(`piece ${index} of ${digest} must be ${len} bytes, got ${bytes.byteLength}`)
    if (!equalBytes(sha256(bytes), pieceDigest)) throw new DigestMismatchError(`piece ${index} of ${digest} does not match its piece digest`)
    await this.#lock.shared(hex, async () => {
      const e = this.#need(digest)
      if (e.rec.complete || e.held.get(index)) return
      throwIfAborted(options.signal)
      try {
        await this.#pool.use(hex, this.#layout.partial(hex), async fh => {
          await writeAt(fh, index * e.rec.pieceSize, bytes)
          await fh.datasync()
        })
      } catch (err) { throw mapFsError(err, `writing piece ${index} of ${digest}`) }
      await this.#write([IndexDb.putPiece(hex, index, pieceDigest)])
      if (e.held.set(index)) {
        e.digests[index] = Uint8Array.from(pieceDigest)
        e.heldBytes += len
        this.#usage += len
      }
    })
  }

  async complete (digest: string, options: AbortOptions = {}): Promise<BlobInfo> {
    const { hex } = digestArg(digest)
    this.#need(digest)
    return await this.#lock.exclusive(hex, async () => {
      const e = this.#need(digest)
      if (e.rec.complete) return toInfo(digest, e.rec, e.held.count)
      if (!e.held.full) throw new InvalidRequestError(`cannot complete ${digest}: ${e.held.count} of ${e.held.length} pieces held`)
      const partial = this.#layout.partial(hex)
      const map = await hashFile(partial, e.rec.pieceSize, options)
      if (map.digest !== digest || map.size !== e.rec.size) {
        await this.#dropPartial(hex, e)
        throw new DigestMismatchError(`${digest}: the assembled bytes hash to ${map.digest}; all pieces dropped`)
      }
      await this.#pool.retire(hex)
      const fh = await open(partial, 'r+')
      try { await fh.sync() } finally { await fh.close() }
      await mkdir(this.#layout.blobDir(hex), { recursive: true })
      await rename(partial, this.#layout.blob(hex))
      await fsyncDir(this.#layout.blobDir(hex))
      const ops: IndexOp[] = [...e.held.indexes()].map(i => IndexDb.delPiece(hex, i))
      // memory first, then the write, so a concurrent touch() cannot persist a stale record
      e.rec = { ...e.rec, complete: true, lastAccess: Date.now() }
      e.digests = new Array(e.held.length).fill(undefined)
      ops.push(IndexDb.putRecord(hex, e.rec), IndexDb.putMap(hex, map))
      await this.#write(ops)
      return toInfo(digest, e.rec, e.held.count)
    })
  }

  async readPiece (digest: string, index: number, options: AbortOptions = {}): Promise<Uint8Array> {
    const e = this.#need(digest)
    const { start, end } = pieceRange(e.rec.size, e.rec.pieceSize, index)
    requireHeld(digest, e.held, e.rec.size, e.rec.pieceSize, start, end)
    throwIfAborted(options.signal)
    const { fh, release } = await this.#openForRead(digestArg(digest).hex)
    try { return await readAt(fh, start, end - start) } finally { await release() }
  }

  read (digest: string, range?: { offset?: number, length?: number }, options: AbortOptions = {}): AsyncIterable<Uint8Array> {
    // checks run on the first pull, so every error reaches the consumer the same way
    return lazy(() => {
      const { hex } = digestArg(digest)
      const e = this.#need(digest)
      const { start, end } = resolveRange(e.rec.size, range)
      requireHeld(digest, e.held, e.rec.size, e.rec.pieceSize, start, end)
      if (e.rec.complete) void this.touch(digest).catch(() => {})
      return streamFile(async () => await this.#openForRead(hex), () => this.acquire(digest), start, end, READ_CHUNK, options.signal)
    })
  }

  async import (source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, options: AbortOptions & { expectedDigest?: string } = {}): Promise<{ digest: string, size: number, pieceMap: PieceMap }> {
    const expected = options.expectedDigest == null ? undefined : digestArg(options.expectedDigest).digest
    this.#started()
    if (expected != null && this.#get(expected)?.rec.complete === true) return await this.#existing(expected)
    const { path, map } = await importToTemp(this.#layout.tmp, source, this.#quota, { ...options, expectedDigest: expected })
    const { hex } = digestArg(map.digest)
    try {
      return await this.#lock.exclusive(hex, async () => {
        const known = this.#entries.get(hex)
        if (known?.rec.complete === true) return await this.#existing(map.digest)
        if (known != null) await this.#dropPartial(hex, known)
        return await this.#lock.exclusive(ADMISSION, async () => {
          await this.#makeRoom(map.size, options)
          await mkdir(this.#layout.blobDir(hex), { recursive: true })
          await rename(path, this.#layout.blob(hex))
          await fsyncDir(this.#layout.blobDir(hex))
          const now = Date.now()
          const e = newEntry({ size: map.size, pieceSize: map.pieceSize, complete: true, createdAt: now, lastAccess: now, pinned: false })
          this.#entries.set(hex, e)
          this.#usage += map.size
          await this.#write([IndexDb.putRecord(hex, e.rec), IndexDb.putMap(hex, map)])
          return { digest: map.digest, size: map.size, pieceMap: map }
        })
      })
    } finally {
      await rm(path, { force: true })
    }
  }

  acquire (digest: string): () => void {
    return this.#refs.acquire(digestArg(digest).hex)
  }

  async pin (digest: string, pinned: boolean): Promise<void> {
    const e = this.#need(digest)
    e.rec = { ...e.rec, pinned }
    await this.#write([IndexDb.putRecord(digestArg(digest).hex, e.rec)])
  }

  async touch (digest: string): Promise<void> {
    const e = this.#get(digest)
    const now = Date.now()
    if (e == null || now - e.rec.lastAccess < TOUCH_INTERVAL_MS) return
    e.rec = { ...e.rec, lastAccess: now }
    await this.#write([IndexDb.putRecord(digestArg(digest).hex, e.rec)])
  }

  async delete (digest: string): Promise<boolean> {
    const { hex } = digestArg(digest)
    this.#started()
    if (this.#refs.inUse(hex)) refuseInUse(digest)
    return await this.#lock.exclusive(hex, async () => {
      const e = this.#entries.get(hex)
      if (e == null) return false
      if (this.#refs.inUse(hex)) refuseInUse(digest)
      if (e.rec.complete) await this.#dropComplete(hex, e); else await this.#dropPartial(hex, e)
      return true
    })
  }

  async gc (options: AbortOptions & { needBytes?: number, targetBytes?: number } = {}): Promise<GcResult> {
    this.#started()
    const target = gcTarget(this.#quota, options)
    const result: GcResult = { evicted: [], freedBytes: 0 }
    if (!Number.isFinite(target)) return result
    for (const [hex, rec] of evictionOrder([...this.#entries].map(([h, e]) => [h, e.rec]), this.#refs)) {
      if (this.#usage <= target) break
      throwIfAborted(options.signal)
      const evicted = await this.#lock.exclusive(hex, async () => {
        const e = this.#entries.get(hex)
        if (e == null || !e.rec.complete || e.rec.pinned || this.#refs.inUse(hex)) return false
        await this.#dropComplete(hex, e)
        return true
      })
      if (!evicted) continue
      result.evicted.push(`sha256:${hex}`)
      result.freedBytes += rec.size
      this.#log?.debug({ digest: `sha256:${hex}`, size: rec.size }, 'evicted')
      this.#onEvicted?.(`sha256:${hex}`, rec.size)
    }
    return result
  }

  /** Room for a new blob of `size`: counts partials at their full size, so parallel downloads cannot overcommit. */
  async #makeRoom (size: number, options: AbortOptions): Promise<void> {
    if (!Number.isFinite(this.#quota)) return
    if (size > this.#quota) throw new StoreFullError(`a blob of ${size} bytes is larger than the quota of ${this.#quota}`)
    const reserved = (): number => { let r = 0; for (const e of this.#entries.values()) r += e.rec.size - e.heldBytes; return r }
    if (this.#usage + reserved() + size <= this.#quota) return
    await this.gc({ ...options, needBytes: reserved() + size })
    if (this.#usage + reserved() + size > this.#quota) {
      throw new StoreFullError(`no room for ${size} bytes: ${this.#usage + reserved()} of ${this.#quota} in use or reserved, nothing more can be evicted`)
    }
  }

  async #existing (digest: string): Promise<{ digest: string, size: number, pieceMap: PieceMap }> {
    const map = await this.pieceMap(digest)
    if (map == null) throw new NotFoundError(`${digest} vanished`)
    return { digest, size: map.size, pieceMap: map }
  }

  async #openForRead (hex: string): Promise<{ fh: import('node:fs/promises').FileHandle, release: () => Promise<void> }> {
    // under the shared lock so complete() cannot rename the partial between the check and the open
    return await this.#lock.shared(hex, async () => {
      const e = this.#entries.get(hex)
      if (e == null) throw new NotFoundError(`sha256:${hex} is not in the store`)
      if (!e.rec.complete) return await this.#pool.take(hex, this.#layout.partial(hex))
      const fh = await open(this.#layout.blob(hex), 'r')
      return { fh, release: async () => { await fh.close() } }
    })
  }

  async #dropPartial (hex: string, e: Entry): Promise<void> {
    await this.#pool.retire(hex)
    await rm(this.#layout.partial(hex), { force: true })
    this.#forget(hex, e)
    await this.#write([IndexDb.delRecord(hex), ...[...e.held.indexes()].map(i => IndexDb.delPiece(hex, i))])
  }

  async #dropComplete (hex: string, e: Entry): Promise<void> {
    try { await unlink(this.#layout.blob(hex)) } catch (err) { if (!isMissing(err)) throw err }
    this.#forget(hex, e)
    await this.#write([IndexDb.delRecord(hex), IndexDb.delMap(hex)])
  }

  #forget (hex: string, e: Entry): void {
    if (this.#entries.get(hex) === e) this.#entries.delete(hex)
    this.#usage -= e.heldBytes
  }

  async #write (ops: IndexOp[]): Promise<void> {
    const db = this.#started()
    const p = this.#writes.then(async () => { await db.write(ops) })
    this.#writes = p.catch(() => {})
    await p
  }

  #started (): IndexDb {
    if (this.#db == null) throw new NotStartedError('the store is not started')
    return this.#db
  }

  #get (digest: string): Entry | undefined {
    const { hex } = digestArg(digest)
    this.#started()
    return this.#entries.get(hex)
  }

  #need (digest: string): Entry {
    const e = this.#get(digest)
    if (e == null) throw new NotFoundError(`${digest} is not in the store`)
    return e
  }
}
