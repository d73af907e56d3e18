import { mkdir, mkdtemp, rename, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createStore, type BlobStore } from '../../src/store/index.js'
import { mapFsError } from '../../src/store/files.js'
import { collect, expectName, makeBlob, sameBytes } from './helpers.js'

const P = 4096

describe('level store: crash windows and concurrency', () => {
  let dir: string
  let store: BlobStore

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'starling-store-'))
    store = createStore({ dir })
    await store.start()
  })

  afterEach(async () => {
    await store.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('finishes a complete() that crashed after the rename but before the index write', async () => {
    const blob = makeBlob(3 * P + 1, P)
    await store.open(blob.digest, blob.map.size, P)
    for (let i = 0; i < 4; i++) await store.writePiece(blob.digest, i, blob.piece(i), blob.map.pieceDigests[i])
    await store.stop()
    const hex = blob.digest.slice(7)
    await mkdir(join(dir, 'blobs', 'sha256', hex.slice(0, 2)), { recursive: true })
    await rename(join(dir, 'partial', hex), join(dir, 'blobs', 'sha256', hex.slice(0, 2), hex))
    store = createStore({ dir })
    await store.start()
    expect(await store.has(blob.digest)).toBe(true)
    expect((await store.pieceMap(blob.digest))?.pieceDigests).toEqual(blob.map.pieceDigests)
    expect(sameBytes(await collect(store.read(blob.digest)), blob.bytes)).toBe(true)
  })

  it('a partial whose file vanished restarts empty', async () => {
    const blob = makeBlob(2 * P, P)
    await store.open(blob.digest, blob.map.size, P)
    await store.writePiece(blob.digest, 0, blob.piece(0), blob.map.pieceDigests[0])
    await store.stop()
    await rm(join(dir, 'partial', blob.digest.slice(7)))
    store = createStore({ dir })
    await store.start()
    expect((await store.have(blob.digest))?.count).toBe(0)
    expect(store.usage().bytes).toBe(0)
    await store.writePiece(blob.digest, 1, blob.piece(1), blob.map.pieceDigests[1])
    expect([...(await store.have(blob.digest))!.indexes()]).toEqual([1])
  })

  it('a reader of a partial keeps reading while complete() moves the file', async () => {
    // larger than one 4 MiB read chunk, so the stream is mid-file when complete() renames it
    const M = 1024 * 1024
    const blob = makeBlob(9 * M, M)
    await store.open(blob.digest, blob.map.size, M)
    for (let i = 0; i < 9; i++) await store.writePiece(blob.digest, i, blob.piece(i), blob.map.pieceDigests[i])
    const it = store.read(blob.digest)[Symbol.asyncIterator]()
    const first = await it.next()
    expect((first.value as Uint8Array).byteLength).toBeLessThan(9 * M)
    await store.complete(blob.digest)
    expect(await store.has(blob.digest)).toBe(true)
    const parts = [first.value as Uint8Array]
    for (let r = await it.next(); r.done !== true; r = await it.next()) parts.push(r.value)
    expect(sameBytes(new Uint8Array(Buffer.concat(parts)), blob.bytes)).toBe(true)
  })

  it('delete waits for in-flight piece writes and leaves nothing behind', async () => {
    const blob = makeBlob(16 * P, P)
    await store.open(blob.digest, blob.map.size, P)
    const writes = blob.map.pieceDigests.map(async (d, i) => { await store.writePiece(blob.digest, i, blob.piece(i), d) })
    const deleted = store.delete(blob.digest)
    const results = await Promise.allSettled(writes)
    expect(await deleted).toBe(true)
    // writes queued behind the delete find the blob gone
    for (const r of results) if (r.status === 'rejected') expect((r.reason as Error).name).toBe('NotFoundError')
    expect(await store.stat(blob.digest)).toBeUndefined()
    expect(store.usage().bytes).toBe(0)
  })

  it('maps a full disk to StoreFullError', async () => {
    const err = mapFsError(Object.assign(new Error('no space'), { code: 'ENOSPC' }), 'writing')
    expect((err as Error).name).toBe('StoreFullError')
    const other = new Error('x')
    expect(mapFsError(other, 'writing')).toBe(other)
  })

  it('rejects a bad quota', async () => {
    await expectName(() => createStore({ dir, quota: -1 }), 'ConfigError')
  })
})
