import { open, rm, unlink, type FileHandle } from 'node:fs/promises'
import { NotFoundError, NotStartedError, StoreFullError, throwIfAborted } from '../errors.js'
import type { AbortOptions, Logger } from '../types.js'
import type { GcResult } from './types.js'
import { digestArg, evictionOrder, gcTarget, RefCounts, TOUCH_FLUSH_MS } from './common.js'
import { FdPool } from './fd-pool.js'
import { isMissing, type Layout } from './files.js'
import { IndexDb, type IndexOp } from './index-db.js'
import { KeyedRwLock } from './lock.js'
import type { Entry } from './recover.js'

/**
 * The level store's state and the primitives its methods share: the index
 * writer, locks, the fd pool, quota and eviction. Internal to store/.
 */
export class StoreCore {
  readonly lock = new KeyedRwLock()
  readonly pool = new FdPool()
  readonly refs = new RefCounts()
  db?: IndexDb
  entries = new Map<string, Entry>()
  /** Complete sizes + held bytes of partials (StoreUsage.bytes). */
  usage = 0
  /** Level writes go out one at a time, so a record written later never lands before an older one. */
  writes: Promise<void> = Promise.resolve()
  /** Blobs touched since the last flush: their `lastAccess` is newer in memory than in level. */
  readonly #touched = new Set<string>()
  #flushTimer?: ReturnType<typeof setTimeout>

  constructor (
    readonly layout: Layout,
    readonly quota: number,
    readonly log?: Logger,
    readonly onEvicted?: (digest: string, size: number) => void
  ) {}

  async gc (options: AbortOptions & { needBytes?: number, targetBytes?: number } = {}): Promise<GcResult> {
    this.started()
    const target = gcTarget(this.quota, options)
    const result: GcResult = { evicted: [], freedBytes: 0 }
    if (!Number.isFinite(target)) return result
    for (const [hex, { rec }] of evictionOrder(this.entries, this.refs)) {
      if (this.usage <= target) break
      throwIfAborted(options.signal)
      const evicted = await this.lock.exclusive(hex, async () => {
        const e = this.entries.get(hex)
        if (e == null || !e.rec.complete || e.rec.pinned || this.refs.inUse(hex)) return false
        await this.dropComplete(hex, e)
        return true
      })
      if (!evicted) continue
      result.evicted.push(`sha256:${hex}`)
      result.freedBytes += rec.size
      this.log?.debug({ digest: `sha256:${hex}`, size: rec.size }, 'evicted')
      this.onEvicted?.(`sha256:${hex}`, rec.size)
    }
    return result
  }

  /** Room for a new blob of `size`: counts partials at their full size, so parallel downloads cannot overcommit. */
  async makeRoom (size: number, options: AbortOptions): Promise<void> {
    if (!Number.isFinite(this.quota)) return
    if (size > this.quota) throw new StoreFullError(`a blob of ${size} bytes is larger than the quota of ${this.quota}`)
    const reserved = (): number => { let r = 0; for (const e of this.entries.values()) r += e.rec.size - e.heldBytes; return r }
    if (this.usage + reserved() + size <= this.quota) return
    await this.gc({ ...options, needBytes: reserved() + size })
    if (this.usage + reserved() + size > this.quota) {
      throw new StoreFullError(`no room for ${size} bytes: ${this.usage + reserved()} of ${this.quota} in use or reserved, nothing more can be evicted`)
    }
  }

  async openForRead (hex: string): Promise<{ fh: FileHandle, release: () => Promise<void> }> {
    // under the shared lock so complete() cannot rename the partial between the check and the open
    return await this.lock.shared(hex, async () => {
      const e = this.entries.get(hex)
      if (e == null) throw new NotFoundError(`sha256:${hex} is not in the store`)
      if (!e.rec.complete) return await this.pool.take(hex, this.layout.partial(hex))
      const fh = await open(this.layout.blob(hex), 'r')
      return { fh, release: async () => { await fh.close() } }
    })
  }

  async dropPartial (hex: string, e: Entry): Promise<void> {
    await this.pool.retire(hex)
    await rm(this.layout.partial(hex), { force: true })
    this.forget(hex, e)
    await this.write([IndexDb.delRecord(hex), ...[...e.held.indexes()].map(i => IndexDb.delPiece(hex, i))])
  }

  async dropComplete (hex: string, e: Entry): Promise<void> {
    try { await unlink(this.layout.blob(hex)) } catch (err) { if (!isMissing(err)) throw err }
    this.forget(hex, e)
    await this.write([IndexDb.delRecord(hex), IndexDb.delMap(hex)])
  }

  forget (hex: string, e: Entry): void {
    if (this.entries.get(hex) === e) this.entries.delete(hex)
    this.usage -= e.heldBytes
  }

  /**
   * Queues a touched blob's record for the index. The in-memory LRU order is
   * already updated; the write is coalesced with other touches and goes out
   * within TOUCH_FLUSH_MS (or on stop), so a restart keeps the order to
   * about a second.
   */
  touched (hex: string): void {
    this.#touched.add(hex)
    if (this.#flushTimer != null) return
    this.#flushTimer = setTimeout(() => {
      this.#flushTimer = undefined
      if (this.db == null) return
      this.flushTouches().catch(err => { this.log?.warn({ err }, 'could not persist last-access times') })
    }, TOUCH_FLUSH_MS)
    this.#flushTimer.unref()
  }

  /** Writes the records of blobs touched since the last flush, in one batch. */
  async flushTouches (): Promise<void> {
    clearTimeout(this.#flushTimer)
    this.#flushTimer = undefined
    if (this.#touched.size === 0) return
    const ops: IndexOp[] = []
    // the current record of blobs still held: a dropped blob's record must not come back
    for (const hex of this.#touched) {
      const e = this.entries.get(hex)
      if (e != null) ops.push(IndexDb.putRecord(hex, e.rec))
    }
    this.#touched.clear()
    await this.write(ops)
  }

  async write (ops: IndexOp[]): Promise<void> {
    const db = this.started()
    const p = this.writes.then(async () => { await db.write(ops) })
    this.writes = p.catch(() => {})
    await p
  }

  started (): IndexDb {
    if (this.db == null) throw new NotStartedError('the store is not started')
    return this.db
  }

  get (digest: string): Entry | undefined {
    const { hex } = digestArg(digest)
    this.started()
    return this.entries.get(hex)
  }

  need (digest: string): Entry {
    const e = this.get(digest)
    if (e == null) throw new NotFoundError(`${digest} is not in the store`)
    return e
  }
}
