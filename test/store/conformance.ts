/**
 * One suite every BlobStore must pass (the level store and the memory fake),
 * in the style of Spegel's storetest.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { BlobStore } from '../../src/store/index.js'
import { collect, digestOf, expectName, makeBlob, sameBytes } from './helpers.js'

export interface StoreFactoryInit { quota?: number, onEvicted?: (digest: string, size: number) => void }
export type StoreFactory = (init: StoreFactoryInit) => Promise<{ store: BlobStore, cleanup: () => Promise<void> }>

const P = 1024

async function fill (store: BlobStore, blob: ReturnType<typeof makeBlob>, only?: number[]): Promise<void> {
  const idx = only ?? blob.map.pieceDigests.map((_, i) => i)
  for (const i of idx) await store.writePiece(blob.digest, i, blob.piece(i), blob.map.pieceDigests[i])
}

export function runStoreConformance (name: string, factory: StoreFactory): void {
  describe(`BlobStore conformance: ${name}`, () => {
    let store: BlobStore
    let cleanup: () => Promise<void>
    const evicted: Array<[string, number]> = []
    const make = async (init: StoreFactoryInit = {}): Promise<BlobStore> => {
      await cleanup?.()
      const r = await factory({ ...init, onEvicted: (d, s) => evicted.push([d, s]) })
      store = r.store
      cleanup = r.cleanup
      return store
    }

    beforeEach(async () => { evicted.length = 0; await make() })
    afterEach(async () => { vi.useRealTimers(); await cleanup() })

    it('keeps nothing of the buffer it was given: the caller may reuse it once writePiece resolves', async () => {
      const blob = makeBlob(3 * P, P)
      await store.open(blob.digest, blob.map.size, P)
      const buf = Buffer.alloc(P)
      for (let i = 0; i < 3; i++) {
        buf.set(blob.piece(i))
        await store.writePiece(blob.digest, i, buf, blob.map.pieceDigests[i])
        buf.fill(0xee) // what a reused origin buffer does next (fetch/piece-buffers.ts)
      }
      expect(sameBytes(await store.readPiece(blob.digest, 1), blob.piece(1))).toBe(true)
      await store.complete(blob.digest)
      expect(sameBytes(await collect(store.read(blob.digest)), blob.bytes)).toBe(true)
    })

    it('reads right with reuseBuffer when each chunk is used before the next is asked for', async () => {
      const blob = makeBlob(7 * P + 333, P)
      await store.open(blob.digest, blob.map.size, P)
      await fill(store, blob)
      await store.complete(blob.digest)
      for (const range of [{}, { offset: 5, length: 3 * P + 7 }]) {
        const want = blob.bytes.subarray(range.offset ?? 0, range.length != null ? (range.offset ?? 0) + range.length : undefined)
        const got: number[] = []
        for await (const chunk of store.read(blob.digest, range, { reuseBuffer: true })) got.push(...chunk) // used at once, as the HTTP API writes it
        expect(sameBytes(Uint8Array.from(got), want)).toBe(true)
      }
    })

    it('opens, writes pieces, completes and reads back', async () => {
      const blob = makeBlob(5 * P + 100, P)
      const have = await store.open(blob.digest, blob.map.size, P)
      expect(have.length).toBe(6)
      expect(have.count).toBe(0)
      await fill(store, blob, [0, 2, 5])
      expect([...(await store.have(blob.digest))!.indexes()]).toEqual([0, 2, 5])
      expect((await store.open(blob.digest, blob.map.size, P)).count).toBe(3) // idempotent resume
      expect(store.usage().bytes).toBe(2 * P + 100)
      const digests = await store.pieceDigests(blob.digest)
      expect(digests?.[2]).toEqual(blob.map.pieceDigests[2])
      expect(digests?.[1]).toBeUndefined()
      expect(await store.has(blob.digest)).toBe(false)
      await fill(store, blob, [1, 3, 4])
      const info = await store.complete(blob.digest)
      expect(info).toMatchObject({ digest: blob.digest, complete: true, piecesHeld: 6, pieceCount: 6, size: blob.map.size })
      expect(await store.has(blob.digest)).toBe(true)
      expect(sameBytes(await collect(store.read(blob.digest)), blob.bytes)).toBe(true)
      expect(sameBytes(await store.readPiece(blob.digest, 5), blob.piece(5))).toBe(true)
      // parts of a piece, as an upload reads them: cut at the piece's end (piece 5 is the 100-byte tail)
      expect(sameBytes(await store.readPiece(blob.digest, 2, { offset: 10, length: 20 }), blob.piece(2).subarray(10, 30))).toBe(true)
      expect(sameBytes(await store.readPiece(blob.digest, 5, { offset: 90, length: 64 }), blob.piece(5).subarray(90))).toBe(true)
      expect((await store.readPiece(blob.digest, 5, { offset: 200, length: 8 })).byteLength).toBe(0)
      await expectName(store.readPiece(blob.digest, 2, { offset: -1, length: 8 }), 'InvalidRequestError')
      const map = await store.pieceMap(blob.digest)
      expect(map?.pieceDigests).toEqual(blob.map.pieceDigests)
      expect(await store.pieceDigests(blob.digest)).toEqual(blob.map.pieceDigests)
      expect((await store.have(blob.digest))?.full).toBe(true)
      expect(store.usage()).toMatchObject({ bytes: blob.map.size, blobs: 1 })
    })

    it('reads a range spanning pieces, from a partial and a complete blob', async () => {
      const blob = makeBlob(4 * P, P)
      await store.open(blob.digest, blob.map.size, P)
      await fill(store, blob, [1, 2])
      const range = { offset: P + 10, length: P + 20 }
      expect(sameBytes(await collect(store.read(blob.digest, range)), blob.bytes.subarray(P + 10, 2 * P + 30))).toBe(true)
      await expectName(collect(store.read(blob.digest, { offset: P - 1, length: 2 })), 'NotFoundError')
      await expectName(store.readPiece(blob.digest, 0), 'NotFoundError')
      await fill(store, blob, [0, 3])
      await store.complete(blob.digest)
      expect(sameBytes(await collect(store.read(blob.digest, { offset: 3, length: 3 * P })), blob.bytes.subarray(3, 3 + 3 * P))).toBe(true)
      expect(sameBytes(await collect(store.read(blob.digest, { offset: 4 * P })), new Uint8Array(0))).toBe(true)
      await expectName(async () => await collect(store.read(blob.digest, { offset: 1, length: 4 * P })), 'InvalidRequestError')
    })

    it('rejects pieces with a wrong digest or length, storing nothing', async () => {
      const blob = makeBlob(3 * P - 5, P)
      await store.open(blob.digest, blob.map.size, P)
      await expectName(store.writePiece(blob.digest, 0, blob.piece(1), blob.map.pieceDigests[0]), 'DigestMismatchError')
      await expectName(store.writePiece(blob.digest, 2, blob.piece(1), blob.map.pieceDigests[1]), 'InvalidRequestError')
      await expectName(store.writePiece(blob.digest, 3, blob.piece(1), blob.map.pieceDigests[1]), 'InvalidRequestError')
      await expectName(store.open(blob.digest, blob.map.size + 1, P), 'InvalidRequestError')
      await expectName(store.open(blob.digest, 10, 1000), 'InvalidRequestError')
      expect((await store.have(blob.digest))?.count).toBe(0)
      expect(store.usage().bytes).toBe(0)
      await expectName(store.complete(blob.digest), 'InvalidRequestError')
    })

    it('complete() with wrong bytes throws DigestMismatchError and keeps nothing', async () => {
      const good = makeBlob(3 * P, P)
      const bad = makeBlob(3 * P, P)
      await store.open(good.digest, good.map.size, P)
      // every piece is self-consistent, but they belong to another blob
      await fill(store, { ...bad, digest: good.digest })
      await expectName(store.complete(good.digest), 'DigestMismatchError')
      expect(await store.has(good.digest)).toBe(false)
      expect(await store.stat(good.digest)).toBeUndefined()
      expect(store.usage().bytes).toBe(0)
      expect((await store.open(good.digest, good.map.size, P)).count).toBe(0)
    })

    it('complete() with a wrong provisional piece drops the provisional pieces and keeps the trusted ones', async () => {
      const good = makeBlob(4 * P, P)
      const bad = makeBlob(4 * P, P)
      await store.open(good.digest, good.map.size, P)
      await fill(store, good, [0, 1])
      // piece 2 is right but provisional, piece 3 wrong and provisional (checked only against a liar's claim)
      await store.writePiece(good.digest, 2, good.piece(2), good.map.pieceDigests[2], { provisional: true })
      await store.writePiece(good.digest, 3, bad.piece(3), bad.map.pieceDigests[3], { provisional: true })
      await expectName(store.complete(good.digest), 'DigestMismatchError')
      expect([...(await store.have(good.digest))!.indexes()]).toEqual([0, 1])
      expect(store.usage().bytes).toBe(2 * P)
      // the dropped pieces are written again, and the blob completes
      await fill(store, good, [2, 3])
      await store.complete(good.digest)
      expect(sameBytes(await collect(store.read(good.digest)), good.bytes)).toBe(true)
    })

    it('writes many pieces of one blob in parallel', async () => {
      const blob = makeBlob(32 * P + 1, P)
      await store.open(blob.digest, blob.map.size, P)
      await Promise.all(blob.map.pieceDigests.map(async (d, i) => { await store.writePiece(blob.digest, i, blob.piece(i), d) }))
      await store.complete(blob.digest)
      expect(sameBytes(await collect(store.read(blob.digest)), blob.bytes)).toBe(true)
    })

    it('imports, rejects a wrong expected digest, and re-import is a no-op', async () => {
      const bytes = makeBlob(3 * 1024 * 1024 + 7, P).bytes
      const chunks = [bytes.subarray(0, 1000), bytes.subarray(1000, 2_000_000), bytes.subarray(2_000_000)]
      await expectName(store.import(chunks, { expectedDigest: digestOf(new Uint8Array([1])) }), 'DigestMismatchError')
      expect(await store.list()).toEqual([])
      const r = await store.import(chunks, { expectedDigest: digestOf(bytes) })
      expect(r.digest).toBe(digestOf(bytes))
      expect(r.size).toBe(bytes.byteLength)
      expect(r.pieceMap.pieceSize).toBe(1024 * 1024)
      expect(r.pieceMap.pieceDigests.length).toBe(4)
      expect(sameBytes(await collect(store.read(r.digest)), bytes)).toBe(true)
      const again = await store.import((async function * () { yield bytes })())
      expect(again.pieceMap).toEqual(r.pieceMap)
      expect(store.usage()).toMatchObject({ bytes: bytes.byteLength, blobs: 1 })
    })

    it('handles the empty blob end to end', async () => {
      const empty = digestOf(new Uint8Array(0))
      const have = await store.open(empty, 0, P)
      expect(have.length).toBe(0)
      expect((await store.complete(empty)).complete).toBe(true)
      expect(sameBytes(await collect(store.read(empty)), new Uint8Array(0))).toBe(true)
      expect((await store.pieceMap(empty))?.pieceDigests).toEqual([])
      expect(await store.delete(empty)).toBe(true)
      const r = await store.import([])
      expect(r).toMatchObject({ digest: empty, size: 0 })
      expect(await store.has(empty)).toBe(true)
    })

    it('rejects malformed digests everywhere and writes nothing', async () => {
      for (const bad of ['sha256:abc', 'SHA256:' + 'a'.repeat(64), 'sha256:' + 'A'.repeat(64), 'md5:00', '']) {
        await expectName(store.has(bad), 'InvalidDigestError')
        await expectName(store.stat(bad), 'InvalidDigestError')
        await expectName(store.open(bad, 10, P), 'InvalidDigestError')
        await expectName(store.writePiece(bad, 0, new Uint8Array(1), new Uint8Array(32)), 'InvalidDigestError')
        await expectName(store.complete(bad), 'InvalidDigestError')
        await expectName(store.readPiece(bad, 0), 'InvalidDigestError')
        await expectName(async () => await collect(store.read(bad)), 'InvalidDigestError')
        await expectName(() => store.acquire(bad), 'InvalidDigestError')
        await expectName(store.pin(bad, true), 'InvalidDigestError')
        await expectName(store.delete(bad), 'InvalidDigestError')
        await expectName(store.import([new Uint8Array(1)], { expectedDigest: bad }), 'InvalidDigestError')
      }
      expect(await store.list()).toEqual([])
      expect(store.usage().bytes).toBe(0)
    })

    it('delete refuses an acquired blob and removes it once released', async () => {
      const { digest } = await store.import([new Uint8Array([1, 2, 3])])
      const release = store.acquire(digest)
      await expectName(store.delete(digest), 'InvalidRequestError')
      release()
      release() // idempotent
      expect(await store.delete(digest)).toBe(true)
      expect(await store.delete(digest)).toBe(false)
      expect(await store.has(digest)).toBe(false)
      expect(store.usage().bytes).toBe(0)
    })

    it('evicts by LRU under the quota, never pinned or acquired blobs', async () => {
      await make({ quota: 3000 })
      vi.useFakeTimers({ toFake: ['Date'] })
      const blobs = 'ABCDEF'.split('').map(() => makeBlob(1000, P).bytes)
      const d: string[] = []
      for (let i = 0; i < 3; i++) {
        vi.setSystemTime(1_000_000 + i * 10_000)
        d.push((await store.import([blobs[i]])).digest)
      }
      vi.setSystemTime(1_050_000)
      await store.touch(d[0]) // A is now the most recent
      expect((await store.stat(d[0]))?.lastAccess).toBe(1_050_000)
      vi.setSystemTime(1_060_000)
      d.push((await store.import([blobs[3]])).digest)
      expect(evicted).toEqual([[d[1], 1000]]) // B was least recently used
      expect(await store.has(d[1])).toBe(false)
      await store.pin(d[2], true)
      const releaseA = store.acquire(d[0])
      vi.setSystemTime(1_070_000)
      d.push((await store.import([blobs[4]])).digest)
      expect(evicted.map(e => e[0])).toEqual([d[1], d[3]]) // C pinned, A acquired: D goes
      const releaseE = store.acquire(d[4])
      await expectName(store.import([blobs[5]]), 'StoreFullError')
      await expectName(store.open(digestOf(blobs[5]), 1000, P), 'StoreFullError')
      expect(await store.has(digestOf(blobs[5]))).toBe(false)
      expect(store.usage()).toMatchObject({ bytes: 3000, blobs: 3 })
      releaseA()
      releaseE()
      const r = await store.gc({ targetBytes: 0 })
      expect(r.evicted.sort()).toEqual([d[0], d[4]].sort())
      expect(r.freedBytes).toBe(2000)
      expect(await store.has(d[2])).toBe(true) // pinned
    })

    it('a read within a second of adding a blob still counts for the LRU order', async () => {
      // touch() used to skip accesses within 1 s of the last one, and import
      // sets the last access: A, read right after it was added, kept its add
      // time and went before B, which nobody read.
      await make({ quota: 3000 })
      vi.useFakeTimers({ toFake: ['Date'] })
      const T = 2_000_000
      const d: string[] = []
      for (let i = 0; i < 3; i++) {
        vi.setSystemTime(T + i * 100)
        d.push((await store.import([makeBlob(1000, P).bytes])).digest)
      }
      vi.setSystemTime(T + 300) // 300 ms after A was added
      await collect(store.read(d[0]))
      expect((await store.stat(d[0]))?.lastAccess).toBe(T + 300)
      vi.setSystemTime(T + 400)
      const x = (await store.import([makeBlob(1000, P).bytes])).digest
      expect(evicted.map(e => e[0])).toEqual([d[1]]) // B, not A
      expect(await store.has(d[0])).toBe(true)
      expect(await store.has(x)).toBe(true)
    })

    it('orders accesses within the same millisecond', async () => {
      await make({ quota: 3000 })
      vi.useFakeTimers({ toFake: ['Date'] })
      vi.setSystemTime(3_000_000) // the clock stands still: only the order of accesses tells
      const [a, b, c] = [0, 1, 2].map(() => makeBlob(1000, P).bytes)
      const da = (await store.import([a])).digest
      const db = (await store.import([b])).digest
      const dc = (await store.import([c])).digest
      await store.touch(da)
      await store.touch(db)
      const r = await store.gc({ targetBytes: 2000 })
      expect(r.evicted).toEqual([dc])
      expect((await store.gc({ targetBytes: 1000 })).evicted).toEqual([da])
    })

    it('counts partial blobs at full size when admitting new ones', async () => {
      await make({ quota: 3000 })
      const x = makeBlob(2000, P)
      const y = makeBlob(2000, P)
      await store.open(x.digest, 2000, P)
      await expectName(store.open(y.digest, 2000, P), 'StoreFullError')
      await fill(store, x)
      await store.complete(x.digest)
      await store.open(y.digest, 2000, P) // x is complete and evictable now
      expect(evicted.map(e => e[0])).toEqual([x.digest])
      await expectName(store.import([new Uint8Array(4000)]), 'StoreFullError')
    })

    it('honours an aborted signal on read', async () => {
      const { digest } = await store.import([new Uint8Array(10_000)])
      const ac = new AbortController()
      ac.abort(new Error('stop'))
      await expect(collect(store.read(digest, {}, { signal: ac.signal }))).rejects.toThrow('stop')
    })
  })
}
